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
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// HealthPath is the gateway-local health endpoint (never proxied, never needs an API key).
// Point readiness and liveness probes at it.
const HealthPath = "/healthz"

// File names in the map Render returns (and so keys of the ConfigMap).
const (
	ConfigFile = "nginx.conf"
	LuaFile    = "router.lua"
)

// OpenRestyBinary is the nginx binary of the openresty/openresty images.
const OpenRestyBinary = "/usr/local/openresty/bin/openresty"

// Debian module paths (packages libnginx-mod-http-ndk and libnginx-mod-http-lua).
const (
	DebianNDKModule = "/usr/lib/nginx/modules/ndk_http_module.so"
	DebianLuaModule = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
)

// Suggested defaults for callers (the gateway component owns the defaulting step; Render
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
	Name     string // served model name exactly as clients send it (may contain dots, slashes, etc.)
	Upstream string // "host:port" of the model's Service, e.g. "qwen3-0-6b.llm.svc.cluster.local:8000"
}

// Params is everything the rendered configuration depends on.
type Params struct {
	Routes []Route
	// Listen is the nginx listen directive value, e.g. "8080" (prod) or "127.0.0.1:18080" (tests).
	Listen string
	// MaxBodySize in bytes is client_max_body_size and (unless BodyBufferSize says otherwise)
	// client_body_buffer_size, so request bodies stay in memory.
	MaxBodySize int64
	// BodyBufferSize overrides client_body_buffer_size when > 0. Leave it 0 in production.
	// A smaller value makes nginx spill bigger bodies to a temp file under Runtime.Prefix; the
	// router reads that file too (tests use this to prove the fallback).
	BodyBufferSize int64
	// ProxyTimeout is proxy_read_timeout and proxy_send_timeout (time between two reads/writes
	// from/to the model server); generations stream for minutes, so >= 10m in production.
	ProxyTimeout time.Duration
	// APIKeysEnv, when non-empty, names the environment variable (nginx `env` directive) that
	// holds the comma-separated API keys (from a Kubernetes Secret). Requests to /v1 then need
	// "Authorization: Bearer <key>" or get 401 JSON. If the variable is empty or unset at
	// start, every /v1 request is refused (fail closed). Empty = no auth.
	APIKeysEnv string
	// MaxStreams is the number of concurrent /v1 requests (streamed or not) this nginx accepts,
	// across all its workers; the next one gets 503 server_overloaded with Retry-After, from
	// nginx itself. worker_connections and worker_rlimit_nofile are derived from it
	// (ConnectionBudget). Must be 1..MaxStreamsCeiling.
	MaxStreams int
	// Runtime is what differs between the OpenResty image and Debian's nginx in tests.
	Runtime Runtime
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

//go:embed nginx.conf.tmpl router.lua.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"lua": luaString,
}).ParseFS(templateFS, "nginx.conf.tmpl", "router.lua.tmpl"))

// Render returns file name -> content: ConfigFile and LuaFile.
func Render(p Params) (map[string]string, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	v, err := newView(p)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, 2)
	for name, tmpl := range map[string]string{ConfigFile: "nginx.conf.tmpl", LuaFile: "router.lua.tmpl"} {
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, tmpl, v); err != nil {
			return nil, fmt.Errorf("gateway: rendering %s: %w", name, err)
		}
		out[name] = b.String()
	}
	return out, nil
}

func (p Params) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("gateway: "+format, a...)) }
	if len(p.Routes) == 0 {
		bad("no routes: the gateway needs at least one model (Routes[0] is the default)")
	}
	seen := map[string]int{}
	for i, r := range p.Routes {
		switch {
		case r.Name == "":
			bad("routes[%d]: empty model name", i)
		case !utf8.ValidString(r.Name):
			bad("routes[%d]: model name %q is not valid UTF-8", i, r.Name)
		case strings.IndexFunc(r.Name, unicode.IsControl) >= 0:
			bad("routes[%d]: model name %q contains control characters", i, r.Name)
		case len(r.Name) > 512:
			bad("routes[%d]: model name is %d bytes long, at most 512 allowed", i, len(r.Name))
		}
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			bad("routes[%d]: duplicate model name %q (also routes[%d]); served names must be unique", i, r.Name, j)
		} else {
			seen[r.Name] = i
		}
		if r.Upstream == "" {
			bad("routes[%d] (%q): empty upstream; set it to the model Service's host:port", i, r.Name)
		} else if err := validateHostPort(r.Upstream); err != nil {
			bad("routes[%d] (%q): upstream %q: %v", i, r.Name, r.Upstream, err)
		}
	}
	if err := validateListen(p.Listen); err != nil {
		bad("listen %q: %v", p.Listen, err)
	}
	if p.MaxBodySize <= 0 {
		bad("max body size must be > 0 bytes (suggested %d)", DefaultMaxBodySize)
	}
	if p.BodyBufferSize < 0 || p.BodyBufferSize > p.MaxBodySize {
		bad("body buffer size %d must be between 0 (= max body size) and max body size %d", p.BodyBufferSize, p.MaxBodySize)
	}
	if p.ProxyTimeout < time.Millisecond {
		bad("proxy timeout %v must be at least 1ms (suggested %v; generations stream for minutes)", p.ProxyTimeout, DefaultProxyTimeout)
	}
	if p.MaxStreams < 1 || p.MaxStreams > MaxStreamsCeiling {
		bad("max streams %d must be between 1 and %d (concurrent requests one gateway accepts)", p.MaxStreams, MaxStreamsCeiling)
	}
	if p.APIKeysEnv != "" && !validEnvName(p.APIKeysEnv) {
		bad("API keys env %q is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)", p.APIKeysEnv)
	}
	rt := p.Runtime
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
	return errors.Join(errs...)
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

