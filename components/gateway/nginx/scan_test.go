package nginx

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The body scanner (scan.lua) against lua-cjson, run by a real nginx: a test-only server whose
// /compare location reads a batch of bodies and answers, for each, what the router decided before
// the scanner (cjson.decode, then the table's "model" and "user") and what the scanner finds, both
// as text: "default", "bad_json", "not_object", "model_type", "model_empty", or "model:<hex>"
// ("model:long" past any served name's length), followed by " user:<hex>" when the body has a
// string "user".

const scanHarness = `
local ffi = require "ffi"
local cjson = require "cjson"
cjson.decode_invalid_numbers(false) -- as the router had it
local scan = require "scan"
local find, byte, sub, format, concat = string.find, string.byte, string.sub, string.format, table.concat
local MAX = %d

local function hex(s)
    return (s:gsub(".", function(c) return format("%%02x", byte(c)) end))
end

local function named(prefix, s)
    if s == nil then
        return prefix .. "long"
    end
    return prefix .. hex(s)
end

local function user_part(u)
    return u == nil and "" or " " .. named("user:", #u <= MAX and u or nil)
end

-- reference is the router's decision as it was: cjson decodes the whole body.
local function reference(body)
    local first = find(body, "[^ \t\r\n]")
    if not first then
        return "default"
    end
    local ok, doc = pcall(cjson.decode, body)
    if not ok then
        return "bad_json"
    end
    if type(doc) ~= "table" or byte(body, first) ~= 123 then
        return "not_object"
    end
    local model, user = doc.model, doc.user
    user = type(user) == "string" and user or nil
    if model == nil or model == cjson.null then
        return "default" .. user_part(user)
    elseif type(model) ~= "string" then
        return "model_type"
    elseif model == "" then
        return "model_empty"
    end
    return named("model:", #model <= MAX and model or nil) .. user_part(user)
end

local function scanned(body)
    local p = ffi.cast("const uint8_t *", body)
    local kind, mk, ms, me, mesc, uk, us, ue, uesc = scan.scan(p, #body, false)
    if kind == scan.EMPTY then
        return "default"
    elseif kind == scan.BAD then
        return "bad_json"
    elseif kind ~= scan.OBJECT then
        return "not_object"
    end
    local user = ""
    if uk == scan.STR then
        user = " " .. named("user:", scan.text(p, us, ue, uesc, MAX))
    end
    if mk == nil or mk == scan.NULL then
        return "default" .. user
    elseif mk ~= scan.STR then
        return "model_type"
    elseif me == ms then
        return "model_empty"
    end
    return named("model:", scan.text(p, ms, me, mesc, MAX)) .. user
end

local M = {}

-- compare: the body is a batch of 8-digit lengths, each followed by that many bytes.
function M.compare()
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if not data then
        local f = assert(io.open(ngx.req.get_body_file(), "rb"))
        data = f:read("*a")
        f:close()
    end
    local out, pos = {}, 1
    while pos <= #data do
        local len = tonumber(sub(data, pos, pos + 7))
        local body = sub(data, pos + 8, pos + 7 + len)
        pos = pos + 8 + len
        out[#out + 1] = reference(body) .. "\t" .. scanned(body)
    end
    ngx.print(concat(out, "\n"))
end

return M
`

type scanServer struct{ url string }

func startScanHarness(t testing.TB) scanServer {
	t.Helper()
	dir := t.TempDir()
	p := validParams()
	p.Runtime = DebianRuntime(dir)
	files, err := Generate(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ScanFile), []byte(files[ScanFile]), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "harness.lua"), []byte(fmt.Sprintf(scanHarness, MaxServedNameBytes)), 0o644))
	addr := startTestNginx(t, dir, "", `        client_body_buffer_size 64m;
        client_max_body_size 64m;
        location = /compare {
            content_by_lua_block { require("harness").compare() }
        }
`)
	return scanServer{url: "http://" + addr}
}

// verdict is one body's two readings.
type verdict struct{ reference, scanner string }

