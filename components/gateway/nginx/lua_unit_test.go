package nginx

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/dnstest"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

// Unit tests of the balancer's Lua modules, run by a real nginx: a test-only server whose one
// location runs the Lua chunk POSTed to it (with the rendered modules on its package path)
// and answers what the chunk returns.

type luaRunner struct{ url string }

func startLua(t *testing.T) luaRunner {
	t.Helper()
	return startLuaWith(t, routedParams())
}

// startLuaWith is startLua with the modules rendered from p.
func startLuaWith(t *testing.T, p Params) luaRunner {
	t.Helper()
	return startLuaWithHTTP(t, p, "")
}

// startLuaWithHTTP is startLuaWith with more directives in the http block.
func startLuaWithHTTP(t *testing.T, p Params, http string) luaRunner {
	t.Helper()
	dir := t.TempDir()
	p.Runtime = DebianRuntime(dir)
	files, err := Generate(p)
	require.NoError(t, err)
	for name, content := range files {
		if name != ConfigFile {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
		}
	}
	addr := startTestNginx(t, dir, `    lua_shared_dict gw_dns 1m;
    lua_shared_dict gw_load 1m;
    lua_shared_dict gw_prefix 1m;
    lua_shared_dict gw_metrics 1m;
    lua_shared_dict gw_ledger 1m;
`+http, `        client_body_buffer_size 1m;
        client_max_body_size 1m;
        location = /run {
            content_by_lua_block {
                ngx.req.read_body()
                local chunk = assert(loadstring(ngx.req.get_body_data()))
                local ok, out = pcall(chunk)
                if not ok then
                    ngx.status = 500
                end
                ngx.print(tostring(out))
            }
        }
`)
	return luaRunner{url: "http://" + addr + "/run"}
}

// startTestNginx runs a test-only nginx with the Lua module, one worker and the Lua files in dir on
// its package path, one server on a free loopback port (server: its directives besides listen; http:
// more directives of the http block), and returns the server's address. The error log is shown when
// the test fails or it holds an [error].
func startTestNginx(t testing.TB, dir, http, server string) string {
	t.Helper()
	bin := requireNginx(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	addr := "127.0.0.1:" + freePort(t)
	conf := fmt.Sprintf(`load_module %s;
load_module %s;
%s
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %s/body;
    lua_package_path "%s/?.lua;;";
%s    server {
        listen %s;
%s    }
}
`, DebianNDKModule, DebianLuaModule, user, dir, dir, dir, dir, http, addr, server)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test.conf"), []byte(conf), 0o644))
	argv := []string{bin, "-p", dir + "/", "-c", filepath.Join(dir, "test.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"}
	proc, err := nginxproc.Start(argv, nil, nginxproc.Listening(addr), 10*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() {
		proc.Stop()
		if log, _ := os.ReadFile(filepath.Join(dir, "error.log")); t.Failed() || strings.Contains(string(log), "[error]") {
			t.Logf("nginx error log:\n%s", log)
		}
	})
	return addr
}

// run executes chunk and returns what it returned (as a string).
func (l luaRunner) run(t *testing.T, chunk string) string {
	t.Helper()
	resp, err := client.Post(l.url, "text/plain", strings.NewReader(chunk))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "Lua error: %s", b)
	return string(b)
}

func TestLuaDNSNameservers(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(resolv, []byte(
		"# kubelet\nsearch llm.svc.cluster.local svc.cluster.local cluster.local\n"+
			"nameserver 10.96.0.10\n  nameserver\t10.96.0.11 # second\nnameserver fd00::a\noptions ndots:5\n"), 0o644))
	list := `local dns = require "dns"
local out = {}
for _, ns in ipairs(dns.nameservers(%s, %q)) do out[#out + 1] = ns[1] .. "#" .. ns[2] end
return table.concat(out, " ")`
	assert.Equal(t, "10.96.0.10#53 10.96.0.11#53 [fd00::a]#53", l.run(t, fmt.Sprintf(list, "nil", resolv)), "from resolv.conf")
	assert.Equal(t, "10.96.0.10#53 10.96.0.11#53 [fd00::a]#53", l.run(t, fmt.Sprintf(list, `"  "`, resolv)), "a blank override is no override")
	assert.Equal(t, "127.0.0.1#5353 10.0.0.2#53 [::1]#5300", l.run(t, fmt.Sprintf(list, `"127.0.0.1:5353, 10.0.0.2,[::1]:5300"`, resolv)), "GATEWAY_NAMESERVERS wins")
	assert.Equal(t, "", l.run(t, fmt.Sprintf(list, "nil", "/nonexistent/resolv.conf")))
}

