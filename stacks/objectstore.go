package stacks

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// Object-storage access, wired per cloud: each model that reads s3:// or gs:// (weights.uri,
// adapter sources) runs as a ServiceAccount of its own, named after the model, which the cloud
// component lets read exactly those locations (eks: Pod Identity role, gke: Workload Identity
// service account with bucket grants). Models without such sources get none of it. On an
// existing cluster the account is the user's (weights.serviceAccount; the model component uses
// it), and validation refuses object sources without one.

// readsObjects says whether the platform grants m access to object storage: on gke and eks,
// for a model with an s3:// or gs:// source.
func readsObjects(cfg spec.Config, m spec.ModelSpec) bool {
	return (cfg.Cloud == spec.CloudEKS || cfg.Cloud == spec.CloudGKE) && len(m.ObjectSources()) > 0
}

// readerAccount is the Kubernetes ServiceAccount a model reading object storage runs as: the
// model's own Kubernetes name.
func readerAccount(m spec.ModelSpec) string { return spec.KubeName(m) }

// objectLocations are m's object-storage sources, parsed (validation has checked them).
func objectLocations(m spec.ModelSpec) []model.ObjectURI {
	var out []model.ObjectURI
	for _, s := range m.ObjectSources() {
		if u, err := model.ParseObjectURI(s); err == nil {
			out = append(out, u)
		}
	}
	return out
}

// eksReaders are the EKS component's object readers: the models with s3:// sources.
func eksReaders(cfg spec.Config) []eks.ObjectReader {
	var out []eks.ObjectReader
	for _, m := range cfg.Models {
		if !readsObjects(cfg, m) {
			continue
		}
		r := eks.ObjectReader{Name: spec.KubeName(m), Namespace: cfg.Namespace, ServiceAccount: readerAccount(m)}
		for _, u := range objectLocations(m) {
			r.Objects = append(r.Objects, eks.S3Location{Bucket: u.Bucket, Prefix: u.Prefix})
		}
		out = append(out, r)
	}
	return out
}

// gkeReaders are the GKE component's object readers: the models with gs:// sources.
func gkeReaders(cfg spec.Config) []gke.ObjectReader {
	var out []gke.ObjectReader
	for _, m := range cfg.Models {
		if !readsObjects(cfg, m) {
			continue
		}
		r := gke.ObjectReader{Name: spec.KubeName(m), Namespace: cfg.Namespace, ServiceAccount: readerAccount(m)}
		for _, u := range objectLocations(m) {
			r.Objects = append(r.Objects, gke.GCSLocation{Bucket: u.Bucket, Prefix: u.Prefix})
		}
		out = append(out, r)
	}
	return out
}

// objectStoreAccess declares the ServiceAccount a model reading object storage runs as (with
// the cloud's annotations) and returns the model's access and what its pods must wait for:
// the account and the cloud's grants. nil when the platform grants the model nothing.
func objectStoreAccess(ctx *pulumi.Context, prefix string, cfg spec.Config, m spec.ModelSpec, c *cluster.Cluster, opts []pulumi.ResourceOption) (*model.ObjectStoreAccess, []pulumi.Resource, error) {
	if !readsObjects(cfg, m) {
		return nil, nil, nil
	}
	// In render mode no cloud was provisioned: the account is rendered without annotations.
	reader := c.ObjectReaders[spec.KubeName(m)]
	meta := kube.Meta(readerAccount(m), cfg.Namespace, kube.Labels(model.AppName, spec.KubeName(m), "model"))
	meta.Annotations = reader.Annotations
	sa, err := corev1.NewServiceAccount(ctx, prefix+spec.KubeName(m)+"-reader", &corev1.ServiceAccountArgs{
		Metadata: meta,
		// vLLM never calls the Kubernetes API. The cloud credentials do not need this token:
		// Pod Identity mounts a projected token of its own, GKE's metadata server answers by
		// the pod's identity.
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	return &model.ObjectStoreAccess{ServiceAccount: readerAccount(m), Env: reader.Env},
		append([]pulumi.Resource{sa}, reader.Ready...), nil
}
