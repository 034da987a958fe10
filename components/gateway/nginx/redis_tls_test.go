package nginx

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/testca"
)

// A managed Redis with in-transit encryption (ElastiCache with an auth token, Memorystore with
// SERVER_AUTHENTICATION) speaks only TLS. These tests run Debian's redis-server TLS-only with a
// certificate from a CA of their own, and real nginx gateways that must verify it.

// redisTLSFiles is a CA and a server certificate for name, written to a temp dir.
type redisTLSFiles struct {
	name, ca, cert, key string
	caPEM               string
}

func newRedisTLSFiles(t testing.TB, name string) *redisTLSFiles {
	t.Helper()
	ca := testca.New(t, "llm-platform test Redis CA")
	cert, key := ca.Issue(t, name)
	dir := t.TempDir()
	f := &redisTLSFiles{name: name, ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"),
		key: filepath.Join(dir, "server.key"), caPEM: ca.PEM}
	for path, text := range map[string]string{f.ca: ca.PEM, f.cert: cert, f.key: key} {
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	}
	return f
}

// serverConfig are the lines that make redis-server TLS-only with these files.
func (f *redisTLSFiles) serverConfig() string {
	return fmt.Sprintf("tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\n", f.cert, f.key, f.ca)
}

// failures is the gateway's count of failed exchanges with Redis, every reason.
func failures(t testing.TB, g *gateway) float64 {
	t.Helper()
	sum := 0.0
	for k, v := range series(g.scrape(t)) {
		if strings.HasPrefix(k, MetricLimitsBackendFailures+"{") {
			sum += v
		}
	}
	return sum
}

func withRedisTLS(tls RedisTLS) gatewayOption {
	return func(p *Params, _ *[]string) { p.Limits.TLS = &tls }
}

// TestTenantLimitsOverTLS: with Limits.TLS the gateway counts in a TLS-only Redis through
// pooled connections (one handshake, not one per request); the same gateway without TLS cannot,
// and one that would trust the wrong certificate (another name, another CA, only the public CAs)
// refuses it: Redis is down for it, and fail-closed answers 503. A certificate whose only name
// is its IP (Memorystore's) is verified against the address's IP.
func TestTenantLimitsOverTLS(t *testing.T) {
	t.Parallel()
	files := newRedisTLSFiles(t, "redis.test")
	rs := startRedisWith(t, files)
	model := fastModel(t)
	keys := map[string][]string{"team": {"sk-t"}}
	tenants := []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 4}}}}
	start := func(rs *redisServer, opts ...gatewayOption) *gateway {
		return startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
			append([]gatewayOption{withTenants(t, rs, keys, tenants, time.Minute, true), withKeyPrefix("llm:tls/" + t.Name() + ":"),
				// The connect timeout bounds the handshake too: room for a busy machine.
				withParams(func(p *Params) { p.Limits.ConnectTimeout, p.Limits.ReadTimeout = time.Second, time.Second })}, opts...)...)
	}
	good := start(rs, withRedisTLS(RedisTLS{CACert: files.caPEM, ServerName: files.name}))
	waitShared(t, 1, good)
	connections := rs.info("total_connections_received")
	assert.Equal(t, 4, admittedOf(t, []*gateway{good}, "sk-t", 8), "the limit counted over TLS")
	assert.LessOrEqual(t, rs.info("total_connections_received")-connections, 2, "8 admissions on pooled connections (and the check's own)")
	assert.Equal(t, "1", rs.cli("EXISTS", "llm:tls/"+t.Name()+":rl:team:requests:minute:*"))

	otherCA := testca.New(t, "another CA").PEM
	for name, opts := range map[string][]gatewayOption{
		"plain RESP":     nil,
		"another name":   {withRedisTLS(RedisTLS{CACert: files.caPEM, ServerName: "other.test"})},
		"another CA":     {withRedisTLS(RedisTLS{CACert: otherCA, ServerName: files.name})},
		"the public CAs": {withRedisTLS(RedisTLS{ServerName: files.name})},
	} {
		g := start(rs, opts...)
		require.Eventually(t, func() bool { return failures(t, g) > 0 }, 5*time.Second, 50*time.Millisecond,
			"%s: the gateway finds Redis down", name)
		assert.Equal(t, 0.0, series(g.scrape(t))[MetricLimitsBackendUp+"{}"], name)
		r := g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t")
		assertGatewayError(t, r, http.StatusServiceUnavailable, "limits_unavailable")
	}
	assert.Equal(t, 4, model.count(), "only the verified gateway's admitted requests reached the model")

	byIP := newRedisTLSFiles(t, "127.0.0.1")
	memorystore := start(startRedisWith(t, byIP), withRedisTLS(RedisTLS{CACert: byIP.caPEM}))
	waitShared(t, 1, memorystore)
	assert.Equal(t, 4, admittedOf(t, []*gateway{memorystore}, "sk-t", 5), "a certificate named by its IP, verified against the address")
}

