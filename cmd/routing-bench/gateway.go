package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/dnstest"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// headless is the name the gateway resolves to find the replicas, as it would a model's
// headless Service in the cluster; the benchmark's DNS server answers it with the replicas'
// addresses.
const headless = "bench-model-headless.bench.svc.cluster.local"

// gatewayTargets are the gateway as components/gateway/nginx renders it, one per routing
// strategy, run by the Debian nginx with its Lua module: the model's route has Endpoints (the
// headless name), resolved by the gateway's own DNS client through a DNS server on loopback
// (internal/dnstest, via GATEWAY_NAMESERVERS). Then the default strategy again as cfg.pods
// gateway pods: separate nginx processes sharing nothing but the DNS server and the replicas'
// /metrics, each request sent to one of them as a Service spreads connections.
func gatewayTargets(cfg config) []target {
	var out []target
	for _, s := range nginx.Strategies {
		out = append(out, target{name: "gateway " + s, start: func(dir string, replicas []string) (running, error) {
			return startGateways(cfg, dir, replicas, s, 1)
		}})
	}
	if cfg.pods > 1 {
		out = append(out, target{name: podsName(cfg.pods), start: func(dir string, replicas []string) (running, error) {
			return startGateways(cfg, dir, replicas, nginx.StrategyPrefix, cfg.pods)
		}})
	}
	return out
}

func podsName(pods int) string { return fmt.Sprintf("gateway prefix %d pods", pods) }

// startGateways starts pods gateways in front of the replicas; the pick spreads requests over
// them (a fixed pseudo-random sequence, the same for every run).
func startGateways(cfg config, dir string, replicas []string, strategy string, pods int) (running, error) {
	for _, m := range []string{nginx.DebianNDKModule, nginx.DebianLuaModule} {
		if _, err := os.Stat(m); err != nil {
			return running{}, fmt.Errorf("%s missing: apt-get install -y libnginx-mod-http-lua lua-cjson (or make deps)", m)
		}
	}
	var ips []netip.Addr
	port := ""
	for _, r := range replicas {
		ap, err := netip.ParseAddrPort(r)
		if err != nil {
			return running{}, err
		}
		if p := fmt.Sprint(ap.Port()); port != "" && p != port {
			return running{}, fmt.Errorf("replicas on different ports (%s): a headless Service has one port", r)
		} else {
			port = p
		}
		ips = append(ips, ap.Addr())
	}
	dns, err := dnstest.Start("127.0.0.1:0")
	if err != nil {
		return running{}, err
	}
	dns.Set(headless, ips)
	var procs []*nginxproc.Process
	var listens, metrics []string
	stop := func() {
		for _, p := range procs {
			p.Stop()
		}
		dns.Close()
	}
	for i := range pods {
		pdir := filepath.Join(dir, fmt.Sprintf("pod%d", i))
		p, listen, scrape, err := startGateway(cfg, pdir, replicas[0], port, strategy, dns.Addr())
		if err != nil {
			stop()
			return running{}, err
		}
		procs, listens, metrics = append(procs, p), append(listens, listen), append(metrics, scrape)
	}
	// Ready once every gateway has resolved the replicas (before that it would send everything
	// to the fallback Upstream).
	deadline := time.Now().Add(15 * time.Second)
	for dns.Queries(headless) < pods {
		if time.Now().After(deadline) {
			stop()
			return running{}, fmt.Errorf("the gateways never resolved %s: %s", headless, procs[0].Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the answer reaches the workers' shared endpoint set
	var n atomic.Uint64
	return running{pick: func(request) string { return listens[spreadPod(n.Add(1), pods)] }, stop: stop,
		index: func() (float64, float64, error) { return indexBytes(metrics) }}, nil
}

// spreadPod is the pod of the i-th request: a fixed pseudo-random sequence (splitmix64).
func spreadPod(i uint64, pods int) int {
	i += 0x9e3779b97f4a7c15
	i = (i ^ i>>30) * 0xbf58476d1ce4e5b9
	i = (i ^ i>>27) * 0x94d049bb133111eb
	return int((i ^ i>>31) % uint64(pods))
}

// startGateway renders one gateway into dir and starts it; it resolves the replicas through
// the DNS server at nameserver.
func startGateway(cfg config, dir, fallback, port, strategy, nameserver string) (*nginxproc.Process, string, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", "", err
	}
	rt := nginx.DebianRuntime(dir)
	rt.WorkerProcesses = 1 // as the plain upstream: the same CPU for both
	rt.User = rootUser()
	rt.AccessLog = "off"
	listen, err := loopback()
	if err != nil {
		return nil, "", "", err
	}
	scrape, err := loopback()
	if err != nil {
		return nil, "", "", err
	}
	routing := nginx.DefaultRouting()
	routing.Strategy = strategy
	if strategy != nginx.StrategyRoundRobin {
		routing.Weights = cfg.weights
	}
	files, err := nginx.Generate(nginx.Params{
		Routes: []nginx.Route{{Name: cfg.model, Upstream: fallback, Endpoints: headless + ":" + port}},
		Listen: listen, MaxBodySize: nginx.DefaultMaxBodySize, ProxyTimeout: nginx.DefaultProxyTimeout,
		MaxStreams: spec.Defaults().Gateway.MaxStreamsPerPod, Runtime: rt, Routing: routing, MetricsListen: scrape,
	})
	if err != nil {
		return nil, "", "", err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, "", "", err
		}
	}
	p, err := nginxproc.Start(nginx.Command(cfg.nginxBin, rt), []string{nginx.NameserversEnv + "=" + nameserver},
		nginxproc.Listening(listen), 10*time.Second)
	return p, listen, scrape, err
}

// indexBytes sums the gateways' llm_gateway_prefix_index_bytes (used, capacity).
func indexBytes(scrapes []string) (used, capacity float64, err error) {
	for _, addr := range scrapes {
		resp, err := http.Get("http://" + addr + nginx.MetricsPath)
		if err != nil {
			return 0, 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		for _, line := range strings.Split(string(body), "\n") {
			name, value, ok := strings.Cut(line, " ")
			v, perr := strconv.ParseFloat(value, 64)
			if !ok || perr != nil || !strings.HasPrefix(name, nginx.MetricPrefixIndexBytes+"{") {
				continue
			}
			if strings.Contains(name, `state="used"`) {
				used += v
			} else {
				capacity += v
			}
		}
	}
	return used, capacity, nil
}