func TestLuaDNSQuery(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	good, broken := dnstest.New(t), dnstest.New(t)
	broken.Fail(true)
	const name = "m-headless.llm.svc.cluster.local"
	good.SetTTL(name, 7, []netip.Addr{netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("10.1.0.4")})
	good.Set("empty.llm.svc.cluster.local", nil)
	var many []netip.Addr
	for i := range 200 {
		many = append(many, netip.AddrFrom4([4]byte{10, 2, byte(i / 250), byte(i%250 + 1)}))
	}
	good.Set("many.llm.svc.cluster.local", many)
	query := func(servers, qname string) string {
		return l.run(t, fmt.Sprintf(`local dns = require "dns"
local ans, err = dns.query(%q, dns.nameservers(%q), 1000)
if not ans then return "error: " .. err end
return ans.rcode .. " " .. tostring(ans.ttl) .. " " .. #ans.addrs .. " " .. table.concat(ans.addrs, ",", 1, math.min(#ans.addrs, 2))`, qname, servers))
	}
	assert.Equal(t, "0 7 2 10.1.0.5,10.1.0.4", query(good.Addr(), name+"."), "A records and their TTL")
	assert.Equal(t, "0 7 2 10.1.0.5,10.1.0.4", query(broken.Addr()+","+good.Addr(), name), "SERVFAIL: the next nameserver")
	assert.Equal(t, "0 nil 0 ", query(good.Addr(), "empty.llm.svc.cluster.local"), "no records")
	assert.Equal(t, "3 nil 0 ", query(good.Addr(), "gone.llm.svc.cluster.local"), "NXDOMAIN")
	assert.Contains(t, query(broken.Addr(), name), "error: 127.0.0.1:", "every nameserver failed")
	// 200 records do not fit 1232 bytes: the UDP answer is truncated and TCP brings them all.
	assert.Equal(t, "0 1 200 10.2.0.1,10.2.0.2", query(good.Addr(), "many.llm.svc.cluster.local"), "over TCP")
	// With TCP refused, the truncated answer is never used: the query failed (the caller
	// keeps its last good answer).
	good.SetTCP(false)
	got := query(good.Addr(), "many.llm.svc.cluster.local")
	assert.Contains(t, got, "error: ", "a truncated answer is not an answer")
	assert.Contains(t, got, "truncated answer, and over TCP")
	good.SetTCP(true)
	// Truncated with no records at all, and cut inside a record: TCP both times.
	for _, f := range []dnstest.UDPFault{dnstest.UDPTruncateEmpty, dnstest.UDPTruncateMidRecord} {
		good.SetUDPFault(f)
		assert.Equal(t, "0 7 2 10.1.0.5,10.1.0.4", query(good.Addr(), name), "UDP fault %d: the TCP answer", f)
	}
	// Garbage (and an answer to another question) is no answer; a good server after it is.
	good.SetUDPFault(dnstest.UDPGarbage)
	got = query(good.Addr(), name)
	assert.Contains(t, got, "error: ", "garbage is not an answer")
	other := dnstest.New(t)
	other.Set(name, []netip.Addr{netip.MustParseAddr("10.9.9.9")})
	assert.Equal(t, "0 1 1 10.9.9.9", query(good.Addr()+","+other.Addr(), name))
}

// TestLuaDNSIDsAreRandom: query ids come from /dev/urandom, not from math.random (whose seed is
// guessable): two workers' id sequences never repeat each other, and reseeding math.random
// does not change them.
func TestLuaDNSIDsAreRandom(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	srv := dnstest.New(t)
	srv.Set("x.example", nil)
	ids := func() []string {
		return strings.Fields(l.run(t, fmt.Sprintf(`local dns = require "dns"
local out = {}
math.randomseed(42)
for i = 1, 16 do
    local a = dns.query("x.example", dns.nameservers(%q), 1000)
    out[#out + 1] = tostring(a and a.rcode)
end
return table.concat(out, " ")`, srv.Addr())))
	}
	got := ids()
	require.Len(t, got, 16)
	for _, rc := range got {
		assert.Equal(t, "0", rc, "every query was answered (the id matched)")
	}
	seen := srv.IDs("x.example")
	require.Len(t, seen, 16)
	ids()
	again := srv.IDs("x.example")[16:]
	assert.NotEqual(t, seen, again, "the same seed, other ids")
	distinct := map[uint16]bool{}
	for _, id := range append(seen, again...) {
		distinct[id] = true
	}
	assert.Greater(t, len(distinct), 28, "32 random 16-bit ids: hardly any repeat")
}

