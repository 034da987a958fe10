package model_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

// TestStreamedWeights: with weights.uri the model argument is the URI and vLLM loads it with
// the Run:ai Model Streamer; the served name stays the configured one; the pods run as the
// ServiceAccount that may read the bucket.
func TestStreamedWeights(t *testing.T) {
	for _, uri := range []string{"s3://acme-models/llama/3-8b", "gs://acme-models/llama/3-8b"} {
		t.Run(uri[:2], func(t *testing.T) {
			// No huggingfaceId: config and tokenizer come from the bucket too.
			s := specs(t, `[{"modelName":"llama-3-8b","weights":{"uri":"`+uri+`","serviceAccount":"model-reader"}}]`)
			m, _ := deploy(t, s, false)
			sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "llama-3-8b")
			c := container(t, sts)

			assert.Equal(t, uri, c.Args[0], "the URI is vllm serve's positional argument")
			assert.Equal(t, "runai_streamer", argValue(t, c.Args, "--load-format"))
			assert.Equal(t, "llama-3-8b", argValue(t, c.Args, "--served-model-name"),
				"vLLM serves a streamed model from a local copy of its config: the name must be explicit")
			assert.Equal(t, "model-reader", sts.Spec.Template.Spec.ServiceAccountName, "weights.serviceAccount (an existing cluster's own account)")
			assert.Equal(t, model.CacheMount+"/vllm", envOf(c)["VLLM_CACHE_ROOT"])
		})
	}
}

// TestHuggingFaceStaysTheDefault: without weights.uri nothing changes but the compile cache,
// which every model keeps on its claim.
func TestHuggingFaceStaysTheDefault(t *testing.T) {
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	c := container(t, sts)
	assert.Equal(t, "Qwen/Qwen3-8B", c.Args[0])
	assert.NotContains(t, c.Args, "--load-format", "vLLM's default loader for a Hugging Face download")
	assert.Empty(t, sts.Spec.Template.Spec.ServiceAccountName, "the namespace's default account")
	assert.False(t, *sts.Spec.Template.Spec.AutomountServiceAccountToken)

	env := envOf(c)
	// Both caches on the per-replica claim, so a restarted replica skips the download and the
	// compilation.
	assert.Equal(t, model.CacheMount+"/huggingface", env["HF_HOME"])
	assert.Equal(t, model.CacheMount+"/vllm", env["VLLM_CACHE_ROOT"])
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: model.CacheMount})
	assert.NotContains(t, env, "AWS_REGION")
}

// TestObjectStoreAccess: the cloud's reader account and its storage-client settings reach the
// pod.
func TestObjectStoreAccess(t *testing.T) {
	s := specs(t, `[{"modelName":"llama","weights":{"uri":"s3://acme-models/llama","serviceAccount":"ignored"}}]`)[0]
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := model.New(ctx, "llama", model.Args{
			Spec: s, Image: pulumi.String(gpuImage), CPUImage: pulumi.String(cpuImage), Namespace: "llm",
			ObjectStore: &model.ObjectStoreAccess{ServiceAccount: "llama", Env: map[string]string{"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"}},
		})
		return err
	})
	require.NoError(t, err)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "llama")
	assert.Equal(t, "llama", sts.Spec.Template.Spec.ServiceAccountName, "the account the cloud trusts")
	env := envOf(container(t, sts))
	assert.Equal(t, "us-west-2", env["AWS_REGION"])
	assert.Equal(t, "us-west-2", env["AWS_DEFAULT_REGION"])
}

