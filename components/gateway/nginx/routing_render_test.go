package nginx

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func routedParams() Params {
	p := validParams()
	p.Routes[0].Endpoints = "qwen3-0-6b-headless.llm.svc.cluster.local:8000"
	p.Routes[1].Endpoints = "llama-3-1-8b-headless.llm.svc.cluster.local:8000"
	p.Routes[2].Endpoints = p.Routes[0].Endpoints // an alias shares its replicas
	p.Routing = DefaultRouting()
	return p
}

func TestRenderRoutingValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Params)
		want   string
	}{
		{"unknown strategy", func(p *Params) { p.Routing.Strategy = "random" }, `routing.strategy: "random" is not allowed; use one of prefix, least-load, round-robin`},
		{"no strategy", func(p *Params) { p.Routing = Routing{} }, "routing.strategy"},
		{"bad session header", func(p *Params) { p.Routing.SessionHeader = "x session" }, "routing.sessionHeader"},
		{"underscore session header", func(p *Params) { p.Routing.SessionHeader = "x_session" }, "routing.sessionHeader"},
		{"zero block size", func(p *Params) { p.Routing.BlockSize = 0 }, "routing.blockSize: is 0;"},
		{"negative block size", func(p *Params) { p.Routing.BlockSize = -1 }, "routing.blockSize: is -1;"},
		{"block size not a multiple of 4", func(p *Params) { p.Routing.BlockSize = 257 }, "routing.blockSize: is 257; use a multiple of 4"},
		{"zero min blocks", func(p *Params) { p.Routing.MinPrefixBlocks = 0 }, "routing.minPrefixBlocks: is 0;"},
		{"zero max blocks", func(p *Params) { p.Routing.MaxPrefixBlocks = 0 }, "routing.maxPrefixBlocks: is 0;"},
		{"min above max", func(p *Params) { p.Routing.MinPrefixBlocks, p.Routing.MaxPrefixBlocks = 9, 8 }, "routing.minPrefixBlocks: is 9, above routing.maxPrefixBlocks 8"},
		{"load factor below 1", func(p *Params) { p.Routing.LoadFactor = 0.9 }, "routing.loadFactor: is 0.9;"},
		{"zero index", func(p *Params) { p.Routing.IndexEntries = 0 }, "routing.indexEntries: is 0;"},
		{"weight above the bound", func(p *Params) { w := 1e9; p.Routing.Weights.Prefix = &w }, "routing.weights.prefix: is 1e+09; use 0 to 1000"},
		{"weight with round-robin", func(p *Params) { w := 1.0; p.Routing.Strategy, p.Routing.Weights.Queue = StrategyRoundRobin, &w }, "routing.weights.queue: does nothing with strategy round-robin"},
		{"endpoints without port", func(p *Params) { p.Routes[1].Endpoints = "llama-headless.llm.svc" }, "routes[1]"},
		{"endpoints as an IP", func(p *Params) { p.Routes[1].Endpoints = "10.0.0.7:8000" }, "is an IP; want the DNS name of a headless Service"},
		{"endpoints config injection", func(p *Params) { p.Routes[1].Endpoints = `a";b:8000` }, "routes[1]"},
		{"holds without a hold share", func(p *Params) { p.Routes[1].HoldSeconds = 60 }, "hold share: is 0; use a share of maxStreamsPerPod in (0, 0.5]"},
		{"hold share above half", func(p *Params) { p.Routes[1].HoldSeconds, p.HoldShare = 60, 0.6 }, "hold share: is 0.6;"},
		{"no stream to hold with", func(p *Params) { p.Routes[1].HoldSeconds, p.HoldShare, p.MaxStreams = 60, 0.1, 1 },
			"max streams 1 leaves no slot to hold requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := routedParams()
			tc.mutate(&p)
			files, err := Generate(p)
			require.Error(t, err)
			assert.Nil(t, files)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// Without Endpoints the routing settings are not used, so they need not be set.
	p := validParams()
	p.Routing = Routing{}
	_, err := Generate(p)
	assert.NoError(t, err)
}

// TestHoldLimits: a model holds HoldShare of the pod's streams (at least 1), all models half of
// them, so the other half always stays for models with replicas.
func TestHoldLimits(t *testing.T) {
	for _, tc := range []struct {
		streams         int
		share           float64
		perModel, total int
	}{
		{4000, DefaultHoldShare, 400, 2000},
		{40, DefaultHoldShare, 4, 20},
		{3, DefaultHoldShare, 1, 1},
		{2, 0.5, 1, 1},
		{1, DefaultHoldShare, 0, 0},
		{100, MaxHoldShare, 50, 50},
	} {
		perModel, total := HoldLimits(tc.streams, tc.share)
		assert.Equal(t, []int{tc.perModel, tc.total}, []int{perModel, total}, "%d streams, share %v", tc.streams, tc.share)
		assert.Less(t, total, tc.streams, "holds never take every stream")
	}
	p := routedParams()
	p.Routes[1].HoldSeconds, p.HoldShare = 60, DefaultHoldShare
	files, err := Generate(p)
	require.NoError(t, err)
	assert.Contains(t, files[BalancerFile], "local HOLD_PER_MODEL, HOLD_TOTAL = 200, 1000", "2,000 streams")
}

func TestRenderRouting(t *testing.T) {
	p := routedParams()
	p.Routing.SessionHeader = "X-Conversation-Id"
	files, err := Generate(p)
	require.NoError(t, err)
	conf := files[ConfigFile]
	assert.Contains(t, conf, "\nenv GATEWAY_NAMESERVERS;\n")
	assert.Contains(t, conf, "lua_shared_dict gw_prefix 10485760;", "65,536 entries of 160 bytes")
	assert.Contains(t, conf, "upstream gw_endpoints {\n        server 0.0.0.1:1;\n        balancer_by_lua_block {")
	assert.Contains(t, conf, "keepalive 256;", "128 idle connections per headless Service")
	assert.Contains(t, conf, "init_worker_by_lua_block")
	assert.Contains(t, conf, `set $gw_replica "";`)
	assert.Equal(t, 1, strings.Count(conf, "log_by_lua_block"), "one log handler, at server level")
	assert.Contains(t, conf, "proxy_next_upstream error timeout;")
	// The alias shares its model's headless Service: two names to resolve.
	ep := files[EndpointsFile]
	assert.Contains(t, ep, `["qwen3-0-6b-headless.llm.svc.cluster.local"] = { port = 8000,`)
	assert.Contains(t, ep, `["llama-3-1-8b-headless.llm.svc.cluster.local"] = { port = 8000,`)
	assert.Contains(t, ep, `models = {"qwen3-0.6b", "alias-of-qwen"},`, "the alias's per-endpoint series are dropped too")
	assert.Contains(t, ep, `svc_host = "qwen3-0-6b.llm.svc.cluster.local", svc_port = 8000,`, "the Service to fall back to")
	lua := files[LuaFile]
	assert.Contains(t, lua, `endpoints_host = "qwen3-0-6b-headless.llm.svc.cluster.local:8000"`)
	assert.Contains(t, lua, "port = 8000")
	assert.Contains(t, lua, `local balancer = require "balancer"`)
	bal := files[BalancerFile]
	assert.Contains(t, bal, "var.http_x_conversation_id", "the session header as nginx names it")
	assert.Contains(t, bal, `local STRATEGY = "prefix"`)
	assert.Contains(t, bal, "local LOAD_FACTOR = 1.5")
	assert.Contains(t, bal, `\"code\":\"model_unavailable\"`, "the prerendered 503 body")
	assert.Contains(t, files[PrefixFile], "local BLOCK = 256")
	assert.Contains(t, conf, `body_filter_by_lua_block {
                require("balancer").answered()`, "the first answer byte ends a try's queued prompt work")
	// The preset's weights, then one overridden: the rest keep the preset's.
	assert.Contains(t, bal, "local W_QUEUE, W_PREFIX = 1 / 1024, 2 / 1024")
	assert.Contains(t, bal, "local W_RUNNING, W_NEW = 0.25, 4 / 1024")
	assert.Contains(t, files[LoadFile], "local W_RUNNING, W_KV = 0.25, 2")
	half := 0.5
	p.Routing.Strategy, p.Routing.Weights.KVCache = StrategyLeastLoad, &half
	files, err = Generate(p)
	require.NoError(t, err)
	assert.Contains(t, files[BalancerFile], "local W_QUEUE, W_PREFIX = 1 / 1024, 0 / 1024")
	assert.Contains(t, files[BalancerFile], "local W_RUNNING, W_NEW = 0.25, 0 / 1024")
	assert.Contains(t, files[LoadFile], "local W_RUNNING, W_KV = 0.25, 0.5")
	assert.Contains(t, ep, `port = 8000, host = "llama-3-1-8b-headless.llm.svc.cluster.local:8000"`)

	// Nothing of it without Endpoints.
	plain, err := Generate(validParams())
	require.NoError(t, err)
	for _, s := range []string{"balancer_by_lua", "GATEWAY_NAMESERVERS", "lua_shared_dict gw_dns", "lua_shared_dict gw_prefix", `require("balancer").log()`, "gw_replica"} {
		assert.NotContains(t, plain[ConfigFile], s)
	}
	assert.NotContains(t, plain[LuaFile], `require "balancer"`)
}
