package gateway

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/configcheck"
)

// DefaultMaxBodySize is the default request body limit, as a quantity: nginx's own default
// (nginx.DefaultMaxBodySize), the one source of truth for both.
var DefaultMaxBodySize = resource.NewQuantity(nginx.DefaultMaxBodySize, resource.BinarySI).String()

// Config tunes the OpenResty router. Every field is plain Go, known at plan time: the
// nginx config is rendered from it and its checksum rolls the pods. The JSON names are the
// stack config's `gateway` keys.
type Config struct {
	Image    string `json:"image" pulumi:"image"`
	Replicas int    `json:"replicas" pulumi:"replicas"`
	// MaxReplicas is the autoscaler's ceiling (CPU, and held requests when a route holds and
	// Args.KEDA is set: autoscaler.go); Replicas is its floor. Equal to Replicas turns
	// autoscaling off.
	MaxReplicas    int    `json:"maxReplicas" pulumi:"maxReplicas"`
	MaxBodySize    string `json:"maxBodySize" pulumi:"maxBodySize"`
	TimeoutSeconds int    `json:"timeoutSeconds" pulumi:"timeoutSeconds"`
	// MaxStreamsPerPod is the concurrent requests one gateway pod accepts; past it the pod
	// answers 503 server_overloaded with Retry-After. nginx's connection settings derive from it.
	MaxStreamsPerPod int `json:"maxStreamsPerPod" pulumi:"maxStreamsPerPod"`
	// Routing picks the replica of each request among a model's ready pods (routes with
	// Endpoints): strategy, session header and the prefix index's sizes (nginx.Routing). The
	// zero value means DefaultRouting().
	Routing nginx.Routing `json:"routing" pulumi:"routing,optional"`
	// ColdStartTimeout is how long a request for a model that scales to zero waits for its
	// first replica before the 503 (a Go duration, e.g. "10m"): when set, it replaces the
	// HoldSeconds of every route that holds. Empty: each route's own HoldSeconds (the stack
	// sets it to the model's startup budget, startupTimeoutSeconds + 15 minutes).
	ColdStartTimeout string `json:"coldStartTimeout" pulumi:"coldStartTimeout,optional"`
	// HoldShare bounds the requests one pod holds for a model scaled to zero: at most
	// HoldShare x MaxStreamsPerPod per model (at least 1), and half of MaxStreamsPerPod for all
	// models together, so models with replicas keep the rest; past either, 503
	// model_unavailable with Retry-After at once (nginx.HoldLimits). (0, 0.5]; 0 means
	// DefaultHoldShare.
	HoldShare float64 `json:"holdShare" pulumi:"holdShare,optional"`
}

// DefaultHoldShare is the default HoldShare (nginx.DefaultHoldShare, the one source of truth).
const DefaultHoldShare = nginx.DefaultHoldShare

// ValidHoldShare says what is wrong with a HoldShare value ("" when nothing).
func ValidHoldShare(share float64) string { return nginx.HoldShareProblem(share) }

// Validate checks c and returns every problem at once, each error starting with path (where
// the caller keeps the gateway's settings: "config." in the component package, "gateway." in
// the stack config) and the setting's key: the one place these rules live. Validate the
// defaulted Config (withDefaults: zero Routing and HoldShare mean the defaults).
func (c Config) Validate(path string) []error {
	p := &configcheck.Problems{Prefix: path}
	if c.Image == "" {
		p.Add("image", "must name an OpenResty image")
	}
	if c.Replicas < 1 {
		p.Add("replicas", "is %d; use 1 or more (2+ for availability)", c.Replicas)
	}
	if c.MaxReplicas < c.Replicas {
		p.Add("maxReplicas", "is %d, below %s %d; set it to at least %d (equal turns autoscaling off)",
			c.MaxReplicas, p.At("replicas"), c.Replicas, max(c.Replicas, 1))
	}
	p.Quantity("maxBodySize", c.MaxBodySize, "1Mi")
	if c.TimeoutSeconds < 1 {
		p.Add("timeoutSeconds", "is %d; use a positive number of seconds (long generations need minutes)", c.TimeoutSeconds)
	}
	if msg := nginx.MaxStreamsProblem(c.MaxStreamsPerPod); msg != "" {
		p.Add("maxStreamsPerPod", "%s", msg)
	}
	p.Errs = append(p.Errs, c.Routing.Validate(p.At("routing."))...)
	if msg := ValidColdStartTimeout(c.ColdStartTimeout); msg != "" {
		p.Add("coldStartTimeout", "%s", msg)
	}
	if msg := ValidHoldShare(c.HoldShare); msg != "" {
		p.Add("holdShare", "%s", msg)
	}
	return p.Errs
}

// MaxColdStartTimeout bounds gateway.coldStartTimeout: a client held longer has long given up.
const MaxColdStartTimeout = 2 * time.Hour

// ValidColdStartTimeout says what is wrong with a ColdStartTimeout value ("" when nothing).
func ValidColdStartTimeout(s string) string {
	if s == "" {
		return ""
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a duration; use e.g. \"10m\" or \"90s\" (empty: each model's startup budget)", s)
	case d < time.Second || d > MaxColdStartTimeout:
		return fmt.Sprintf("is %v; use 1s to %v (how long a request waits for a model scaled to zero)", d, MaxColdStartTimeout)
	}
	return ""
}

// withDefaults fills in what a library user may leave out (the stack config sets everything).
func (c Config) withDefaults() Config {
	c.Routing = c.Routing.WithDefaults()
	if c.HoldShare == 0 {
		c.HoldShare = DefaultHoldShare
	}
	return c
}

// DefaultRouting are the routing defaults (nginx.DefaultRouting, the one source of truth).
func DefaultRouting() nginx.Routing { return nginx.DefaultRouting() }
