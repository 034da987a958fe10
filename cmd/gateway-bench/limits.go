package main

// -limits: what the tenants' shared limits cost. Two gateways rendered alike, in front of the
// same model server, with the same API key: "limits off" (the key's tenant has no policy: the key
// is checked, usage counted, Redis never asked) and "limits on" (the tenant has a requests- and a
// tokens-per-minute limit far above what the run can reach, so nothing is refused but every
// request is checked and charged: from the nginx worker's lease, or with one EVALSHA on Debian's
// redis-server on loopback that renews it; its tokens settled afterwards). Measured in alternating rounds (off, on, off, ...), many connections
// then one, so that other load on the machine hits both alike. Redis runs on the same two cores
// here; in a cluster it has its own node, so its CPU is reported apart.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

const (
	benchTenant   = "bench"
	benchKey      = "sk-bench-limits"
	benchRedisPwd = "bench-redis-password"
)

// benchLimits never refuse in a run: a billion requests and a trillion tokens per minute.
var benchLimits = []nginx.Limit{
	{Kind: nginx.LimitRequests, Period: nginx.PeriodMinute, Amount: 1_000_000_000},
	{Kind: nginx.LimitTokens, Period: nginx.PeriodMinute, Amount: 1_000_000_000_000},
}

// authRequest is httpRequest with the tenant's API key.
func authRequest(body []byte) []byte {
	return []byte(strings.Replace(string(httpRequest(body)), "\r\n\r\n", "\r\nAuthorization: Bearer "+benchKey+"\r\n\r\n", 1))
}

// startRedisServer runs Debian's redis-server with the config components/redis renders for the
// cluster, bound to loopback; stop kills it.
func startRedisServer(dir string) (addr string, pid int, stop func(), err error) {
	// (addr is also where printRedisStats asks.)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", 0, nil, fmt.Errorf("redis-server not found (%v): apt-get install -y redis-server", err)
	}
	port, err := nginxproc.FreePort()
	if err != nil {
		return "", 0, nil, err
	}
	n, _ := strconv.Atoi(port)
	conf, err := redis.Render(redis.ServerConfig{Port: n, Password: benchRedisPwd, Dir: dir, MaxMemory: redis.DefaultMaxMemory})
	if err != nil {
		return "", 0, nil, err
	}
	path := filepath.Join(dir, "valkey.conf")
	if err := os.WriteFile(path, []byte(strings.Replace(conf, "bind * -::*", "bind 127.0.0.1", 1)), 0o600); err != nil {
		return "", 0, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, path)
	if err := cmd.Start(); err != nil {
		cancel()
		return "", 0, nil, err
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	addr = "127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); !nginxproc.Listening(addr)(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return "", 0, nil, fmt.Errorf("redis-server never listened on %s", addr)
		}
	}
	return addr, cmd.Process.Pid, stop, nil
}