func validEnvName(s string) bool {
	for i, c := range s {
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return s != ""
}

// safeConfigToken reports whether s can be written bare (or inside double quotes) into
// nginx.conf without changing its meaning.
func safeConfigToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("\"'\\;${}#", r)
	})
}

// apiError is the OpenAI error object.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func ptr(s string) *string { return &s }

func errorJSON(e apiError) string {
	return marshal(map[string]apiError{"error": e})
}

func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only plain structs of strings and ints are marshalled
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// modelObject is one entry of GET /v1/models.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func newModelObject(name string) modelObject {
	return modelObject{ID: name, Object: "model", Created: 0, OwnedBy: "llm-platform"}
}

// modelsJSON is the body of GET /v1/models.
func modelsJSON(routes []Route) string {
	l := modelList{Object: "list", Data: []modelObject{}}
	for _, r := range routes {
		l.Data = append(l.Data, newModelObject(r.Name))
	}
	return marshal(l)
}

// modelPlaceholder stands for the requested model's name in the prerendered 404 message; the
// Lua router splits the JSON there and inserts the JSON-escaped name.
const modelPlaceholder = "@@MODEL@@"

// gatewayErrors are the error bodies the gateway produces itself, by key. The HTTP status of
// each is in errorStatus.
func gatewayErrors(p Params) map[string]string {
	names := make([]string, len(p.Routes))
	for i, r := range p.Routes {
		names[i] = r.Name
	}
	invalid := func(msg string, param, code *string) string {
		return errorJSON(apiError{Message: msg, Type: "invalid_request_error", Param: param, Code: code})
	}
	server := func(msg, code string) string {
		return errorJSON(apiError{Message: msg, Type: "server_error", Code: ptr(code)})
	}
	return map[string]string{
		"bad_json":    invalid("The request body is not valid JSON.", nil, ptr("invalid_json")),
		"not_object":  invalid("The request body must be a JSON object.", nil, ptr("invalid_json")),
		"model_type":  invalid("The 'model' field must be a string.", ptr("model"), ptr("invalid_type")),
		"model_empty": invalid("The 'model' field must not be empty.", ptr("model"), ptr("invalid_value")),
		"model_unknown": invalid(fmt.Sprintf("The model '%s' does not exist. Available models: %s.",
			modelPlaceholder, strings.Join(names, ", ")), ptr("model"), ptr("model_not_found")),
		"model_unknown_generic": invalid(fmt.Sprintf("The requested model does not exist. Available models: %s.",
			strings.Join(names, ", ")), ptr("model"), ptr("model_not_found")),
		"unauthorized": invalid("Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.",
			nil, ptr("invalid_api_key")),
		"method": invalid("Method not allowed; use GET.", nil, ptr("method_not_allowed")),
		"not_found": invalid(fmt.Sprintf("Not found. This gateway serves the OpenAI API under /v1/ and its health check at %s.",
			HealthPath), nil, ptr("not_found")),
		"bad_request": invalid("Malformed HTTP request.", nil, ptr("bad_request")),
		"too_large": invalid(fmt.Sprintf("The request body is larger than the gateway's limit of %d bytes.", p.MaxBodySize),
			nil, ptr("request_too_large")),
		"internal":    server("The gateway failed to handle the request.", "internal_error"),
		"bad_gateway": server("The model server is unreachable or closed the connection.", "bad_gateway"),
		"unavailable": server("The model server is unavailable.", "service_unavailable"),
		// Past MaxStreams. The type names the condition rather than the generic server_error,
		// so clients can tell "retry later" (with Retry-After) from a failure.
		"overloaded": errorJSON(apiError{
			Message: fmt.Sprintf("The gateway is at its limit of %d concurrent requests; retry after %d seconds.",
				p.MaxStreams, OverloadRetryAfter),
			Type: "server_overloaded", Code: ptr("server_overloaded"),
		}),
		"timeout": server(fmt.Sprintf("The model server did not respond within %s.", nginxDuration(p.ProxyTimeout)),
			"upstream_timeout"),
	}
}

