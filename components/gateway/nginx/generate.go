package nginx

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

//go:embed nginx.conf.tmpl router.lua.tmpl metrics.lua.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"lua": luaString,
}).ParseFS(templateFS, "nginx.conf.tmpl", "router.lua.tmpl", "metrics.lua.tmpl"))

// Generate returns the gateway's files, name -> content: ConfigFile, LuaFile and MetricsLuaFile.
func Generate(p Params) (map[string]string, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	v, err := newView(p)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, 3)
	for name, tmpl := range map[string]string{ConfigFile: "nginx.conf.tmpl", LuaFile: "router.lua.tmpl", MetricsLuaFile: "metrics.lua.tmpl"} {
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, tmpl, v); err != nil {
			return nil, fmt.Errorf("gateway: rendering %s: %w", name, err)
		}
		out[name] = b.String()
	}
	return out, nil
}
