package nginx

import (
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/testca"
)

func validParams() Params {
	return Params{
		Routes: []Route{
			{Name: "qwen3-0.6b", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000"},
			{Name: "meta-llama/Llama-3.1-8B-Instruct", Upstream: "llama-3-1-8b.llm.svc.cluster.local:8000"},
			{Name: "alias-of-qwen", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000"},
		},
		Listen:        "8080",
		MetricsListen: "9145",
		MaxBodySize:   32 << 20,
		ProxyTimeout:  15 * time.Minute,
		MaxStreams:    2000,
		Runtime:       ProductionRuntime("/etc/nginx/gateway"),
	}
}

func TestRenderValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Params)
		want   []string
	}{
		{"no routes", func(p *Params) { p.Routes = nil }, []string{"no routes"}},
		{"duplicate names", func(p *Params) { p.Routes[2].Name = p.Routes[0].Name },
			[]string{`routes[2]: duplicate model name "qwen3-0.6b" (also routes[0])`}},
		{"empty name", func(p *Params) { p.Routes[1].Name = "" }, []string{"routes[1]: empty model name"}},
		{"adapter named like a model", func(p *Params) { p.Routes[1].Adapters = []string{"x", p.Routes[0].Name} },
			[]string{`routes[1].adapters[1]: adapter name "qwen3-0.6b" is already served (routes[0])`}},
		{"two adapters of one name", func(p *Params) { p.Routes[0].Adapters = []string{"x"}; p.Routes[1].Adapters = []string{"x"} },
			[]string{`routes[1].adapters[0]: adapter name "x" is already served (routes[0].adapters[0])`}},
		{"empty adapter name", func(p *Params) { p.Routes[0].Adapters = []string{""} }, []string{"routes[0].adapters[0]", "is empty"}},
		{"hold without endpoints", func(p *Params) { p.Routes[0].HoldSeconds = 60 }, []string{"routes[0]", "holdSeconds needs endpoints"}},
		{"negative hold", func(p *Params) { p.Routes[0].HoldSeconds = -1 }, []string{"routes[0]", "holdSeconds -1"}},
		{"control character in name", func(p *Params) { p.Routes[1].Name = "a\nb" }, []string{"routes[1]", "control characters"}},
		{"invalid UTF-8 name", func(p *Params) { p.Routes[1].Name = "a\xffb" }, []string{"routes[1]", "UTF-8"}},
		{"empty upstream", func(p *Params) { p.Routes[1].Upstream = "" }, []string{"routes[1]", "empty upstream"}},
		{"upstream without port", func(p *Params) { p.Routes[0].Upstream = "qwen.llm.svc" }, []string{"routes[0]", "host:port"}},
		{"upstream bad port", func(p *Params) { p.Routes[0].Upstream = "qwen.llm.svc:0" }, []string{"routes[0]", "1-65535"}},
		{"upstream config injection", func(p *Params) { p.Routes[0].Upstream = "a;b}:80" }, []string{"routes[0]", "neither an IP nor a DNS name"}},
		{"upstream with scheme", func(p *Params) { p.Routes[0].Upstream = "http://qwen:8000" }, []string{"routes[0]"}},
		{"empty listen", func(p *Params) { p.Listen = "" }, []string{"listen"}},
		{"listen injection", func(p *Params) { p.Listen = "8080; include /etc/passwd" }, []string{"listen"}},
		{"metrics on the public port", func(p *Params) { p.MetricsListen = "0.0.0.0:" + p.Listen }, []string{"metrics listen", "public listener's port"}},
		{"metrics listen injection", func(p *Params) { p.MetricsListen = "9145; include /etc/passwd" }, []string{"metrics listen"}},
		{"zero body size", func(p *Params) { p.MaxBodySize = 0 }, []string{"max body size"}},
		{"buffer above body size", func(p *Params) { p.BodyBufferSize = p.MaxBodySize + 1 }, []string{"body buffer size"}},
		{"zero timeout", func(p *Params) { p.ProxyTimeout = 0 }, []string{"proxy timeout"}},
		{"bad keys file", func(p *Params) { p.KeysFile = "/a b" }, []string{"keys file"}},
		{"no stream limit", func(p *Params) { p.MaxStreams = 0 }, []string{"max streams: is 0; use 1 to 20000"}},
		{"stream limit above the port range", func(p *Params) { p.MaxStreams = 20001 }, []string{"max streams: is 20001;"}},
		{"relative lua dir", func(p *Params) { p.Runtime.LuaDir = "gateway" }, []string{"runtime.luaDir"}},
		{"prefix with space", func(p *Params) { p.Runtime.Prefix = "/tmp/a b" }, []string{"runtime.prefix"}},
		{"module path with quote", func(p *Params) { p.Runtime.LoadModules = []string{`/x/"y.so`} }, []string{"runtime.loadModules[0]"}},
		{"empty error log", func(p *Params) { p.Runtime.ErrorLog = "" }, []string{"runtime.errorLog"}},
		{"redis key prefix with a quote", withLimit(`llm"x:`), []string{`limits.keyPrefix "llm\"x:" has '"'; use letters, digits and . _ - : / only`}},
		{"redis key prefix past 256", withLimit(strings.Repeat("k", 256) + ":"), []string{"limits.keyPrefix is 257 characters; use at most 256"}},
		{"redis TLS with a CA that is not PEM", withTLS(RedisTLS{CACert: "not a certificate", ServerName: "redis.test"}),
			[]string{"limits.tls.caCert: is not PEM of one or more certificates"}},
		{"redis TLS name neither a DNS name nor an IP", withTLS(RedisTLS{ServerName: "redis test"}),
			[]string{`limits.tls.serverName: "redis test" is neither a DNS name nor an IP address`}},
		{"redis key prefix without its colon", withLimit("llm"), []string{`limits.keyPrefix "llm" must end with ":"`}},
		{"all problems at once", func(p *Params) {
			p.Routes[1].Upstream = ""
			p.MaxBodySize = -1
			p.Listen = ""
		}, []string{"routes[1]", "max body size", "listen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validParams()
			tc.mutate(&p)
			files, err := Generate(p)
			require.Error(t, err)
			assert.Nil(t, files)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// withLimit gives the first route's model a tenant with a limit, counted in a Redis under prefix.
func withLimit(prefix string) func(*Params) {
	return func(p *Params) {
		p.Tenants = []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 5}}}}
		p.Limits = Limits{Redis: "127.0.0.1:6379", KeyPrefix: prefix}
	}
}

