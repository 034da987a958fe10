// Package nginx renders the OpenAI-compatible routing gateway: an nginx.conf and the Lua
// router it runs (OpenResty in production, Debian's nginx + lua module in tests), from the
// list of served models.
//
// Everything lives in real files next to this one (nginx.conf.tmpl, router.lua.tmpl),
// embedded with go:embed and rendered with text/template. All JSON the gateway answers with
// (the /v1/models list, every error body) is rendered here with encoding/json, so the Lua code
// only decodes JSON (with cjson) and never encodes it.
//
// The rendered files go into one ConfigMap mounted as a directory at Runtime.LuaDir (not via
// subPath, so a change is visible; the Deployment should also carry Checksum(files) as a pod
// annotation so any change rolls the pods). Production starts nginx with Command(OpenRestyBinary,
// ProductionRuntime(dir)), i.e.
//
//	/usr/local/openresty/bin/openresty -p /tmp/ -c <LuaDir>/nginx.conf -e /dev/stderr -g 'daemon off;'
//
// Production and tests differ only by Runtime (module load lines, paths, log targets) and by the
// Params values (addresses, limits).
package nginx

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// HealthPath is the gateway-local health endpoint (never proxied, never needs an API key).
// Point readiness and liveness probes at it.
const HealthPath = "/healthz"

// File names in the map Generate returns (and so keys of the ConfigMap).
const (
	ConfigFile = "nginx.conf"
	LuaFile    = "router.lua"
	// MetricsLuaFile is the metrics module (metrics.lua.tmpl): counting and the /metrics page.
	MetricsLuaFile = "metrics.lua"
	// The replica balancer's modules (routing across a model's replicas, routing.go).
	DNSFile       = "dns.lua"
	EndpointsFile = "endpoints.lua"
	LoadFile      = "load.lua"
	PrefixFile    = "prefix.lua"
	BalancerFile  = "balancer.lua"
	// The body's modules: where it is read (bodies.lua) and its one-pass scan (scan.lua).
	BodiesFile = "bodies.lua"
	ScanFile   = "scan.lua"
	// LedgerFile keeps each worker's share of the counts that go up and down (ledger.lua.tmpl).
	LedgerFile = "ledger.lua"
	// FetchFile is the gateway's own HTTP/1.1 client (replica /metrics, Service /health).
	FetchFile = "fetch.lua"
	// Tenants (tenants.go): key -> tenant and policies, the Redis client, the limits, the usage.
	TenantsFile = "tenants.lua"
	RespFile    = "resp.lua"
	LimitsFile  = "limits.lua"
	UsageFile   = "usage.lua"
	// RedisCAFile holds Limits.TLS.CACert, the CAs Redis's certificate is verified against;
	// generated only when that is set.
	RedisCAFile = "redis-ca.pem"
)

// OpenRestyBinary is the nginx binary of the openresty/openresty images.
const OpenRestyBinary = "/usr/local/openresty/bin/openresty"

// Debian module paths (packages libnginx-mod-http-ndk and libnginx-mod-http-lua).
const (
	DebianNDKModule = "/usr/lib/nginx/modules/ndk_http_module.so"
	DebianLuaModule = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
)

// Suggested defaults for callers (the gateway component owns the defaulting step; Generate
// itself requires explicit values).
const (
	DefaultMaxBodySize  int64         = 16 << 20
	DefaultProxyTimeout time.Duration = 15 * time.Minute
)

// Capacity. MaxStreams is the one knob; the connection and file budget nginx needs to honour it
// (and to still answer the request past it with a 503) is derived here, see ConnectionBudget.
const (
	// MaxStreamsCeiling bounds MaxStreams: every admitted stream holds an upstream connection,
	// and all of a model's connections go to one Service address (ClusterIP:port), so they share
	// the pod's ~28,000 ephemeral ports (net.ipv4.ip_local_port_range 32768-60999).
	MaxStreamsCeiling = 20000
	// OverloadRetryAfter is the Retry-After (seconds) of the 503 past the limit: long enough not
	// to hammer a full pod, short enough that a retry lands on a pod the Service (or the HPA) found.
	OverloadRetryAfter = 2
	// UpstreamKeepalive is the idle connections each worker keeps per model Service (keepalive).
	UpstreamKeepalive = 128

	// connsPerStream: an admitted request holds its client connection and one to the model.
	connsPerStream = 2
	// overflowConnsPerStream: room for one more client connection per admitted stream, for the
	// requests past the limit while nginx answers them 503 (and idle keep-alive connections), so
	// the refusal is an HTTP answer, never a connection nginx cannot accept (a reset).
	overflowConnsPerStream = 1
	// fixedConnHeadroom: listening sockets, health probes, metrics scrapes, /v1/models.
	fixedConnHeadroom = 256
	// fileHeadroom: descriptors that are not connections (logs, spilled bodies, Lua files).
	fileHeadroom = 256
)

