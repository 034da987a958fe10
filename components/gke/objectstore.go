package gke

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// WorkloadIdentityAnnotation on a Kubernetes ServiceAccount names the Google service account
// its pods act as (GKE Workload Identity).
const WorkloadIdentityAnnotation = "iam.gke.io/gcp-service-account"

// Roles a model's reader gets on each bucket it reads.
const (
	// objectViewerRole reads objects and lists them (storage.objects.get, storage.objects.list),
	// conditioned to the model's prefixes.
	objectViewerRole = "roles/storage.objectViewer"
	// bucketViewerRole reads the bucket's metadata (storage.buckets.get), no object: the Run:ai
	// Model Streamer's GCS backend looks the bucket up before listing it (get_bucket in
	// run-ai/runai-model-streamer py/runai_model_streamer_gcs/.../files.py), which
	// objectViewer does not allow.
	bucketViewerRole = "roles/storage.bucketViewer"
)

// ObjectReader is one model whose pods read Cloud Storage (streamed weights, adapters): the
// Kubernetes ServiceAccount they run as and exactly what it may read.
type ObjectReader struct {
	// Name tells the model's Google objects apart (the model's Kubernetes name). Plain, like
	// every field here: it names resources.
	Name string `pulumi:"name"`
	// Namespace and ServiceAccount are the pods' Kubernetes ServiceAccount, which Workload
	// Identity lets act as the reader's Google service account.
	Namespace      string `pulumi:"namespace"`
	ServiceAccount string `pulumi:"serviceAccount"`
	// Objects are the Cloud Storage locations the model reads.
	Objects []GCSLocation `pulumi:"objects"`
}

// GCSLocation is a bucket, or the objects under a prefix of it.
type GCSLocation struct {
	Bucket string `pulumi:"bucket"`
	// Prefix without leading or trailing slash; empty for the whole bucket.
	Prefix string `pulumi:"prefix,optional"`
}

// ReaderIdentity is what one model's pods need from Google Cloud to read their objects.
type ReaderIdentity struct {
	// Email is the Google service account the model's Kubernetes ServiceAccount must name in
	// WorkloadIdentityAnnotation.
	Email pulumi.StringOutput
	// Ready are the grants; pods started before them are refused.
	Ready []pulumi.Resource
}

// readerID is the reader's Google service account id (6-30 characters,
// [a-z][-a-z0-9]*[a-z0-9]), unique per project: the model's name and a hash of the cluster
// and the Kubernetes ServiceAccount, like baseName.
func readerID(base, namespace, ksa, model string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s/%s", base, namespace, ksa)
	suffix := fmt.Sprintf("%06x", h.Sum32()&0xffffff)
	prefix := model
	if len(prefix) > 30-len("read--")-len(suffix) {
		prefix = prefix[:30-len("read--")-len(suffix)]
	}
	return "read-" + strings.Trim(prefix, "-") + "-" + suffix
}

// prefixCondition limits a grant on bucket to the objects under prefixes: reading them
// (resource.name is the object's, projects/_/buckets/<bucket>/objects/<name>) and listing
// with a prefix under them (the storage.googleapis.com/objectListPrefix API attribute, which
// is how IAM Conditions scope storage.objects.list, a bucket-level permission). The streamer
// lists "<prefix>/" (files.py, list_files). nil when a prefix is empty: the whole bucket.
// IAM Conditions need uniform bucket-level access on the bucket.
func prefixCondition(bucket string, prefixes []string) *storage.BucketIAMMemberConditionArgs {
	var terms []string
	for _, p := range prefixes {
		if p == "" {
			return nil
		}
		terms = append(terms,
			fmt.Sprintf(`resource.name.startsWith("projects/_/buckets/%s/objects/%s/")`, bucket, p),
			fmt.Sprintf(`api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("%s/")`, p))
	}
	return &storage.BucketIAMMemberConditionArgs{
		Title:       pulumi.String("llm-platform model prefixes"),
		Description: pulumi.String("Read and list only under " + strings.Join(prefixes, ", ")),
		Expression:  pulumi.String(strings.Join(terms, " || ")),
	}
}

// objectReaders gives each reader a Google service account that only its Kubernetes
// ServiceAccount may act as (roles/iam.workloadIdentityUser for
// serviceAccount:<project>.svc.id.goog[<namespace>/<name>]), with read access to exactly its
// buckets' prefixes (bucket IAM members; no project role).
func objectReaders(ctx *pulumi.Context, name, project, base string, readers []ObjectReader, opts ...pulumi.ResourceOption) (map[string]*ReaderIdentity, error) {
	if len(readers) == 0 {
		return nil, nil
	}
	out := map[string]*ReaderIdentity{}
	for _, r := range readers {
		if len(r.Objects) == 0 {
			return nil, fmt.Errorf("gke: object reader %q has no Cloud Storage locations", r.Name)
		}
		if _, dup := out[r.Name]; dup {
			return nil, fmt.Errorf("gke: object reader %q is listed twice", r.Name)
		}
		res := name + "-reader-" + r.Name
		account, err := serviceaccount.NewAccount(ctx, res, &serviceaccount.AccountArgs{
			Project:     pulumi.String(project),
			AccountId:   pulumi.String(readerID(base, r.Namespace, r.ServiceAccount, r.Name)),
			DisplayName: pulumi.String("llm-platform model " + r.Name),
			Description: pulumi.String(fmt.Sprintf("Reads the object storage of model %s (%s/%s): read-only, its buckets' prefixes only.", r.Name, r.Namespace, r.ServiceAccount)),
		}, opts...)
		if err != nil {
			return nil, err
		}
		email := pulumi.Sprintf("%s@%s.iam.gserviceaccount.com", account.AccountId, project)
		id := &ReaderIdentity{Email: email}
		wi, err := serviceaccount.NewIAMMember(ctx, res+"-workload-identity", &serviceaccount.IAMMemberArgs{
			ServiceAccountId: account.Name,
			Role:             pulumi.String("roles/iam.workloadIdentityUser"),
			Member:           pulumi.String(fmt.Sprintf("serviceAccount:%s.svc.id.goog[%s/%s]", project, r.Namespace, r.ServiceAccount)),
		}, opts...)
		if err != nil {
			return nil, err
		}
		id.Ready = append(id.Ready, wi)
		byBucket := map[string][]string{}
		for _, o := range r.Objects {
			if !slices.Contains(byBucket[o.Bucket], o.Prefix) {
				byBucket[o.Bucket] = append(byBucket[o.Bucket], o.Prefix)
			}
		}
		member := pulumi.Sprintf("serviceAccount:%s", email)
		for _, b := range slices.Sorted(maps.Keys(byBucket)) {
			objects, err := storage.NewBucketIAMMember(ctx, res+"-objects-"+b, &storage.BucketIAMMemberArgs{
				Bucket: pulumi.String(b), Role: pulumi.String(objectViewerRole), Member: member,
				Condition: prefixCondition(b, byBucket[b]),
			}, opts...)
			if err != nil {
				return nil, err
			}
			bucket, err := storage.NewBucketIAMMember(ctx, res+"-bucket-"+b, &storage.BucketIAMMemberArgs{
				Bucket: pulumi.String(b), Role: pulumi.String(bucketViewerRole), Member: member,
			}, opts...)
			if err != nil {
				return nil, err
			}
			id.Ready = append(id.Ready, objects, bucket)
		}
		out[r.Name] = id
	}
	return out, nil
}