// compare sends bodies in batches of about 4 MiB and returns their verdicts, in order.
func (s scanServer) compare(t testing.TB, bodies []string) []verdict {
	t.Helper()
	var out []verdict
	for start := 0; start < len(bodies); {
		var batch bytes.Buffer
		end := start
		for end < len(bodies) && (end == start || batch.Len()+len(bodies[end]) < 4<<20) {
			fmt.Fprintf(&batch, "%08d", len(bodies[end]))
			batch.WriteString(bodies[end])
			end++
		}
		resp, err := client.Post(s.url+"/compare", "application/octet-stream", &batch)
		require.NoError(t, err)
		text, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "harness: %s", text)
		lines := strings.Split(string(text), "\n")
		require.Len(t, lines, end-start, "one verdict per body")
		for _, l := range lines {
			ref, got, ok := strings.Cut(l, "\t")
			require.True(t, ok, l)
			out = append(out, verdict{ref, got})
		}
		start = end
	}
	return out
}

// requireSame fails with every body (up to 20) on which the scanner and cjson disagree.
func requireSame(t *testing.T, bodies []string, verdicts []verdict, seed int64) {
	t.Helper()
	var bad []string
	for i, v := range verdicts {
		if v.reference != v.scanner {
			b := bodies[i]
			if len(b) > 300 {
				b = b[:150] + "..." + b[len(b)-150:]
			}
			bad = append(bad, fmt.Sprintf("body %q (%d bytes): cjson %s, scanner %s", b, len(bodies[i]), v.reference, v.scanner))
		}
	}
	if len(bad) > 20 {
		bad = append(bad[:20], fmt.Sprintf("... and %d more", len(bad)-20))
	}
	require.Empty(t, bad, "the scanner must read every body as cjson does (seed %d)", seed)
}

