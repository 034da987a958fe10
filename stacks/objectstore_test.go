package stacks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const (
	serviceAccountType = "kubernetes:core/v1:ServiceAccount"
	modelType          = "llm-platform:index:Model"
)

// A model streaming its weights from a bucket, with one adapter in another, and a Hugging Face
// model beside it.
func streamedModels(scheme string) string {
	return `[
	{"modelName":"llama-3-8b","weights":{"uri":"` + scheme + `://acme-models/llama/3-8b"},
	 "loras":[{"name":"llama-sql","source":"` + scheme + `://acme-adapters/sql"}]},
	{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0}
]`
}

// readerAccounts are the ServiceAccounts the application declared for models reading object
// storage.
func readerAccounts(t *testing.T, m *pulumimock.Mocks) map[string]corev1.ServiceAccount {
	t.Helper()
	out := map[string]corev1.ServiceAccount{}
	for _, r := range m.ByType(serviceAccountType) {
		if strings.HasSuffix(r.Name, "-reader") {
			out[r.Name] = pulumimock.View[corev1.ServiceAccount](t, r)
		}
	}
	return out
}

// assertWaitsFor: the model, and so its pods, are declared after the cloud's grant.
func assertWaitsFor(t *testing.T, m *pulumimock.Mocks, model string, grant pulumimock.Resource) {
	t.Helper()
	// A component registers once its dependencies exist, and its children (the StatefulSet)
	// only after it.
	assert.Contains(t, m.Find(t, modelType, model).DependsOn, grant.URN, "credentials are bound when a pod starts")
}

func TestEKSModelStreamsFromS3(t *testing.T) {
	cfg := eksConfig(`{"name":"llm-eks"}`)
	cfg["models"] = streamedModels("s3")
	m, _ := runCloud(t, cfg)

	accounts := readerAccounts(t, m)
	require.Len(t, accounts, 1, "only the model that reads S3 gets an account")
	sa := accounts["llama-3-8b-reader"]
	assert.Equal(t, "llama-3-8b", sa.Name)
	assert.Equal(t, "llm", sa.Namespace)
	assert.Empty(t, sa.Annotations, "Pod Identity binds by name")
	require.NotNil(t, sa.AutomountServiceAccountToken)
	assert.False(t, *sa.AutomountServiceAccountToken)

	assoc := m.Find(t, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "eks-reader-llama-3-8b")
	in := inputsOf(assoc)
	assert.Equal(t, sa.Namespace, in["namespace"])
	assert.Equal(t, sa.Name, in["serviceAccount"])
	var policy struct{ Statement []struct{ Resource []string } }
	require.NoError(t, json.Unmarshal([]byte(inputsOf(m.Find(t, "aws:iam/rolePolicy:RolePolicy", "eks-reader-llama-3-8b"))["policy"].(string)), &policy))
	var resources []string
	for _, s := range policy.Statement {
		resources = append(resources, s.Resource...)
	}
	assert.ElementsMatch(t, []string{
		"arn:aws:s3:::acme-adapters/sql/*", "arn:aws:s3:::acme-models/llama/3-8b/*", // the adapter and the weights
		"arn:aws:s3:::acme-adapters", "arn:aws:s3:::acme-models", // listing, under the prefixes
	}, resources)
	assert.False(t, m.Has("aws:eks/podIdentityAssociation:PodIdentityAssociation", "eks-reader-qwen3-0-6b"))
	assertWaitsFor(t, m, "llama-3-8b", assoc)

	pod := modelStatefulSet(t, m, "llama-3-8b").Spec.Template.Spec
	assert.Equal(t, "llama-3-8b", pod.ServiceAccountName)
	c := pod.Containers[0]
	assert.Equal(t, "s3://acme-models/llama/3-8b", c.Args[0])
	assert.Contains(t, c.Env, corev1.EnvVar{Name: "AWS_REGION", Value: "us-west-2"})

	plain := modelStatefulSet(t, m, "qwen3-0-6b").Spec.Template.Spec
	assert.Empty(t, plain.ServiceAccountName, "a Hugging Face model keeps the namespace's default account")
	assert.NotContains(t, plain.Containers[0].Env, corev1.EnvVar{Name: "AWS_REGION", Value: "us-west-2"})
}