// nginxErrorPages: status nginx itself may produce -> key in gatewayErrors. Each gets an
// `error_page <status> = @gw_<status>` named location answering the JSON body; responses from
// the model servers are never intercepted (proxy_intercept_errors stays off).
var nginxErrorPages = []struct {
	Status int
	Key    string
}{
	{400, "bad_request"},
	{413, "too_large"},
	{500, "internal"},
	{502, "bad_gateway"},
	{503, "unavailable"},
	{504, "timeout"},
}

// limitConnStatus is what limit_conn answers past MaxStreams (limit_conn_status).
const limitConnStatus = 503

func nginxDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// nginxQuote single-quotes s for nginx.conf. Text of `return` is a complex value, where '$'
// would start a variable: it must not occur (our prerendered bodies never contain one).
func nginxQuote(s string) (string, error) {
	if strings.ContainsRune(s, '$') {
		return "", fmt.Errorf("gateway: %q cannot be embedded in nginx.conf ('$')", s)
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'", nil
}

// luaString renders s as a Lua double-quoted string literal: '"' and '\' are escaped and every
// byte outside printable ASCII becomes a three-digit decimal escape, so any byte sequence
// (including "]]", quotes, backslashes, newlines) round-trips exactly.
func luaString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

type view struct {
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
	Errors         map[string]string // key -> JSON body (Lua uses them via the lua func)
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
	Overloaded        string // nginx-quoted 503 body past MaxStreams
	// ProxiedErrorPages are the error_page lines of the proxied location: the server's, except
	// that nginx's own 503 there can only be limit_conn's, so it answers server_overloaded.
	ProxiedErrorPages []errorPageView
}

type upstreamView struct{ Name, Addr string }

type routeView struct {
	Name, Upstream, Host, Object string
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
		BodyBuffer:   p.MaxBodySize,
		ProxyTimeout: nginxDuration(p.ProxyTimeout),
		DefaultName:  p.Routes[0].Name,
		ModelsJSON:   modelsJSON(p.Routes),
		Errors:       gatewayErrors(p),
	}
	if p.Runtime.WorkerProcesses > 0 {
		v.Workers = strconv.Itoa(p.Runtime.WorkerProcesses)
	}
	if p.BodyBufferSize > 0 {
		v.BodyBuffer = p.BodyBufferSize
	}
	v.ConnectTimeout = nginxDuration(min(p.ProxyTimeout, 10*time.Second))
	v.Keepalive = UpstreamKeepalive
	v.RetryAfter = OverloadRetryAfter
	v.LimitConnStatus = limitConnStatus
	// One upstream block per distinct address (models sharing a Service share its pool).
	upstreamOf := map[string]string{}
	for _, r := range p.Routes {
		name, ok := upstreamOf[r.Upstream]
		if !ok {
			name = fmt.Sprintf("gw_model_%d", len(v.Upstreams))
			upstreamOf[r.Upstream] = name
			v.Upstreams = append(v.Upstreams, upstreamView{Name: name, Addr: r.Upstream})
		}
		v.Routes = append(v.Routes, routeView{
			Name: r.Name, Upstream: name, Host: r.Upstream, Object: marshal(newModelObject(r.Name)),
		})
	}
	v.WorkerConnections, v.RlimitNofile = ConnectionBudget(p.MaxStreams, len(v.Upstreams))
	var found bool
	v.UnknownPrefix, v.UnknownSuffix, found = strings.Cut(v.Errors["model_unknown"], modelPlaceholder)
	if !found {
		return nil, errors.New("gateway: internal error: model placeholder lost in the 404 message")
	}
	var err error
	var qerr error
	for _, ep := range nginxErrorPages {
		var body string
		body, qerr = nginxQuote(v.Errors[ep.Key])
		err = errors.Join(err, qerr)
		loc := fmt.Sprintf("@gw_%d", ep.Status)
		v.ErrorPages = append(v.ErrorPages, errorPageView{Status: ep.Status, Body: body, Location: loc})
		if ep.Status == limitConnStatus {
			loc = "@gw_overloaded"
		}
		v.ProxiedErrorPages = append(v.ProxiedErrorPages, errorPageView{Status: ep.Status, Location: loc})
	}
	v.Overloaded, qerr = nginxQuote(v.Errors["overloaded"])
	err = errors.Join(err, qerr)
	v.NotFound, qerr = nginxQuote(v.Errors["not_found"])
	err = errors.Join(err, qerr)
	v.Health, qerr = nginxQuote(`{"status":"ok"}`)
	err = errors.Join(err, qerr)
	return v, err
}
