package redis

import (
	"bytes"
	_ "embed"
	"fmt"
	"text/template"
)

// The server's config file, rendered by Render.
//
//go:embed valkey.conf.tmpl
var confTemplate string

var conf = template.Must(template.New("valkey.conf").Option("missingkey=error").Parse(confTemplate))

// ServerConfig is what the config file says.
type ServerConfig struct {
	// Port is the TCP port the server listens on.
	Port int
	// Password is what every client must AUTH with (hex: no quoting needed).
	Password string
	// Dir holds the append-only file.
	Dir string
	// MaxMemory caps the dataset ("256mb").
	MaxMemory string
}

// Render is the server's config file for c. Debian's redis-server reads the same file in
// the tests, so what the cluster runs is what they check.
func Render(c ServerConfig) (string, error) {
	if c.Password == "" {
		return "", fmt.Errorf("redis: the config needs a password")
	}
	var b bytes.Buffer
	if err := conf.Execute(&b, c); err != nil {
		return "", err
	}
	return b.String(), nil
}
