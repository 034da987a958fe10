// Package gateway declares the OpenAI-compatible router in front of every
// model: OpenResty running the nginx.conf and Lua rendered by package
// nginx, a Service, a disruption budget, an autoscaler (CPU, and held requests
// when a model scales to zero), and the API keys' Secret.
package gateway

import (
	"errors"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/argcheck"
	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
)

const (
	// Type is the Gateway component's type token.
	Type = "llm-platform:index:Gateway"
	// DefaultName is the object name the platform's stack gives its gateway (Args.Name).
	DefaultName = "llm-gateway"
	// AppName is the app.kubernetes.io/name label of every gateway pod.
	AppName = "llm-gateway"
	// Port is the Service port; the container listens on ContainerPort.
	Port = 80
	// ContainerPort is where the container listens.
	ContainerPort = 8080
	// MetricsPort is the container's and the metrics Service's port for /metrics (Prometheus
	// text format, no API key). It is not on the public Service: only the metrics Service
	// (MetricsServiceName) exposes it, and the NetworkPolicies admit only the monitoring
	// namespace to it.
	MetricsPort = 9145
	// MetricsPortName names MetricsPort on the container and the metrics Service (the
	// ServiceMonitor's endpoint port).
	MetricsPortName = "metrics"
	configDir       = "/etc/llm-gateway"
	// keysDir holds the keys Secret's files: the API keys (KeysFileKey) and the limits' Redis
	// password (RedisPasswordKey).
	keysDir = "/etc/llm-gateway-keys"
	// ChecksumAnnotation carries the digest of the rendered config, so any
	// change of the model list or limits rolls the pods (the ConfigMap is
	// mounted as a directory, but nginx reads it only at start).
	ChecksumAnnotation = "llm-platform/config-checksum"
	// workers is set explicitly: nginx's "auto" counts the node's CPUs, not
	// the pod's, and a GPU node has dozens. Two, so one busy worker (a burst
	// of large request bodies to scan for their model) does not stall every
	// stream.
	workers = 2

	// CPUTargetUtilization is the autoscaler's target, in percent of the
	// CPU request (CPURequest, 500m): 0.4 cores. nginx spends 5-10 µs of CPU
	// per streamed event (measured), so that is 1,300-2,700 streams at 30
	// tokens/s, 33-67% of the default stream limit: pods are added before
	// the limit refuses anyone (docs/gateway.md, "Capacity").
	CPUTargetUtilization = 80
	// scaleDownPodsPerMinute: every removed pod drains for up to
	// timeoutSeconds, so the autoscaler removes them one at a time, after
	// scaleDownStabilizationSeconds of lower demand.
	scaleDownPodsPerMinute        = 1
	scaleDownStabilizationSeconds = 300
)

// Args are the gateway's inputs.
type Args struct {
	// Name is the Kubernetes name of the gateway's objects (Deployment, Service, ConfigMap,
	// keys Secret, autoscaler, budget); empty means the component's name. Plain: object
	// names and the in-cluster URL are fixed at plan time.
	Name string `pulumi:"name,optional"`
	// Config tunes the router (plain: it is rendered into nginx.conf at plan time).
	Config Config `pulumi:"config"`
	// Namespace holds the objects (plain: part of the in-cluster URL).
	Namespace string `pulumi:"namespace"`
	// Routes are the served models; Routes[0] is the default model. A route with Endpoints (the
	// model's headless Service) is balanced per request over the model's ready pods by
	// Config.Routing; the pods find the nameservers in /etc/resolv.conf. Plain: rendered into
	// the router's config at plan time.
	Routes []nginx.Route `pulumi:"routes"`
	// Upstreams are the models' Services (ClusterIP and headless). nginx resolves upstream names
	// once at start, so the pods start only after the Services exist.
	Upstreams []pulumi.Resource `pulumi:"upstreams,optional"`
	// APIKeys is a secret, comma-separated list of accepted keys (the tenant "default"); nil
	// and no TenantKeys turns authentication off.
	APIKeys pulumi.StringInput `pulumi:"apiKeys,optional"`
	// TenantKeys is a secret JSON object {"<tenant>": ["<key>", ...]}: each tenant's keys.
	TenantKeys pulumi.StringInput `pulumi:"tenantKeys,optional"`
	// ClientTenant, when set with keys, is the tenant of in-cluster clients (Open WebUI): a key
	// is generated for it, kept, and published in ClientKeySecret.
	ClientTenant string `pulumi:"clientTenant,optional"`
	// Tenants are the tenants' policies (plain: rendered): models, limits, budgets.
	Tenants []nginx.Tenant `pulumi:"tenants,optional"`
	// Prices per million tokens by model (plain: rendered as a gauge for the cost queries).
	Prices []nginx.Price `pulumi:"prices,optional"`
	// Limits is the Redis the tenants' limits are counted in; required when a tenant has one.
	Limits *Limits `pulumi:"limits,optional"`
	// KEDA, when set and some route holds requests (a model scaled to zero), makes the
	// autoscaler a KEDA ScaledObject that adds pods for held requests as well as for CPU
	// (autoscaler.go); otherwise it is a CPU HorizontalPodAutoscaler.
	KEDA *KEDA `pulumi:"keda,optional"`
}

