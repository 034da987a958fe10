// Tenants at the gateway: who a key belongs to, which models that team may use, its limits and
// budgets (counted in Redis across every gateway pod) and the price of each model's tokens.
// tenants.lua, limits.lua, resp.lua and usage.lua are rendered from these.

package nginx

import (
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Limit kinds and periods.
const (
	LimitRequests = "requests"
	LimitTokens   = "tokens"
	// PeriodMinute is a sliding minute (LimitBuckets buckets); day and month are calendar
	// periods in UTC (budgets).
	PeriodMinute = "minute"
	PeriodDay    = "day"
	PeriodMonth  = "month"
)

// LimitBuckets is how many buckets a sliding minute is counted in. A request is refused when
// the buckets of the last minute plus the one the minute's start falls in reach the limit, so
// no minute-long span ever admits more than the limit; a freed slot comes back up to one bucket
// (5 s) late.
const LimitBuckets = 12

// Leases: a worker asks Redis for a few units of a per-minute limit more than the request it
// admits needs, and admits the next requests from them without a round trip (limits.lua,
// limits.redis.lua). Redis counts a lease when it grants it, so leases never let more through
// than the limit; what a worker has not used when its lease ends (LeaseFor) goes back.
const (
	// LeaseFor is how long a worker keeps a lease: how late unused units go back, and how long
	// leases granted before Redis went down are still honoured.
	LeaseFor = time.Second
	// LeaseShare: one worker's lease is at most amount / (workers sharing the limit x
	// LeaseShare), so all of them together hold at most 1/LeaseShare of any limit.
	LeaseShare = 20
	// SettleAfter is how long a worker gathers settlements and returned leases before it sends
	// them (one HINCRBY per counter): a round trip per answer would cost more than the
	// admission leases spare. A budget sees an answer's real tokens this much later.
	SettleAfter = 10 * time.Millisecond
)

// Tenant is one team's policy. Keys are not here: they are secrets, read from Params.KeysFile.
type Tenant struct {
	// Name is the tenant (a DNS-1123 label: metrics label value and part of Redis keys).
	Name string
	// Models are the served names (models or adapters) it may use; empty: all of them. Any
	// other name answers 404 model_not_found, and /v1/models lists only these.
	Models []string
	// Limits are its rate limits and budgets.
	Limits []Limit
}

// Limit is one counter: Amount Kind per Period, for one served model or (Model "") all of them.
type Limit struct {
	Kind   string // LimitRequests or LimitTokens
	Period string // PeriodMinute (a rate limit), PeriodDay or PeriodMonth (token budgets)
	Amount int64
	Model  string // "" = every model of the tenant
}

// Price is what a model's tokens cost, per million.
type Price struct {
	Model                string
	PromptPerMillion     float64
	CompletionPerMillion float64
}

//go:embed limits.redis.lua
var limitsScript string

// LimitsScriptSHA is the SHA-1 Redis knows the admission script by (EVALSHA).
func LimitsScriptSHA() string {
	sum := sha1.Sum([]byte(limitsScript))
	return hex.EncodeToString(sum[:])
}

// HasLimits reports whether any tenant has a limit (then Limits.Redis is needed).
func (p Params) HasLimits() bool {
	for _, t := range p.Tenants {
		if len(t.Limits) > 0 {
			return true
		}
	}
	return false
}

// validateTenants checks the tenants against the served names.
func (p Params) validateTenants(bad func(string, ...any)) {
	served := map[string]bool{}
	for _, r := range p.Routes {
		served[r.Name] = true
		for _, a := range r.Adapters {
			served[a] = true
		}
	}
	seen := map[string]bool{}
	for i, t := range p.Tenants {
		if msgs := validation.IsDNS1123Label(t.Name); len(msgs) > 0 {
			bad("tenants[%d]: name %q: %s", i, t.Name, strings.Join(msgs, "; "))
		}
		if seen[t.Name] {
			bad("tenants[%d]: duplicate tenant %q", i, t.Name)
		}
		seen[t.Name] = true
		for j, m := range t.Models {
			if !served[m] {
				bad("tenants[%d] (%q).models[%d]: %q is not a served model or adapter", i, t.Name, j, m)
			}
		}
		for j, l := range t.Limits {
			if msg := l.problem(served, t.Models); msg != "" {
				bad("tenants[%d] (%q).limits[%d]: %s", i, t.Name, j, msg)
			}
		}
	}
	if p.HasLimits() {
		if err := validateHostPort(p.Limits.Redis); err != nil {
			bad("limits.redis %q: %v", p.Limits.Redis, err)
		}
		if p.Limits.PasswordFile != "" && !safeConfigToken(p.Limits.PasswordFile) {
			bad("limits.passwordFile %q is not a plain path", p.Limits.PasswordFile)
		}
		if msg := KeyPrefixProblem(p.Limits.KeyPrefix); msg != "" {
			bad("limits.keyPrefix %s", msg)
		}
		if p.Limits.TLS != nil {
			if field, why := p.Limits.TLS.Problem(); field != "" {
				bad("limits.tls.%s: %s", field, why)
			}
		}
		if p.Limits.ConnectTimeout < 0 || p.Limits.ReadTimeout < 0 {
			bad("limits timeouts must be >= 0 (0: the defaults)")
		}
	}
	if p.KeysFile != "" && !safeConfigToken(p.KeysFile) {
		bad("keys file %q is not a plain path", p.KeysFile)
	}
	for i, pr := range p.Prices {
		if !served[pr.Model] || pr.PromptPerMillion < 0 || pr.CompletionPerMillion < 0 {
			bad("prices[%d]: %q must be a served model with prices >= 0", i, pr.Model)
		}
	}
}

func (l Limit) problem(served map[string]bool, allowed []string) string {
	switch {
	case l.Kind != LimitRequests && l.Kind != LimitTokens:
		return fmt.Sprintf("kind %q: use %s or %s", l.Kind, LimitRequests, LimitTokens)
	case !slices.Contains([]string{PeriodMinute, PeriodDay, PeriodMonth}, l.Period):
		return fmt.Sprintf("period %q: use %s, %s or %s", l.Period, PeriodMinute, PeriodDay, PeriodMonth)
	case l.Amount < 1:
		return fmt.Sprintf("amount %d: a limit must be at least 1", l.Amount)
	case l.Model != "" && !served[l.Model]:
		return fmt.Sprintf("model %q is not served", l.Model)
	case l.Model != "" && len(allowed) > 0 && !slices.Contains(allowed, l.Model):
		return fmt.Sprintf("model %q is not one the tenant may use: the limit would never apply", l.Model)
	}
	return ""
}

// tenantView is a tenant as tenants.lua and limits.lua read it.
type tenantView struct {
	Name       string
	Models     []string // nil: all
	ModelsJSON string
	// The 404 for a model the tenant may not use, split where the name goes (only its models listed).
	UnknownPrefix, UnknownSuffix, UnknownGeneric string
	Limits                                       []limitView
}

type limitView struct {
	Key                 string // Redis key (and local key): <key prefix>rl:<tenant>:<kind>:<period>:<model or *>
	Kind, Period, Model string
	Amount              int64
	Code                string // rate_limit_exceeded or insufficient_quota
	Label               string // the limit label of the metrics and the message
}

func newTenantViews(p Params) []tenantView {
	out := make([]tenantView, 0, len(p.Tenants))
	for _, t := range p.Tenants {
		v := tenantView{Name: t.Name}
		if len(t.Models) > 0 {
			v.Models = t.Models
			routes := allowedRoutes(p.Routes, t.Models)
			v.ModelsJSON = modelsJSON(routes)
			e := gatewayErrors(Params{Routes: routes, MaxBodySize: p.MaxBodySize, MaxStreams: p.MaxStreams, ProxyTimeout: p.ProxyTimeout})
			v.UnknownPrefix, v.UnknownSuffix, _ = strings.Cut(e.ModelUnknown, modelPlaceholder)
			v.UnknownGeneric = e.ModelUnknownGeneric
		}
		for _, l := range t.Limits {
			model := l.Model
			if model == "" {
				model = "*"
			}
			lv := limitView{Kind: l.Kind, Period: l.Period, Model: l.Model, Amount: l.Amount,
				Key:  fmt.Sprintf("%srl:%s:%s:%s:%s", p.Limits.keyPrefix(), t.Name, l.Kind, l.Period, model),
				Code: "rate_limit_exceeded", Label: l.Kind + "_per_" + l.Period}
			if l.Period != PeriodMinute {
				lv.Code = "insufficient_quota"
			}
			v.Limits = append(v.Limits, lv)
		}
		out = append(out, v)
	}
	return out
}

// allowedRoutes are the routes (with only their allowed adapters) a tenant may use; a route
// whose base model is not allowed but one of whose adapters is keeps just that adapter, listed
// with its parent.
func allowedRoutes(routes []Route, allowed []string) []Route {
	var out []Route
	for _, r := range routes {
		var adapters []string
		for _, a := range r.Adapters {
			if slices.Contains(allowed, a) {
				adapters = append(adapters, a)
			}
		}
		if slices.Contains(allowed, r.Name) {
			out = append(out, Route{Name: r.Name, Adapters: adapters})
			continue
		}
		for _, a := range adapters {
			out = append(out, Route{Name: a})
		}
	}
	return out
}

// tenancyView is what tenants.lua, limits.lua and usage.lua read (embedded in view).
type tenancyView struct {
	Tenants                      []tenantView
	HasLimits                    bool
	KeysFileDisplay, KeysReload  string
	LimitsSHA, LimitsScript      string
	LimitWindow                  string
	LimitBuckets                 int
	LeaseFor                     string
	LeaseShare                   int
	SettleAfter                  string
	RedisHost                    string
	RedisPort                    int
	RedisHostIsName              bool
	PodsKey                      string // the sorted set of the pods' check-ins: <key prefix>gw:pods
	RedisTLS                     bool
	RedisServerName, RedisCAPath string // the name Redis's certificate must carry; the CAs trusted
	RedisConnectMS, RedisReadMS  int64
	RedisRetry, PodSeenFor       string
	BytesPerToken, UsageTail     int
	LimitsUnavailable            string // the 503 body when limits fail closed
	TM                           tenantMetricNames
	TR                           struct{ RateLimited, Quota, LimitsUnavailable string }
	LimitsDictSize               string
}

// KeysReload is how often every worker reads the keys file again (a rotated key is taken
// within this plus the kubelet's Secret sync, about a minute).
const KeysReload = 10 * time.Second

func newTenancyView(p Params) tenancyView {
	v := tenancyView{
		Tenants: newTenantViews(p), HasLimits: p.HasLimits(),
		KeysFileDisplay: p.KeysFile, KeysReload: secs(KeysReload),
		LimitsSHA: LimitsScriptSHA(), LimitsScript: limitsScript,
		LimitWindow: secs(time.Minute), LimitBuckets: LimitBuckets,
		LeaseFor: secs(LeaseFor), LeaseShare: LeaseShare, SettleAfter: secs(SettleAfter),
		RedisConnectMS: millis(DefaultRedisConnectTimeout), RedisReadMS: millis(DefaultRedisReadTimeout),
		RedisRetry: secs(RedisRetry), PodSeenFor: secs(PodSeenFor), PodsKey: p.Limits.keyPrefix() + "gw:pods",
		BytesPerToken: BytesPerToken, UsageTail: usageTail, TM: tenantMetrics,
		LimitsDictSize: nginxSize(limitsDictSize),
		LimitsUnavailable: errorJSON(apiError{
			Message: "The gateway cannot reach the store of its rate limits right now; retry shortly.",
			Type:    "server_error", Code: ptr("limits_unavailable"),
		}),
	}
	v.TR.RateLimited, v.TR.Quota, v.TR.LimitsUnavailable = RefusedRateLimited, RefusedQuota, RefusedLimitsUnavailable
	if p.limitWindow > 0 {
		v.LimitWindow = secs(p.limitWindow)
	}
	if p.Limits.ConnectTimeout > 0 {
		v.RedisConnectMS = millis(p.Limits.ConnectTimeout)
	}
	if p.Limits.ReadTimeout > 0 {
		v.RedisReadMS = millis(p.Limits.ReadTimeout)
	}
	if host, port, err := net.SplitHostPort(p.Limits.Redis); err == nil {
		v.RedisHost = host
		v.RedisPort, _ = strconv.Atoi(port)
		v.RedisHostIsName = net.ParseIP(host) == nil
	}
	if t := p.Limits.TLS; t != nil && p.HasLimits() {
		v.RedisTLS, v.RedisServerName, v.RedisCAPath = true, t.ServerName, SystemCAFile
		if v.RedisServerName == "" {
			v.RedisServerName = v.RedisHost
		}
		if t.CACert != "" {
			v.RedisCAPath = p.Runtime.LuaDir + "/" + RedisCAFile
		}
	}
	return v
}
