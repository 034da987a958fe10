// The template view: Params turned into what nginx.conf.tmpl and router.lua.tmpl read.

package nginx

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

type view struct {
	tenancyView
	P              Params
	HealthPath     string
	Workers        string
	BodyBuffer     int64
	ProxyTimeout   string
	ConnectTimeout string
	Upstreams      []upstreamView
	Routes         []routeView
	DefaultName    string
	ModelsJSON     string
	Errors         errorBodies // JSON bodies (Lua uses them via the lua func)
	ErrorPages     []errorPageView
	NotFound       string // nginx-quoted
	Health         string // nginx-quoted
	UnknownPrefix  string // model_unknown split at the placeholder
	UnknownSuffix  string
	// Capacity (see ConnectionBudget).
	WorkerConnections int
	RlimitNofile      int
	Keepalive         int
	RetryAfter        int
	LimitConnStatus   int
	KeepaliveTimeout  string // seconds an idle upstream connection is kept (KeepaliveTimeout)
	Overloaded        string // nginx-quoted 503 body past MaxStreams
	// ProxiedErrorPages are the error_page lines of the proxied location: the server's, except
	// that nginx's own 503 there can only be limit_conn's, so it answers server_overloaded.
	ProxiedErrorPages []errorPageView
	// Metrics (metrics.lua.tmpl and the metrics listener).
	MetricsDict     string
	MetricsDictSize string
	LedgerDictSize  string
	LedgerReap      string
	MetricsPath     string
	M               metricNames
	Refused         refusalReasons
	O               outcomes
	Families        []GatewayMetric
	DurationBuckets []string // shortest exact decimal form: the le label values
	TTFBBuckets     []string
	// Label values of the newer metrics, declared at 0 at start.
	AbortPhases, ReplicaFailureReasons, PollFailureReasons, DNSFailureReasons []string

	// Request bodies (bodies.go).
	MaxNameBytes, MaxDepth                 int
	InMemoryMax, BodyAllowance, BodyBudget int64
	ScanSlice, BodiesDict, TurnWait        string
	ScanAlone                              int
	StreamsZone, DNSDict, LoadDict         string

	// Replica-aware routing (routing.go).
	HasEndpoints          bool
	R                     Routing
	W                     Scores // R's effective scoring weights
	ScoreTie              float64
	NameserversEnv        string
	SessionVar            string // the nginx variable of R.SessionHeader
	EndpointNames         []string
	EndpointServices      []endpointService
	EndpointsKeepalive    int
	IndexBytes            int64
	UnavailableRetryAfter int
	// HasHolds: some model's requests wait for a first replica (Route.HoldSeconds); HoldPoll
	// is how often a worker holding requests looks for one; HoldPerModel and HoldTotal bound
	// the held requests of the pod (HoldLimits).
	HasHolds                bool
	HoldPoll                string
	HoldPerModel, HoldTotal int
	// AdapterRecent is how long a replica counts as holding an adapter it served.
	AdapterRecent string
	// Seconds (Lua numbers), from the constants in routing.go.
	DNSRefresh, DNSMinTTL, DNSMaxTTL, MetricsInterval, MetricsStale, FailedSkip, SessionIdle string
	DNSStaleAfter, SweepGrace                                                                string
	DNSTimeoutMS, MetricsTimeoutMS                                                           int64
	DNSRandomBytes                                                                           int
}

type metricNames struct {
	Requests, RequestDuration, TimeToFirstByte, InFlight, EndpointInFlight, UpstreamFailures, Refused, Held string
	ClientAborts, ReplicaFailures, PollFailures, DNSFailures, ServiceFallback, PrefixIndexBytes             string
}

type refusalReasons struct {
	Unauthorized, BadJSON, Invalid, UnknownModel, NotFound, Method, TooLarge, Internal, Overloaded, Other, Unavailable string
	HoldFull                                                                                                           string
}

type outcomes struct{ Routed, Refused, Local string }