// Gateway is the deployed router.
type Gateway struct {
	pulumi.ResourceState

	// URL is the in-cluster OpenAI base URL ("http://<name>.<ns>.svc.cluster.local/v1").
	URL pulumi.StringOutput `pulumi:"url"`
	// PlainURL is URL as a plain string, known at plan time like Host: the edge's routes and
	// Open WebUI's settings need it then.
	PlainURL string
	// Host is the Service's cluster DNS name, for the edge's routes.
	Host string
	// Selector is the pod selector of this gateway's pods.
	Selector map[string]string
	// HoldSeconds is, by served name, how long the requests of each route that holds wait for
	// a first replica: the route's HoldSeconds, or config.coldStartTimeout (hold.go). Plain:
	// the models' no-replica alerts wait as long.
	HoldSeconds map[string]int
	// ServiceName is the gateway's Service name.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// KeysSecret holds the API keys file (and the Redis password); nil without keys.
	KeysSecret *corev1.Secret
	// ClientKeySecret holds the in-cluster clients' key under ClientKeyKey; nil without keys
	// or Args.ClientTenant.
	ClientKeySecret *corev1.Secret
	// Deployment runs the gateway's pods.
	Deployment *appsv1.Deployment
	// MetricsService exposes only MetricsPort (named MetricsPortName), for a ServiceMonitor.
	MetricsService *corev1.Service
	// MetricsServiceLabels are the metrics Service's labels (a ServiceMonitor selects on them).
	MetricsServiceLabels map[string]string
}

// Selector is the pod selector of the gateway whose objects are named name.
func Selector(name string) map[string]string { return kube.Selector(AppName, name) }

// ClientKeyKey is the key in KeysSecret holding the one API key that
// in-cluster clients present.
const ClientKeyKey = "client"

// New renders the router's config and declares its workload.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Gateway, error) {
	args.Config = args.Config.withDefaults()
	if err := args.validate(name); err != nil {
		return nil, err
	}
	params, err := args.params(name)
	if err != nil {
		return nil, err
	}
	files, err := args.renderFiles(params)
	if err != nil {
		return nil, err
	}
	objName := args.objectName(name)
	g, err := register(ctx, name, objName, args, params.Routes, opts)
	if err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	labels := kube.Labels(AppName, objName, "gateway")

	w := workload{params: params, files: files}
	if w.config, err = declareConfigMap(ctx, name, objName, args, labels, files, parent); err != nil {
		return nil, err
	}
	if w.keyVolumes, w.keyMounts, err = g.declareKeys(ctx, name, objName, args, labels, parent); err != nil {
		return nil, err
	}
	if g.Deployment, err = declareDeployment(ctx, name, objName, args, labels, parent, w); err != nil {
		return nil, err
	}
	if autoscaled(args.Config) {
		if err := declareAutoscaler(ctx, name, objName, args, labels, parent); err != nil {
			return nil, err
		}
	}
	if msg := AutoscalerWarning(args); msg != "" {
		_ = ctx.Log.Warn("gateway: "+msg, &pulumi.LogArgs{Resource: g})
	}
	if err := g.declareServices(ctx, name, objName, args, labels, parent); err != nil {
		return nil, err
	}
	if err := declareBudget(ctx, name, objName, args, labels, parent); err != nil {
		return nil, err
	}
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{
		"url":         g.URL,
		"host":        pulumi.String(g.Host),
		"selector":    pulumi.ToStringMap(g.Selector),
		"serviceName": g.ServiceName,
	})
}

// validate reports unset required inputs and every config value the router cannot use
// (Config.Validate, the stack config's rules too), by input name (the component package reports
// the same).
func (a Args) validate(name string) error {
	if err := argcheck.Required("Gateway", name, a); err != nil {
		return err
	}
	if errs := a.Config.Validate("config."); len(errs) > 0 {
		return errors.Join(argcheck.Within("Gateway", name, errs)...)
	}
	if a.KEDA != nil && a.KEDA.PrometheusURL == "" {
		return argcheck.Invalid("Gateway", name, "keda.prometheusURL", "is empty; KEDA reads the held requests from that Prometheus")
	}
	return nil
}

// objectName is the Kubernetes name of the gateway's objects: Args.Name, or the component's.
func (a Args) objectName(name string) string {
	if a.Name != "" {
		return a.Name
	}
	return name
}

// register registers the component with what is known at plan time: the Service's host and
// URL, the pod selector, and the holds of the routes as rendered.
func register(ctx *pulumi.Context, name, objName string, args Args, routes []nginx.Route, opts []pulumi.ResourceOption) (*Gateway, error) {
	g := &Gateway{Host: kube.ServiceHost(objName, args.Namespace), Selector: Selector(objName), HoldSeconds: holdSeconds(routes)}
	g.PlainURL = fmt.Sprintf("http://%s/v1", g.Host)
	if err := ctx.RegisterComponentResource(Type, name, g, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	// After registering: registration replaces every pulumi-tagged output field.
	g.URL = pulumi.String(g.PlainURL).ToStringOutput()
	return g, nil
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:gateway:Gateway"
