package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"text/template"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/dnstest"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// ---------------------------------------------------------------------------------------
// Fake model server

type backend struct {
	srv  *http.Server
	addr string
	// Streams are measured one at a time: the handler reports when it flushed the first
	// event and waits for the client to confirm receipt before it finishes.
	sent chan time.Time
	ack  chan struct{}
}

func startBackend() (*backend, error) {
	return startBackendWith(nil)
}

// startBackendWith serves handler (nil: the benchmark's completion and stream).
func startBackendWith(handler http.HandlerFunc) (*backend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{addr: l.Addr().String(), sent: make(chan time.Time, 1), ack: make(chan struct{}, 1)}
	if handler == nil {
		handler = b.serve
	}
	b.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !bytes.Contains(body, []byte(`"stream":true`)) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(completion)))
		_, _ = w.Write(completion)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "data: {\"n\":1}\n\n")
	t0 := time.Now()
	w.(http.Flusher).Flush()
	b.sent <- t0
	select {
	case <-b.ack:
	case <-time.After(10 * time.Second):
	}
	_, _ = io.WriteString(w, "data: {\"n\":2}\n\ndata: [DONE]\n\n")
}

// ---------------------------------------------------------------------------------------
// nginx instances

const bareConf = `# Bare reverse proxy: the floor any nginx hop costs (no Lua), same binary and settings.
{{if .User}}user {{.User}};{{end}}
worker_processes {{.Workers}};
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 4096; }
http {
    {{if .AccessLog}}access_log {{.Dir}}/access.log;{{else}}access_log off;{{end}}
    tcp_nodelay on;
    keepalive_requests 100000;
    # Bodies stay in memory, as in the gateway (client_body_buffer_size = client_max_body_size):
    # otherwise a body above 16 KB goes through a temp file and the comparison measures the disk.
    client_max_body_size {{.MaxBody}};
    client_body_buffer_size {{.MaxBody}};
    client_body_in_single_buffer on;
    client_body_temp_path {{.Dir}}/client_body_temp;
    proxy_temp_path {{.Dir}}/proxy_temp;
    fastcgi_temp_path {{.Dir}}/fastcgi_temp;
    uwsgi_temp_path {{.Dir}}/uwsgi_temp;
    scgi_temp_path {{.Dir}}/scgi_temp;
    upstream backend {
        server {{.Backend}};
        keepalive 128;
        keepalive_requests 100000;
    }
{{- if .Probe}}
    # -burst: the small requests sent meanwhile go to a model server of their own, as the gateway
    # sends them (by their "model") to another model's.
    upstream probe {
        server {{.Probe}};
        keepalive 16;
    }
{{- end}}
    server {
        listen {{.Listen}};
        location / {
{{- if .Probe}}
            if ($http_x_bench_probe) {
                proxy_pass http://probe;
            }
{{- end}}
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
`

func rootUser() string {
	if os.Geteuid() == 0 {
		return "root" // workers must reach the 0700 temp dir
	}
	return ""
}

var bareTmpl = template.Must(template.New("bare").Parse(bareConf))

// startBare runs the bare proxy in front of backendAddr (and, when probeAddr is set, requests
// with an X-Bench-Probe header in front of probeAddr).
func startBare(cfg config, dir, backendAddr, probeAddr string) (target, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return target{}, nil, err
	}
	listen, err := loopback()
	if err != nil {
		return target{}, nil, err
	}
	var conf bytes.Buffer
	if err := bareTmpl.Execute(&conf, map[string]any{
		"User": rootUser(), "Workers": workersString(cfg.workers), "Dir": dir,
		"Backend": backendAddr, "Probe": probeAddr, "Listen": listen, "AccessLog": cfg.accessLog, "MaxBody": nginx.DefaultMaxBodySize,
	}); err != nil {
		return target{}, nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		return target{}, nil, err
	}
	p, err := nginxproc.Start([]string{cfg.nginxBin, "-p", dir + "/", "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"},
		nil, nginxproc.Listening(listen), 10*time.Second)
	if err != nil {
		return target{}, nil, err
	}
	return target{name: "bare nginx", addr: listen, pid: p.Pid(), proc: p}, p.Stop, nil
}

