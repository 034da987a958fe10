// Package cluster is the one value every cluster source hands to the application layer: a
// Kubernetes provider, the cluster's name and kubeconfig, and where GPU workloads go. The
// GKE and EKS components return it (gke.GKE.Cluster, eks.EKS.Cluster), and New makes it for
// a cluster that already exists, so the components after it never ask which cloud it is.
package cluster

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Taint is a node taint in Kubernetes' spelling (Effect "NoSchedule").
type Taint struct {
	Key    string `pulumi:"key"`
	Value  string `pulumi:"value"`
	Effect string `pulumi:"effect"`
}

// Cluster is a cluster the platform deploys into.
type Cluster struct {
	// Provider talks to the cluster; every Kubernetes resource uses it.
	Provider *kubernetes.Provider
	// Name is the cluster's name (the kubeconfig context's for an existing cluster).
	Name pulumi.StringOutput
	// Kubeconfig is secret, for the clusters this program creates or adopts (gke, eks); New
	// leaves it zero: an existing cluster's kubeconfig is the user's own.
	Kubeconfig pulumi.StringOutput
	// GPUNodeSelector places GPU workloads on GPU nodes. Plain: it is known from the config.
	GPUNodeSelector map[string]string
	// GPUTaint is the taint this program puts on GPU nodes; nil when it taints none.
	GPUTaint *Taint
	// ObjectReaders are the cloud identities of the models that read object storage (streamed
	// weights, adapters), by the model's Kubernetes name; nil when there are none.
	ObjectReaders map[string]ObjectReader
}

// ObjectReader is what the cloud declared for one model's pods to read its buckets: their
// ServiceAccount must carry Annotations, the pods need Env, and Ready must exist first.
type ObjectReader struct {
	// Annotations go on the model's ServiceAccount (GKE Workload Identity's
	// iam.gke.io/gcp-service-account); empty when the cloud binds the account by name alone
	// (EKS Pod Identity).
	Annotations pulumi.StringMap
	// Env are the storage client's settings besides credentials (the region on AWS).
	Env map[string]string
	// Ready are the grants and bindings; pods created before them get no credentials.
	Ready []pulumi.Resource
}

// Args describe how to reach a cluster.
type Args struct {
	// Name is the cluster's name.
	Name pulumi.StringInput `pulumi:"name"`
	// Kubeconfig reaches the cluster; nil means the ambient one ($KUBECONFIG, ~/.kube/config).
	Kubeconfig pulumi.StringInput `pulumi:"kubeconfig,optional"`
	// Context picks the kubeconfig's context; nil means its current context.
	Context pulumi.StringInput `pulumi:"context,optional"`
	// RenderDir, when set, makes the provider write YAML there instead of applying anything
	// (no kubeconfig then: the provider refuses both). Plain: it decides the plan.
	RenderDir string `pulumi:"renderDir,optional"`
	// GPUNodeSelector and GPUTaint: see Cluster.
	GPUNodeSelector map[string]string `pulumi:"gpuNodeSelector,optional"`
	GPUTaint        *Taint            `pulumi:"gpuTaint,optional"`
}

// New declares the cluster's Kubernetes provider, named name, and returns the Cluster.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	pargs := &kubernetes.ProviderArgs{Kubeconfig: args.Kubeconfig, Context: args.Context}
	if args.RenderDir != "" {
		pargs = &kubernetes.ProviderArgs{RenderYamlToDirectory: pulumi.String(args.RenderDir)}
	}
	// Without it the provider replaces a ConfigMap whose data changes, and a Deployment that
	// mounts it by name (the gateway's) is replaced with it: every pod deleted at once when a
	// model is added or removed. Updated in place, the config checksum on the pod template
	// rolls the pods one at a time instead.
	pargs.EnableConfigMapMutable = pulumi.Bool(true)
	p, err := kubernetes.NewProvider(ctx, name, pargs, opts...)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Provider: p, GPUNodeSelector: args.GPUNodeSelector, GPUTaint: args.GPUTaint}
	if args.Name != nil {
		c.Name = args.Name.ToStringOutput()
	}
	return c, nil
}
