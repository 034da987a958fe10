// Replica-aware routing: the settings, their defaults and validation, and the constants the
// Lua balancer is rendered with (balancer.lua.tmpl, endpoints.lua.tmpl, load.lua.tmpl,
// prefix.lua.tmpl, ledger.lua.tmpl and nginx.conf.tmpl read them through view.go).

package nginx

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/internal/configcheck"
)

// Routing strategies (Routing.Strategy). prefix and least-load are presets of the scoring
// picker's weights (Presets); round-robin does not score.
const (
	// StrategyPrefix scores each replica by the prompt prefix it is known to hold (an
	// approximate index of vLLM's prefix cache) and its load; every prompt leans towards the
	// replica rendezvous hashing of its first block names, so gateway pods place it alike.
	StrategyPrefix = "prefix"
	// StrategyLeastLoad scores by load alone: the prompt work waiting for a first token there,
	// then the requests running there and its KV-cache use.
	StrategyLeastLoad = "least-load"
	// StrategyRoundRobin takes the replicas in turn: the baseline and the escape hatch (no
	// session affinity, no load).
	StrategyRoundRobin = "round-robin"
)

// Strategies lists the valid Routing.Strategy values, the default first.
var Strategies = []string{StrategyPrefix, StrategyLeastLoad, StrategyRoundRobin}

// Routing tunes how a request picks one of its model's replicas (the addresses behind
// Route.Endpoints). It matters only for routes with Endpoints. The JSON names are the stack
// config's `gateway.routing` keys.
type Routing struct {
	// Strategy is one of Strategies.
	Strategy string `json:"strategy" pulumi:"strategy,optional"`
	// SessionHeader names the request header whose value keeps a conversation on one replica
	// while it is healthy and not overloaded (so does the OpenAI "user" field). Not used by
	// round-robin.
	SessionHeader string `json:"sessionHeader" pulumi:"sessionHeader,optional"`
	// BlockSize is the length, in bytes of the prompt's JSON text, of one hashed block: a
	// multiple of 4 (the hash reads 8 bytes at a time, and a block's last 4 as one more word). A
	// block is ~BlockSize/4 tokens; vLLM's KV blocks are 16 tokens.
	BlockSize int `json:"blockSize" pulumi:"blockSize,optional"`
	// MinPrefixBlocks is the shortest known prefix (in blocks) worth following; a shorter
	// match falls back to the least loaded replica.
	MinPrefixBlocks int `json:"minPrefixBlocks" pulumi:"minPrefixBlocks,optional"`
	// MaxPrefixBlocks bounds the blocks hashed per request (the CPU a long prompt costs):
	// prefixes are told apart by their first MaxPrefixBlocks*BlockSize bytes.
	MaxPrefixBlocks int `json:"maxPrefixBlocks" pulumi:"maxPrefixBlocks,optional"`
	// LoadFactor bounds the load of a preferred replica (prefix or session): it is passed
	// over when its load reaches LoadFactor times the model's average (counting the new
	// request). Must be >= 1.
	LoadFactor float64 `json:"loadFactor" pulumi:"loadFactor,optional"`
	// IndexEntries is the capacity of the prefix index (block hash -> replica), shared by the
	// workers of one gateway pod; the least recently used entries are evicted.
	IndexEntries int `json:"indexEntries" pulumi:"indexEntries,optional"`
	// Weights override the strategy's preset weights of the scoring picker, one by one; an
	// unset weight keeps the preset's. Refused with round-robin, which does not score.
	Weights Weights `json:"weights" pulumi:"weights,optional"`
}

// DefaultRouting are the suggested routing settings (the gateway component's defaults).
func DefaultRouting() Routing {
	return Routing{
		Strategy:        StrategyPrefix,
		SessionHeader:   "x-session-id",
		BlockSize:       256,
		MinPrefixBlocks: 2,
		MaxPrefixBlocks: 64,
		LoadFactor:      1.5,
		IndexEntries:    65536,
	}
}

// Effective are the scoring weights the gateway runs with: the strategy's preset, overridden
// by the weights that are set (the zero Weights for round-robin).
func (r Routing) Effective() Scores {
	s := Presets[r.Strategy]
	w := r.Weights
	for _, o := range []struct {
		set *float64
		to  *float64
	}{{w.Queue, &s.Queue}, {w.Prefix, &s.Prefix}, {w.Running, &s.Running}, {w.KVCache, &s.KVCache}, {w.NewPrefix, &s.NewPrefix}} {
		if o.set != nil {
			*o.to = *o.set
		}
	}
	return s
}