func TestLuaParseMetrics(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	// vLLM v1's exposition: labels, two engines (data parallel), and metrics that share a
	// prefix with the ones read (_by_reason, histograms).
	metrics := `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="qwen3-0.6b"} 3.0
vllm:num_requests_running{engine="1",model_name="qwen3-0.6b"} 4.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="qwen3-0.6b"} 2.0
vllm:num_requests_waiting{engine="1",model_name="qwen3-0.6b"} 0.0
vllm:num_requests_waiting_by_reason{engine="0",reason="capacity"} 99.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="qwen3-0.6b"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="qwen3-0.6b"} 0.5
vllm:request_queue_time_seconds_bucket{le="0.3"} 7.0
`
	chunk := `local w, r, k = require("load").parse_metrics(%q)
return tostring(w) .. " " .. tostring(r) .. " " .. tostring(k)`
	assert.Equal(t, "2 7 0.5", l.run(t, fmt.Sprintf(chunk, metrics)))
	assert.Equal(t, "1 0 nil", l.run(t, fmt.Sprintf(chunk, "vllm:num_requests_waiting 1\nvllm:num_requests_running 0\n")), "no labels; first line")
	assert.Equal(t, "nil nil nil", l.run(t, fmt.Sprintf(chunk, "# nothing from vLLM\nprocess_cpu_seconds_total 3\n")))
}

func TestLuaPrefixChain(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	// Block size 256 (routedParams' default). A conversation's next turn extends its prompt:
	// its chain starts with the earlier chain (but for the block the new turn changed).
	system := longText("system", 2000)
	turn1 := chatWith("m", system, "first question")
	turn2 := strings.TrimSuffix(turn1, "]}") + `,{"role":"assistant","content":"an answer"},{"role":"user","content":"second"}]}`
	other := chatWith("m", longText("another system", 2000), "first question")
	chunk := `local prefix = require "prefix"
local a, b, c = prefix.chain(%q), prefix.chain(%q), prefix.chain(%q)
local common = 0
while a[common + 1] and a[common + 1] == b[common + 1] do common = common + 1 end
return #a .. " " .. #b .. " " .. common .. " " .. tostring(a[1] == c[1]) .. " " .. #prefix.chain('{"model":"m"}') .. " " .. #prefix.chain('{"prompt":"short"}')`
	got := strings.Fields(l.run(t, fmt.Sprintf(chunk, turn1, turn2, other)))
	require.Len(t, got, 6)
	assert.Equal(t, got[0], got[2], "every whole block of turn 1 is a prefix of turn 2: %v", got)
	assert.NotEqual(t, "0", got[0])
	assert.Equal(t, "false", got[3], "different system prompts differ from the first block")
	assert.Equal(t, "0", got[4], "no prompt, no blocks")
	assert.Equal(t, "0", got[5], "shorter than a block")

	// The index: the longest known prefix and who served it.
	idx := `local prefix = require "prefix"
local a, b = prefix.chain(%q), prefix.chain(%q)
prefix.record(7, a, "10.0.0.1", 0)
local k1, ip1 = prefix.longest(7, b)
local k0, ip0 = prefix.longest(8, b)
prefix.record(7, b, "10.0.0.2", 0) -- another replica served it: every block is rewritten
local k2, ip2 = prefix.longest(7, b)
return k1 .. " " .. tostring(ip1) .. " " .. k0 .. " " .. tostring(ip0) .. " " .. k2 .. " " .. tostring(ip2) .. " " .. #a .. " " .. #b`
	got = strings.Fields(l.run(t, fmt.Sprintf(idx, turn1, turn2)))
	require.Len(t, got, 8)
	assert.Equal(t, got[6], got[0], "turn 2 matches all of turn 1")
	assert.Equal(t, "10.0.0.1", got[1])
	assert.Equal(t, []string{"0", "nil"}, got[2:4], "another model's index is separate")
	assert.Equal(t, got[7], got[4], "after recording, turn 2 is known in full")
	assert.Equal(t, "10.0.0.2", got[5], "the most recent server")
}