// TestScanMatchesCJSON is the differential fuzz test: generated and mutated bodies, plus the
// shapes the issue names, each read by cjson and by the scanner. CI runs scanFuzzInputs bodies with
// a new seed each run; GATEWAY_FUZZ_INPUTS asks for more (make fuzz-gateway), GATEWAY_FUZZ_SEED
// repeats a run.
func TestScanMatchesCJSON(t *testing.T) {
	t.Parallel()
	n := scanFuzzInputs
	if v := os.Getenv("GATEWAY_FUZZ_INPUTS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "GATEWAY_FUZZ_INPUTS")
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("GATEWAY_FUZZ_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "GATEWAY_FUZZ_SEED")
	}
	t.Logf("seed %d, %d generated and mutated bodies (GATEWAY_FUZZ_SEED=%d repeats this run)", seed, n, seed)
	s := startScanHarness(t)

	fixed := scanEdgeCases()
	requireSame(t, fixed, s.compare(t, fixed), seed)

	g := newJSONGen(seed)
	classes := map[string]int{}
	const chunk = 20000 // bodies generated, compared and dropped at a time: a long run stays small
	for done := 0; done < n; done += chunk {
		bodies := g.bodies(min(chunk, n-done))
		verdicts := s.compare(t, bodies)
		requireSame(t, bodies, verdicts, seed)
		for _, v := range verdicts {
			class, _, _ := strings.Cut(v.reference, ":")
			class, _, _ = strings.Cut(class, " ")
			classes[class]++
		}
	}
	t.Logf("verdicts: %v", classes)
	// The generator must reach every outcome, or the comparison proves little.
	for _, c := range []string{"default", "bad_json", "not_object", "model_type", "model_empty", "model"} {
		require.Greater(t, classes[c], n/500, "too few %q bodies among %d: %v", c, n, classes)
	}
}

// scanFuzzInputs is how many generated bodies CI compares (a few seconds).
const scanFuzzInputs = 40000

// TestScanMembers: where the prompt starts (the last "messages" array, else the last "prompt",
// top level only) and which "user" is read.
func TestScanMembers(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	bodies := []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"prompt":"tell me","model":"m"}`,
		`{"prompt":[1,2,3],"messages":[{}],"prompt":"x"}`,
		`{"messages":[{"content":"a"}],"messages":"not an array","prompt":7}`,
		`{"x":{"messages":[1],"prompt":"inner"},"model":"m"}`,
		`{"mess\u0061ges" : [ ]}`,
		`{"model":"m"}`,
		`{"user":"alice","user":"bob"}`,
		`{"user":{"name":"alice"}}`,
		`{"u\u0073er":"\u0061lice"}`,
	}
	var lits []string
	for _, b := range bodies {
		lits = append(lits, luaString(b))
	}
	got := l.run(t, `local scan, ffi = require "scan", require "ffi"
local out = {}
for _, b in ipairs({`+strings.Join(lits, ",")+`}) do
    local p = ffi.cast("const uint8_t *", b)
    local kind, mk, ms, me, mesc, uk, us, ue, uesc, prompt = scan.scan(p, #b, false)
    local user = uk == scan.STR and scan.text(p, us, ue, uesc, 512) or "-"
    out[#out + 1] = (prompt and string.sub(b, prompt + 1, prompt + 3) or "-") .. "|" .. user
end
return table.concat(out, "\n")`)
	require.Equal(t, []string{
		`[{"|-`,   // the messages array
		`"te|-`,   // the prompt string
		`[{}|-`,   // messages win over prompt
		`7}|-`,    // the last messages is no array: the prompt
		`-|-`,     // nested members are not the request's
		`[ ]|-`,   // an escaped key
		`-|-`,     // no prompt
		`-|bob`,   // the last user
		`-|-`,     // a user that is no string
		`-|alice`, // escapes decoded
	}, strings.Split(got, "\n"))
}

// TestScanLinearTimeConstantMemory scans the shapes the issue names at 1 and 4 MiB: four times
// the bytes must take about four times the time (under 8x, where quadratic work would take 16x),
// and the Lua heap must not grow with the body (a decoded tree grows ~25x its bytes).
func TestScanLinearTimeConstantMemory(t *testing.T) {
	t.Parallel()
	l := startLua(t)
	shapes := map[string]string{
		"objects": `'{"model":"m","x":[' .. string.rep("{},", n / 3) .. '{}]}'`,
		"zeros":   `'{"model":"m","x":[' .. string.rep("0,", n / 2) .. '0]}'`,
		"nesting": `'{"x":[' .. string.rep(string.rep("[", 998) .. string.rep("]", 998) .. ",", n / 1997) .. '0],"model":"m"}'`,
		"strings": `'{' .. string.rep('"a":"b",', n / 8) .. '"model":"m"}'`,
		"escapes": `'{"model":"m","x":"' .. string.rep("\\n\\\"\\u00e9", n / 10) .. '"}'`,
		"text":    `'{"messages":[{"content":"' .. string.rep("lorem ipsum ", n / 12) .. '"}],"model":"m"}'`,
	}
	for name, make := range shapes {
		got := l.run(t, `local scan, ffi = require "scan", require "ffi"
local out = {}
for _, n in ipairs({ 1048576, 4 * 1048576 }) do
    local body = `+make+`
    local p = ffi.cast("const uint8_t *", body)
    collectgarbage()
    local heap = collectgarbage("count")
    local best = math.huge
    for _ = 1, 2 do
        local t0 = os.clock()
        local kind, mk = scan.scan(p, #body, false)
        best = math.min(best, os.clock() - t0)
        assert(kind == scan.OBJECT and mk == scan.STR, "not read as an object with a model")
    end
    out[#out + 1] = string.format("%d %.6f %.0f", #body, best, (collectgarbage("count") - heap) * 1024)
end
return table.concat(out, " ")`)
		var n1, n2 int
		var t1, t2, heap1, heap2 float64
		_, err := fmt.Sscanf(got, "%d %f %f %d %f %f", &n1, &t1, &heap1, &n2, &t2, &heap2)
		require.NoError(t, err, got)
		t.Logf("%-8s %5.2f ns/B at %d bytes, %5.2f ns/B at %d bytes (%.1fx the time for %.1fx the bytes); Lua heap +%.0f, +%.0f bytes",
			name, t1*1e9/float64(n1), n1, t2*1e9/float64(n2), n2, t2/t1, float64(n2)/float64(n1), heap1, heap2)
		require.Less(t, t2/t1, 2*float64(n2)/float64(n1), "%s: the scan's time must grow linearly", name)
		require.Less(t, heap2, 64e3, "%s: the scan must not allocate with the body", name)
	}
}