func TestGKEModelStreamsFromCloudStorage(t *testing.T) {
	cfg := gkeConfig(`{"name":"llm-gke"}`)
	cfg["models"] = streamedModels("gs")
	m, _ := runCloud(t, cfg)

	accounts := readerAccounts(t, m)
	require.Len(t, accounts, 1)
	sa := accounts["llama-3-8b-reader"]
	gsa := inputsOf(m.Find(t, "gcp:serviceaccount/account:Account", "gke-reader-llama-3-8b"))["accountId"].(string)
	assert.Equal(t, map[string]string{"iam.gke.io/gcp-service-account": gsa + "@acme-ml.iam.gserviceaccount.com"}, sa.Annotations,
		"Workload Identity: the Kubernetes account names the Google one")
	wi := m.Find(t, "gcp:serviceaccount/iAMMember:IAMMember", "gke-reader-llama-3-8b-workload-identity")
	assert.Equal(t, "serviceAccount:acme-ml.svc.id.goog[llm/llama-3-8b]", inputsOf(wi)["member"])
	var buckets []string
	for _, r := range m.ByType("gcp:storage/bucketIAMMember:BucketIAMMember") {
		buckets = append(buckets, inputsOf(r)["bucket"].(string))
	}
	assert.ElementsMatch(t, []string{"acme-adapters", "acme-adapters", "acme-models", "acme-models"}, buckets)
	assertWaitsFor(t, m, "llama-3-8b", wi)

	pod := modelStatefulSet(t, m, "llama-3-8b").Spec.Template.Spec
	assert.Equal(t, "llama-3-8b", pod.ServiceAccountName)
	assert.Equal(t, "gs://acme-models/llama/3-8b", pod.Containers[0].Args[0])
}

// TestExistingClusterUsesTheUsersAccount: on an existing cluster the platform declares no
// account and no cloud object; the model runs as the one the user named.
func TestExistingClusterUsesTheUsersAccount(t *testing.T) {
	m, _ := runCloud(t, map[string]string{
		"models": `[{"modelName":"llama","weights":{"uri":"s3://acme-models/llama","serviceAccount":"model-reader"}}]`,
	})
	assert.Empty(t, readerAccounts(t, m))
	for _, r := range m.Resources() {
		assert.False(t, strings.HasPrefix(r.Type, "aws:") || strings.HasPrefix(r.Type, "gcp:"), "no cloud object: %s", r.Type)
	}
	assert.Equal(t, "model-reader", modelStatefulSet(t, m, "llama").Spec.Template.Spec.ServiceAccountName)
}

// TestNoObjectStorageNoIdentity: without object-storage sources nothing of this exists.
func TestNoObjectStorageNoIdentity(t *testing.T) {
	for name, cfg := range map[string]map[string]string{
		"eks": eksConfig(`{"name":"llm-eks"}`),
		"gke": gkeConfig(`{"name":"llm-gke"}`),
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := runCloud(t, cfg)
			assert.Empty(t, readerAccounts(t, m))
			assert.Empty(t, m.ByType("aws:iam/rolePolicy:RolePolicy"))
			assert.Empty(t, m.ByType("gcp:storage/bucketIAMMember:BucketIAMMember"))
			for _, r := range m.ByType("aws:eks/podIdentityAssociation:PodIdentityAssociation") {
				assert.NotContains(t, r.Name, "reader")
			}
			assert.Empty(t, modelStatefulSet(t, m, "qwen3-8b").Spec.Template.Spec.ServiceAccountName)
		})
	}
}
