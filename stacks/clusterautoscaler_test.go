package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

const (
	podIdentityType = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	asgTagType      = "aws:autoscaling/tag:Tag"
	caRelease       = "cluster-autoscaler"
)

// autoscaledModels: a GPU model that scales to zero, and one that does not autoscale.
const autoscaledModels = `[
	{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","gpuRequestCount":1,
	 "autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}},
	{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0}
]`

// autoscaledEKS is an EKS stack with an autoscaled model; eks is its eks key.
func autoscaledEKS(eks string) map[string]string {
	return map[string]string{
		"cloud": "eks", "eks": eks, "models": autoscaledModels,
		"observability": `{"enabled":true}`,
	}
}

// caValues are the cluster-autoscaler chart's values the program sets (chart 9.59.0's names).
type caValues struct {
	CloudProvider string `json:"cloudProvider"`
	AWSRegion     string `json:"awsRegion"`
	AutoDiscovery struct {
		ClusterName string `json:"clusterName"`
	} `json:"autoDiscovery"`
	RBAC struct {
		ServiceAccount struct {
			Create bool   `json:"create"`
			Name   string `json:"name"`
		} `json:"serviceAccount"`
	} `json:"rbac"`
	ExtraArgs map[string]string `json:"extraArgs"`
	Resources struct {
		Requests map[string]string `json:"requests"`
	} `json:"resources"`
}

