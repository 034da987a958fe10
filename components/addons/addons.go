// Package addons installs the cluster add-ons the application layer needs:
// Istio (base, istiod, the ingress gateway), Argo CD with optional GitOps
// Applications, and on EKS the NVIDIA device plugin. It also owns the
// application namespace.
//
// Every add-on is a helm/v3 Release, not a helm/v4 Chart:
//   - istiod patches its own webhook configurations (caBundle, failurePolicy)
//     after install; a v4 Chart owns those objects one by one and would
//     report drift on every preview, a Release does not;
//   - Helm itself orders CRDs (Istio base, Argo CD) before their users and
//     runs the charts' hooks, which a client-side render does not;
//   - a Release is one resource whose inputs (chart, version, values) tests
//     read under mocks without the chart, which cannot be fetched here.
//
// The price: a Release needs a reachable cluster, so the offline render mode
// (render.dir) skips these add-ons (see package stacks).
package addons

import (
	"fmt"
	"maps"
	"sync"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// Type is this component's type token. It is AddOns, not Platform: in the component package
// (cmd/provider) Platform is the whole application layer (package stacks), of which these
// add-ons are one part.
const Type = "llm-platform:index:AddOns"

// Fixed names other components rely on.
const (
	IstioNamespace   = "istio-system"
	IngressNamespace = "istio-ingress"
	// IngressRelease is the gateway chart's release name. The chart labels
	// its pods `istio: <release name without "istio-">`.
	IngressRelease  = "istio-ingressgateway"
	ArgoCDNamespace = "argocd"
	DevicePluginNS  = "nvidia-device-plugin"
	// GPUPresentLabel is the label the NVIDIA device plugin chart's default
	// affinity requires; the EKS component puts it on its GPU nodes.
	GPUPresentLabel = "nvidia.com/gpu.present"
)

// IngressSelector selects the ingress gateway pods the Istio Gateway binds to.
var IngressSelector = map[string]string{"istio": "ingressgateway"}

// Args configure the add-ons. Disabled add-ons declare nothing.
type Args struct {
	// Namespace is the application namespace, created here.
	Namespace string `pulumi:"namespace"`
	// SidecarInjection labels the namespace for Istio's sidecar injector.
	SidecarInjection bool         `pulumi:"sidecarInjection,optional"`
	Istio            IstioConfig  `pulumi:"istio"`
	ArgoCD           ArgoCDConfig `pulumi:"argocd"`
	// DevicePlugin installs the NVIDIA device plugin (EKS only: GKE runs its own).
	DevicePlugin bool `pulumi:"devicePlugin,optional"`
	// GPUNodeSelector places the device plugin on GPU nodes.
	GPUNodeSelector map[string]string `pulumi:"gpuNodeSelector,optional"`
	// IngressServiceType is the ingress gateway Service's type: LoadBalancer where the cloud
	// provides load balancers, NodePort (or ClusterIP) where none would ever answer (kind,
	// minikube, bare metal), since Helm waits for a LoadBalancer's address.
	IngressServiceType string `pulumi:"ingressServiceType"`
	// Autoscaling turns on istiod's and the ingress gateway's HorizontalPodAutoscalers. They
	// need the metrics API (metrics-server); without it they would never scale, so the
	// replicas are fixed instead.
	Autoscaling bool `pulumi:"autoscaling,optional"`
	// MetricsServer installs metrics-server (clusters that lack one: EKS).
	MetricsServer bool `pulumi:"metricsServer,optional"`
	// StreamSeconds is the longest request the ingress gateway carries (a generation's
	// whole stream); a gateway pod being removed drains its connections that long.
	StreamSeconds int `pulumi:"streamSeconds"`
	// LBController installs the AWS Load Balancer Controller before the
	// ingress gateway (EKS); nil installs nothing.
	LBController *LBControllerArgs `pulumi:"lbController,optional"`
	// IstioPlatform is the Istio charts' platform profile ("gke" on GKE: the CNI node
	// agent's binary directory and its system-node-critical quota); "" elsewhere.
	IstioPlatform string `pulumi:"istioPlatform,optional"`
	// KEDA installs KEDA (the models' autoscaler): its CRDs must exist before the
	// ScaledObjects, so they wait for AddOns.KEDA.
	KEDA bool `pulumi:"keda,optional"`
	// Monitoring installs kube-prometheus-stack (and the DCGM exporter); nil installs nothing.
	Monitoring *MonitoringArgs `pulumi:"monitoring,optional"`
	// ClusterAutoscaler installs the Kubernetes Cluster Autoscaler (EKS), which scales the
	// GPU node group with the models; nil installs nothing.
	ClusterAutoscaler *ClusterAutoscalerArgs `pulumi:"clusterAutoscaler,optional"`
}

// installsAddOns reports whether any cluster-wide add-on is on.
func (a Args) installsAddOns() bool {
	return a.Istio.Enabled || a.ArgoCD.Enabled || a.DevicePlugin || a.MetricsServer || a.LBController != nil || a.Monitoring != nil || a.KEDA ||
		a.ClusterAutoscaler != nil
}

// AddOns is the installed add-ons.
type AddOns struct {
	pulumi.ResourceState

	// Namespace is the application namespace; depend on it.
	Namespace *corev1.Namespace
	// Ready is what application resources should depend on: the namespace
	// and, when installed, istiod (whose webhook injects sidecars).
	Ready []pulumi.Resource
	// IngressAddress is the ingress gateway's load balancer IP or host
	// name: "" until the cloud assigns one, or when Istio is not installed.
	IngressAddress pulumi.StringOutput `pulumi:"ingressAddress"`
	// KEDA is KEDA's release (nil when not installed): the ScaledObjects depend on it.
	KEDA *helmv3.Release
	// Monitoring is the kube-prometheus-stack release (nil when not installed): monitors,
	// rules and dashboards depend on it (its CRDs and Grafana's sidecar).
	Monitoring pulumi.Resource
}

// installed records, per program (Pulumi context), the AddOns that installs the
// cluster-wide add-ons.
var installed sync.Map // *pulumi.Context -> component name

// New declares the namespace and the enabled add-ons.
//
// The cluster add-ons (Istio, Argo CD, the device plugin, metrics-server, the AWS Load
// Balancer Controller) are singletons per cluster: their Helm releases have fixed names in
// fixed namespaces (istio-system, argocd, kube-system) and install cluster-scoped CRDs and
// webhooks. A program may declare one AddOns with add-ons; a second one fails (declare it
// with every add-on off, or Istio.Preinstalled, to get just its namespace). The namespace
// itself is named by Args.Namespace, so any number of AddOns may create namespaces.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*AddOns, error) {
	if args.installsAddOns() {
		if first, loaded := installed.LoadOrStore(ctx, name); loaded {
			return nil, fmt.Errorf("platform %q: the cluster add-ons (Istio, Argo CD, ...) are one per cluster, and platform %q already installs them; turn them off in this one", name, first)
		}
	}
	a := &AddOns{}
	if err := ctx.RegisterComponentResource(Type, name, a, formertype.Aliased(opts, formerTypes...)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	ns, err := namespace(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	a.Namespace = ns
	a.Ready = []pulumi.Resource{ns}
	a.IngressAddress = pulumi.String("").ToStringOutput()
	if err := a.install(ctx, name, args, parent); err != nil {
		return nil, err
	}
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"namespace": ns.Metadata.Name(), "ingressAddress": a.IngressAddress})
}

