package nginx

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape reads the metrics listener's page and parses it with Prometheus's own text parser.
func (g *gateway) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	require.NotEmpty(t, g.MetricsURL, "the harness starts every gateway with a metrics listener")
	resp, err := client.Get(g.MetricsURL + MetricsPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "the metrics page must be valid Prometheus text format")
	return families
}

// series flattens families into "name{label="value",...}" -> value (counters, gauges, and each
// histogram's _count and _sum), labels sorted by name.
func series(families map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := m.GetLabel()
			sort.Slice(labels, func(i, j int) bool { return labels[i].GetName() < labels[j].GetName() })
			parts := make([]string, len(labels))
			for i, l := range labels {
				parts[i] = fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
			}
			key := "{" + strings.Join(parts, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name+key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+key] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// delta is after - before for every series that changed (a series absent before counts from 0).
func delta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok {
			out[k] = -v
		}
	}
	return out
}

func req(model, outcome, class string) string {
	return fmt.Sprintf(`%s{model=%q,outcome=%q,status_class=%q}`, MetricRequests, model, outcome, class)
}

// assertHistogramsWellFormed: every histogram has its buckets in rising order ending in +Inf,
// cumulative counts that never fall, +Inf equal to the count, and a non-negative sum.
func assertHistogramsWellFormed(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	for _, name := range []string{MetricRequestDuration, MetricTimeToFirstByte} {
		f, ok := families[name]
		require.True(t, ok, "%s is exported", name)
		require.Equal(t, dto.MetricType_HISTOGRAM, f.GetType(), name)
		want := DurationBuckets
		if name == MetricTimeToFirstByte {
			want = TTFBBuckets
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			var bounds []float64
			prev := uint64(0)
			for _, b := range h.GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
				assert.GreaterOrEqual(t, b.GetCumulativeCount(), prev, "%s: buckets are cumulative", name)
				prev = b.GetCumulativeCount()
			}
			// The parser keeps +Inf as a bucket when it is written out.
			require.NotEmpty(t, bounds)
			assert.True(t, math.IsInf(bounds[len(bounds)-1], +1), "%s: the last bucket is +Inf", name)
			assert.Equal(t, want, bounds[:len(bounds)-1], "%s: the configured buckets, in order", name)
			assert.True(t, slices.IsSorted(bounds), "%s: bucket bounds rise", name)
			assert.Equal(t, h.GetSampleCount(), prev, "%s: +Inf bucket equals the count", name)
			assert.GreaterOrEqual(t, h.GetSampleSum(), 0.0, name)
		}
	}
}