func bucketLabels(bounds []float64) []string {
	out := make([]string, len(bounds))
	for i, b := range bounds {
		out[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return out
}

type upstreamView struct{ Name, Addr string }

type routeView struct {
	ID                           int
	Name, Upstream, Host, Object string
	Endpoints, EndpointsHost     string // headless Service name (no port) and host:port
	Port                         int
	// Model is the served base model: Name itself, or for a LoRA adapter its base (the metrics'
	// model label, so a model's demand counts its adapters' requests).
	Model   string
	Adapter bool
	Hold    int // seconds a request may wait for a first replica (Route.HoldSeconds)
}

// endpointService is one headless Service: its name, replica port and the Host header sent,
// the model it serves (metrics label; Models adds the routes that alias it) and the model's
// ClusterIP Service (Service: host:port, the Host header; ServiceHost, ServicePort: where to
// connect).
type endpointService struct {
	Name, Host, Model    string
	Models               []string
	Service, ServiceHost string
	Port, ServicePort    int
}

type errorPageView struct {
	Status   int
	Body     string // nginx-quoted
	Location string // the named location answering it
}

func newView(p Params) (*view, error) {
	v := &view{
		P:            p,
		HealthPath:   HealthPath,
		Workers:      "auto",
		BodyBuffer:   p.BodyBuffer(),
		ProxyTimeout: nginxDuration(p.ProxyTimeout),
		DefaultName:  p.Routes[0].Name,
		ModelsJSON:   modelsJSON(p.Routes),
		Errors:       gatewayErrors(p),
	}
	if p.Runtime.WorkerProcesses > 0 {
		v.Workers = strconv.Itoa(p.Runtime.WorkerProcesses)
	}
	v.setMetrics()
	v.setBodies(p)
	v.tenancyView = newTenancyView(p)
	if v.HasLimits {
		v.DNSRandomBytes, v.NameserversEnv = dnsRandomBytes, NameserversEnv // a Redis host name is resolved by dns.lua
	}
	v.ConnectTimeout = nginxDuration(min(p.ProxyTimeout, 10*time.Second))
	v.Keepalive = UpstreamKeepalive
	v.RetryAfter = OverloadRetryAfter
	v.LimitConnStatus = limitConnStatus
	v.KeepaliveTimeout = secs(KeepaliveTimeout)
	for _, r := range p.Routes {
		v.addRoute(r)
	}
	upstreams := len(v.Upstreams)
	if p.HasEndpoints() {
		v.setRouting(p)
		// gw_endpoints keeps an idle pool as large as one per model Service would be.
		upstreams += len(v.EndpointNames)
	}
	v.WorkerConnections, v.RlimitNofile = ConnectionBudget(p.MaxStreams, upstreams)
	if err := v.setErrorBodies(); err != nil {
		return nil, err
	}
	return v, nil
}

// setMetrics sets the metrics' names, label values and dictionaries (metrics.go).
func (v *view) setMetrics() {
	v.MetricsDict, v.MetricsDictSize = MetricsDict, nginxSize(metricsDictSize)
	v.LedgerDictSize, v.LedgerReap = nginxSize(ledgerDictSize), secs(LedgerReap)
	v.MetricsPath = MetricsPath
	v.M = metricNames{
		Requests: MetricRequests, RequestDuration: MetricRequestDuration, TimeToFirstByte: MetricTimeToFirstByte,
		InFlight: MetricInFlight, EndpointInFlight: MetricEndpointInFlight, UpstreamFailures: MetricUpstreamFailures,
		Refused: MetricRefused, Held: MetricHeld, ClientAborts: MetricClientAborts, ReplicaFailures: MetricReplicaFailures,
		PollFailures: MetricPollFailures, DNSFailures: MetricDNSFailures, ServiceFallback: MetricServiceFallback, PrefixIndexBytes: MetricPrefixIndexBytes,
	}
	v.Refused = refusalReasons{
		Unauthorized: RefusedUnauthorized, BadJSON: RefusedBadJSON, Invalid: RefusedInvalid, UnknownModel: RefusedUnknownModel,
		NotFound: RefusedNotFound, Method: RefusedMethod, TooLarge: RefusedTooLarge,
		Internal: RefusedInternal, Overloaded: RefusedOverloaded, Other: RefusedOther, Unavailable: RefusedUnavailable,
		HoldFull: RefusedHoldFull,
	}
	v.O = outcomes{Routed: OutcomeRouted, Refused: OutcomeRefused, Local: OutcomeLocal}
	v.Families = append(slices.Clip(GatewayMetrics), TenantMetrics...)
	v.DurationBuckets, v.TTFBBuckets = bucketLabels(DurationBuckets), bucketLabels(TTFBBuckets)
	v.AbortPhases, v.ReplicaFailureReasons = AbortPhases, ReplicaFailureReasons
	v.PollFailureReasons, v.DNSFailureReasons = PollFailureReasons, DNSFailureReasons
}

// setBodies sets the request bodies' bounds and the shared memory zones' sizes (bodies.go).
func (v *view) setBodies(p Params) {
	v.MaxNameBytes, v.MaxDepth = MaxServedNameBytes, MaxJSONDepth
	v.InMemoryMax, v.BodyAllowance, v.BodyBudget = p.InMemoryMax(), StreamBodyAllowance, p.BodyBudget()
	v.ScanSlice, v.TurnWait, v.ScanAlone, v.BodiesDict = secs(ScanSlice), secs(TurnWait), ScanAlone, nginxSize(bodiesDictSize)
	v.StreamsZone, v.DNSDict, v.LoadDict = nginxSize(streamsZoneSize), nginxSize(dnsDictSize), nginxSize(loadDictSize)
}

// addRoute adds a route, with one upstream block per distinct address (models sharing a
// Service share its pool), its headless Service if it has one, and a route per adapter.
func (v *view) addRoute(r Route) {
	upstreamOf := func(addr string) string {
		for _, u := range v.Upstreams {
			if u.Addr == addr {
				return u.Name
			}
		}
		name := fmt.Sprintf("gw_model_%d", len(v.Upstreams))
		v.Upstreams = append(v.Upstreams, upstreamView{Name: name, Addr: addr})
		return name
	}
	rv := routeView{
		ID:   len(v.Routes) + 1,
		Name: r.Name, Upstream: upstreamOf(r.Upstream), Host: r.Upstream, Object: marshal(newModelObject(r.Name)),
		Model: r.Name, Hold: r.HoldSeconds,
	}
	if r.Endpoints != "" {
		v.addEndpoints(r, &rv)
	}
	v.Routes = append(v.Routes, rv)
	// Each adapter is a route of its own (its own id, so its own prefix index: vLLM keys an
	// adapter's KV cache apart from the base's) to the same replicas.
	for _, a := range r.Adapters {
		av := rv
		av.ID, av.Name, av.Adapter = len(v.Routes)+1, a, true
		av.Object = marshal(newAdapterObject(a, r.Name))
		v.Routes = append(v.Routes, av)
	}
}

// addEndpoints sets the route's headless Service and adds it to the view's, once per Service
// (another route to it is an alias).
func (v *view) addEndpoints(r Route, rv *routeView) {
	host, port, _ := net.SplitHostPort(r.Endpoints) // validated
	rv.Endpoints, rv.EndpointsHost = host, r.Endpoints
	rv.Port, _ = strconv.Atoi(port)
	if i := slices.Index(v.EndpointNames, host); i >= 0 {
		v.EndpointServices[i].Models = append(v.EndpointServices[i].Models, r.Name) // an alias
	} else {
		v.EndpointNames = append(v.EndpointNames, host)
		svcHost, svcPort, _ := net.SplitHostPort(r.Upstream) // validated
		sp, _ := strconv.Atoi(svcPort)
		v.EndpointServices = append(v.EndpointServices, endpointService{Name: host, Host: r.Endpoints, Port: rv.Port,
			Model: r.Name, Models: []string{r.Name}, Service: r.Upstream, ServiceHost: svcHost, ServicePort: sp})
	}
	v.HasHolds = v.HasHolds || r.HoldSeconds > 0
}

// setErrorBodies sets the error bodies nginx answers itself, quoted for nginx.conf, and the
// error_page lines that send each status to them.
func (v *view) setErrorBodies() error {
	var found bool
	v.UnknownPrefix, v.UnknownSuffix, found = strings.Cut(v.Errors.ModelUnknown, modelPlaceholder)
	if !found {
		return errors.New("gateway: internal error: model placeholder lost in the 404 message")
	}
	var err error
	quote := func(s string) string {
		q, qerr := nginxQuote(s)
		err = errors.Join(err, qerr)
		return q
	}
	for _, ep := range nginxErrorPages {
		loc := fmt.Sprintf("@gw_%d", ep.Status)
		v.ErrorPages = append(v.ErrorPages, errorPageView{Status: ep.Status, Body: quote(ep.Body(v.Errors)), Location: loc})
		if ep.Status == limitConnStatus {
			loc = "@gw_overloaded"
		}
		v.ProxiedErrorPages = append(v.ProxiedErrorPages, errorPageView{Status: ep.Status, Location: loc})
	}
	v.Overloaded = quote(v.Errors.Overloaded)
	v.NotFound = quote(v.Errors.NotFound)
	v.Health = quote(`{"status":"ok"}`)
	return err
}

// secs renders a duration as Lua seconds.
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

func (v *view) setRouting(p Params) {
	v.HasEndpoints = true
	v.R = p.Routing
	v.W, v.ScoreTie = p.Routing.Effective(), ScoreTie
	v.NameserversEnv = NameserversEnv
	v.SessionVar = headerVar(p.Routing.SessionHeader)
	v.EndpointsKeepalive = UpstreamKeepalive * len(v.EndpointNames)
	v.IndexBytes = p.Routing.IndexBytes()
	v.UnavailableRetryAfter = UnavailableRetryAfter
	v.HoldPerModel, v.HoldTotal = HoldLimits(p.MaxStreams, p.HoldShare)
	stale := DNSStaleAfter
	if p.dnsStaleAfter > 0 {
		stale = p.dnsStaleAfter
	}
	v.DNSStaleAfter, v.SweepGrace, v.DNSRandomBytes = secs(stale), secs(SweepGrace), dnsRandomBytes
	v.DNSRefresh, v.DNSMinTTL, v.DNSMaxTTL = secs(DNSRefresh), secs(DNSMinTTL), secs(DNSMaxTTL)
	v.MetricsInterval, v.MetricsStale = secs(MetricsInterval), secs(MetricsStale)
	v.FailedSkip, v.SessionIdle = secs(FailedEndpointSkip), secs(SessionIdle)
	v.HoldPoll, v.AdapterRecent = secs(HoldPoll), secs(AdapterRecent)
	v.DNSTimeoutMS, v.MetricsTimeoutMS = millis(DNSTimeout), millis(MetricsTimeout)
}

// nginxSize writes a size the way nginx.conf reads it ("10m", "64k" or bytes).
func nginxSize(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "m"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}