// TestEKSClusterAutoscaler: on EKS, an autoscaled model brings the Cluster Autoscaler: its
// pinned chart discovers this cluster's groups and runs as the service account the pod identity
// association names, after it; the GPU group is tagged to scale from zero.
func TestEKSClusterAutoscaler(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
	}{
		{"created", autoscaledEKS(`{"region":"us-west-2","cluster":{"name":"llm-eks"}}`)},
		{"adopted, on", autoscaledEKS(`{"region":"us-west-2","clusterAutoscaler":true,"podIdentityAgent":true,"cluster":` + adoptedEKS + `}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, out := runCloud(t, tc.config)
			name, _ := pulumimock.Await(t, out.ClusterName)

			r := m.Find(t, helmReleaseType, caRelease)
			rel := pulumimock.View[struct {
				Chart          string   `json:"chart"`
				Version        string   `json:"version"`
				Namespace      string   `json:"namespace"`
				Values         caValues `json:"values"`
				RepositoryOpts struct {
					Repo string `json:"repo"`
				} `json:"repositoryOpts"`
			}](t, r)
			assert.Equal(t, "cluster-autoscaler", rel.Chart)
			assert.Equal(t, versions.ClusterAutoscaler.Version, rel.Version)
			assert.Equal(t, "9.59.0", rel.Version, "chart 9.59.0 is Cluster Autoscaler 1.35.0")
			assert.Equal(t, "https://kubernetes.github.io/autoscaler", rel.RepositoryOpts.Repo)
			v := rel.Values
			assert.Equal(t, "aws", v.CloudProvider)
			assert.Equal(t, "us-west-2", v.AWSRegion)
			assert.Equal(t, name, v.AutoDiscovery.ClusterName, "discovers the groups tagged k8s.io/cluster-autoscaler/<cluster>")
			assert.True(t, v.RBAC.ServiceAccount.Create)
			assert.Equal(t, map[string]string{"expander": "least-waste", "scale-down-unneeded-time": "10m", "max-node-provision-time": "15m"}, v.ExtraArgs)
			assert.Equal(t, map[string]string{"cpu": "100m", "memory": "600Mi"}, v.Resources.Requests)

			assoc := m.Find(t, podIdentityType, "eks-cluster-autoscaler")
			assert.Equal(t, rel.Namespace, inputsOf(assoc)["namespace"], "the association's namespace is the release's")
			assert.Equal(t, v.RBAC.ServiceAccount.Name, inputsOf(assoc)["serviceAccount"], "and its service account the chart's")
			assert.Equal(t, name, inputsOf(assoc)["clusterName"])
			assert.Contains(t, r.DependsOn, assoc.URN, "the autoscaler's pod starts with credentials")

			policy := inputsOf(m.Find(t, "aws:iam/policy:Policy", "eks-cluster-autoscaler"))["policy"].(string)
			assert.Contains(t, policy, `"aws:ResourceTag/k8s.io/cluster-autoscaler/`+name.(string)+`":"false"`,
				"it scales only this cluster's groups")

			tags := map[string]string{}
			for _, tag := range m.ByType(asgTagType) {
				in := pulumimock.View[struct {
					AutoscalingGroupName string `json:"autoscalingGroupName"`
					Tag                  struct{ Key, Value string }
				}](t, tag)
				assert.Equal(t, "eks-gpu-asg", in.AutoscalingGroupName)
				tags[in.Tag.Key] = in.Tag.Value
			}
			assert.Equal(t, map[string]string{
				"k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu":     "1",
				"k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present": "true",
				"k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu":         "true:NoSchedule",
				// How the autoscaler tells a GPU node (g6.2xlarge: an L4).
				"k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator": "nvidia-l4",
			}, tags)
			// The model's pods would fit a node built from those tags.
			pod := modelStatefulSet(t, m, "qwen3-8b").Spec.Template.Spec
			for k, want := range pod.NodeSelector {
				assert.Equal(t, want, tags["k8s.io/cluster-autoscaler/node-template/label/"+k], "the template node has the selected label %s", k)
			}
			assertTolerates(t, pod.Tolerations, []cloudTaint{{Key: "nvidia.com/gpu", Value: "true", Effect: "NO_SCHEDULE"}})
			assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
		})
	}

	t.Run("none without an autoscaled model", func(t *testing.T) {
		m, _ := runCloud(t, eksConfig(`{"name":"llm-eks"}`))
		assertNoClusterAutoscaler(t, m)
		assert.Empty(t, m.ByType(asgTagType))
	})
	t.Run("adopted: the cluster's own autoscaler, with the tags it needs", func(t *testing.T) {
		m, _ := runCloud(t, autoscaledEKS(`{"region":"us-west-2","cluster":`+adoptedEKS+`}`))
		assertNoClusterAutoscaler(t, m)
		assert.Len(t, m.ByType(asgTagType), 4)
	})
	t.Run("off", func(t *testing.T) {
		m, _ := runCloud(t, autoscaledEKS(`{"region":"us-west-2","clusterAutoscaler":false}`))
		assertNoClusterAutoscaler(t, m)
	})
	t.Run("not on GKE", func(t *testing.T) {
		cfg := gkeConfig(`{"name":"llm-gke"}`)
		cfg["models"], cfg["observability"] = autoscaledModels, `{"enabled":true}`
		m, _ := runCloud(t, cfg)
		assertNoClusterAutoscaler(t, m)
		assert.True(t, m.Has(helmReleaseType, "keda"), "the models still autoscale")
	})
}

func assertNoClusterAutoscaler(t *testing.T, m *pulumimock.Mocks) {
	t.Helper()
	assert.False(t, m.Has(helmReleaseType, caRelease))
	assert.False(t, m.Has(podIdentityType, "eks-cluster-autoscaler"))
	assert.False(t, m.Has("aws:iam/role:Role", "eks-cluster-autoscaler"))
}

// TestCapacityCountsTheClusterAutoscaler: its pod runs on the system nodes, so the capacity
// check counts it exactly when the stack installs it.
func TestCapacityCountsTheClusterAutoscaler(t *testing.T) {
	counted := func(config map[string]string) int {
		n := 0
		for _, p := range platformPods(parsed(t, config), capacity.Resources{}) {
			if p.Name == "the Cluster Autoscaler" {
				assert.Equal(t, addons.ClusterAutoscalerRequests, p.Requests)
				n += p.Count
			}
		}
		return n
	}
	assert.Equal(t, 1, counted(autoscaledEKS(`{"region":"us-west-2"}`)))
	assert.Zero(t, counted(eksConfig(`{"name":"llm-eks"}`)), "no autoscaled model")
	assert.Zero(t, counted(autoscaledEKS(`{"region":"us-west-2","cluster":`+adoptedEKS+`}`)), "an adopted cluster's own")
}
