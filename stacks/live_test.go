package stacks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// What a live cluster would hit with `pulumi up` (issue 20), per cloud: the ingress Service
// type, the autoscalers and what they need, the image's driver needs, the first admin.

type ingressView struct {
	Values struct {
		Autoscaling struct {
			Enabled bool `json:"enabled"`
		} `json:"autoscaling"`
		Service struct {
			Type string `json:"type"`
		} `json:"service"`
	} `json:"values"`
}

func ingressOf(t *testing.T, m *pulumimock.Mocks) ingressView {
	t.Helper()
	return pulumimock.View[ingressView](t, m.Find(t, helmReleaseType, "istio-ingressgateway"))
}

// TestDevStackComesUpWithoutALoadBalancer: the dev stack on kind gets a NodePort ingress
// gateway and no autoscalers (no metrics-server there); GKE and EKS keep LoadBalancers and
// autoscale, and only EKS gets metrics-server installed.
func TestDevStackComesUpWithoutALoadBalancer(t *testing.T) {
	for _, tc := range []struct {
		stack, serviceType  string
		autoscale, installs bool
	}{
		{"dev", "NodePort", false, false},
		{"gke", "LoadBalancer", true, false},
		{"eks", "LoadBalancer", true, true},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi."+tc.stack+".yaml"))
			require.NoError(t, err)
			in := ingressOf(t, m)
			assert.Equal(t, tc.serviceType, in.Values.Service.Type)
			assert.Equal(t, tc.autoscale, in.Values.Autoscaling.Enabled)
			assert.Equal(t, tc.installs, m.Has(helmReleaseType, "metrics-server"))
			assert.Equal(t, tc.autoscale, m.Has("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway"), "the gateway autoscales only with the metrics API")
		})
	}
}

// TestIngressServiceTypeOverrides: an existing cluster with a load balancer (MetalLB, a
// cloud) says so, and one with metrics-server turns the autoscalers on.
func TestIngressServiceTypeOverrides(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"models":   `[{"huggingfaceId":"a/b","modelName":"m","gpuRequestCount":0}]`,
		"platform": `{"istio":{"serviceType":"LoadBalancer"}}`,
		"existing": `{"metricsServer":true}`,
	})
	require.NoError(t, err)
	in := ingressOf(t, m)
	assert.Equal(t, "LoadBalancer", in.Values.Service.Type)
	assert.True(t, in.Values.Autoscaling.Enabled)
}

// TestGPUImageRunsOnTheCloudsDrivers: GKE's and the EKS AL2023 NVIDIA AMI's drivers are older
// than 580, which vLLM's CUDA 13 build needs; the default is the CUDA 12.9 build.
func TestGPUImageRunsOnTheCloudsDrivers(t *testing.T) {
	require.True(t, strings.HasSuffix(versions.VLLMImage, "-cu129"), versions.VLLMImage)
	for _, stack := range []string{"gke", "eks"} {
		m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		for _, r := range m.ByType(statefulSetType) {
			sts := pulumimock.View[struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Image string `json:"image"`
							} `json:"containers"`
						} `json:"spec"`
					} `json:"template"`
				} `json:"spec"`
			}](t, r)
			assert.Equal(t, versions.VLLMImage, sts.Spec.Template.Spec.Containers[0].Image, "%s %s", stack, r.Name)
		}
	}
}

// TestWebUIAdminPasswordIsASecretOutput: the generated first-admin password is exported, as
// a secret, and is what the cluster's Secret holds.
func TestWebUIAdminPasswordIsASecretOutput(t *testing.T) {
	m, out, err := run(t, map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuRequestCount":0}]`})
	require.NoError(t, err)
	secret := m.Find(t, "kubernetes:core/v1:Secret", "webui-admin")
	stored := pulumimock.View[struct {
		StringData map[string]string `json:"stringData"`
	}](t, secret)
	require.NotEmpty(t, stored.StringData["password"])
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(secret.Inputs))
	got, isSecret := pulumimock.Await(t, out.WebUIAdminPassword)
	assert.Equal(t, stored.StringData["password"], got)
	assert.True(t, isSecret)
}

// TestConfigMapsUpdateInPlace: the real API server showed that removing a model replaced the
// gateway's ConfigMap (the provider treats ConfigMap data as immutable by default) and, through
// its name, the gateway Deployment: every gateway pod at once. The provider updates them in
// place, on every cloud.
func TestConfigMapsUpdateInPlace(t *testing.T) {
	for _, stack := range []string{"dev", "gke", "eks"} {
		m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		p := pulumimock.Plain(m.Find(t, k8sProviderType, "cluster").Inputs)
		assert.Equal(t, "true", fmt.Sprint(p["enableConfigMapMutable"]), stack)
	}
}

// TestNoServiceAccountTokenInWorkloads: none of the platform's own pods (vLLM, the gateway,
// Open WebUI) calls the Kubernetes API, so none gets a service-account token mounted.
func TestNoServiceAccountTokenInWorkloads(t *testing.T) {
	for _, stack := range []string{"dev", "gke", "eks"} {
		m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		n := 0
		for _, typ := range []string{"kubernetes:apps/v1:Deployment", statefulSetType} {
			for _, r := range m.ByType(typ) {
				w := pulumimock.View[struct {
					Spec struct {
						Template struct {
							Spec struct {
								Automount *bool `json:"automountServiceAccountToken"`
							} `json:"spec"`
						} `json:"template"`
					} `json:"spec"`
				}](t, r)
				auto := w.Spec.Template.Spec.Automount
				if assert.NotNil(t, auto, "%s %s %s", stack, typ, r.Name) {
					assert.False(t, *auto, "%s %s %s", stack, typ, r.Name)
				}
				n++
			}
		}
		assert.GreaterOrEqual(t, n, 3, "%s: models, gateway and Open WebUI", stack)
	}
}
