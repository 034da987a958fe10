package stacks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// packageInputs are the Platform component's plain inputs for its snapshot: two models (one
// autoscaled), a tuned gateway, Open WebUI, an edge with hosts and TLS, observability, and the
// cluster's GPU labels and metrics API, so every part of the application layer is declared.
func packageInputs(render bool) map[string]any {
	return map[string]any{
		"namespace": "llm-pkg",
		"models": []any{
			map[string]any{
				"huggingfaceId": "Qwen/Qwen3-8B", "modelName": "qwen3-8b", "gpuRequestCount": 1,
				"autoscaling": map[string]any{"enabled": true, "minReplicas": 0, "maxReplicas": 2},
			},
			map[string]any{"huggingfaceId": "Qwen/Qwen3-0.6B", "modelName": "qwen3-0.6b", "gpuRequestCount": 0, "replicas": 2},
		},
		"gateway":         map[string]any{"replicas": 2, "timeoutSeconds": 600},
		"webui":           map[string]any{"enableSignup": true},
		"edge":            map[string]any{"hosts": []any{"chat.example.com"}, "tls": map[string]any{"credentialName": "chat-tls"}},
		"observability":   map[string]any{"enabled": true},
		"gpuNodeSelector": map[string]any{"nvidia.com/gpu.present": "true"},
		"metricsApi":      true,
		"render":          render,
	}
}

// declarePackage declares the Platform component as the component package (cmd/provider)
// does: the plain inputs read as a stack config, the secret inputs beside them.
func declarePackage(ctx *pulumi.Context, inputs map[string]any) error {
	in, err := ReadPlatformInputs(inputs, func(out any) error {
		*out.(*PlatformArgs) = PlatformArgs{
			Render:             inputs["render"].(bool),
			HFToken:            pulumi.String("hf-token-value"),
			GatewayAPIKeys:     pulumi.ToStringArray([]string{"sk-one", "sk-two"}),
			WebUISecretKey:     pulumi.String("webui-secret-key"),
			WebUIAdminPassword: pulumi.String("admin-password"),
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = NewPlatform(ctx, "pkg", in)
	return err
}

// TestPackageDeclaredResourcesSnapshot pins every resource the component package's Platform
// declares for a rich set of inputs, as TestDeclaredResourcesSnapshot does for the stack, so a
// refactor of the package's entry point proves it declares exactly what it did (-update
// rewrites the files when a change is meant).
func TestPackageDeclaredResourcesSnapshot(t *testing.T) {
	for name, render := range map[string]bool{"package": false, "package-render": true} {
		t.Run(name, func(t *testing.T) {
			m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
				return declarePackage(ctx, packageInputs(render))
			})
			require.NoError(t, err)
			matchSnapshot(t, name, m)
		})
	}
}
