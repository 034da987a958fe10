package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

// target is one way of spreading requests over the replicas.
type target struct {
	name string
	// start brings the target up in dir, in front of the replicas' addresses.
	start func(dir string, replicas []string) (running, error)
}

// running is a target that is up: pick says where each request goes; stop tears it down;
// index, when set, reads the gateways' prefix-index memory (used, capacity; summed over pods).
type running struct {
	pick  pickFunc
	stop  func()
	index func() (used, capacity float64, err error)
}

// roundRobinName is the target whose capacity the rates are relative to.
const roundRobinName = "nginx upstream"

// nginxUpstream is what a Kubernetes Service in front of the replicas gives, at best: a plain
// nginx upstream over the four addresses (round robin per request, keep-alive to the
// replicas). kube-proxy is worse still: it picks a replica per connection, not per request.
func nginxUpstream(cfg config) target {
	return target{name: roundRobinName, start: func(dir string, replicas []string) (running, error) {
		listen, err := loopback()
		if err != nil {
			return running{}, err
		}
		var conf bytes.Buffer
		if err := upstreamTmpl.Execute(&conf, map[string]any{
			"User": rootUser(), "Dir": dir, "Listen": listen, "Replicas": replicas,
		}); err != nil {
			return running{}, err
		}
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
			return running{}, err
		}
		p, err := nginxproc.Start([]string{cfg.nginxBin, "-p", dir + "/", "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"},
			nil, nginxproc.Listening(listen), 10*time.Second)
		if err != nil {
			return running{}, err
		}
		return running{pick: func(request) string { return listen }, stop: p.Stop}, nil
	}}
}

// clientHash is a reference without a proxy: the client hashes the prompt's first block (in
// this workload, the system prompt) onto a replica, the plain consistent choice a prefix
// router starts from, without its load bounds.
func clientHash() target {
	return target{name: "client prefix hash", start: func(_ string, replicas []string) (running, error) {
		return running{pick: func(q request) string { return replicas[q.firstKey%uint64(len(replicas))] }, stop: func() {}}, nil
	}}
}

const upstreamConf = `# Plain round-robin upstream over the replicas (what a Service gives), for the routing benchmark.
{{if .User}}user {{.User}};{{end}}
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 16384; }
worker_rlimit_nofile 20000;
http {
    access_log off;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_max_body_size 16m;
    client_body_buffer_size 16m;
    client_body_temp_path {{.Dir}}/client_body_temp;
    proxy_temp_path {{.Dir}}/proxy_temp;
    fastcgi_temp_path {{.Dir}}/fastcgi_temp;
    uwsgi_temp_path {{.Dir}}/uwsgi_temp;
    scgi_temp_path {{.Dir}}/scgi_temp;
    upstream replicas {
{{- range .Replicas}}
        server {{.}};
{{- end}}
        keepalive 256;
        keepalive_requests 100000;
    }
    server {
        listen {{.Listen}};
        location / {
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
`

var upstreamTmpl = template.Must(template.New("upstream").Parse(upstreamConf))

func rootUser() string {
	if os.Geteuid() == 0 {
		return "root" // workers must reach the 0700 temp dir
	}
	return ""
}

func loopback() (string, error) {
	port, err := nginxproc.FreePort()
	return "127.0.0.1:" + port, err
}

// checkNginx says what to install when the Debian nginx (and, for the gateway, its Lua module)
// is missing.
func checkNginx(bin string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("nginx not found (%v): apt-get install -y nginx libnginx-mod-http-lua lua-cjson, or make deps", err)
	}
	return nil
}
