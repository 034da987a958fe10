package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// requireNginxHere skips without Debian's nginx Lua stack, except in CI, where it fails.
func requireNginxHere(t *testing.T) {
	t.Helper()
	if err := requireNginx(defaultNginx()); err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatal(err, "(CI is set: refusing to skip)")
		}
		t.Skip(err)
	}
}

// TestBurstOfLargestBodies: 8 bodies of the default limit (16 MiB) at once, in the shapes that
// cost a body reader most, through a real gateway with one worker (every body in it): each reaches
// the model it names with its body intact, the worker's RSS grows by less than twice the bodies'
// bytes, and a small request sent every 5 ms meanwhile never waits 50 ms longer than the longest
// wait the bare proxy gives in the same run (checkBurst says why). About 10 s.
func TestBurstOfLargestBodies(t *testing.T) {
	requireNginxHere(t)
	bc := burstConfig{bodies: 8, bytes: int(nginx.DefaultMaxBodySize), workers: 1, probe: 5 * time.Millisecond}
	// A wait the scheduler caused can outlast the bare proxy's window by chance: up to three runs,
	// every one of which must route and hold memory right.
	var err error
	for run := 1; run <= 3; run++ {
		g, bare, rerr := runBurst(config{nginxBin: defaultNginx()}, bc)
		require.NoError(t, rerr)
		require.Equal(t, bc.bodies, g.routed, "every large body routed right (first miss: %s)", g.firstBad)
		require.Less(t, g.growth(), 2.0, "the worker's RSS growth against the bodies' bytes")
		if err = checkBurst(bc, g, bare); err == nil {
			return
		}
		t.Logf("run %d: %v", run, err)
	}
	require.NoError(t, err)
}

func TestBurstBodies(t *testing.T) {
	for _, shape := range burstShapes {
		b, err := burstBody(shape, 1<<20, "m")
		require.NoError(t, err)
		assert.Len(t, b, 1<<20, shape)
		var v struct{ Model string }
		require.NoError(t, json.Unmarshal(b, &v), "%s is JSON", shape)
		assert.Equal(t, "m", v.Model, shape)
		assert.True(t, strings.HasSuffix(strings.TrimRight(string(b), " "), `"model":"m"}`), "%s names its model last", shape)
	}
}

// TestInstrumentWrapsEveryPhase: the phase profile times every Lua handler of the gateway as
// rendered (a template change that moves one makes this fail instead of a silent zero).
func TestInstrumentWrapsEveryPhase(t *testing.T) {
	files, err := nginx.Generate(nginx.Params{
		Routes: []nginx.Route{{Name: "m", Upstream: "127.0.0.1:8000", Endpoints: headless + ":8000"}},
		Listen: "127.0.0.1:8080", MaxBodySize: nginx.DefaultMaxBodySize, ProxyTimeout: time.Minute, MaxStreams: 10,
		Runtime: nginx.DebianRuntime(t.TempDir()), Routing: nginx.DefaultRouting(),
	})
	require.NoError(t, err)
	require.NoError(t, instrument(files))
	conf := files[nginx.ConfigFile]
	for _, phase := range []string{"access", "balancer", "header", "log"} {
		assert.Contains(t, conf, `require("benchphases").time("`+phase+`"`)
	}
	assert.Equal(t, 3, strings.Count(conf, `require("benchphases").time("log"`), "bodies, metrics and balancer log handlers")
	assert.Contains(t, conf, "location = /bench-phases")
	assert.NotEmpty(t, files["benchphases.lua"])
}