// withTLS is withLimit with the default prefix and Redis over tls.
func withTLS(tls RedisTLS) func(*Params) {
	return func(p *Params) {
		withLimit("")(p)
		p.Limits.TLS = &tls
	}
}

// TestRenderRedisTLS: with Limits.TLS nginx trusts the given CAs (a file of their own) or the
// image's public CAs, with TLS 1.3 allowed, and limits.lua shakes hands with the certificate's
// name (the address's host when none is given).
func TestRenderRedisTLS(t *testing.T) {
	ca := testca.New(t, "test CA").PEM
	p := validParams()
	withTLS(RedisTLS{CACert: ca, ServerName: "redis.test"})(&p)
	files, err := Generate(p)
	require.NoError(t, err)
	assert.Equal(t, ca, files[RedisCAFile])
	assert.Contains(t, files[ConfigFile], "lua_ssl_trusted_certificate "+p.Runtime.LuaDir+"/"+RedisCAFile+";")
	assert.Contains(t, files[ConfigFile], "lua_ssl_protocols TLSv1.2 TLSv1.3;")
	assert.Contains(t, files[LimitsFile], `tls = true, server_name = "redis.test",`)

	p = validParams()
	withTLS(RedisTLS{CACert: ca})(&p)
	files, err = Generate(p)
	require.NoError(t, err)
	assert.Contains(t, files[LimitsFile], `tls = true, server_name = "127.0.0.1",`, "an IP address names itself (Memorystore's CN)")

	p = validParams()
	withTLS(RedisTLS{})(&p)
	p.Limits.Redis = "master.llm.abc123.use1.cache.amazonaws.com:6379"
	files, err = Generate(p)
	require.NoError(t, err)
	assert.NotContains(t, files, RedisCAFile)
	assert.Contains(t, files[ConfigFile], "lua_ssl_trusted_certificate "+SystemCAFile+";")
	assert.Contains(t, files[LimitsFile], `tls = true, server_name = "master.llm.abc123.use1.cache.amazonaws.com",`)

	withLimit("")(&p)
	files, err = Generate(p)
	require.NoError(t, err)
	assert.NotContains(t, files[ConfigFile], "lua_ssl_trusted_certificate", "plain RESP without TLS")
	assert.NotContains(t, files[LimitsFile], "tls = true")
}