// ConnectionBudget derives nginx's per-worker worker_connections and worker_rlimit_nofile
// from maxStreams (the concurrent requests one pod accepts) and the number of distinct model
// Services (upstream blocks, each with an idle keepalive pool per worker).
//
// The budget is not divided across workers: nginx does not spread connections evenly over its
// workers (accept_mutex is off and EPOLLEXCLUSIVE wakes whichever worker waits), so any single
// worker may end up holding most of the pod's streams, and a worker out of connection slots
// drops new connections without an answer. A slot costs a few hundred bytes per worker, so
// sizing every worker for the whole pod is cheap; the pod-wide limit itself is enforced across
// workers in shared memory (limit_conn).
func ConnectionBudget(maxStreams, upstreams int) (workerConnections, rlimitNofile int) {
	workerConnections = maxStreams*(connsPerStream+overflowConnsPerStream) +
		upstreams*UpstreamKeepalive + fixedConnHeadroom
	return workerConnections, workerConnections + fileHeadroom
}

// Route is one model the gateway serves. Routes[0] is the default model.
type Route struct {
	Name     string `pulumi:"name"`     // served model name exactly as clients send it (may contain dots, slashes, etc.)
	Upstream string `pulumi:"upstream"` // "host:port" of the model's Service, e.g. "qwen3-0-6b.llm.svc.cluster.local:8000"
	// Endpoints, when set, is "dns-name:port" of the model's headless Service, e.g.
	// "qwen3-0-6b-headless.llm.svc.cluster.local:8000": the gateway resolves the name's A
	// records itself (the model's ready replicas) and picks the replica of every request by
	// Params.Routing. Upstream then serves only while the name has never resolved (cluster DNS
	// unreachable since the gateway started). Empty: Upstream alone (kube-proxy's choice).
	Endpoints string `pulumi:"endpoints,optional"`
	// Adapters are served names of LoRA adapters on this model (vLLM --lora-modules): a
	// request naming one goes to this route's replicas, /v1/models lists it with "parent" set
	// to Name, and with Endpoints the balancer prefers replicas that served it recently (they
	// hold it in GPU memory). Unique across all routes' names and adapters.
	Adapters []string `pulumi:"adapters,optional"`
	// HoldSeconds, when > 0, holds a request for this model while it has no ready replica (a
	// model scaled to zero that is starting) for up to that many seconds, then proxies it to
	// the first replica that appears; past it, 503 model_unavailable with Retry-After. The
	// request opens no upstream connection while held and a client that goes away is
	// released. Needs Endpoints. 0: no replica means 503 at once.
	HoldSeconds int `pulumi:"holdSeconds,optional"`
}

// Params is everything the rendered configuration depends on.
type Params struct {
	Routes []Route
	// Listen is the nginx listen directive value, e.g. "8080" (prod) or "127.0.0.1:18080" (tests).
	Listen string
	// MetricsListen, when set, is a second listener serving only MetricsPath (Prometheus text
	// format, no API key), e.g. "9145" (prod) or "127.0.0.1:19145" (tests). It must differ from
	// Listen; the public listener never serves the metrics. Empty: the gateway still counts,
	// but nothing serves the page.
	MetricsListen string
	// MaxBodySize in bytes is client_max_body_size. Bodies up to about 1 MiB stay in memory,
	// larger ones go to a temp file (see BodyBuffer).
	MaxBodySize int64
	// BodyMemory bounds the memory request bodies hold beyond StreamBodyAllowance each, across
	// the pod (see BodyBudget, BodyCost); past it requests get 503 server_overloaded before their
	// body is read. 0: DefaultLargeBodies maximum-size bodies. At least BodyCost(MaxBodySize).
	BodyMemory int64
	// BodyBufferSize overrides client_body_buffer_size (BodyBuffer) when > 0. Leave it 0 in
	// production. nginx writes a body above 1.25 times it to a temp file under Runtime.Prefix,
	// which the router maps (tests set it small to send small bodies that way).
	BodyBufferSize int64
	// ProxyTimeout is proxy_read_timeout and proxy_send_timeout (time between two reads/writes
	// from/to the model server); generations stream for minutes, so >= 10m in production.
	ProxyTimeout time.Duration
	// KeysFile, when non-empty, is the path of the API keys (a mounted Kubernetes Secret):
	// a JSON object {"<tenant>": ["<key>", ...]}. Requests to /v1 then need
	// "Authorization: Bearer <key>" or get 401 JSON; the key names the tenant. A file that is
	// missing, empty or unreadable at start refuses every /v1 request (fail closed). Every
	// worker reads it again every KeysReload, so rotated keys need no restart. Empty = no auth.
	KeysFile string
	// Tenants are the teams with a policy: allowed models, limits, budgets (tenants.go). A
	// tenant that has keys but no entry here may use every model without limits.
	Tenants []Tenant
	// Limits is the Redis the tenants' limits are counted in; needed when a tenant has one.
	Limits Limits
	// Prices turn token counts into cost (a gauge per model for the queries).
	Prices []Price
	// MaxStreams is the number of concurrent /v1 requests (streamed or not) this nginx accepts,
	// across all its workers; the next one gets 503 server_overloaded with Retry-After, from
	// nginx itself. worker_connections and worker_rlimit_nofile are derived from it
	// (ConnectionBudget). Must be 1..MaxStreamsCeiling.
	MaxStreams int
	// Runtime is what differs between the OpenResty image and Debian's nginx in tests.
	Runtime Runtime
	// Routing picks a replica for each request of the routes with Endpoints (see
	// DefaultRouting); ignored, and may be zero, when no route has Endpoints.
	Routing Routing
	// HoldShare bounds the requests held for models scaled to zero (Route.HoldSeconds): each
	// model may hold HoldShare x MaxStreams at most in this pod (at least 1), and all models
	// together half of MaxStreams (HoldLimits); past either, 503 model_unavailable at once.
	// (0, MaxHoldShare]; DefaultHoldShare is suggested. Ignored, and may be 0, when no route
	// holds.
	HoldShare float64

	// dnsStaleAfter replaces DNSStaleAfter when set (tests: minutes are too long to wait).
	dnsStaleAfter time.Duration
	// limitWindow replaces the minute of the per-minute limits when set (tests only: the
	// acceptance's 2,000 requests at 600 per window would take a minute otherwise).
	limitWindow time.Duration
}