// TestRedisTLSRefusalsNeverRaise: a handshake refused at once makes lua-nginx-module 0.10.23
// raise rather than return (openresty/lua-nginx-module#2506, about one in five here): twenty
// fresh handshakes that must all be refused, each returning its error, none raising.
func TestRedisTLSRefusalsNeverRaise(t *testing.T) {
	t.Parallel()
	files := newRedisTLSFiles(t, "redis.test")
	rs := startRedisWith(t, files)
	p := routedParams()
	withLimit("")(&p)
	l := startLuaWithHTTP(t, p, fmt.Sprintf("    lua_ssl_trusted_certificate %s;\n    lua_ssl_protocols TLSv1.2 TLSv1.3;\n", files.ca))
	got := l.run(t, fmt.Sprintf(`local resp = require "resp"
local out = {}
for i = 1, 20 do
    local r, err = resp.pipeline({ host = "127.0.0.1", port = %d, connect_ms = 2000, read_ms = 2000, pool_size = 4,
        pool = "refused" .. i, tls = true, server_name = "other.test" }, { { "PING" } })
    out[#out + 1] = r and "answered" or err
end
return table.concat(out, "\n")`, rs.port))
	lines := strings.Split(got, "\n")
	require.Len(t, lines, 20)
	for _, line := range lines {
		assert.Contains(t, line, "connect: TLS handshake:", "refused, and said so")
	}
}

// TestTenantLimitsWhenTLSRedisHangs: a TLS Redis that stops answering (SIGSTOP: the kernel still
// accepts connections, so a new one hangs in its handshake, a pooled one in its read) delays no
// request past the timeouts: fail-open serves the pod's share; resumed, a fresh handshake
// brings the shared count back.
func TestTenantLimitsWhenTLSRedisHangs(t *testing.T) {
	t.Parallel()
	files := newRedisTLSFiles(t, "redis.test")
	rs := startRedisWith(t, files)
	model := fastModel(t)
	keys := map[string][]string{"team": {"sk-t"}, "fresh": {"sk-f"}}
	perMinute10 := []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 10}}
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, keys, []Tenant{{Name: "team", Limits: perMinute10}, {Name: "fresh", Limits: perMinute10}}, time.Minute, false),
		withRedisTLS(RedisTLS{CACert: files.caPEM, ServerName: files.name}))
	waitShared(t, 1, g)
	g.expectLog("Redis unreachable")
	g.expectLog("Redis reachable again")
	resume := rs.hang(t)
	assert.Equal(t, 10, admittedWithin(t, g, "sk-t", 12), "fail-open: the pod's share, all of the limit with one pod")
	assert.Zero(t, series(g.scrape(t))[MetricLimitsBackendUp+"{}"])

	resume()
	require.Eventually(t, func() bool { return series(g.scrape(t))[MetricLimitsBackendUp+"{}"] == 1 }, 10*time.Second, 50*time.Millisecond,
		"a fresh handshake once Redis answers")
	assert.Equal(t, 10, admittedOf(t, []*gateway{g}, "sk-f", 12), "a fresh tenant's limit counted in Redis again")
	assert.Equal(t, "1", rs.cli("EXISTS", "llm:rl:fresh:requests:minute:*"))
}
