package eks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ObjectReader is one model whose pods read S3 (streamed weights, adapters): the
// Kubernetes ServiceAccount they run as and exactly what it may read.
type ObjectReader struct {
	// Name tells the model's AWS objects apart (the model's Kubernetes name). Plain, like
	// every field here: it names resources.
	Name string `pulumi:"name"`
	// Namespace and ServiceAccount are the pods' ServiceAccount, which the Pod Identity
	// association hands the role to.
	Namespace      string `pulumi:"namespace"`
	ServiceAccount string `pulumi:"serviceAccount"`
	// Objects are the S3 locations the model reads.
	Objects []S3Location `pulumi:"objects"`
}

// S3Location is a bucket, or the objects under a prefix of it.
type S3Location struct {
	Bucket string `pulumi:"bucket"`
	// Prefix without leading or trailing slash; empty for the whole bucket.
	Prefix string `pulumi:"prefix,optional"`
}

// ReaderIdentity is what one model's pods need from AWS to read their objects.
type ReaderIdentity struct {
	// RoleARN is the role EKS Pod Identity hands the model's ServiceAccount.
	RoleARN pulumi.StringOutput
	// Env are the S3 client's settings: the region, set explicitly because EKS Pod Identity
	// injects the credentials endpoint and token file (AWS_CONTAINER_CREDENTIALS_FULL_URI,
	// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), not a region, and without one the streamer's AWS SDK
	// for C++ client may resolve us-east-1 (its default) or ask the node's metadata service.
	Env map[string]string
	// Ready must exist before the model's pods start: EKS injects Pod Identity credentials
	// only into pods created after their association.
	Ready []pulumi.Resource
}

// s3ReadPolicy is the role's only permission: read the objects under each location and list
// the bucket under that prefix, nothing else. What the Run:ai Model Streamer calls
// (run-ai/runai-model-streamer, py/runai_model_streamer_s3/.../files.py and its C++ S3
// client): ListObjectsV2 with Prefix "<prefix>/" (s3:ListBucket, with the s3:prefix
// condition), then GetObject, ranged, and HeadObject through boto3's download_file
// (s3:GetObject covers both). Objects encrypted with a customer-managed KMS key would also
// need kms:Decrypt on that key, which is not granted.
func s3ReadPolicy(partition string, objects []S3Location) (string, error) {
	prefixes := map[string][]string{} // bucket -> prefixes; nil entry: the whole bucket
	whole := map[string]bool{}
	for _, o := range objects {
		if o.Prefix == "" {
			whole[o.Bucket] = true
		}
		if !slices.Contains(prefixes[o.Bucket], o.Prefix) {
			prefixes[o.Bucket] = append(prefixes[o.Bucket], o.Prefix)
		}
	}
	type statement struct {
		Sid       string                         `json:"Sid"`
		Effect    string                         `json:"Effect"`
		Action    []string                       `json:"Action"`
		Resource  []string                       `json:"Resource"`
		Condition map[string]map[string][]string `json:"Condition,omitempty"`
	}
	read := statement{Sid: "ReadObjects", Effect: "Allow", Action: []string{"s3:GetObject"}}
	var lists []statement
	for i, b := range slices.Sorted(maps.Keys(prefixes)) {
		bucketARN := fmt.Sprintf("arn:%s:s3:::%s", partition, b)
		list := statement{Sid: fmt.Sprintf("ListBucket%d", i), Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN}}
		if whole[b] {
			read.Resource = append(read.Resource, bucketARN+"/*")
		} else {
			var under []string
			for _, p := range prefixes[b] {
				read.Resource = append(read.Resource, bucketARN+"/"+p+"/*")
				under = append(under, p+"/*")
			}
			list.Condition = map[string]map[string][]string{"StringLike": {"s3:prefix": under}}
		}
		lists = append(lists, list)
	}
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": append([]statement{read}, lists...)})
	return string(doc), err
}

// partition is the AWS partition of region (its ARNs' second field).
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// objectReaders gives each reader a role that only it may assume through EKS Pod Identity
// (pods.eks.amazonaws.com, bound to its namespace and ServiceAccount by the association), with
// read access to exactly its objects. deps (the cluster, the Pod Identity agent) come before
// the associations.
func objectReaders(ctx *pulumi.Context, name, region string, cluster pulumi.StringOutput, readers []ObjectReader, deps []pulumi.Resource, child []pulumi.ResourceOption) (map[string]*ReaderIdentity, error) {
	if len(readers) == 0 {
		return nil, nil
	}
	out := map[string]*ReaderIdentity{}
	for _, r := range readers {
		if len(r.Objects) == 0 {
			return nil, fmt.Errorf("eks: object reader %q has no S3 locations", r.Name)
		}
		if _, dup := out[r.Name]; dup {
			return nil, fmt.Errorf("eks: object reader %q is listed twice", r.Name)
		}
		res := name + "-reader-" + r.Name
		role, err := role(ctx, res, "pods.eks.amazonaws.com", nil, child)
		if err != nil {
			return nil, err
		}
		doc, err := s3ReadPolicy(partition(region), r.Objects)
		if err != nil {
			return nil, err
		}
		policy, err := iam.NewRolePolicy(ctx, res, &iam.RolePolicyArgs{
			Role: role.role.Name, Policy: pulumi.String(doc),
		}, child...)
		if err != nil {
			return nil, err
		}
		assoc, err := eks.NewPodIdentityAssociation(ctx, res, &eks.PodIdentityAssociationArgs{
			ClusterName:    cluster,
			Namespace:      pulumi.String(r.Namespace),
			ServiceAccount: pulumi.String(r.ServiceAccount),
			RoleArn:        role.role.Arn,
		}, append(child, pulumi.DependsOn(append(slices.Clone(deps), policy)))...)
		if err != nil {
			return nil, err
		}
		out[r.Name] = &ReaderIdentity{
			RoleARN: role.role.Arn,
			// Both spellings: boto3 and the AWS C++ SDK each read one of them. The buckets
			// are expected in the cluster's region (streaming across regions is slower and
			// billed as transfer).
			Env:   map[string]string{"AWS_REGION": region, "AWS_DEFAULT_REGION": region},
			Ready: []pulumi.Resource{policy, assoc},
		}
	}
	return out, nil
}
