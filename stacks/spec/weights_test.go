package spec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/stacks/spec"
)

// TestObjectStorageSourcesPerCloud: each cloud accepts the object storage it can grant access
// to, and a streamed model needs no Hugging Face id.
func TestObjectStorageSourcesPerCloud(t *testing.T) {
	for name, raw := range map[string]map[string]string{
		"s3 on eks": {"cloud": "eks", "eks": `{"region":"us-west-2"}`,
			"models": `[{"modelName":"m","weights":{"uri":"s3://acme-models/llama/3-8b/"}},{"huggingfaceId":"a/b","modelName":"n","loras":[{"name":"sql","source":"s3://acme-adapters/sql"}]}]`},
		"gs on gke": {"cloud": "gke", "gke": `{"project":"p","region":"us-central1"}`,
			"models": `[{"modelName":"m","weights":{"uri":"gs://acme-models"}}]`},
		"existing with the user's account": {"models": `[{"modelName":"m","weights":{"uri":"gs://acme-models/m","serviceAccount":"model-reader"}}]`},
		"hugging face everywhere":          {"models": `[{"huggingfaceId":"a/b","modelName":"m","loras":[{"name":"x","source":"org/x"}]}]`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := spec.Parse(raw)
			require.NoError(t, err)
			assert.NoError(t, spec.Validate(&cfg))
		})
	}
}