// Holds reports whether any route holds requests for a model scaled to zero.
func (p Params) Holds() bool {
	for _, r := range p.Routes {
		if r.HoldSeconds > 0 {
			return true
		}
	}
	return false
}

// HasEndpoints reports whether any route balances over replica endpoints.
func (p Params) HasEndpoints() bool {
	for _, r := range p.Routes {
		if r.Endpoints != "" {
			return true
		}
	}
	return false
}

// Runtime is what differs between the production image and a local nginx.
type Runtime struct {
	// LoadModules are absolute .so paths for load_module (Debian: DebianNDKModule,
	// DebianLuaModule); empty for OpenResty, which has the Lua module built in.
	LoadModules []string
	// LuaDir is the directory where the rendered files live (prod: the ConfigMap mount).
	LuaDir string
	// Prefix holds pid file and temp paths; must be writable (prod: /tmp, an emptyDir, so the
	// root filesystem can stay read-only).
	Prefix string
	// ErrorLog and AccessLog are log targets (prod: /dev/stderr, /dev/stdout).
	// AccessLog "off" disables the access log.
	ErrorLog, AccessLog string
	// WorkerProcesses is worker_processes; 0 means "auto" (one per visible CPU: nginx does not
	// read cgroup limits, so set it to the pod's CPU limit on big nodes).
	WorkerProcesses int
	// User, when set, renders the `user` directive (only meaningful when the master runs as
	// root; tests running as root use "root" so workers can use the test's temp dir).
	User string
}

// ProductionRuntime is the Runtime for the openresty/openresty image with the rendered files
// mounted at luaDir.
func ProductionRuntime(luaDir string) Runtime {
	return Runtime{
		LuaDir:    luaDir,
		Prefix:    "/tmp",
		ErrorLog:  "/dev/stderr",
		AccessLog: "/dev/stdout",
	}
}

// DebianRuntime is the Runtime for Debian's nginx with libnginx-mod-http-lua, with every file
// (rendered config, temp paths, logs) in dir. Tests and the benchmark use it.
func DebianRuntime(dir string) Runtime {
	return Runtime{
		LoadModules: []string{DebianNDKModule, DebianLuaModule},
		LuaDir:      dir,
		Prefix:      dir,
		ErrorLog:    path.Join(dir, "error.log"),
		AccessLog:   path.Join(dir, "access.log"),
	}
}

// Command is the argv that starts nginx (binary) in the foreground on the rendered config.
func Command(binary string, rt Runtime) []string {
	return append(baseArgs(binary, rt), "-g", "daemon off;")
}

// ProductionCommand is Command(OpenRestyBinary, ProductionRuntime(luaDir)).
func ProductionCommand(luaDir string) []string {
	return Command(OpenRestyBinary, ProductionRuntime(luaDir))
}

// QuitCommand is the argv that asks the nginx started by Command(binary, rt) to shut down
// gracefully ("-s quit", i.e. SIGQUIT to the master named by the pid file under rt.Prefix):
// it stops accepting, closes idle keep-alive connections and exits once every in-flight
// request has finished. (SIGTERM, Kubernetes' default stop signal, is nginx's fast shutdown,
// which cuts streams.) The same -p/-c flags find the same pid file.
func QuitCommand(binary string, rt Runtime) []string {
	return append(baseArgs(binary, rt), "-s", "quit")
}

// PidFile is where nginx started with rt writes the master's pid (the `pid` directive).
func PidFile(rt Runtime) string { return path.Join(rt.Prefix, "nginx.pid") }

func baseArgs(binary string, rt Runtime) []string {
	return []string{
		binary,
		"-p", strings.TrimSuffix(rt.Prefix, "/") + "/",
		"-c", path.Join(rt.LuaDir, ConfigFile),
		"-e", rt.ErrorLog,
	}
}

// Checksum is a stable digest of the rendered files, for a pod-template annotation.
func Checksum(files map[string]string) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s%d:%s", len(n), n, len(files[n]), files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
