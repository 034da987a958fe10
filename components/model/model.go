// Package model declares everything that serves one model with vLLM: a
// StatefulSet with one Hugging Face cache claim per replica, a ClusterIP
// Service, a headless Service whose DNS A records are the ready pods (the
// gateway balances over them itself), and a PodDisruptionBudget when there
// is more than one replica.
//
// Why a StatefulSet: the weights cache must persist across restarts, and the
// storage classes every cluster has (GKE pd, EKS gp3) are ReadWriteOnce. One
// shared RWO claim with replicas > 1 fails with Multi-Attach errors; one
// claim per replica (volumeClaimTemplates) works on any cluster, at the cost
// of each replica downloading the weights once. A StatefulSet's rolling
// update also replaces pods one at a time without surging, so a rollout
// never waits for a GPU that is not there.
package model

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/argcheck"
	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
)

const (
	// Port is where vLLM serves the OpenAI API, /health and /metrics.
	Port = 8000
	// PortName names Port on the container (probes and the metrics PodMonitor use it).
	PortName = "http"
	// GPUResource is the extended resource the NVIDIA device plugin offers.
	GPUResource = "nvidia.com/gpu"
	// CacheMount holds HF_HOME on the per-replica claim.
	CacheMount = "/cache"
	hfHome     = CacheMount + "/huggingface"
	// HFTokenKey is the key of the token in the HF token Secret.
	HFTokenKey = "token"

	probePeriod = 10
)

// Type is the Model component's type token.
const Type = "llm-platform:index:Model"

// AppName is the app.kubernetes.io/name label of every model pod.
const AppName = "vllm"

// HeadlessSuffix makes the headless Service's name from the model's object name.
const HeadlessSuffix = "-headless"

// HeadlessName is the name of the headless Service of the model whose objects are named name.
func HeadlessName(name string) string { return name + HeadlessSuffix }

// Args are the inputs of one model.
type Args struct {
	// Name is the Kubernetes name of the model's objects (StatefulSet, Service, budget) and
	// its Service's DNS name; empty means the component's name. Plain: object names and the
	// upstream address the gateway renders into its config are fixed at plan time.
	Name string `pulumi:"name,optional"`
	// Spec is what to serve and how (plain: it shapes the plan).
	Spec Spec `pulumi:"spec"`
	// Image is the vLLM image for GPU models; CPUImage for CPU models (gpuRequestCount 0).
	Image    pulumi.StringInput `pulumi:"image"`
	CPUImage pulumi.StringInput `pulumi:"cpuImage"`
	// Namespace holds the objects. Plain: it is part of Upstream, which the gateway renders
	// into its config at plan time.
	Namespace string `pulumi:"namespace"`
	// NodeSelector places GPU models on GPU nodes (from the cluster, see cluster.Cluster).
	NodeSelector pulumi.StringMapInput `pulumi:"nodeSelector,optional"`
	// HFTokenSecret names the Secret holding the Hugging Face token under HFTokenKey; nil
	// when there is none.
	HFTokenSecret pulumi.StringInput `pulumi:"hfTokenSecret,optional"`
	// ObjectStore lets the pods read the model's s3:// and gs:// sources (spec.weights.uri,
	// adapters); unset, they run as spec.weights.serviceAccount, or the namespace's default
	// ServiceAccount.
	ObjectStore *ObjectStoreAccess `pulumi:"objectStore,optional"`
}