// startLimitTargets starts Redis and the two gateways; every answer of "limits on" must carry
// the x-ratelimit headers (its limits are checked) and none of "limits off".
func startLimitTargets(cfg config, dir string, be *backend) (off, on *target, redisPid int, stop func(), err error) {
	keys := filepath.Join(dir, "keys.json")
	pwd := filepath.Join(dir, "redis-password")
	err = errors.Join(os.WriteFile(keys, []byte(`{"`+benchTenant+`":["`+benchKey+`"]}`), 0o600),
		os.WriteFile(pwd, []byte(benchRedisPwd+"\n"), 0o600), os.MkdirAll(filepath.Join(dir, "redis"), 0o755))
	if err != nil {
		return nil, nil, 0, nil, err
	}
	addr, redisPid, stopRedis, err := startRedisServer(filepath.Join(dir, "redis"))
	if err != nil {
		return nil, nil, 0, nil, err
	}
	stops := []func(){stopRedis}
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	o := gatewayOptions{backends: benchBackends(be.addr), workers: cfg.workers, endpoints: cfg.endpoints, keysFile: keys}
	var gws [2]*target
	for i, name := range []string{"limits off", "limits on"} {
		if i == 1 {
			o.tenants = []nginx.Tenant{{Name: benchTenant, Limits: benchLimits}}
			o.limits = nginx.Limits{Redis: addr, PasswordFile: pwd}
		}
		g, stopGW, err := startGateway(cfg, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")), o)
		if err != nil {
			stop()
			return nil, nil, 0, nil, fmt.Errorf("%s: %w", name, err)
		}
		stops = append(stops, stopGW)
		g.name = name
		g.redisAddr = o.limits.Redis
		gws[i] = &g
	}
	for i, g := range gws {
		if err := waitLimitHeaders(g.addr, i == 1); err != nil {
			stop()
			return nil, nil, 0, nil, fmt.Errorf("%s: %w", g.name, err)
		}
	}
	return gws[0], gws[1], redisPid, stop, nil
}

// waitLimitHeaders checks the benchmark request is answered 200, with the rate-limit headers
// exactly when limited (once the gateway has reached Redis: it checks in every second).
func waitLimitHeaders(addr string, limited bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader(string(chatBody)))
		req.Header.Set("Authorization", "Bearer "+benchKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			has := resp.Header.Get("x-ratelimit-limit-requests") != ""
			if resp.StatusCode == http.StatusOK && has == limited {
				return nil
			}
			err = fmt.Errorf("status %d, x-ratelimit-limit-requests %q (want it: %v)", resp.StatusCode, resp.Header.Get("x-ratelimit-limit-requests"), limited)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runLimits measures limits off against limits on and prints the ratios.
func runLimits(cfg config) error {
	dir, be, cleanup, err := prepare(cfg, "gateway-bench-limits-")
	if err != nil {
		return err
	}
	defer cleanup()
	off, on, redisPid, stop, err := startLimitTargets(cfg, dir, be)
	if err != nil {
		return err
	}
	defer stop()
	printHeader(cfg)
	ts := []*target{off, on}
	req := authRequest(chatBody)
	redisCPU, err := alternate(ts, cfg.conns, cfg.duration, cfg.rounds, cfg.warmup, req, redisPid, func(t *target, r *result) { t.loaded = r })
	if err != nil {
		return err
	}
	fmt.Printf("throughput, %d connections, %v per target (%d rounds):\n", cfg.conns, cfg.duration, cfg.rounds)
	printTable(ts, func(t *target) *result { return t.loaded })
	if cfg.c1Duration > 0 {
		if _, err := alternate(ts, 1, cfg.c1Duration, cfg.rounds, 0, req, 0, func(t *target, r *result) { t.single = r }); err != nil {
			return err
		}
		fmt.Printf("\nunloaded latency, 1 connection, %v per target:\n", cfg.c1Duration)
		printTable(ts, func(t *target) *result { return t.single })
	}
	printLimitRatios(cfg, off, on, redisCPU)
	requests := on.loaded.requests
	if on.single != nil {
		requests += on.single.requests
	}
	printRedisStats(on.redisAddr, requests)
	fmt.Printf("load average at end: %s\n", loadavg())
	return nil
}

// alternate loads each target in turn, rounds rounds of d/rounds each, hands each target its
// merged result (set), and returns redisPid's CPU ticks spent during the last target's rounds.
func alternate(ts []*target, conns int, d time.Duration, rounds int, warmup time.Duration, req []byte, redisPid int, set func(*target, *result)) (int64, error) {
	var redisTicks int64
	for _, t := range ts {
		if warmup > 0 {
			if _, err := load(t.addr, conns, warmup, req); err != nil {
				return 0, fmt.Errorf("warm-up %s: %w", t.name, err)
			}
		}
	}
	merged := map[*target]*result{}
	for range rounds {
		for i, t := range ts {
			before := cpuTicks(redisPid)
			res, err := loadCounted(t, conns, d/time.Duration(rounds), req)
			if err != nil {
				return 0, err
			}
			if i == len(ts)-1 {
				redisTicks += cpuTicks(redisPid) - before
			}
			if merged[t] == nil {
				merged[t] = &result{}
			}
			merged[t].merge(res)
		}
	}
	for _, t := range ts {
		set(t, merged[t])
	}
	return redisTicks, nil
}

func printLimitRatios(cfg config, off, on *target, redisTicks int64) {
	ratio := on.loaded.rps() / off.loaded.rps()
	fmt.Printf("\nratios (limits on vs off; target in brackets):\n")
	fmt.Printf("  throughput on/off, %d connections:   %.2fx  [>= 0.9x] %s\n", cfg.conns, ratio, verdict(ratio >= 0.9))
	fmt.Printf("  added latency, %d connections:       p50 %s, p99 %s\n", cfg.conns,
		signed(on.loaded.pct(50)-off.loaded.pct(50)), signed(on.loaded.pct(99)-off.loaded.pct(99)))
	if on.single != nil {
		fmt.Printf("  added latency, 1 connection:         p50 %s, p99 %s\n",
			signed(on.single.pct(50)-off.single.pct(50)), signed(on.single.pct(99)-off.single.pct(99)))
	}
	if off.loaded.cpuTicks > 0 && on.loaded.cpuTicks > 0 {
		b, g := cpuPerRequest(off.loaded), cpuPerRequest(on.loaded)
		fmt.Printf("  nginx CPU per request:               off %.1f µs, on %.1f µs (+%.1f µs)\n", b, g, g-b)
	}
	if redisTicks > 0 && on.loaded.requests > 0 {
		fmt.Printf("  redis-server CPU per request:        %.1f µs (on the same cores here; its own node in a cluster)\n",
			float64(redisTicks)*1e6/clockTicksPerSecond/float64(on.loaded.requests))
	}
}

// printRedisStats prints what Redis ran per "limits on" request (INFO commandstats): where its
// CPU goes.
func printRedisStats(addr string, requests int) {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "--no-auth-warning", "-a", benchRedisPwd, "INFO", "commandstats").Output()
	if err != nil || requests == 0 {
		return
	}
	fmt.Printf("  redis commands per 1,000 requests (INFO commandstats; leases make admissions rare):\n")
	for _, line := range strings.Split(string(out), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "cmdstat_")), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		calls, _ := strconv.ParseFloat(f["calls"], 64)
		fmt.Printf("    %-16s %8.2f per 1,000 requests, %s µs per call\n", name, calls*1000/float64(requests), f["usec_per_call"])
	}
}