// TestComponentChecksItsSource: the component (used from any language) refuses a model without
// weights and a weights URI it cannot stream, by input name.
func TestComponentChecksItsSource(t *testing.T) {
	s := specs(t, `[{"huggingfaceId":"a/b","modelName":"m"}]`)[0]
	for _, c := range []struct {
		name, hf, uri, want string
	}{
		{"neither", "", "", `Model "m": spec.huggingfaceId: is required`},
		{"https", "", "https://acme.s3.amazonaws.com/m", `Model "m": spec.weights.uri: "https://acme.s3.amazonaws.com/m" is not an s3:// or gs:// URI`},
		{"bad bucket", "a/b", "s3://Acme_Models/m", `Model "m": spec.weights.uri: "s3://Acme_Models/m": bucket "Acme_Models" is not a valid S3 bucket name`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := s
			s.HuggingfaceID, s.Weights.URI = c.hf, c.uri
			_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
				_, err := model.New(ctx, "m", model.Args{Spec: s, Image: pulumi.String(gpuImage), CPUImage: pulumi.String(cpuImage), Namespace: "llm"})
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestParseObjectURI(t *testing.T) {
	for uri, want := range map[string]model.ObjectURI{
		"s3://acme-models/llama/3-8b":         {Scheme: "s3", Bucket: "acme-models", Prefix: "llama/3-8b"},
		"s3://acme-models/llama/3-8b/":        {Scheme: "s3", Bucket: "acme-models", Prefix: "llama/3-8b"},
		"s3://acme-models":                    {Scheme: "s3", Bucket: "acme-models"},
		"s3://acme-models/":                   {Scheme: "s3", Bucket: "acme-models"},
		"gs://acme_models.example.com/m_1/v2": {Scheme: "gs", Bucket: "acme_models.example.com", Prefix: "m_1/v2"},
	} {
		got, err := model.ParseObjectURI(uri)
		require.NoError(t, err, uri)
		assert.Equal(t, want, got, uri)
	}
	for uri, why := range map[string]string{
		"acme-models/llama":              "not an s3:// or gs:// URI",
		"hf://Qwen/Qwen3-8B":             "not an s3:// or gs:// URI",
		"az://container/llama":           "not an s3:// or gs:// URI",
		"S3://acme-models/llama":         "not an s3:// or gs:// URI",
		"s3://ab/llama":                  "not a valid S3 bucket name",
		"s3://Acme-models/llama":         "not a valid S3 bucket name",
		"s3://acme.models/llama":         "no dots",
		"s3://acme-models-/llama":        "not a valid S3 bucket name",
		"s3://192.168.10.5/llama":        "IP address",
		"s3://xn--acme/llama":            "reserves",
		"s3://acme-s3alias/llama":        "reserves",
		"gs://goog-models/llama":         "reserves",
		"gs://my-google-models/llama":    "reserves",
		"gs://-acme/llama":               "not a valid Cloud Storage bucket name",
		"gs://" + longLabel + "/llama":   "longer than 63",
		"s3://acme-models/llama//3-8b":   "empty",
		"s3://acme-models/../other":      "\"..\"",
		"s3://acme-models/llama/*":       "may not contain",
		"gs://acme-models/llama\"||true": "may not contain",
		"gs://acme-models/llama 3":       "may not contain",
	} {
		_, err := model.ParseObjectURI(uri)
		require.Error(t, err, uri)
		assert.Contains(t, err.Error(), why, uri)
	}
}

const longLabel = "a123456789b123456789c123456789d123456789e123456789f123456789g1234"

func TestObjectSources(t *testing.T) {
	s := model.Spec{
		Weights: model.Weights{URI: "s3://acme-models/llama"},
		LoRAs: []model.LoRA{
			{Name: "sql", Source: "s3://acme-adapters/sql"},
			{Name: "hub", Source: "org/some-adapter"}, // Hugging Face: no bucket access needed
			{Name: "again", Source: "s3://acme-models/llama"},
		},
	}
	assert.Equal(t, []string{"s3://acme-models/llama", "s3://acme-adapters/sql"}, s.ObjectSources())
	assert.Empty(t, model.Spec{HuggingfaceID: "a/b", LoRAs: []model.LoRA{{Name: "x", Source: "org/x"}}}.ObjectSources())
}
