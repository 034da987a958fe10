// Validation of Params: every problem at once, each naming the field.

package nginx

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

func (p Params) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("gateway: "+format, a...)) }
	p.validateRoutes(bad)
	p.validateListeners(bad)
	p.validateLimits(bad)
	p.validateTenants(bad)
	if p.HasEndpoints() {
		for _, e := range p.Routing.Validate("routing.") {
			bad("%v", e)
		}
	}
	p.validateHolds(bad)
	p.Runtime.validate(bad)
	return errors.Join(errs...)
}

type badFunc = func(format string, a ...any)

// validateRoutes: the served names (models and adapters) are unique, and each route's
// addresses are usable.
func (p Params) validateRoutes(bad badFunc) {
	if len(p.Routes) == 0 {
		bad("no routes: the gateway needs at least one model (Routes[0] is the default)")
	}
	// Served names (models and adapters) -> where they were first seen.
	seen := map[string]string{}
	for i, r := range p.Routes {
		if r.Name == "" {
			bad("routes[%d]: empty model name", i)
		} else if msg := ServedNameProblem(r.Name); msg != "" {
			bad("routes[%d]: model name %q %s", i, r.Name, msg)
		}
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			bad("routes[%d]: duplicate model name %q (also %s); served names must be unique", i, r.Name, j)
		} else {
			seen[r.Name] = fmt.Sprintf("routes[%d]", i)
		}
		validateAdapters(bad, i, r.Adapters, seen)
		r.validateAddresses(bad, i)
	}
}

func validateAdapters(bad badFunc, i int, adapters []string, seen map[string]string) {
	for k, a := range adapters {
		if msg := ServedNameProblem(a); msg != "" {
			bad("routes[%d].adapters[%d]: adapter name %q %s", i, k, a, msg)
			continue
		}
		if j, dup := seen[a]; dup {
			bad("routes[%d].adapters[%d]: adapter name %q is already served (%s); served names must be unique", i, k, a, j)
		} else {
			seen[a] = fmt.Sprintf("routes[%d].adapters[%d]", i, k)
		}
	}
}

// validateAddresses: route i's upstream, endpoints and hold.
func (r Route) validateAddresses(bad badFunc, i int) {
	if r.HoldSeconds < 0 {
		bad("routes[%d] (%q): holdSeconds %d must be >= 0 (0: no hold)", i, r.Name, r.HoldSeconds)
	} else if r.HoldSeconds > 0 && r.Endpoints == "" {
		bad("routes[%d] (%q): holdSeconds needs endpoints (the gateway waits for a replica to appear in them)", i, r.Name)
	}
	if r.Endpoints != "" {
		if err := validateEndpoints(r.Endpoints); err != nil {
			bad("routes[%d] (%q): endpoints %q: %v", i, r.Name, r.Endpoints, err)
		}
	}
	if r.Upstream == "" {
		bad("routes[%d] (%q): empty upstream; set it to the model Service's host:port", i, r.Name)
	} else if err := validateHostPort(r.Upstream); err != nil {
		bad("routes[%d] (%q): upstream %q: %v", i, r.Name, r.Upstream, err)
	}
}

func (p Params) validateListeners(bad badFunc) {
	if err := validateListen(p.Listen); err != nil {
		bad("listen %q: %v", p.Listen, err)
	}
	if p.MetricsListen != "" {
		if err := validateListen(p.MetricsListen); err != nil {
			bad("metrics listen %q: %v", p.MetricsListen, err)
		} else if samePort(p.MetricsListen, p.Listen) {
			bad("metrics listen %q uses the public listener's port (%q); give the metrics their own port", p.MetricsListen, p.Listen)
		}
	}
}

// validateLimits: bodies, timeouts and streams.
func (p Params) validateLimits(bad badFunc) {
	if p.MaxBodySize <= 0 {
		bad("max body size must be > 0 bytes (suggested %d)", DefaultMaxBodySize)
	}
	if p.BodyMemory < 0 || (p.BodyMemory > 0 && p.BodyMemory < p.BodyCost(p.MaxBodySize)) {
		bad("body memory %d must be 0 (%d maximum-size bodies) or at least %d, what one maximum-size body holds",
			p.BodyMemory, DefaultLargeBodies, p.BodyCost(p.MaxBodySize))
	}
	if p.BodyBufferSize < 0 || p.BodyBufferSize > p.MaxBodySize {
		bad("body buffer size %d must be between 0 (= max body size) and max body size %d", p.BodyBufferSize, p.MaxBodySize)
	}
	if p.ProxyTimeout < time.Millisecond {
		bad("proxy timeout %v must be at least 1ms (suggested %v; generations stream for minutes)", p.ProxyTimeout, DefaultProxyTimeout)
	}
	if msg := MaxStreamsProblem(p.MaxStreams); msg != "" {
		bad("max streams: %s", msg)
	}
}