// namespace is the application namespace, labelled for sidecar injection and Pod Security.
func namespace(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) (*corev1.Namespace, error) {
	labels := kube.Labels("llm-platform", args.Namespace, "namespace")
	if args.SidecarInjection {
		labels["istio-injection"] = "enabled"
	}
	maps.Copy(labels, PodSecurityLabels(args))
	return corev1.NewNamespace(ctx, name+"-app", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(labels)},
	}, parent)
}

// install declares the enabled add-ons, in order: the AWS Load Balancer Controller before the
// ingress gateway it serves.
func (a *AddOns) install(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption) error {
	if args.MetricsServer {
		if _, err := release(ctx, "metrics-server", versions.MetricsServer, "kube-system", nil, parent); err != nil {
			return err
		}
	}
	var gatewayDeps []pulumi.Resource
	if args.LBController != nil {
		lb, err := lbController(ctx, args.LBController, parent)
		if err != nil {
			return err
		}
		gatewayDeps = append(gatewayDeps, lb)
	}
	if args.Istio.Enabled {
		istiod, gateway, err := istio(ctx, name, args, parent, gatewayDeps...)
		if err != nil {
			return err
		}
		a.Ready = append(a.Ready, istiod)
		if a.IngressAddress, err = ingressAddress(ctx, name, gateway, parent); err != nil {
			return err
		}
	}
	if args.ArgoCD.Enabled {
		if err := argoCD(ctx, name, args.ArgoCD, parent); err != nil {
			return err
		}
	}
	if args.DevicePlugin {
		if err := devicePlugin(ctx, name, args.GPUNodeSelector, parent); err != nil {
			return err
		}
	}
	if args.Monitoring != nil {
		stack, err := monitoring(ctx, args.Monitoring, parent)
		if err != nil {
			return err
		}
		a.Monitoring = stack
	}
	var err error
	if args.KEDA {
		if a.KEDA, err = keda(ctx, parent); err != nil {
			return err
		}
	}
	if args.ClusterAutoscaler != nil {
		if _, err := clusterAutoscaler(ctx, args.ClusterAutoscaler, parent); err != nil {
			return err
		}
	}
	return nil
}

// formerTypes are the type tokens before llm-platform:index:AddOns (llm-platform:platform:Platform,
// then llm-platform:index:Platform). The aliases keep the URNs of stacks deployed with them (and
// of every child, whose URNs include them): no replacement.
var formerTypes = []string{"llm-platform:platform:Platform", "llm-platform:index:Platform"}