// TestRenderRedisKeyPrefix: every key the gateway keeps in Redis (counters and the pods'
// check-ins) starts with Limits.KeyPrefix, "llm:" when it is empty.
func TestRenderRedisKeyPrefix(t *testing.T) {
	for prefix, want := range map[string]string{"": "llm:", "llm:platform/prod:": "llm:platform/prod:"} {
		p := validParams()
		withLimit(prefix)(&p)
		files, err := Generate(p)
		require.NoError(t, err)
		assert.Contains(t, files[TenantsFile], `key = "`+want+`rl:team:requests:minute:*"`)
		assert.Contains(t, files[LimitsFile], `local PODS = "`+want+`gw:pods"`)
	}
}

func TestRenderAcceptsIPAndIPv6Upstreams(t *testing.T) {
	p := validParams()
	p.Routes[0].Upstream = "10.0.0.7:8000"
	p.Routes[1].Upstream = "[fd00::1]:8000"
	p.Listen = "[::]:8080"
	files, err := Generate(p)
	require.NoError(t, err)
	assert.Contains(t, files[ConfigFile], "server [fd00::1]:8000;")
	assert.Contains(t, files[ConfigFile], "listen [::]:8080;")
}

func TestRenderProductionConfig(t *testing.T) {
	files, err := Generate(validParams())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{ConfigFile, LuaFile, MetricsLuaFile, DNSFile, EndpointsFile, LoadFile, PrefixFile, BalancerFile,
		BodiesFile, ScanFile, LedgerFile, FetchFile, TenantsFile, RespFile, LimitsFile, UsageFile}, keys2(files))
	conf := files[ConfigFile]

	for _, want := range []string{
		"worker_processes auto;",
		"pid /tmp/nginx.pid;",
		"error_log /dev/stderr warn;",
		"access_log /dev/stdout gateway;",
		`lua_package_path "/etc/nginx/gateway/?.lua;;";`,
		"client_body_temp_path /tmp/client_body_temp;",
		"listen 8080;",
		// trap 1: every body up to the limit is read (bodies up to 1.25 MiB in memory, larger ones
		// from the temp file nginx writes them to, mapped by bodies.lua)
		"client_max_body_size 33554432;",
		"client_body_buffer_size 1048576;",
		// trap 3: streaming, HTTP/1.1 keepalive upstreams, long timeouts
		"proxy_pass http://$gw_upstream;",
		// trap 20: the matched, normalized URI goes upstream, not the raw one
		"rewrite ^ $uri break;",
		"proxy_http_version 1.1;",
		`proxy_set_header Connection "";`,
		"proxy_set_header Host $gw_host;",
		"proxy_buffering off;",
		"proxy_read_timeout 900s;",
		"proxy_send_timeout 900s;",
		"keepalive 128;",
		"location = /healthz {",
		"error_page 413 = @gw_413;",
		"error_page 502 = @gw_502;",
		"error_page 503 = @gw_503;",
		"error_page 504 = @gw_504;",
	} {
		assert.Contains(t, conf, want)
	}
	directive := func(name string) *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*` + name + `\s`) }
	assert.NotRegexp(t, directive("load_module"), conf, "OpenResty has the Lua module built in")
	assert.NotRegexp(t, directive("proxy_intercept_errors"), conf, "model server errors must pass through")
	assert.NotRegexp(t, directive("env"), conf, "no API keys configured")
	assert.NotRegexp(t, directive("user"), conf)

	// One upstream block per distinct Service (the alias shares qwen's).
	ups := regexp.MustCompile(`(?m)^\s*upstream (\S+) \{\s*server (\S+);`).FindAllStringSubmatch(conf, -1)
	require.Len(t, ups, 2)
	assert.Equal(t, []string{"gw_model_0", "qwen3-0-6b.llm.svc.cluster.local:8000"}, ups[0][1:])
	assert.Equal(t, []string{"gw_model_1", "llama-3-1-8b.llm.svc.cluster.local:8000"}, ups[1][1:])

	lua := files[LuaFile]
	assert.Contains(t, lua, `["qwen3-0.6b"] = {`)
	assert.Contains(t, lua, `upstream = "gw_model_0"`)
	assert.Contains(t, lua, `host = "qwen3-0-6b.llm.svc.cluster.local:8000"`)
	assert.Contains(t, lua, `local default_route = routes["qwen3-0.6b"]`)
	assert.NotContains(t, lua, "os.getenv", "no API keys configured")
	assert.NotContains(t, lua, "cjson.encode", "all JSON is prerendered in Go")
}

func keys2(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRenderAPIKeys(t *testing.T) {
	p := validParams()
	p.KeysFile = "/etc/llm-gateway-keys/keys.json"
	files, err := Generate(p)
	require.NoError(t, err)
	assert.NotContains(t, files[ConfigFile], "\nenv ", "keys come from a mounted Secret file, not the environment")
	assert.Contains(t, files[TenantsFile], `local KEYS_FILE = "/etc/llm-gateway-keys/keys.json"`)
}

// The production config and the one the tests run differ only through Runtime.
func TestRenderProductionAndTestDifferOnlyByRuntime(t *testing.T) {
	prod := validParams()
	test := validParams()
	test.Runtime = DebianRuntime("/tmp/gw-test/lua")
	test.Runtime.Prefix = "/tmp/gw-test/run"
	test.Runtime.User = "root"
	test.Runtime.WorkerProcesses = 1

	normalize := func(p Params) string {
		files, err := Generate(p)
		require.NoError(t, err)
		s := files[ConfigFile]
		rt := p.Runtime
		// Logs first: the Debian runtime's logs live inside LuaDir.
		s = strings.NewReplacer(
			rt.ErrorLog, "<ERROR_LOG>", rt.AccessLog, "<ACCESS_LOG>",
			rt.LuaDir, "<LUA_DIR>", rt.Prefix, "<PREFIX>",
		).Replace(s)
		var out []string
		for _, line := range strings.Split(s, "\n") {
			switch {
			case strings.HasPrefix(line, "load_module "), strings.HasPrefix(line, "user "), strings.HasPrefix(line, "worker_processes "):
				continue // Runtime.LoadModules, Runtime.User, Runtime.WorkerProcesses
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	assert.Equal(t, normalize(prod), normalize(test))

	pf, err := Generate(prod)
	require.NoError(t, err)
	tf, err := Generate(test)
	require.NoError(t, err)
	assert.Equal(t, pf[LuaFile], tf[LuaFile], "the Lua router does not depend on the runtime")
	assert.Contains(t, tf[ConfigFile], "load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_lua_module.so;")
}

func TestRenderIsDeterministicAndChecksumTracksChanges(t *testing.T) {
	a, err := Generate(validParams())
	require.NoError(t, err)
	b, err := Generate(validParams())
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Equal(t, Checksum(a), Checksum(b))
	assert.Len(t, Checksum(a), 64)

	p := validParams()
	p.Routes[1].Upstream = "llama-3-1-8b.llm.svc.cluster.local:8001"
	c, err := Generate(p)
	require.NoError(t, err)
	assert.NotEqual(t, Checksum(a), Checksum(c), "a model change must roll the gateway (trap 4)")
}

func TestCommand(t *testing.T) {
	assert.Equal(t, []string{
		"/usr/local/openresty/bin/openresty", "-p", "/tmp/", "-c", "/etc/nginx/gateway/nginx.conf",
		"-e", "/dev/stderr", "-g", "daemon off;",
	}, ProductionCommand("/etc/nginx/gateway"))
}

func TestLuaStringEscapesEveryByte(t *testing.T) {
	assert.Equal(t, `"plain-name.v1/x"`, luaString("plain-name.v1/x"))
	assert.Equal(t, `"a]]b\"c\\d'e[==[\010\000\195\188"`, luaString("a]]b\"c\\d'e[==[\n\x00ü"))
	// Every byte value is either printable ASCII other than quote/backslash, or escaped.
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	lit := luaString(string(all))
	inner := lit[1 : len(lit)-1]
	assert.NotRegexp(t, `[^\x20-\x7e]`, inner)
	assert.NotContains(t, strings.ReplaceAll(inner, `\\`, ""), `\"x`)
}

func TestNginxQuote(t *testing.T) {
	q, err := nginxQuote(`{"a":"it's \\ fine"}`)
	require.NoError(t, err)
	assert.Equal(t, `'{"a":"it\'s \\\\ fine"}'`, q)
	_, err = nginxQuote(`cost $5`)
	assert.Error(t, err)
}

func TestErrorBodiesAreOpenAIErrors(t *testing.T) {
	p := validParams()
	for key, body := range gatewayErrors(p).byField() {
		var doc map[string]map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &doc), key)
		require.Len(t, doc, 1, key)
		e := doc["error"]
		assert.ElementsMatch(t, []string{"message", "type", "param", "code"}, keys(e), key)
		assert.NotEmpty(t, e["message"], key)
		assert.NotEmpty(t, e["code"], key)
		assert.NotContains(t, body, "$", key)
	}
}

