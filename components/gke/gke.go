// Package gke provides GPU capacity on Google Kubernetes Engine: it creates a
// cluster (or adopts an existing one) and adds a GPU node pool, and hands
// back a kubeconfig. Models select the pool's GPUs by AcceleratorLabel.
//
// A created cluster lives in a VPC of its own with private nodes, Cloud NAT
// for their egress and Dataplane V2 enforcing NetworkPolicy (cluster.go,
// network.go). Every node the component creates runs as a dedicated,
// minimal service account (identity.go). The GPU pool (gpupool.go) sizes are
// totals over the pool's zones (sizing.go). Models that read Cloud Storage get
// a service account of their own (objectstore.go).
package gke

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// Type is the GKE component's type token.
const Type = "llm-platform:index:GKE"

// AcceleratorLabel is the label GKE puts on every GPU node, valued with the
// accelerator type; models select on it.
const AcceleratorLabel = "cloud.google.com/gke-accelerator"

var cloudPlatformScope = pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/cloud-platform")}

// Args are the GKE settings of the stack.
type Args struct {
	Config Config `pulumi:"config"`
	// ObjectReaders are the models that stream from Cloud Storage, each given read access to
	// exactly its locations (objectstore.go).
	ObjectReaders []ObjectReader `pulumi:"objectReaders,optional"`
	// ControlPlanePorts are the webhook and aggregated-API ports of what will run in a created
	// cluster; its firewall opens those GKE does not (firewall.go).
	ControlPlanePorts []ControlPlanePort `pulumi:"controlPlanePorts,optional"`
}

// GKE is the cluster and its GPU pool.
type GKE struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	// Kubeconfig authenticates with gke-gcloud-auth-plugin; it is secret.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// GPUNodeSelector selects the GPU pool's nodes (AcceleratorLabel = the accelerator type).
	GPUNodeSelector map[string]string
	// ObjectReaders are the models' Cloud Storage read identities, by ObjectReader.Name.
	ObjectReaders map[string]*ReaderIdentity
	// Network is the cluster's VPC (projects/<project>/global/networks/<name>), where a Cloud
	// SQL instance gets its private address (NewCloudSQL).
	Network pulumi.StringOutput
}

// GPUTaint is the taint on the GPU pool's nodes.
var GPUTaint = cluster.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: "NoSchedule"}

// Cluster declares the Kubernetes provider for this cluster, named name (outside the
// component, so its URN does not depend on it), and returns the cluster as the application
// layer takes it.
func (g *GKE) Cluster(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*cluster.Cluster, error) {
	taint := GPUTaint
	c, err := cluster.New(ctx, name, cluster.Args{
		Name: g.ClusterName, Kubeconfig: g.Kubeconfig, GPUNodeSelector: g.GPUNodeSelector, GPUTaint: &taint,
	}, opts...)
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = g.Kubeconfig
	for n, r := range g.ObjectReaders {
		if c.ObjectReaders == nil {
			c.ObjectReaders = map[string]cluster.ObjectReader{}
		}
		c.ObjectReaders[n] = cluster.ObjectReader{
			Annotations: pulumi.StringMap{WorkloadIdentityAnnotation: r.Email},
			Ready:       r.Ready,
		}
	}
	return c, nil
}

// New creates or adopts the cluster and adds the GPU node pool.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*GKE, error) {
	cfg := args.Config
	g := &GKE{GPUNodeSelector: map[string]string{AcceleratorLabel: cfg.GPUPool.AcceleratorType}}
	if err := ctx.RegisterComponentResource(Type, name, g, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	location := clusterLocation(cfg)
	base := baseName(cfg.Project, location, cfg.Cluster.Name)

	// Every pool, adopted cluster or not, runs as this account rather than
	// the Compute Engine default one.
	nodes, err := newNodeIdentity(ctx, name, cfg.Project, base, cfg.Cluster.Name, parent)
	if err != nil {
		return nil, err
	}
	cp, err := newControlPlane(ctx, name, cfg, location, base, nodes, args.ControlPlanePorts, parent)
	if err != nil {
		return nil, err
	}
	g.ClusterName, g.Network = cp.name, cp.network
	if g.ObjectReaders, err = objectReaders(ctx, name, cfg.Project, base, args.ObjectReaders, parent); err != nil {
		return nil, err
	}
	if err := gpuPool(ctx, name, cfg, location, cp, nodes, parent); err != nil {
		return nil, err
	}
	g.Kubeconfig = kubeconfig(cp)
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{"clusterName": g.ClusterName, "kubeconfig": g.Kubeconfig})
}

// clusterLocation is a zonal cluster's zone when a zone is given (cheaper, one control plane
// zone), otherwise the region of a regional cluster.
func clusterLocation(cfg Config) string {
	if cfg.Zone != "" {
		return cfg.Zone
	}
	return cfg.Region
}

// kubeconfig reaches the cluster through gke-gcloud-auth-plugin, the only method GKE supports
// since 1.26; it is secret.
func kubeconfig(cp *controlPlane) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.All(cp.name, cp.endpoint, cp.caCert).ApplyT(func(v []any) string {
		return kube.Kubeconfig(v[0].(string), "https://"+v[1].(string), v[2].(string), kube.ExecAuth{
			Command:            "gke-gcloud-auth-plugin",
			InstallHint:        "Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)",
			ProvideClusterInfo: true,
		})
	})).(pulumi.StringOutput)
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:gke:GKE"