// Runtime constants of the balancer (documented in docs/gateway.md, "Routing across replicas").
const (
	// DNSRefresh is how often the background timer re-resolves the models' headless Services
	// (a name is queried again once its TTL, clamped to [DNSMinTTL, DNSMaxTTL], has run out),
	// and a failed connection triggers a refresh at once.
	DNSRefresh = 2 * time.Second
	DNSMinTTL  = 1 * time.Second
	DNSMaxTTL  = 30 * time.Second
	// DNSTimeout bounds one query to one nameserver.
	DNSTimeout = 1 * time.Second
	// DNSStaleAfter bounds how long the last good DNS answer is trusted while the DNS fails:
	// past it (pods may have rotated since) a model's requests go to its ClusterIP Service.
	DNSStaleAfter = 5 * time.Minute
	// dnsRandomBytes is what one read of /dev/urandom takes for DNS query ids (2 bytes each).
	dnsRandomBytes = 512
	// SweepGrace is how long a replica must have been out of its model's DNS answer before its
	// state (in-flight count, load figures, per-endpoint series) is dropped, once its requests
	// have ended: longer than a request takes from reading the answer to counting its pick.
	SweepGrace = 4 * time.Second
	// LedgerReap is how often worker 0 takes back what workers that died had counted.
	LedgerReap = 2 * time.Second
	// KeepaliveTimeout is how long nginx keeps an idle connection to a model server: below
	// uvicorn's (vLLM's) 5 s, so nginx never reuses a connection the server is closing.
	KeepaliveTimeout = 4 * time.Second
	// MetricsInterval is how often each replica's /metrics is read; MetricsTimeout bounds one
	// read; readings older than MetricsStale are ignored.
	MetricsInterval = 1 * time.Second
	MetricsTimeout  = 800 * time.Millisecond
	MetricsStale    = 5 * time.Second
	// FailedEndpointSkip is how long a replica that refused or reset a connection is passed over.
	FailedEndpointSkip = 5 * time.Second
	// SessionIdle is how long a session's replica is remembered after its last request.
	SessionIdle = 30 * time.Minute
	// UnavailableRetryAfter is the Retry-After (seconds) of the 503 model_unavailable answered
	// when a model has no ready replica.
	UnavailableRetryAfter = 5
	// HoldPoll is how often a gateway worker that holds requests for a model with no replica
	// checks the model's DNS answer (and asks for a fresh one): one timer per worker and
	// model, however many requests wait, so held requests cost no CPU of their own.
	HoldPoll = 500 * time.Millisecond
	// AdapterRecent is how long after serving a LoRA adapter a replica is preferred for it:
	// vLLM keeps recently used adapters in GPU memory (--max-loras slots, least recently used
	// evicted), so another replica would first load it.
	AdapterRecent = 5 * time.Minute
	// EndpointsEnv names the environment variable that, when set ("ip[:port],..."), replaces
	// /etc/resolv.conf's nameservers for the gateway's own DNS client (tests point it at a DNS
	// server on 127.0.0.1).
	NameserversEnv = "GATEWAY_NAMESERVERS"
	// indexEntryBytes is what one prefix-index entry costs in the shared dict (key ~20 bytes,
	// value ~20 bytes, node and slab rounding), measured as the dict's free_space drop.
	indexEntryBytes = 160
	// MaxIndexEntries bounds IndexEntries (160 MB of shared memory).
	MaxIndexEntries = 1 << 20
)

// Holding requests for a model scaled to zero (Route.HoldSeconds) takes stream slots: a held
// request counts against MaxStreams like a running one. So holds are bounded per pod.
const (
	// DefaultHoldShare is the suggested Params.HoldShare: a tenth of the pod's streams per model.
	DefaultHoldShare = 0.1
	// MaxHoldShare bounds Params.HoldShare, and heldTotalShare is the share of MaxStreams all
	// models' held requests together may take: the rest stays for models with replicas.
	MaxHoldShare   = 0.5
	heldTotalShare = 0.5
)

// HoldLimits are the requests one pod holds at most: perModel for each model, total for all
// models together (0 when maxStreams leaves no room: a hold would take the last slot).
func HoldLimits(maxStreams int, share float64) (perModel, total int) {
	total = int(float64(maxStreams) * heldTotalShare)
	perModel = min(max(int(float64(maxStreams)*share), 1), total)
	return perModel, total
}

// WithDefaults fills each setting left at its zero value (none is valid) from DefaultRouting,
// so a component user may set only what differs, as the stack config's defaults allow.
func (r Routing) WithDefaults() Routing {
	def := DefaultRouting()
	if r.Strategy == "" {
		r.Strategy = def.Strategy
	}
	if r.SessionHeader == "" {
		r.SessionHeader = def.SessionHeader
	}
	if r.BlockSize == 0 {
		r.BlockSize = def.BlockSize
	}
	if r.MinPrefixBlocks == 0 {
		r.MinPrefixBlocks = def.MinPrefixBlocks
	}
	if r.MaxPrefixBlocks == 0 {
		r.MaxPrefixBlocks = def.MaxPrefixBlocks
	}
	if r.LoadFactor == 0 {
		r.LoadFactor = def.LoadFactor
	}
	if r.IndexEntries == 0 {
		r.IndexEntries = def.IndexEntries
	}
	return r
}

