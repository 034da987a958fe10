package addons

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/versions"
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

// Istio's typed Helm values: only what we set, named as the charts name them.
type (
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
