// Package platform installs the cluster add-ons the application layer needs:
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
package platform

import (
	"fmt"
	"maps"
	"sync"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
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

// Resource requests of the add-ons' pods. The charts get these values, and the stack's
// capacity check counts them against the system pool.
const (
	istiodCPU, istiodMemory   = "250m", "512Mi"
	ingressCPU, ingressMemory = "200m", "256Mi"
	// IstiodReplicas is istiod's replica count (its autoscaler's minimum when autoscaling).
	IstiodReplicas = 2
)

var (
	IstiodRequests  = capacity.MustParse(istiodCPU, istiodMemory)
	IngressRequests = capacity.MustParse(ingressCPU, ingressMemory)
	// SidecarRequests are the Istio proxy's default requests (global.proxy.resources), added
	// to every pod in a namespace with sidecar injection.
	SidecarRequests = capacity.MustParse("100m", "128Mi")
	// MetricsServerRequests are the metrics-server chart's default requests.
	MetricsServerRequests = capacity.MustParse("100m", "200Mi")
)

// Service types of the ingress gateway.
const (
	ServiceLoadBalancer = "LoadBalancer"
	ServiceNodePort     = "NodePort"
	ServiceClusterIP    = "ClusterIP"
)

// ingressDrainMargin is added to the longest stream the ingress gateway may hold: Envoy's
// minimum drain and the endpoint removal reaching every proxy.
const ingressDrainMargin = 30

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
	// ScaledObjects, so they wait for Platform.KEDA.
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

// Platform is the installed add-ons.
type Platform struct {
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

// installed records, per program (Pulumi context), the Platform that installs the
// cluster-wide add-ons.
var installed sync.Map // *pulumi.Context -> component name

// New declares the namespace and the enabled add-ons.
//
// The cluster add-ons (Istio, Argo CD, the device plugin, metrics-server, the AWS Load
// Balancer Controller) are singletons per cluster: their Helm releases have fixed names in
// fixed namespaces (istio-system, argocd, kube-system) and install cluster-scoped CRDs and
// webhooks. A program may declare one Platform with add-ons; a second one fails (declare it
// with every add-on off, or Istio.Preinstalled, to get just its namespace). The namespace
// itself is named by Args.Namespace, so any number of Platforms may create namespaces.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Platform, error) {
	if args.installsAddOns() {
		if first, loaded := installed.LoadOrStore(ctx, name); loaded {
			return nil, fmt.Errorf("platform %q: the cluster add-ons (Istio, Argo CD, ...) are one per cluster, and platform %q already installs them; turn them off in this one", name, first)
		}
	}
	p := &Platform{}
	if err := ctx.RegisterComponentResource(Type, name, p, formertype.Aliased(opts, formerTypes...)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(p)

	nsLabels := kube.Labels("llm-platform", args.Namespace, "namespace")
	if args.SidecarInjection {
		nsLabels["istio-injection"] = "enabled"
	}
	maps.Copy(nsLabels, PodSecurityLabels(args))
	ns, err := corev1.NewNamespace(ctx, name+"-app", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(nsLabels)},
	}, parent)
	if err != nil {
		return nil, err
	}
	p.Namespace = ns
	p.Ready = []pulumi.Resource{ns}
	p.IngressAddress = pulumi.String("").ToStringOutput()

	if args.MetricsServer {
		if _, err := release(ctx, "metrics-server", versions.MetricsServer, "kube-system", nil, parent); err != nil {
			return nil, err
		}
	}
	var gatewayDeps []pulumi.Resource
	if args.LBController != nil {
		lb, err := lbController(ctx, args.LBController, parent)
		if err != nil {
			return nil, err
		}
		gatewayDeps = append(gatewayDeps, lb)
	}
	if args.Istio.Enabled {
		istiod, gateway, err := istio(ctx, name, args, parent, gatewayDeps...)
		if err != nil {
			return nil, err
		}
		p.Ready = append(p.Ready, istiod)
		if p.IngressAddress, err = ingressAddress(ctx, name, gateway, parent); err != nil {
			return nil, err
		}
	}
	if args.ArgoCD.Enabled {
		if err := argoCD(ctx, name, args.ArgoCD, parent); err != nil {
			return nil, err
		}
	}
	if args.DevicePlugin {
		if err := devicePlugin(ctx, name, args.GPUNodeSelector, parent); err != nil {
			return nil, err
		}
	}
	if args.Monitoring != nil {
		stack, err := monitoring(ctx, args.Monitoring, parent)
		if err != nil {
			return nil, err
		}
		p.Monitoring = stack
	}
	if args.KEDA {
		if p.KEDA, err = keda(ctx, parent); err != nil {
			return nil, err
		}
	}
	if args.ClusterAutoscaler != nil {
		if _, err := clusterAutoscaler(ctx, args.ClusterAutoscaler, parent); err != nil {
			return nil, err
		}
	}
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{"namespace": ns.Metadata.Name(), "ingressAddress": p.IngressAddress})
}