// headless is the name the gateway resolves to find the benchmark model's replicas, as it would a
// model's headless Service in a cluster; a DNS server on loopback answers it.
const headless = "bench-model-headless.bench.svc.cluster.local"

// gatewayOptions: how a gateway target is rendered.
type gatewayOptions struct {
	backends map[string]string // served model -> its model server's host:port
	workers  int
	// endpoints routes bench-model-b through its replica endpoints (a headless name resolved by
	// the gateway's DNS client), as the platform deploys every model: the balancer, prefix hashing
	// and per-replica load are then on the request path.
	endpoints bool
	// instrument wraps every Lua phase handler with CPU timers (phases.go).
	instrument bool
}

// startGateway renders the gateway as deployed (limits from the stack's defaults) and runs it.
func startGateway(cfg config, dir string, o gatewayOptions) (target, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return target{}, nil, err
	}
	rt := nginx.DebianRuntime(dir)
	rt.WorkerProcesses = o.workers
	rt.User = rootUser()
	if !cfg.accessLog {
		rt.AccessLog = "off"
	}
	listen, err := loopback()
	if err != nil {
		return target{}, nil, err
	}
	var env []string
	var dns *dnstest.Server
	stopDNS := func() {}
	routes := make([]nginx.Route, len(models))
	for i, m := range models {
		routes[i] = nginx.Route{Name: m, Upstream: o.backends[m]}
	}
	if o.endpoints {
		if dns, err = dnstest.Start("127.0.0.1:0"); err != nil {
			return target{}, nil, err
		}
		stopDNS = dns.Close
		ap := netip.MustParseAddrPort(o.backends[models[1]])
		dns.Set(headless, []netip.Addr{ap.Addr()})
		routes[1].Endpoints = fmt.Sprintf("%s:%d", headless, ap.Port())
		env = append(env, nginx.NameserversEnv+"="+dns.Addr())
	}
	files, err := nginx.Generate(nginx.Params{
		Routes: routes, Listen: listen, MaxBodySize: nginx.DefaultMaxBodySize, ProxyTimeout: nginx.DefaultProxyTimeout,
		MaxStreams: spec.Defaults().Gateway.MaxStreamsPerPod, Runtime: rt, Routing: nginx.DefaultRouting(),
	})
	if err == nil && o.instrument {
		err = instrument(files)
	}
	for name, content := range files {
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
	}
	if err != nil {
		stopDNS()
		return target{}, nil, err
	}
	p, err := nginxproc.Start(nginx.Command(cfg.nginxBin, rt), env, nginxproc.Listening(listen), 10*time.Second)
	if err != nil {
		stopDNS()
		return target{}, nil, err
	}
	stop := func() { p.Stop(); stopDNS() }
	if dns != nil {
		// Measure once the gateway routes through the replica endpoints: before it has resolved
		// them it uses the model's Service instead.
		for deadline := time.Now().Add(15 * time.Second); dns.Queries(headless) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop()
				return target{}, nil, fmt.Errorf("the gateway never resolved %s: %s", headless, p.Output())
			}
		}
		time.Sleep(200 * time.Millisecond) // the answer reaches the workers' shared endpoint set
	}
	return target{name: "gateway", addr: listen, pid: p.Pid(), proc: p}, stop, nil
}

func loopback() (string, error) {
	port, err := nginxproc.FreePort()
	return "127.0.0.1:" + port, err
}

// benchBackends maps every served model of the benchmark to addr.
func benchBackends(addr string) map[string]string {
	out := map[string]string{}
	for _, m := range models {
		out[m] = addr
	}
	return out
}