func TestModelsJSON(t *testing.T) {
	assert.Equal(t,
		`{"object":"list","data":[{"id":"a/b.c","object":"model","created":0,"owned_by":"llm-platform"},`+
			`{"id":"<x&y>","object":"model","created":0,"owned_by":"llm-platform"}]}`,
		modelsJSON([]Route{{Name: "a/b.c"}, {Name: "<x&y>"}}))
}

// The capacity settings are derived from MaxStreams alone: connection slots for the client and
// upstream connection of every admitted stream plus one more client connection each (so the
// 503 past the limit can be sent), the keepalive pools, fixed headroom; every worker sized for
// the whole pod. And past the limit, /v1 answers 503 server_overloaded.
func TestRenderCapacity(t *testing.T) {
	p := validParams() // MaxStreams 2000, two distinct upstreams
	p.Runtime.WorkerProcesses = 2
	files, err := Generate(p)
	require.NoError(t, err)
	conf := files[ConfigFile]
	wc, nofile := ConnectionBudget(2000, 2)
	assert.Equal(t, 2000*3+2*128+256, wc)
	assert.Equal(t, wc+256, nofile)
	assert.Contains(t, conf, "worker_connections 6512;")
	assert.Contains(t, conf, "worker_rlimit_nofile 6768;")
	assert.Contains(t, conf, "limit_conn_zone $server_name zone=gw_streams:1m;")

	v1 := regexp.MustCompile(`(?s)location /v1/ \{.*?\n        \}`).FindString(conf)
	require.NotEmpty(t, v1)
	assert.Contains(t, v1, "limit_conn gw_streams 2000;")
	assert.Contains(t, v1, "limit_conn_status 503;")
	assert.Contains(t, v1, "error_page 503 = @gw_overloaded;")
	for _, status := range []string{"400", "413", "500", "502", "504"} {
		assert.Contains(t, v1, "error_page "+status+" = @gw_"+status+";", "the location's error_page lines replace the server's")
	}
	assert.Contains(t, conf, "error_page 503 = @gw_503;", "elsewhere nginx's own 503 stays service_unavailable")
	overloaded := regexp.MustCompile(`(?s)location @gw_overloaded \{.*?\}`).FindString(conf)
	assert.Contains(t, overloaded, "add_header Retry-After 2 always;")
	assert.Contains(t, overloaded, "keepalive_timeout 0;")
	assert.Contains(t, overloaded, `"type":"server_overloaded"`)
	for _, local := range []string{"location = /healthz {", "location = /v1/models {"} {
		block := conf[strings.Index(conf, local):]
		block = block[:strings.Index(block, "}")]
		assert.NotContains(t, block, "limit_conn", "%s is not limited", local)
	}

	// The limit and the budget follow MaxStreams; one more model Service adds its keepalive pool.
	p.MaxStreams = 100
	p.Routes = append(p.Routes, Route{Name: "third", Upstream: "third.llm.svc.cluster.local:8000"})
	files, err = Generate(p)
	require.NoError(t, err)
	assert.Contains(t, files[ConfigFile], "worker_connections 940;")
	assert.Contains(t, files[ConfigFile], "limit_conn gw_streams 100;")
}