// Model is one served model.
type Model struct {
	pulumi.ResourceState

	// ServedName is the name clients send as "model". Plain, like Upstream: the gateway
	// renders its routes at plan time.
	ServedName string
	// Adapters are the served names of the model's LoRA adapters, which the gateway routes to
	// this model's replicas. Plain, like ServedName.
	Adapters []string
	// Upstream is the Service's in-cluster host:port, for the gateway.
	Upstream string
	// Endpoints is the headless Service's in-cluster host:port
	// ("<name>-headless.<ns>.svc.cluster.local:8000"): its DNS A records are the addresses of
	// the model's ready pods, so the gateway can pick the replica for each request. Plain, like
	// Upstream.
	Endpoints string
	// Selector is the pod selector (labels) of this model's pods, for policies and monitors.
	Selector map[string]string
	// URL is the in-cluster base URL of the OpenAI API.
	URL pulumi.StringOutput `pulumi:"url"`
	// ServiceName is the model's Service name.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// Service is the model's ClusterIP Service. Depending on it waits only
	// for the Service to exist (its DNS name), not for the model to be ready.
	Service *corev1.Service
	// Headless is the model's headless Service (no cluster IP, ready pods only).
	Headless *corev1.Service
	// StatefulSet runs the model's pods.
	StatefulSet *appsv1.StatefulSet
}

// Selector is the pod selector of the model whose objects are named name.
func Selector(name string) map[string]string { return kube.Selector(AppName, name) }

// AllModelsSelector matches the pods of every model (any instance).
func AllModelsSelector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": AppName, "app.kubernetes.io/component": "model"}
}

// New declares the workload, Services and disruption budget of one model.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Model, error) {
	if err := args.validate(name); err != nil {
		return nil, err
	}
	objName := args.objectName(name)
	m, err := register(ctx, name, objName, args, opts)
	if err != nil {
		return nil, err
	}
	parent := pulumi.Parent(m)
	labels := kube.Labels(AppName, objName, "model")
	if err := m.declareServices(ctx, name, objName, args.Namespace, labels, parent); err != nil {
		return nil, err
	}
	if m.StatefulSet, err = declareStatefulSet(ctx, name, objName, args, labels, parent); err != nil {
		return nil, err
	}
	if err := declareBudget(ctx, name, objName, args, labels, parent); err != nil {
		return nil, err
	}
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{
		"servedName":  pulumi.String(m.ServedName),
		"upstream":    pulumi.String(m.Upstream),
		"endpoints":   pulumi.String(m.Endpoints),
		"selector":    pulumi.ToStringMap(m.Selector),
		"url":         m.URL,
		"serviceName": m.ServiceName,
	})
}

// objectName is the Kubernetes name of the model's objects: Args.Name, or the component's.
func (a Args) objectName(name string) string {
	if a.Name != "" {
		return a.Name
	}
	return name
}

