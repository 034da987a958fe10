package nginx

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

//go:embed *.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"lua": luaString,
}).ParseFS(templateFS, "*.tmpl"))

// files maps every generated file to its template.
var files = map[string]string{
	ConfigFile:     "nginx.conf.tmpl",
	LuaFile:        "router.lua.tmpl",
	DNSFile:        "dns.lua.tmpl",
	EndpointsFile:  "endpoints.lua.tmpl",
	LoadFile:       "load.lua.tmpl",
	PrefixFile:     "prefix.lua.tmpl",
	BalancerFile:   "balancer.lua.tmpl",
	MetricsLuaFile: "metrics.lua.tmpl",
	BodiesFile:     "bodies.lua.tmpl",
	ScanFile:       "scan.lua.tmpl",
	LedgerFile:     "ledger.lua.tmpl",
	FetchFile:      "fetch.lua.tmpl",
	TenantsFile:    "tenants.lua.tmpl",
	RespFile:       "resp.lua.tmpl",
	LimitsFile:     "limits.lua.tmpl",
	UsageFile:      "usage.lua.tmpl",
}

// Generate returns the gateway's files, name -> content: ConfigFile, LuaFile, MetricsLuaFile, the
// body's modules and the replica balancer's Lua modules (present whether or not a route has
// Endpoints, so the file set is fixed), and RedisCAFile when the limits' Redis has its own CAs.
func Generate(p Params) (map[string]string, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	v, err := newView(p)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(files))
	for name, tmpl := range files {
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, tmpl, v); err != nil {
			return nil, fmt.Errorf("gateway: rendering %s: %w", name, err)
		}
		out[name] = b.String()
	}
	if p.HasLimits() && p.Limits.TLS != nil && p.Limits.TLS.CACert != "" {
		out[RedisCAFile] = p.Limits.TLS.CACert
	}
	return out, nil
}