func TestQuitCommand(t *testing.T) {
	assert.Equal(t, []string{
		"/usr/local/openresty/bin/openresty", "-p", "/tmp/", "-c", "/etc/llm-gateway/nginx.conf",
		"-e", "/dev/stderr", "-s", "quit",
	}, QuitCommand(OpenRestyBinary, ProductionRuntime("/etc/llm-gateway")))
	assert.Equal(t, "/tmp/nginx.pid", PidFile(ProductionRuntime("/etc/llm-gateway")))
	files, err := Generate(validParams())
	require.NoError(t, err)
	assert.Contains(t, files[ConfigFile], "\npid "+PidFile(validParams().Runtime)+";\n", "the quit finds the master through this file")
}

// TestTemplateTypoFailsToGenerate: the templates read the error bodies as struct fields, so a
// misspelt one is an error at generation time, not an empty body in production.
func TestTemplateTypoFailsToGenerate(t *testing.T) {
	v, err := newView(validParams())
	require.NoError(t, err)
	tmpl := template.Must(template.New("typo").Parse(`{{.Errors.BadJSN}}`))
	assert.Error(t, tmpl.Execute(io.Discard, v))
	good := template.Must(template.New("ok").Parse(`{{.Errors.BadJSON}}`))
	assert.NoError(t, good.Execute(io.Discard, v))
}

// TestRenderMetricsListener: the metrics page is a server of its own on MetricsListen; the
// public server has no route to it; without MetricsListen there is no such server.
func TestRenderMetricsListener(t *testing.T) {
	files, err := Generate(validParams())
	require.NoError(t, err)
	conf := files[ConfigFile]
	assert.Contains(t, conf, "lua_shared_dict "+MetricsDict+" ")
	public, metrics, found := strings.Cut(conf, "listen 9145;")
	require.True(t, found, "a server listens on the metrics port")
	assert.NotContains(t, public, MetricsPath, "the public server has no metrics route")
	assert.NotContains(t, public, "collect()", "the public server never serves the metrics")
	assert.Contains(t, metrics, "location = "+MetricsPath+" {")
	assert.Contains(t, metrics, `require("metrics").collect()`)
	assert.NotContains(t, metrics, "proxy_pass", "the metrics server proxies nothing")
	assert.NotContains(t, metrics, "route()", "nor routes")

	p := validParams()
	p.MetricsListen = ""
	files, err = Generate(p)
	require.NoError(t, err)
	assert.NotContains(t, files[ConfigFile], "collect()")
	assert.Contains(t, files[ConfigFile], `require("metrics").log()`, "counting goes on without the page")
}