// register registers the component with what is known at plan time: the served names, the
// Services' addresses and URL, and the pod selector.
func register(ctx *pulumi.Context, name, objName string, args Args, opts []pulumi.ResourceOption) (*Model, error) {
	m := &Model{
		ServedName: args.Spec.ModelName,
		Adapters:   args.Spec.AdapterNames(),
		Upstream:   fmt.Sprintf("%s:%d", kube.ServiceHost(objName, args.Namespace), Port),
		Endpoints:  fmt.Sprintf("%s:%d", kube.ServiceHost(HeadlessName(objName), args.Namespace), Port),
		Selector:   Selector(objName),
	}
	if err := ctx.RegisterComponentResource(Type, name, m, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	// After registering: registration replaces every pulumi-tagged output field.
	m.URL = pulumi.Sprintf("http://%s/v1", m.Upstream)
	return m, nil
}

// declareBudget declares the pods' disruption budget when the model may run more than one
// replica: one down at a time.
func declareBudget(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string, parent pulumi.ResourceOption) error {
	if args.Spec.PeakReplicas() <= 1 {
		return nil
	}
	_, err := kube.OneAtATime(ctx, name, kube.Meta(objName, args.Namespace, labels), Selector(objName), parent)
	return err
}

// validate reports unset required inputs and every problem of the spec (Spec.Validate, the
// stack config's rules too), by input name (the component package reports the same).
func (a Args) validate(name string) error {
	if err := argcheck.Required("Model", name, a); err != nil {
		return err
	}
	return errors.Join(argcheck.Within("Model", name, a.Spec.Validate("spec."))...)
}

func podSpec(args Args) *corev1.PodSpecArgs {
	s := args.Spec
	gpu := s.GPURequestCount > 0
	image := args.CPUImage
	requests := pulumi.StringMap{"cpu": pulumi.String(s.CPU), "memory": pulumi.String(s.Memory)}
	memLimit := s.MemoryLimit()
	limits := pulumi.StringMap{"memory": pulumi.String(memLimit.String())}
	drain := Drain(s)
	pod := &corev1.PodSpecArgs{
		ServiceAccountName: serviceAccount(args),
		// preStop + vLLM's shutdown timeout + a margin (drain.go).
		TerminationGracePeriodSeconds: pulumi.Int(drain.Grace),
		// vLLM never calls the Kubernetes API: no token to steal from its pod. (Istio's
		// sidecar brings its own projected token.)
		AutomountServiceAccountToken: pulumi.Bool(false),
		// The container runtime's default syscall filter; vLLM's image runs as root, so this
		// pod meets Pod Security baseline, not restricted (docs/istio.md).
		SecurityContext: &corev1.PodSecurityContextArgs{
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
			Name: pulumi.String("shm"),
			// Tensor parallelism exchanges tensors through /dev/shm; the
			// container runtime's 64 MiB default is far too small.
			EmptyDir: &corev1.EmptyDirVolumeSourceArgs{Medium: pulumi.String("Memory"), SizeLimit: pulumi.String(s.ShmSize)},
		}},
	}
	if gpu {
		image = args.Image
		gpus := pulumi.String(strconv.Itoa(s.GPURequestCount))
		requests[GPUResource], limits[GPUResource] = gpus, gpus
		pod.NodeSelector = args.NodeSelector
		// GKE and EKS add this toleration themselves (ExtendedResourceToleration);
		// declaring it keeps the pod schedulable on clusters that do not.
		pod.Tolerations = corev1.TolerationArray{&corev1.TolerationArgs{
			Key: pulumi.String(GPUResource), Operator: pulumi.String("Exists"), Effect: pulumi.String("NoSchedule"),
		}}
	}
	health := &corev1.HTTPGetActionArgs{Path: pulumi.String("/health"), Port: pulumi.String(PortName)}
	pod.Containers = corev1.ContainerArray{&corev1.ContainerArgs{
		Name:            pulumi.String("vllm"),
		Image:           image,
		Command:         pulumi.StringArray{pulumi.String("vllm"), pulumi.String("serve")},
		SecurityContext: &corev1.SecurityContextArgs{AllowPrivilegeEscalation: pulumi.Bool(false)},
		Args:            pulumi.ToStringArray(vllmArgs(s)),
		Env:             env(args),
		Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
			Name: pulumi.String(PortName), ContainerPort: pulumi.Int(Port), Protocol: pulumi.String("TCP"),
		}},
		Resources: &corev1.ResourceRequirementsArgs{Requests: requests, Limits: limits},
		VolumeMounts: corev1.VolumeMountArray{
			&corev1.VolumeMountArgs{Name: pulumi.String("cache"), MountPath: pulumi.String(CacheMount)},
			&corev1.VolumeMountArgs{Name: pulumi.String("shm"), MountPath: pulumi.String("/dev/shm")},
		},
		// /health answers only once the weights are loaded. The startup probe
		// allows the whole first download; liveness starts after it.
		StartupProbe: &corev1.ProbeArgs{
			HttpGet: health, PeriodSeconds: pulumi.Int(probePeriod),
			FailureThreshold: pulumi.Int(int(math.Ceil(float64(s.StartupTimeoutSeconds) / probePeriod))),
		},
		ReadinessProbe: &corev1.ProbeArgs{
			HttpGet: health, PeriodSeconds: pulumi.Int(probePeriod), TimeoutSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(3),
		},
		LivenessProbe: &corev1.ProbeArgs{
			HttpGet: health, PeriodSeconds: pulumi.Int(15), TimeoutSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(4),
		},
		// Keep serving until the gateway has dropped the pod, then drain (drain.go).
		Lifecycle: drain.lifecycle(),
	}}
	if fetch := fetchLoRAsContainer(args); fetch != nil {
		pod.InitContainers = corev1.ContainerArray{fetch}
	}
	return pod
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:model:Model"
