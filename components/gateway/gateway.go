// Package gateway declares the OpenAI-compatible router in front of every
// model: OpenResty running the nginx.conf and Lua rendered by package
// nginx, a Service, a disruption budget, an autoscaler (CPU, and held requests
// when a model scales to zero), and the API keys' Secret.
package gateway

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

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

	// PreStopSleepSeconds is how long a terminating pod keeps accepting
	// before nginx stops listening: the time for its endpoint's removal to
	// reach kube-proxy and the ingress, so no new request is sent to a
	// socket that is about to close.
	PreStopSleepSeconds = 10
	// DrainMarginSeconds covers nginx's exit after its last stream and the
	// kubelet's own bookkeeping.
	DrainMarginSeconds = 5
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

// TerminationGracePeriodSeconds is how long a gateway pod may take to stop:
// the preStop sleep (endpoint removal reaches the ingress), then nginx's
// graceful quit, which waits for the longest generation (the proxy timeout,
// timeoutSeconds), then a margin. The kubelet kills whatever is left after
// it, so it must cover all three.
func TerminationGracePeriodSeconds(timeoutSeconds int) int {
	return PreStopSleepSeconds + timeoutSeconds + DrainMarginSeconds
}

// PreStopCommand is the container's preStop hook: keep serving while the
// endpoint removal propagates, then ask nginx for a graceful quit (stop
// listening, let every stream finish, exit), and wait for it, so the
// kubelet's stop signal finds nginx gone. Kubernetes' default stop signal,
// SIGTERM, is nginx's fast shutdown, which would cut every stream; the
// openresty images declare STOPSIGNAL SIGQUIT, but the hook does not rely
// on the image.
func PreStopCommand() []string {
	rt := nginx.ProductionRuntime(configDir)
	return []string{"/bin/sh", "-c", fmt.Sprintf("sleep %d; %s; while [ -e %s ]; do sleep 1; done",
		PreStopSleepSeconds, shellJoin(nginx.QuitCommand(nginx.OpenRestyBinary, rt)), shellQuote(nginx.PidFile(rt)))}
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

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
	// Plain, like Host: the edge's routes and Open WebUI's settings need it at plan time.
	URL string
	// Host is the Service's cluster DNS name, for the edge's routes.
	Host string
	// Selector is the pod selector of this gateway's pods.
	Selector map[string]string
	// URLOutput is URL as a Pulumi output (registered as "url").
	URLOutput pulumi.StringOutput `pulumi:"url"`
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

// MetricsServiceName is the name of the Service that exposes the metrics of the gateway
// whose objects are named name.
func MetricsServiceName(name string) string { return name + "-metrics" }

// Selector is the pod selector of the gateway whose objects are named name.
func Selector(name string) map[string]string { return kube.Selector(AppName, name) }

// ClientKeyKey is the key in KeysSecret holding the one API key that
// in-cluster clients present.
const ClientKeyKey = "client"

// New renders the router's config and declares its workload.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Gateway, error) {
	args.Config = args.Config.withDefaults()
	if err := argcheck.Required("Gateway", name, args); err != nil {
		return nil, err
	}
	maxBody, err := resource.ParseQuantity(args.Config.MaxBodySize)
	if err != nil {
		return nil, argcheck.Invalid("Gateway", name, "config.maxBodySize", "%q is not a Kubernetes quantity (like 16Mi)", args.Config.MaxBodySize)
	}
	if msg := ValidColdStartTimeout(args.Config.ColdStartTimeout); msg != "" {
		return nil, argcheck.Invalid("Gateway", name, "config.coldStartTimeout", "%s", msg)
	}
	if msg := ValidHoldShare(args.Config.HoldShare); msg != "" {
		return nil, argcheck.Invalid("Gateway", name, "config.holdShare", "%s", msg)
	}
	if args.KEDA != nil && args.KEDA.PrometheusURL == "" {
		return nil, argcheck.Invalid("Gateway", name, "keda.prometheusURL", "is empty; KEDA reads the held requests from that Prometheus")
	}
	params := nginx.Params{
		Routes:        holding(args.Routes, args.Config),
		Listen:        fmt.Sprint(ContainerPort),
		MetricsListen: fmt.Sprint(MetricsPort),
		MaxBodySize:   maxBody.Value(),
		ProxyTimeout:  time.Duration(args.Config.TimeoutSeconds) * time.Second,
		MaxStreams:    args.Config.MaxStreamsPerPod,
		Runtime:       nginx.ProductionRuntime(configDir),
		Routing:       args.Config.Routing,
		HoldShare:     args.Config.HoldShare,
	}
	params.Runtime.WorkerProcesses = workers
	if err := args.tenancy(&params); err != nil {
		return nil, argcheck.Invalid("Gateway", name, "limits", "%v", err)
	}
	files, err := nginx.Generate(params)
	if err != nil {
		return nil, err
	}

	objName := args.Name
	if objName == "" {
		objName = name
	}
	g := &Gateway{Host: kube.ServiceHost(objName, args.Namespace), Selector: Selector(objName)}
	g.URL = fmt.Sprintf("http://%s/v1", g.Host)
	if err := ctx.RegisterComponentResource(Type, name, g, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	labels := kube.Labels(AppName, objName, "gateway")
	selector := g.Selector

	cm, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Data:     pulumi.ToStringMap(files),
	}, parent)
	if err != nil {
		return nil, err
	}

	volumes, mounts, err := g.declareKeys(ctx, name, objName, args, labels, parent)
	if err != nil {
		return nil, err
	}

	// With an autoscaler, it owns spec.replicas: Pulumi sets it at creation
	// only, or every `up` would reset the autoscaler's choice.
	autoscaled := args.Config.MaxReplicas > args.Config.Replicas
	depOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.Upstreams)}
	if autoscaled {
		depOpts = append(depOpts, pulumi.IgnoreChanges([]string{"spec.replicas"}))
	}
	health := &corev1.HTTPGetActionArgs{Path: pulumi.String(nginx.HealthPath), Port: pulumi.String("http")}
	g.Deployment, err = appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(args.Config.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      pulumi.ToStringMap(labels),
					Annotations: pulumi.StringMap{ChecksumAnnotation: pulumi.String(nginx.Checksum(files))},
				},
				Spec: &corev1.PodSpecArgs{
					// nginx never calls the Kubernetes API: no token in the pod.
					AutomountServiceAccountToken: pulumi.Bool(false),
					// Streams may run for many minutes; let them finish.
					TerminationGracePeriodSeconds: pulumi.Int(TerminationGracePeriodSeconds(args.Config.TimeoutSeconds)),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot: pulumi.Bool(true),
						RunAsUser:    pulumi.Int(65534),
						RunAsGroup:   pulumi.Int(65534),
						SeccompProfile: &corev1.SeccompProfileArgs{
							Type: pulumi.String("RuntimeDefault"),
						},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("openresty"),
						Image:   pulumi.String(args.Config.Image),
						Command: pulumi.ToStringArray(nginx.ProductionCommand(configDir)),
						Ports: corev1.ContainerPortArray{
							&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(ContainerPort), Protocol: pulumi.String("TCP")},
							&corev1.ContainerPortArgs{Name: pulumi.String(MetricsPortName), ContainerPort: pulumi.Int(MetricsPort), Protocol: pulumi.String("TCP")},
						},
						Resources: &corev1.ResourceRequirementsArgs{
							// The autoscaler's utilisation is relative to the CPU
							// request; the workers may burst above it (no CPU limit).
							Requests: pulumi.StringMap{"cpu": pulumi.String(CPURequest), "memory": pulumi.String(MemoryRequest)},
							// What nginx holds at worst: every stream, the request
							// bodies' budget, shared memory (sizing.go).
							Limits: pulumi.StringMap{"memory": pulumi.String(
								resource.NewQuantity(MemoryLimit(params, workers), resource.BinarySI).String())},
						},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
						Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
							Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray(PreStopCommand())},
						}},
						ReadinessProbe: &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(2)},
						LivenessProbe:  &corev1.ProbeArgs{HttpGet: health, PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(3)},
						VolumeMounts: append(corev1.VolumeMountArray{
							&corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(configDir), ReadOnly: pulumi.Bool(true)},
							&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
						}, mounts...),
					}},
					Volumes: append(corev1.VolumeArray{
						// Mounted as a directory (no subPath) so updates reach the pod.
						&corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: cm.Metadata.Name()}},
						&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
					}, volumes...),
				},
			},
		},
	}, depOpts...)
	if err != nil {
		return nil, err
	}

	if autoscaled {
		if err := declareAutoscaler(ctx, name, objName, args, labels, parent); err != nil {
			return nil, err
		}
	}
	if msg := AutoscalerWarning(args); msg != "" {
		_ = ctx.Log.Warn("gateway: "+msg, &pulumi.LogArgs{Resource: g})
	}

	svc, err := kube.HTTPService(ctx, name, kube.Meta(objName, args.Namespace, labels), selector, Port, parent)
	if err != nil {
		return nil, err
	}
	g.ServiceName = svc.Metadata.Name().Elem()

	// The metrics get a Service of their own, so the public Service (which the edge routes to)
	// never carries the metrics port.
	g.MetricsServiceLabels = kube.Labels(AppName, objName, "gateway-metrics")
	g.MetricsService, err = corev1.NewService(ctx, name+"-metrics", &corev1.ServiceArgs{
		Metadata: kube.Meta(MetricsServiceName(objName), args.Namespace, g.MetricsServiceLabels),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: pulumi.ToStringMap(selector),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String(MetricsPortName), Port: pulumi.Int(MetricsPort),
				TargetPort: pulumi.String(MetricsPortName), AppProtocol: pulumi.String("http"),
			}},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	// maxUnavailable 1 holds for any replica count the autoscaler picks
	// (minAvailable 1 would let a node drain take all but one of the pods the
	// load had called for); with a single replica there is nothing to keep.
	if args.Config.Replicas > 1 {
		_, err = policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
			Metadata: kube.Meta(objName, args.Namespace, labels),
			Spec: &policyv1.PodDisruptionBudgetSpecArgs{
				MaxUnavailable: pulumi.Int(1),
				Selector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			},
		}, parent)
		if err != nil {
			return nil, err
		}
	}
	g.URLOutput = pulumi.String(g.URL).ToStringOutput()
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{
		"url":         g.URLOutput,
		"host":        pulumi.String(g.Host),
		"selector":    pulumi.ToStringMap(g.Selector),
		"serviceName": g.ServiceName,
	})
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:gateway:Gateway"

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