// MaxStreamsProblem says what is wrong with a per-pod stream limit ("" when nothing): the one
// rule for Params.MaxStreams and the gateway's maxStreamsPerPod.
func MaxStreamsProblem(n int) string {
	if n >= 1 && n <= MaxStreamsCeiling {
		return ""
	}
	return fmt.Sprintf("is %d; use 1 to %d concurrent requests per pod (the default is measured, see docs/gateway.md)", n, MaxStreamsCeiling)
}

// HoldShareProblem says what is wrong with a hold share ("" when nothing): the one rule for
// Params.HoldShare and the gateway's holdShare.
func HoldShareProblem(share float64) string {
	if share > 0 && share <= MaxHoldShare {
		return ""
	}
	return fmt.Sprintf("is %v; use a share of maxStreamsPerPod in (0, %v], e.g. %v (the requests one model scaled to zero may hold in a pod)",
		share, MaxHoldShare, DefaultHoldShare)
}

// validateHolds: holding requests for models scaled to zero takes stream slots.
func (p Params) validateHolds(bad badFunc) {
	if !p.Holds() {
		return
	}
	if msg := HoldShareProblem(p.HoldShare); msg != "" {
		bad("hold share: %s", msg)
	}
	if _, total := HoldLimits(p.MaxStreams, p.HoldShare); total < 1 && p.MaxStreams >= 1 {
		bad("max streams %d leaves no slot to hold requests for models scaled to zero (holdSeconds is set): use 2 or more",
			p.MaxStreams)
	}
}

// validate: what is written into nginx.conf as it is must not change its meaning.
func (rt Runtime) validate(bad badFunc) {
	for i, m := range rt.LoadModules {
		if !path.IsAbs(m) || !safeConfigToken(m) {
			bad("runtime.loadModules[%d] %q must be an absolute path without spaces, quotes, ';', '$' or braces", i, m)
		}
	}
	for _, f := range []struct{ name, v string }{{"luaDir", rt.LuaDir}, {"prefix", rt.Prefix}} {
		if !path.IsAbs(f.v) || !safeConfigToken(f.v) {
			bad("runtime.%s %q must be an absolute path without spaces, quotes, ';', '$' or braces", f.name, f.v)
		}
	}
	for _, f := range []struct{ name, v string }{{"errorLog", rt.ErrorLog}, {"accessLog", rt.AccessLog}} {
		if f.v == "" || !safeConfigToken(f.v) {
			bad("runtime.%s %q must be a path (or stderr/off) without spaces, quotes, ';', '$' or braces", f.name, f.v)
		}
	}
	if rt.WorkerProcesses < 0 {
		bad("runtime.workerProcesses %d must be >= 0 (0 = auto)", rt.WorkerProcesses)
	}
	if rt.User != "" && !safeConfigToken(rt.User) {
		bad("runtime.user %q is not a valid user name", rt.User)
	}
}

// MaxServedNameBytes bounds a served model or adapter name (it is a Lua table key and a
// metrics label value).
const MaxServedNameBytes = 512

// servedNameProblem says what is wrong with a served model or adapter name ("" when nothing).
func ServedNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "contains control characters"
	case len(name) > MaxServedNameBytes:
		return fmt.Sprintf("is %d bytes long, at most %d allowed", len(name), MaxServedNameBytes)
	}
	return ""
}

func validateHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || len(validation.IsValidPortNum(n)) > 0 {
		return fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	if len(validation.IsValidIP(nil, host)) == 0 {
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return fmt.Errorf("host %q is neither an IP nor a DNS name: %s", host, strings.Join(msgs, "; "))
	}
	return nil
}

func validateListen(l string) error {
	if l == "" {
		return errors.New("empty; want a port (\"8080\") or host:port (\"127.0.0.1:18080\")")
	}
	if n, err := strconv.Atoi(l); err == nil {
		if len(validation.IsValidPortNum(n)) > 0 {
			return errors.New("port must be in 1-65535")
		}
		return nil
	}
	return validateHostPort(l)
}

// samePort reports whether two listen values name the same port ("8080" and
// "0.0.0.0:8080" do).
func samePort(a, b string) bool {
	port := func(l string) string {
		if _, p, err := net.SplitHostPort(l); err == nil {
			return p
		}
		return l
	}
	return port(a) == port(b)
}

// safeConfigToken reports whether s can be written bare (or inside double quotes) into
// nginx.conf without changing its meaning.
func safeConfigToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("\"'\\;${}#", r)
	})
}

// apiError is the OpenAI error object.