// IndexBytes is the shared memory the prefix index takes: the lua_shared_dict size.
func (r Routing) IndexBytes() int64 {
	return max(int64(r.IndexEntries)*indexEntryBytes, 1<<20)
}

// Validate checks r and returns every problem, each error starting with path and the
// setting's key ("gateway.routing." in the stack config, "config.routing." in the gateway
// component, "routing." for Params): the one place these bounds live.
func (r Routing) Validate(path string) []error {
	p := &configcheck.Problems{Prefix: path}
	p.OneOf("strategy", r.Strategy, Strategies)
	if !validHeaderName(r.SessionHeader) {
		p.Add("sessionHeader", "%q is not a header name; use letters, digits and '-' (nginx drops headers with '_'), e.g. \"x-session-id\"", r.SessionHeader)
	}
	// The hash reads 8 bytes at a time, and a block's last 4 as one more word.
	if r.BlockSize < 16 || r.BlockSize > 65536 || r.BlockSize%4 != 0 {
		p.Add("blockSize", "is %d; use a multiple of 4 from 16 to 65536 bytes of prompt per hashed block (the default 256 is about 64 tokens)", r.BlockSize)
	}
	if r.MinPrefixBlocks < 1 {
		p.Add("minPrefixBlocks", "is %d; use 1 or more blocks", r.MinPrefixBlocks)
	}
	if r.MaxPrefixBlocks < 1 || r.MaxPrefixBlocks > 4096 {
		p.Add("maxPrefixBlocks", "is %d; use 1 to 4096 blocks (hashing cost per request grows with it)", r.MaxPrefixBlocks)
	} else if r.MinPrefixBlocks > r.MaxPrefixBlocks {
		p.Add("minPrefixBlocks", "is %d, above %s %d; no prefix could ever match", r.MinPrefixBlocks, p.At("maxPrefixBlocks"), r.MaxPrefixBlocks)
	}
	if !(r.LoadFactor >= 1 && r.LoadFactor <= 100) {
		p.Add("loadFactor", "is %v; use 1 to 100 (a preferred replica is passed over at loadFactor x the model's average load + 1)", r.LoadFactor)
	}
	if r.IndexEntries < 1 || r.IndexEntries > MaxIndexEntries {
		p.Add("indexEntries", "is %d; use 1 to %d prefix-index entries (about %d bytes of shared memory each)", r.IndexEntries, MaxIndexEntries, indexEntryBytes)
	}
	for _, wp := range r.WeightProblems() {
		p.Add(wp.Key, "%s", wp.Msg)
	}
	r.validateRoundRobin(p)
	return p.Errs
}

// validateRoundRobin: round-robin keeps no sessions and reads no load, so a session header or
// load factor other than the default would do nothing.
func (r Routing) validateRoundRobin(p *configcheck.Problems) {
	if r.Strategy != StrategyRoundRobin {
		return
	}
	def := DefaultRouting()
	if r.SessionHeader != def.SessionHeader {
		p.Add("sessionHeader", "does nothing with strategy round-robin (it keeps no sessions); remove it, or use strategy prefix or least-load")
	}
	if r.LoadFactor != def.LoadFactor {
		p.Add("loadFactor", "does nothing with strategy round-robin (it reads no load); remove it, or use strategy prefix or least-load")
	}
}

// validHeaderName: nginx exposes the header as $http_<name> with '-' as '_', so only letters,
// digits and '-' (not '_', which nginx drops by default) are accepted.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c != '-' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validateEndpoints checks a Route.Endpoints value: a DNS name (never an IP: it is resolved
// for A records) and a port.
func validateEndpoints(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("want dns-name:port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || len(validation.IsValidPortNum(n)) > 0 {
		return fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	if net.ParseIP(host) != nil {
		return fmt.Errorf("host %q is an IP; want the DNS name of a headless Service", host)
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return fmt.Errorf("host %q is not a DNS name: %s", host, strings.Join(msgs, "; "))
	}
	return nil
}

// headerVar is the nginx variable of request header name ($http_x_session_id).
func headerVar(name string) string {
	return "http_" + strings.ReplaceAll(strings.ToLower(name), "-", "_")
}

func millis(d time.Duration) int64 { return d.Milliseconds() }