// waitFor scrapes until cond holds on the series (the log phase runs just after the answer
// reaches the client), for at most 5 s; it returns the last scrape.
func waitFor(t *testing.T, g *gateway, cond func(map[string]float64) bool) (map[string]*dto.MetricFamily, map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := g.scrape(t)
		s := series(fams)
		if cond(s) || time.Now().After(deadline) {
			return fams, s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGatewayMetricsCountExactlyWhatWasSent sends known traffic (routed, streamed, unknown
// model, bad JSON, not an object, 401, 413 twice, /v1/models, "/v1", a model server that is
// down) and checks every series moved by exactly that much, and nothing else moved.
func TestGatewayMetricsCountExactlyWhatWasSent(t *testing.T) {
	t.Parallel()
	const key = "sk-metrics"
	a := newBackend(t, "a", nil)
	release := make(chan struct{})
	sse := newBackend(t, "sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		fmt.Fprint(w, "data: {\"n\":1}\n\n")
		fl.Flush()
		<-release // held open until the test has seen it in flight
		time.Sleep(100 * time.Millisecond)
		fmt.Fprint(w, "data: {\"n\":2}\n\ndata: [DONE]\n\n")
		fl.Flush()
	})
	down := "127.0.0.1:" + freePort(t) // nothing listens there
	gw := startGateway(t, []Route{{Name: modelA, Upstream: a.addr()}, {Name: modelC, Upstream: sse.addr()}, {Name: "down", Upstream: down}},
		withKeys(t, map[string][]string{"default": {key}}), withParams(func(p *Params) { p.MaxBodySize = 64 << 10 }))
	auth := []string{"Authorization", "Bearer " + key}

	fams := gw.scrape(t)
	before := series(fams)
	for _, m := range []string{modelA, modelC, "down"} {
		v, ok := before[fmt.Sprintf(`%s{model=%q}`, MetricInFlight, m)]
		assert.True(t, ok && v == 0, "in-flight gauge of %q exists from the start at 0", m)
	}

	// A stream, held open: it is in flight, for its model and its endpoint.
	streamDone := make(chan []byte)
	go func() {
		r, err := http.NewRequest(http.MethodPost, gw.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":`+jsonString(modelC)+`,"stream":true,"messages":[]}`))
		if err != nil {
			streamDone <- nil
			return
		}
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(r)
		if err != nil {
			streamDone <- nil
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(bufio.NewReader(resp.Body))
		streamDone <- b
	}()
	inflightC := fmt.Sprintf(`%s{model=%q}`, MetricInFlight, modelC)
	endpointC := fmt.Sprintf(`%s{endpoint=%q,model=%q}`, MetricEndpointInFlight, sse.addr(), modelC)
	_, mid := waitFor(t, gw, func(s map[string]float64) bool { return s[endpointC] == 1 })
	assert.Equal(t, 1.0, mid[inflightC], "the held stream is in flight")
	assert.Equal(t, 1.0, mid[endpointC], "and counted against the model server that answered")
	close(release)
	body := <-streamDone
	require.Contains(t, string(body), "[DONE]", "the stream completes")

	for range 3 {
		b := chat(modelA)
		assertRouted(t, gw.post(t, "/v1/chat/completions", b, auth...), a, []byte(b))
	}
	for _, name := range []string{"gpt-4o", "no-such-model"} {
		assertGatewayError(t, gw.post(t, "/v1/chat/completions", chat(name), auth...), http.StatusNotFound, "model_not_found")
	}
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", `{"model":`, auth...), http.StatusBadRequest, "invalid_json")
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", `[1,2]`, auth...), http.StatusBadRequest, "invalid_json")
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", chat(modelA)), http.StatusUnauthorized, "invalid_api_key")
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer wrong"), http.StatusUnauthorized, "invalid_api_key")
	big := string(bigBody(100<<10, modelA))
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", big, auth...), http.StatusRequestEntityTooLarge, "request_too_large")
	r := gw.do(t, http.MethodPost, "/v1/chat/completions", io.MultiReader(strings.NewReader(big)), auth...) // chunked
	assertGatewayError(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
	require.Equal(t, http.StatusOK, gw.do(t, http.MethodGet, "/v1/models", nil, auth...).Status)
	require.Equal(t, http.StatusNotFound, gw.do(t, http.MethodGet, "/v1", nil, auth...).Status)
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", chat("down"), auth...), http.StatusBadGateway, "bad_gateway")
	// Not API requests: not counted.
	require.Equal(t, http.StatusOK, gw.do(t, http.MethodGet, HealthPath, nil).Status)
	require.Equal(t, http.StatusNotFound, gw.do(t, http.MethodGet, "/metrics", nil).Status)
	assert.Equal(t, 3, a.count())
	assert.Equal(t, 1, sse.count())

	const totalRequests = 1 + 3 + 2 + 1 + 1 + 2 + 2 + 1 + 1 + 1
	fams, after := waitFor(t, gw, func(s map[string]float64) bool {
		var n float64
		for k, v := range delta(before, s) {
			if strings.HasPrefix(k, MetricRequests+"{") {
				n += v
			}
		}
		return n >= totalRequests
	})
	got := delta(before, after)

	dur := func(m string) string { return fmt.Sprintf(`{model=%q}`, m) }
	want := map[string]float64{
		req(modelA, OutcomeRouted, "2xx"):                          3,
		req(modelC, OutcomeRouted, "2xx"):                          1,
		req("down", OutcomeRouted, "5xx"):                          1,
		req("", OutcomeRefused, "4xx"):                             2 + 1 + 1 + 2 + 2 + 1,
		req("", OutcomeLocal, "2xx"):                               1,
		MetricRefused + `{reason="unknown_model"}`:                 2,
		MetricRefused + `{reason="bad_json"}`:                      1,
		MetricRefused + `{reason="invalid_request"}`:               1,
		MetricRefused + `{reason="unauthorized"}`:                  2,
		MetricRefused + `{reason="too_large"}`:                     2,
		MetricRefused + `{reason="not_found"}`:                     1,
		MetricUpstreamFailures + `{model="down",reason="connect"}`: 1,
		MetricRequestDuration + "_count" + dur(modelA):             3,
		MetricRequestDuration + "_count" + dur(modelC):             1,
		MetricRequestDuration + "_count" + dur("down"):             1,
		MetricTimeToFirstByte + "_count" + dur(modelA):             3,
		MetricTimeToFirstByte + "_count" + dur(modelC):             1,
		// The same requests by tenant: those that got past the key check (not the 401s, the
		// 413 nginx answers from Content-Length and the /v1 404, which come before it; the
		// chunked 413 comes after it), the 502 included.
		tenantReq("default", modelA, "2xx"): 3,
		tenantReq("default", modelC, "2xx"): 1,
		tenantReq("default", "down", "5xx"): 1,
		tenantReq("default", "", "4xx"):     5,
		tenantReq("default", "", "2xx"):     1,
	}
	// Sums move by amounts we cannot know exactly; check them apart, then drop them.
	for k, v := range got {
		if strings.Contains(k, "_sum{") {
			assert.Greater(t, v, 0.0, k)
			delete(got, k)
		}
	}
	// The endpoint gauge came back to 0: a series that exists but did not change from
	// "absent" to 0 shows up as no delta; check it directly.
	assert.Equal(t, 0.0, after[endpointC], "the stream's endpoint is no longer in flight")
	assert.Equal(t, want, got, "every series moved by exactly what was sent, and nothing else moved")
	for _, m := range []string{modelA, modelC, "down"} {
		assert.Equal(t, 0.0, after[fmt.Sprintf(`%s{model=%q}`, MetricInFlight, m)], "nothing left in flight for %q", m)
	}
	// The held stream lasted at least the backend's pause; its first byte came before.
	assert.GreaterOrEqual(t, after[MetricRequestDuration+"_sum"+dur(modelC)]-before[MetricRequestDuration+"_sum"+dur(modelC)], 0.1)
	assertHistogramsWellFormed(t, fams)
	// Observations land in the right buckets: the local echo server answers well within a
	// second; the held stream took at least 0.1 s, so it is not in the 0.05 s bucket.
	assert.Equal(t, uint64(3), bucket(t, fams, MetricTimeToFirstByte, modelA, 1), "3 fast first bytes in le=1")
	assert.Equal(t, uint64(3), bucket(t, fams, MetricRequestDuration, modelA, 1), "3 fast requests in le=1")
	assert.Equal(t, uint64(0), bucket(t, fams, MetricRequestDuration, modelC, 0.05), "the 0.1 s stream is not in le=0.05")
	assert.Equal(t, uint64(1), bucket(t, fams, MetricRequestDuration, modelC, 60), "but is in le=60")
	// Only models that hold requests have the held series (hold_test.go checks it); only models
	// with replica endpoints the replica series (faults_test.go checks them).
	replicaOnly := []string{MetricHeld, MetricReplicaFailures, MetricPollFailures, MetricDNSFailures, MetricServiceFallback, MetricPrefixIndexBytes}
	for _, f := range GatewayMetrics {
		if slices.Contains(replicaOnly, f.Name) {
			continue
		}
		fam, ok := fams[f.Name]
		if assert.True(t, ok, "%s is exported", f.Name) {
			assert.Equal(t, f.Help, fam.GetHelp())
			assert.Equal(t, f.Type, strings.ToLower(fam.GetType().String()))
		}
	}
}

// TestGatewayMetricsOnlyOnTheMetricsListener: the public listener has no metrics route (any
// method, any spelling nginx normalises), and the metrics listener serves nothing else.
func TestGatewayMetricsOnlyOnTheMetricsListener(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a", nil)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: a.addr()}},
		withKeys(t, map[string][]string{"default": {"sk-x"}}))
	for _, path := range []string{"/metrics", "/metrics/", "//metrics", "/./metrics", "/v1/../metrics", "/%6Detrics", "/v1/metrics"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := gw.do(t, method, path, nil, "Authorization", "Bearer sk-x")
			assert.NotContains(t, string(r.Body), "# TYPE", "%s %s on the public listener must not serve metrics", method, path)
			assert.NotEqual(t, "text/plain; version=0.0.4; charset=utf-8", r.ContentType, "%s %s", method, path)
		}
	}
	// /v1/metrics goes to the default model like any API path; the model server answers it.
	assert.Equal(t, 1*2, a.count(), "only /v1/metrics (GET and POST) reached a model server")

	// The metrics listener: no API key needed, and only /metrics.
	resp, err := client.Get(gw.MetricsURL + MetricsPath)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), "# TYPE "+MetricRequests+" counter")
	for _, path := range []string{"/", "/v1/chat/completions", HealthPath, "/metrics/x"} {
		resp, err := client.Get(gw.MetricsURL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "metrics listener %s", path)
	}
	assert.Equal(t, 2, a.count(), "the metrics listener proxies nothing")
}

// bucket is the cumulative count of a histogram's bucket le for one model.
func bucket(t *testing.T, fams map[string]*dto.MetricFamily, name, model string, le float64) uint64 {
	t.Helper()
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "model" && l.GetValue() == model {
				for _, b := range m.GetHistogram().GetBucket() {
					if b.GetUpperBound() == le {
						return b.GetCumulativeCount()
					}
				}
			}
		}
	}
	t.Fatalf("%s{model=%q} has no bucket le=%v", name, model, le)
	return 0
}

