package cluster_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

func TestExistingAndRenderedClusters(t *testing.T) {
	var existing, rendered *cluster.Cluster
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		existing, err = cluster.New(ctx, "existing", cluster.Args{
			Name: pulumi.String("kind-dev"), Context: pulumi.String("kind-dev"),
			GPUNodeSelector: map[string]string{"gpu": "yes"},
		})
		if err != nil {
			return err
		}
		rendered, err = cluster.New(ctx, "rendered", cluster.Args{
			Name: pulumi.String("rendered"), Kubeconfig: pulumi.String("ignored"), RenderDir: "/tmp/out",
		})
		return err
	})
	require.NoError(t, err)

	p := pulumimock.Plain(m.Find(t, "pulumi:providers:kubernetes", "existing").Inputs)
	assert.Equal(t, "kind-dev", p["context"])
	assert.NotContains(t, p, "renderYamlToDirectory")
	assert.Equal(t, map[string]string{"gpu": "yes"}, existing.GPUNodeSelector)
	assert.Nil(t, existing.GPUTaint)
	assert.Equal(t, pulumi.StringOutput{}, existing.Kubeconfig, "an existing cluster's kubeconfig is the user's own")

	r := pulumimock.Plain(m.Find(t, "pulumi:providers:kubernetes", "rendered").Inputs)
	assert.Equal(t, "/tmp/out", r["renderYamlToDirectory"])
	assert.NotContains(t, r, "kubeconfig", "the provider refuses a kubeconfig with renderYamlToDirectory")
	require.NotNil(t, rendered.Provider)
}