func release(ctx *pulumi.Context, name string, chart versions.Chart, namespace string, values any, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	return releaseOf(ctx, name, chart, namespace, true, kube.Values(values), opts...)
}

// releaseOf declares a release of a pinned chart whose values may hold outputs (a cluster's
// name or VPC, from helmValues in an apply); createNamespace false for kube-system.
func releaseOf(ctx *pulumi.Context, name string, chart versions.Chart, namespace string, createNamespace bool, values pulumi.MapInput, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	return helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:            pulumi.String(name),
		Chart:           pulumi.String(chart.Name),
		Version:         pulumi.String(chart.Version),
		RepositoryOpts:  &helmv3.RepositoryOptsArgs{Repo: pulumi.String(chart.Repo)},
		Namespace:       pulumi.String(namespace),
		CreateNamespace: pulumi.Bool(createNamespace),
		Atomic:          pulumi.Bool(true),
		CleanupOnFail:   pulumi.Bool(true),
		Timeout:         pulumi.Int(900),
		Values:          values,
	}, opts...)
}

// Typed Helm values: only what we set, named as the charts name them.
type (
	resources struct {
		Requests map[string]string `json:"requests,omitempty"`
		Limits   map[string]string `json:"limits,omitempty"`
	}
	// platformValues picks a chart's platform profile (files/profile-platform-<name>.yaml).
	platformValues struct {
		Platform string `json:"platform,omitempty"`
	}
	cniValues struct {
		Global platformValues `json:"global"`
	}
	istiodValues struct {
		Global platformValues `json:"global"`
		Pilot  struct {
			// CNI: injected pods get the istio-validation init container (no capabilities)
			// instead of istio-init (NET_ADMIN, NET_RAW).
			CNI struct {
				Enabled bool `json:"enabled"`
			} `json:"cni"`
			AutoscaleEnabled bool      `json:"autoscaleEnabled"`
			AutoscaleMin     int       `json:"autoscaleMin"`
			ReplicaCount     int       `json:"replicaCount"`
			Resources        resources `json:"resources"`
		} `json:"pilot"`
		MeshConfig struct {
			AccessLogFile string `json:"accessLogFile"`
		} `json:"meshConfig"`
	}
	gatewayValues struct {
		ReplicaCount int `json:"replicaCount"`
		Autoscaling  struct {
			Enabled     bool `json:"enabled"`
			MinReplicas int  `json:"minReplicas"`
			MaxReplicas int  `json:"maxReplicas"`
		} `json:"autoscaling"`
		Service struct {
			Type        string            `json:"type"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"service"`
		Resources                     resources         `json:"resources"`
		TerminationGracePeriodSeconds int               `json:"terminationGracePeriodSeconds"`
		Env                           map[string]string `json:"env"`
	}
)

// istio installs base -> istiod -> ingress gateway, each depending on the
// one before: the gateway's `image: auto` is filled in by istiod's
// injection webhook, which must exist before its pods are created.
func istio(ctx *pulumi.Context, name string, args Args, parent pulumi.ResourceOption, gatewayDeps ...pulumi.Resource) (istiod, gateway *helmv3.Release, err error) {
	cfg := args.Istio
	base, err := release(ctx, "istio-base", versions.IstioBase, IstioNamespace,
		map[string]string{"defaultRevision": "default"}, parent)
	if err != nil {
		return nil, nil, err
	}
	istiodDeps := []pulumi.Resource{base}
	if cfg.CNI {
		// The node agent must be on every node before istiod injects pods that rely on it.
		cni, err := release(ctx, "istio-cni", versions.IstioCNI, IstioNamespace,
			cniValues{Global: platformValues{Platform: args.IstioPlatform}}, parent, pulumi.DependsOn([]pulumi.Resource{base}))
		if err != nil {
			return nil, nil, err
		}
		istiodDeps = append(istiodDeps, cni)
	}
	var iv istiodValues
	iv.Pilot.CNI.Enabled = cfg.CNI
	iv.Global.Platform = args.IstioPlatform
	iv.Pilot.AutoscaleEnabled = args.Autoscaling
	iv.Pilot.AutoscaleMin = IstiodReplicas
	iv.Pilot.ReplicaCount = IstiodReplicas
	iv.Pilot.Resources = resources{Requests: map[string]string{"cpu": istiodCPU, "memory": istiodMemory}}
	iv.MeshConfig.AccessLogFile = "/dev/stdout"
	istiod, err = release(ctx, "istiod", versions.Istiod, IstioNamespace, iv, parent, pulumi.DependsOn(istiodDeps))
	if err != nil {
		return nil, nil, err
	}
	var gv gatewayValues
	gv.ReplicaCount = cfg.GatewayReplicas
	gv.Autoscaling.Enabled = args.Autoscaling
	gv.Autoscaling.MinReplicas = cfg.GatewayReplicas
	gv.Autoscaling.MaxReplicas = max(cfg.GatewayReplicas*3, 3)
	gv.Service.Type = args.IngressServiceType
	gv.Service.Annotations = cfg.ServiceAnnotations
	gv.Resources = resources{
		Requests: map[string]string{"cpu": ingressCPU, "memory": ingressMemory},
		Limits:   map[string]string{"memory": "1Gi"},
	}
	// A gateway pod that is scaled in or rolled carries streams that may run as long as the
	// longest generation: the default 30 s grace would cut them. pilot-agent drains, then
	// exits as soon as no connection is left (EXIT_ON_ZERO_ACTIVE_CONNECTIONS), so the long
	// grace costs nothing when the pod is idle.
	gv.TerminationGracePeriodSeconds = args.StreamSeconds + ingressDrainMargin
	gv.Env = map[string]string{"EXIT_ON_ZERO_ACTIVE_CONNECTIONS": "true"}
	gateway, err = release(ctx, IngressRelease, versions.IstioGateway, IngressNamespace, gv, parent, pulumi.DependsOn(append([]pulumi.Resource{istiod}, gatewayDeps...)))
	return istiod, gateway, err
}

// ingressAddress reads the gateway chart's LoadBalancer Service (named after
// the release) for its address. The ID is unknown until the release exists,
// so a first preview reads nothing instead of failing.
func ingressAddress(ctx *pulumi.Context, name string, gateway *helmv3.Release, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	id := gateway.Status.Name().Elem().ApplyT(func(release string) pulumi.ID {
		return pulumi.ID(IngressNamespace + "/" + release)
	}).(pulumi.IDOutput)
	svc, err := corev1.GetService(ctx, name+"-ingress", id, nil, parent)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return svc.Status.ApplyT(func(st *corev1.ServiceStatus) string {
		if st == nil || st.LoadBalancer == nil {
			return ""
		}
		for _, in := range st.LoadBalancer.Ingress {
			if in.Hostname != nil {
				return *in.Hostname
			}
			if in.Ip != nil {
				return *in.Ip
			}
		}
		return ""
	}).(pulumi.StringOutput), nil
}

type argoValues struct {
	Configs struct {
		Params map[string]bool `json:"params"`
	} `json:"configs"`
	RedisHA struct {
		Enabled bool `json:"enabled"`
	} `json:"redis-ha"`
	Controller replicasValues `json:"controller"`
	Server     replicasValues `json:"server"`
	RepoServer replicasValues `json:"repoServer"`
	AppSet     replicasValues `json:"applicationSet"`
}

type replicasValues struct {
	Replicas  int       `json:"replicas"`
	Resources resources `json:"resources"`
}

// Application is the part of an Argo CD Application we declare.
type Application struct {
	Project     string    `json:"project"`
	Source      AppSource `json:"source"`
	Destination struct {
		Server    string `json:"server"`
		Namespace string `json:"namespace"`
	} `json:"destination"`
	SyncPolicy struct {
		Automated struct {
			Prune    bool `json:"prune"`
			SelfHeal bool `json:"selfHeal"`
		} `json:"automated"`
		SyncOptions []string `json:"syncOptions"`
	} `json:"syncPolicy"`
}

// AppSource is where Argo CD reads manifests from.
type AppSource struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path"`
	TargetRevision string `json:"targetRevision"`
}