// TestGatewayMetricsTimeoutsAndOverload: a model server that never answers counts as an
// upstream timeout (504); a request past MaxStreams as an "overloaded" refusal (nginx's own 503,
// before the router runs); a POST to /v1/models as method_not_allowed. Each exactly once.
func TestGatewayMetricsTimeoutsAndOverload(t *testing.T) {
	t.Parallel()
	slow := silentBackend(t)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: slow.addr()}},
		withParams(func(p *Params) { p.ProxyTimeout = 1500 * time.Millisecond; p.MaxStreams = 1 }))
	before := series(gw.scrape(t))

	// One request holds the only stream until it times out; meanwhile a second is refused.
	done := make(chan response)
	go func() { done <- gw.post(t, "/v1/chat/completions", chat(modelA)) }()
	inflight := fmt.Sprintf(`%s{model=%q}`, MetricInFlight, modelA)
	_, mid := waitFor(t, gw, func(s map[string]float64) bool { return s[inflight] == 1 })
	require.Equal(t, 1.0, mid[inflight], "the held request is in flight")
	r := gw.post(t, "/v1/chat/completions", chat(modelA))
	assertGatewayError(t, r, http.StatusServiceUnavailable, "server_overloaded")
	assertGatewayError(t, <-done, http.StatusGatewayTimeout, "upstream_timeout")
	assertGatewayError(t, gw.post(t, "/v1/models", "{}"), http.StatusMethodNotAllowed, "method_not_allowed")

	_, after := waitFor(t, gw, func(s map[string]float64) bool {
		return s[MetricRefused+`{reason="method_not_allowed"}`]-before[MetricRefused+`{reason="method_not_allowed"}`] >= 1
	})
	got := delta(before, after)
	for k := range got {
		if strings.Contains(k, "_sum{") {
			delete(got, k)
		}
	}
	assert.Equal(t, map[string]float64{
		req(modelA, OutcomeRouted, "5xx"):                                1,
		req("", OutcomeRefused, "5xx"):                                   1,
		req("", OutcomeRefused, "4xx"):                                   1,
		MetricRefused + `{reason="overloaded"}`:                          1,
		MetricRefused + `{reason="method_not_allowed"}`:                  1,
		MetricUpstreamFailures + `{model="qwen3-0.6b",reason="timeout"}`: 1,
		MetricRequestDuration + `_count{model="qwen3-0.6b"}`:             1,
	}, got)
	assert.Equal(t, 0.0, after[inflight], "nothing left in flight after the 504 error page")
}

func tenantReq(tenant, model, class string) string {
	return fmt.Sprintf("%s{model=%q,status_class=%q,tenant=%q}", MetricTenantRequests, model, class, tenant)
}