// TestLuaPrefixChainIsPerBlockHash: the hash reads every word of the hashed blocks in one loop
// (hash() in prefix.lua); its values are those of the definition, a loop per block (written out
// here), for prompts of 1, 2, 63, 64 and more than 64 blocks, at any offset of the body. A block
// of 260 bytes (a multiple of 4, not of 8) takes the loop per block and mixes its last 4 bytes
// as one more word.
func TestLuaPrefixChainIsPerBlockHash(t *testing.T) {
	t.Parallel()
	for _, block := range []int{256, 260} {
		p := routedParams()
		p.Routing.BlockSize = block
		l := startLuaWith(t, p)
		chunk := `local ffi, bit = require "ffi", require "bit"
local prefix = require "prefix"
local band, bxor, rol, rshift = bit.band, bit.bxor, bit.rol, bit.rshift
local SEED, MIX = 0x2545F4914F6CDD1DULL, 0x9E3779B97F4A7C15ULL
local BLOCK = ` + strconv.Itoa(block) + `
local function reference(s, start)
    local p = ffi.cast("const uint8_t *", s)
    local blocks = math.min(math.floor((#s - start) / BLOCK), 64)
    local out, h = {}, SEED
    for k = 0, blocks - 1 do
        local b = p + start + k * BLOCK
        local w = ffi.cast("const uint64_t *", b)
        for j = 0, math.floor(BLOCK / 8) - 1 do
            h = rol(bxor(h, w[j]), 31) * MIX
        end
        if BLOCK % 8 ~= 0 then
            h = rol(bxor(h, ffi.cast("const uint32_t *", b + BLOCK - 4)[0]), 31) * MIX
        end
        local f = bxor(h, rshift(h, 29)) * MIX
        out[k + 1] = tonumber(band(bxor(f, rshift(f, 32)), 0xFFFFFFFFULL))
    end
    return out
end
local bad = {}
math.randomseed(7)
for _, blocks in ipairs({ 1, 1.2, 2, 63, 64, 64.5, 156 }) do
    local len = math.floor(blocks * BLOCK)
    for _, start in ipairs({ 0, 1, 5, 12 }) do
        local t = {}
        for i = 1, start + len do
            t[i] = string.char(math.random(32, 126))
        end
        local s = table.concat(t)
        local got, want = prefix.chain(ffi.cast("const uint8_t *", s), #s, start), reference(s, start)
        local same = #got == #want and #want > 0
        for i = 1, #want do
            same = same and got[i] == want[i]
        end
        if not same then
            bad[#bad + 1] = len .. "@" .. start .. ":" .. #got .. "/" .. #want
        end
    end
end
return #bad == 0 and "same" or table.concat(bad, " ")`
		assert.Equal(t, "same", l.run(t, chunk), "block %d", block)
	}
}

// TestLuaSweepDropsDepartedReplicas: once a replica has been out of the DNS answer for the
// grace period and has nothing in flight, its keys in gw_load (and every worker's share of
// its in-flight count) are dropped; one with a request still in flight keeps them.
func TestLuaSweepDropsDepartedReplicas(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	got := l.run(t, `local load, endpoints = require "load", require "endpoints"
local name = "qwen3-0-6b-headless.llm.svc.cluster.local"
local gone, busy = "10.0.0.1:8000", "10.0.0.2:8000"
load.inc(gone); load.dec(gone); load.mark_failed(gone)
load.enqueue(gone, 4096); load.dequeue(gone, 4096)
load.inc(busy)
ngx.shared.gw_load:set("s|" .. gone, 3)
ngx.shared.gw_load:set("o|" .. gone, 2)
for _, ip in ipairs({ "10.0.0.1", "10.0.0.2" }) do
    ngx.shared.gw_dns:set("g|" .. name .. "|" .. ip, ngx.now() - 60)
end
endpoints.sweep(ngx.now())
local function has(dict, s)
    for _, k in ipairs(ngx.shared[dict]:get_keys(0)) do
        if k:find(s, 1, true) then return "yes" end
    end
    return "no"
end
return table.concat({ has("gw_load", gone), has("gw_ledger", gone), has("gw_dns", "10.0.0.1"),
    has("gw_load", busy), has("gw_ledger", busy), has("gw_dns", "10.0.0.2") }, " ")`)
	assert.Equal(t, "no no no yes yes yes", got, "gone: load keys, ledger shares, departure; busy: all kept")
}