func argoCD(ctx *pulumi.Context, name string, cfg ArgoCDConfig, parent pulumi.ResourceOption) error {
	var v argoValues
	// Behind the mesh the server speaks plain HTTP; TLS ends at the edge.
	v.Configs.Params = map[string]bool{"server.insecure": cfg.Insecure}
	replicas := argoReplicas(cfg.HA)
	v.RedisHA.Enabled = cfg.HA
	small := resources{Requests: map[string]string{"cpu": argoSmallCPU, "memory": argoSmallMemory}}
	v.Controller = replicasValues{Replicas: 1, Resources: resources{Requests: map[string]string{"cpu": argoControllerCPU, "memory": argoControllerMemory}}}
	v.Server = replicasValues{Replicas: replicas, Resources: small}
	v.RepoServer = replicasValues{Replicas: replicas, Resources: small}
	v.AppSet = replicasValues{Replicas: replicas, Resources: small}
	argo, err := release(ctx, "argocd", versions.ArgoCD, ArgoCDNamespace, v, parent)
	if err != nil {
		return err
	}
	for _, app := range cfg.Apps {
		var a Application
		a.Project = "default"
		a.Source = AppSource{RepoURL: app.RepoURL, Path: app.Path, TargetRevision: app.TargetRevision}
		a.Destination.Server = "https://kubernetes.default.svc"
		a.Destination.Namespace = app.Namespace
		a.SyncPolicy.Automated.Prune = true
		a.SyncPolicy.Automated.SelfHeal = true
		a.SyncPolicy.SyncOptions = []string{"CreateNamespace=true"}
		_, err := kube.NewCustomResource(ctx, name+"-app-"+app.Name, "argoproj.io/v1alpha1", "Application",
			kube.Meta(app.Name, ArgoCDNamespace, kube.Labels("argocd-application", app.Name, "gitops")), a,
			parent, pulumi.DependsOn([]pulumi.Resource{argo}))
		if err != nil {
			return err
		}
	}
	return nil
}

type devicePluginValues struct {
	NodeSelector map[string]string `json:"nodeSelector"`
	Tolerations  []toleration      `json:"tolerations"`
}

type toleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Effect   string `json:"effect"`
}

func devicePlugin(ctx *pulumi.Context, name string, nodeSelector map[string]string, parent pulumi.ResourceOption) error {
	v := devicePluginValues{
		NodeSelector: nodeSelector,
		Tolerations:  []toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}},
	}
	_, err := release(ctx, "nvidia-device-plugin", versions.NVIDIADevicePlugin, DevicePluginNS, v, parent)
	return err
}

// formerTypes are the type tokens before llm-platform:index:AddOns (llm-platform:platform:Platform,
// then llm-platform:index:Platform). The aliases keep the URNs of stacks deployed with them (and
// of every child, whose URNs include them): no replacement.
var formerTypes = []string{"llm-platform:platform:Platform", "llm-platform:index:Platform"}
