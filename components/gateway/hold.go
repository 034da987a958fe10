// Requests held for a model scaled to zero: how long each route's requests wait for a first
// replica. The stack says which models scale to zero (and their startup budget); the gateway
// applies config.coldStartTimeout, here and only here.

package gateway

import (
	"math"
	"slices"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// StartupHoldSeconds is the HoldSeconds of the route to a model that scales to zero: its
// startup budget, up to MaxColdStartTimeout. New replaces it with config.coldStartTimeout when
// that is set (Gateway.HoldSeconds has the result).
func StartupHoldSeconds(startupBudget time.Duration) int {
	return ceilSeconds(min(startupBudget, MaxColdStartTimeout))
}

// HoldSeconds is the hold of a model that scales to zero: ColdStartTimeout, or else the
// model's startup budget up to MaxColdStartTimeout. ColdStartTimeout must be valid
// (ValidColdStartTimeout).
func (c Config) HoldSeconds(startupBudget time.Duration) int {
	if c.ColdStartTimeout == "" {
		return StartupHoldSeconds(startupBudget)
	}
	d, _ := time.ParseDuration(c.ColdStartTimeout)
	return ceilSeconds(d)
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// holding applies config.coldStartTimeout to the routes that hold requests (HoldSeconds > 0):
// one gateway-wide wait for every model that scales to zero.
func holding(routes []nginx.Route, cfg Config) []nginx.Route {
	if cfg.ColdStartTimeout == "" {
		return routes
	}
	out := slices.Clone(routes)
	for i := range out {
		if out[i].HoldSeconds > 0 {
			out[i].HoldSeconds = cfg.HoldSeconds(0)
		}
	}
	return out
}

// holdSeconds are the holds of the routes that hold, by served name.
func holdSeconds(routes []nginx.Route) map[string]int {
	out := map[string]int{}
	for _, r := range routes {
		if r.HoldSeconds > 0 {
			out[r.Name] = r.HoldSeconds
		}
	}
	return out
}
