package main

// CPU per request by phase (-phases): a second gateway, rendered the same way, whose Lua phase
// handlers (access, balancer, header filter, log) and body scan are wrapped with timers of the
// worker's own CPU clock (clock_gettime(CLOCK_THREAD_CPUTIME_ID): nginx workers are single
// threads), driven by one connection at a time so that nothing else runs in the worker meanwhile.
// The access phase includes reading the body from the socket (nginx reads it while the handler
// waits); the scan is part of it. The timers' own cost is measured at start and subtracted.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// phaseNames in the order of a request.
var phaseNames = []string{"access", "scan", "balancer", "header", "log"}

const phaseModule = `-- benchphases.lua: CPU timers around the gateway's phase handlers (gateway-bench -phases).
local ffi = require "ffi"
pcall(ffi.cdef, "typedef struct { long sec; long nsec; } gw_timespec; int clock_gettime(int clk, gw_timespec *tp);") -- as scan.lua declares it
local C, ts, tonumber = ffi.C, ffi.new("gw_timespec"), tonumber
local dict = ngx.shared.gw_bench
local function clock()
    C.clock_gettime(3, ts) -- CLOCK_THREAD_CPUTIME_ID
    return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
end
local overhead
do -- what one clock() pair costs, to take off every interval
    local best = math.huge
    for _ = 1, 1000 do
        local t0 = clock()
        best = math.min(best, clock() - t0)
    end
    overhead = best
end
local M = {}
local function add(name, t0)
    dict:incr(name, clock() - t0 - overhead, 0)
    dict:incr(name .. "#", 1, 0)
end
function M.time(name, f)
    local t0 = clock()
    f()
    add(name, t0)
end
local function finish(t0, ...)
    add("scan", t0)
    return ...
end
local scan = require "scan"
local scan_body = scan.scan
scan.scan = function(...)
    return finish(clock(), scan_body(...))
end
function M.report()
    local out = {}
    for _, k in ipairs(dict:get_keys(0)) do
        out[#out + 1] = k .. " " .. dict:get(k)
    end
    dict:flush_all()
    ngx.print(table.concat(out, "\n"))
end
return M
`

// instrument wraps the phase handlers of the rendered gateway with the timers and adds the
// location that reports them; it fails when a handler is not where it expects it (the template
// changed), so the profile can never silently measure nothing.
func instrument(files map[string]string) error {
	conf := files[nginx.ConfigFile]
	wrap := func(call, phase string) {
		conf = strings.ReplaceAll(conf, call, fmt.Sprintf(`require("benchphases").time(%q, function() %s end)`, phase, call))
	}
	for _, h := range []struct{ call, phase string }{
		{`require("router").route()`, "access"},
		{`require("balancer").balance()`, "balancer"},
		{`require("metrics").header()`, "header"},
		{`require("bodies").log()`, "log"},
		{`require("metrics").log()`, "log"},
		{`require("balancer").log()`, "log"},
	} {
		// The balancer's handlers are there only with replica endpoints.
		if !strings.HasPrefix(h.call, `require("balancer")`) && !strings.Contains(conf, h.call) {
			return fmt.Errorf("instrument: %s not in the rendered nginx.conf", h.call)
		}
		wrap(h.call, h.phase)
	}
	for _, edit := range []struct{ anchor, add string }{
		{"    lua_package_path", "    lua_shared_dict gw_bench 1m;\n"},
		{"        location = /v1/models {", "        location = /bench-phases {\n            content_by_lua_block { require(\"benchphases\").report() }\n        }\n\n"},
	} {
		if !strings.Contains(conf, edit.anchor) {
			return fmt.Errorf("instrument: %q not in the rendered nginx.conf", edit.anchor)
		}
		conf = strings.Replace(conf, edit.anchor, edit.add+edit.anchor, 1)
	}
	files[nginx.ConfigFile] = conf
	files["benchphases.lua"] = phaseModule
	return nil
}

// phaseTimes are µs of CPU per request by phase.
type phaseTimes map[string]float64

// readPhases fetches and resets the gateway's phase timers: µs per request (requests: how many the
// access phase saw) and that count.
func readPhases(addr string) (phaseTimes, int, error) {
	resp, err := http.Get("http://" + addr + "/bench-phases")
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, err
	}
	sums, counts := map[string]float64{}, map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("phase timer %q: %w", line, err)
		}
		if name, isCount := strings.CutSuffix(k, "#"); isCount {
			counts[name] = f
		} else {
			sums[k] = f
		}
	}
	requests := counts["access"]
	if requests == 0 {
		return nil, 0, fmt.Errorf("no request timed: %s", b)
	}
	out := phaseTimes{}
	for name, s := range sums {
		out[name] = s * 1e6 / requests
	}
	return out, int(requests), nil
}

// measurePhases runs the instrumented gateway with one connection for d per body size.
func measurePhases(cfg config, dir string, be *backend) (map[int]phaseTimes, error) {
	gw, stop, err := startGateway(cfg, filepath.Join(dir, "phases"), gatewayOptions{
		backends: benchBackends(be.addr), workers: 1, endpoints: cfg.endpoints, instrument: true})
	if err != nil {
		return nil, err
	}
	defer stop()
	out := map[int]phaseTimes{}
	for _, n := range cfg.bodySizes {
		body, err := chatBodyOfSize(n)
		if err != nil {
			return nil, err
		}
		req := httpRequest(body)
		if _, err := load(gw.addr, 1, cfg.warmup, req); err != nil {
			return nil, fmt.Errorf("phases, %d bytes: %w", n, err)
		}
		if _, _, err := readPhases(gw.addr); err != nil { // reset after the warm-up
			return nil, err
		}
		before := cpuTicks(gw.pid)
		res, err := load(gw.addr, 1, cfg.phases, req)
		if err != nil {
			return nil, fmt.Errorf("phases, %d bytes: %w", n, err)
		}
		pt, _, err := readPhases(gw.addr)
		if err != nil {
			return nil, err
		}
		pt["nginx total"] = float64(cpuTicks(gw.pid)-before) * 1e6 / clockTicksPerSecond / float64(res.requests)
		out[n] = pt
	}
	return out, nil
}

func printPhases(cfg config, phases map[int]phaseTimes) {
	fmt.Printf("\nnginx CPU per request by phase, gateway, 1 connection, %v per body size (µs; access includes reading the body, scan is part of access):\n", cfg.phases)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "body bytes\t")
	for _, p := range phaseNames {
		fmt.Fprintf(tw, "%s\t", p)
	}
	fmt.Fprintln(tw, "Lua total\tnginx total\t")
	for _, n := range cfg.bodySizes {
		pt := phases[n]
		fmt.Fprintf(tw, "%d\t", n)
		for _, p := range phaseNames {
			fmt.Fprintf(tw, "%.1f\t", pt[p])
		}
		fmt.Fprintf(tw, "%.1f\t%.1f\t\n", pt["access"]+pt["balancer"]+pt["header"]+pt["log"], pt["nginx total"])
	}
	_ = tw.Flush()
}
