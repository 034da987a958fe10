package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
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
// (internal/dnstest, via GATEWAY_NAMESERVERS).
func gatewayTargets(cfg config) []target {
	var out []target
	for _, s := range nginx.Strategies {
		out = append(out, target{name: "gateway " + s, start: func(dir string, replicas []string) (pickFunc, func(), error) {
			return startGateway(cfg, dir, replicas, s)
		}})
	}
	return out
}

func startGateway(cfg config, dir string, replicas []string, strategy string) (pickFunc, func(), error) {
	for _, m := range []string{nginx.DebianNDKModule, nginx.DebianLuaModule} {
		if _, err := os.Stat(m); err != nil {
			return nil, nil, fmt.Errorf("%s missing: apt-get install -y libnginx-mod-http-lua lua-cjson (or make deps)", m)
		}
	}
	var ips []netip.Addr
	port := ""
	for _, r := range replicas {
		ap, err := netip.ParseAddrPort(r)
		if err != nil {
			return nil, nil, err
		}
		if p := fmt.Sprint(ap.Port()); port != "" && p != port {
			return nil, nil, fmt.Errorf("replicas on different ports (%s): a headless Service has one port", r)
		} else {
			port = p
		}
		ips = append(ips, ap.Addr())
	}
	dns, err := dnstest.Start("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	dns.Set(headless, ips)
	rt := nginx.DebianRuntime(dir)
	rt.WorkerProcesses = 1 // as the plain upstream: the same CPU for both
	rt.User = rootUser()
	rt.AccessLog = "off"
	listen, err := loopback()
	if err != nil {
		dns.Close()
		return nil, nil, err
	}
	routing := nginx.DefaultRouting()
	routing.Strategy = strategy
	if strategy != nginx.StrategyRoundRobin {
		routing.Weights = cfg.weights
	}
	files, err := nginx.Generate(nginx.Params{
		Routes: []nginx.Route{{Name: cfg.model, Upstream: replicas[0], Endpoints: headless + ":" + port}},
		Listen: listen, MaxBodySize: nginx.DefaultMaxBodySize, ProxyTimeout: nginx.DefaultProxyTimeout,
		MaxStreams: spec.Defaults().Gateway.MaxStreamsPerPod, Runtime: rt, Routing: routing,
	})
	if err != nil {
		dns.Close()
		return nil, nil, err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			dns.Close()
			return nil, nil, err
		}
	}
	p, err := nginxproc.Start(nginx.Command(cfg.nginxBin, rt), []string{nginx.NameserversEnv + "=" + dns.Addr()},
		nginxproc.Listening(listen), 10*time.Second)
	if err != nil {
		dns.Close()
		return nil, nil, err
	}
	stop := func() { p.Stop(); dns.Close() }
	// Ready once the gateway has resolved the replicas (before that it would send everything
	// to the fallback Upstream).
	deadline := time.Now().Add(15 * time.Second)
	for dns.Queries(headless) == 0 {
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("the gateway never resolved %s: %s", headless, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the answer reaches the workers' shared endpoint set
	return func(request) string { return listen }, stop, nil
}
