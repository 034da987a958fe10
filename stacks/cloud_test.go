package stacks

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/klog/v2"

	"github.com/llm-platform/llm-platform/internal/harness"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// The cloud step of the program, proven through stacks.Program: GKE and EKS
// in create and adopt mode, and the existing cluster. Each test reads what
// the cloud declared and what the application layer placed on it.

const (
	gkeClusterType   = "gcp:container/cluster:Cluster"
	gkeNodePoolType  = "gcp:container/nodePool:NodePool"
	gkeLookup        = "gcp:container/getCluster:getCluster"
	eksClusterType   = "aws:eks/cluster:Cluster"
	eksNodeGroupType = "aws:eks/nodeGroup:NodeGroup"
	eksLookup        = "aws:eks/getCluster:getCluster"
	azLookup         = "aws:index/getAvailabilityZones:getAvailabilityZones"
	k8sProviderType  = "pulumi:providers:kubernetes"
	helmReleaseType  = "kubernetes:helm.sh/v3:Release"
	statefulSetType  = "kubernetes:apps/v1:StatefulSet"
	storageClassType = "kubernetes:storage.k8s.io/v1:StorageClass"

	adoptedGKEEndpoint = "34.118.0.10"
	adoptedEKSEndpoint = "https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com"
)

// clusterCreating are the resource types only a cluster-creating path
// declares; adopt mode and the existing cloud declare none of them.
var clusterCreating = []string{
	gkeClusterType, eksClusterType,
	"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
	"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable",
	"aws:eks/accessEntry:AccessEntry",
}

// adoptLookups answers every lookup the cloud components make: the zones of
// a new EKS VPC and the clusters that adopt mode finds.
func adoptLookups() *harness.Mocks {
	m := cloudLookups()
	m.CallResults[gkeLookup] = resource.NewPropertyMapFromMap(map[string]any{
		"name":        "shared-gpu",
		"endpoint":    adoptedGKEEndpoint,
		"masterAuths": []any{map[string]any{"clusterCaCertificate": "R0tFLUNB"}},
	})
	m.CallResults[eksLookup] = resource.NewPropertyMapFromMap(map[string]any{
		"name":                   "shared",
		"endpoint":               adoptedEKSEndpoint,
		"certificateAuthorities": []any{map[string]any{"data": "RUtTLUNB"}},
		"vpcConfig":              map[string]any{"subnetIds": []any{"subnet-0aaa", "subnet-0bbb"}},
	})
	return m
}

func runCloud(t *testing.T, config map[string]string) (*harness.Mocks, *Outputs) {
	t.Helper()
	var out *Outputs
	m, err := harness.Run(t, config, nil, func(ctx *pulumi.Context) error {
		var err error
		out, err = Program(ctx)
		return err
	}, adoptLookups())
	require.NoError(t, err)
	return m, out
}

// A GPU model and a CPU-only one: only the GPU model is placed on GPU nodes.
const cloudModels = `[
	{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","gpuRequestCount":1},
	{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0}
]`

func gkeConfig(cluster string) map[string]string {
	return map[string]string{
		"cloud":  "gke",
		"gke":    `{"project":"acme-ml","region":"us-central1","cluster":` + cluster + `}`,
		"models": cloudModels,
	}
}

func eksConfig(cluster string) map[string]string {
	return map[string]string{
		"cloud":  "eks",
		"eks":    `{"region":"us-west-2","cluster":` + cluster + `}`,
		"models": cloudModels,
	}
}

func TestGKECreate(t *testing.T) {
	m, out := runCloud(t, gkeConfig(`{"name":"llm-gke"}`))

	require.Len(t, m.ByType(gkeClusterType), 1)
	assert.Equal(t, "llm-gke", inputsOf(m.ByType(gkeClusterType)[0])["name"])
	assert.ElementsMatch(t, []string{"gke-system", "gke-gpu"}, resourceNames(m.ByType(gkeNodePoolType)))
	assert.NotContains(t, m.Calls(), gkeLookup, "create mode looks nothing up")
	assertNoneOf(t, m, "aws:")

	kubeconfig := assertSecretKubeconfig(t, m, out)
	assert.Contains(t, kubeconfig, "gke-gcloud-auth-plugin")
	assert.Contains(t, kubeconfig, "current-context: llm-gke")

	assertGPUModelsLandOnTheGKEPool(t, m)
	assert.False(t, m.Has(helmReleaseType, "nvidia-device-plugin"), "GKE manages its own device plugin")
	assert.Empty(t, m.ByType(storageClassType), "GKE's default class serves the cache claims")
	assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
}

func TestGKEAdopt(t *testing.T) {
	m, out := runCloud(t, gkeConfig(`{"create":false,"name":"shared-gpu"}`))

	assertNothingClusterCreating(t, m)
	assert.Equal(t, []string{"gke-gpu"}, resourceNames(m.ByType(gkeNodePoolType)), "only the GPU pool is added")
	assert.Contains(t, m.Calls(), gkeLookup)
	assert.Equal(t, "shared-gpu", inputsOf(m.Find(t, gkeNodePoolType, "gke-gpu"))["cluster"])

	kubeconfig := assertSecretKubeconfig(t, m, out)
	assert.Contains(t, kubeconfig, "server: https://"+adoptedGKEEndpoint)
	assert.Contains(t, kubeconfig, "gke-gcloud-auth-plugin")
	name, _ := harness.Await(t, out.ClusterName)
	assert.Equal(t, "shared-gpu", name)

	assertGPUModelsLandOnTheGKEPool(t, m)
	assert.False(t, m.Has(helmReleaseType, "nvidia-device-plugin"))
	assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
}

func TestEKSCreate(t *testing.T) {
	m, out := runCloud(t, eksConfig(`{"name":"llm-eks"}`))

	require.Len(t, m.ByType(eksClusterType), 1)
	assert.Equal(t, "llm-eks", inputsOf(m.ByType(eksClusterType)[0])["name"])
	assert.Len(t, m.ByType("aws:ec2/vpc:Vpc"), 1)
	assert.Len(t, m.ByType("aws:ec2/subnet:Subnet"), 4)
	assert.ElementsMatch(t, []string{"eks-system", "eks-gpu"}, resourceNames(m.ByType(eksNodeGroupType)))
	assert.Contains(t, m.Calls(), azLookup)
	assert.NotContains(t, m.Calls(), eksLookup, "create mode looks no cluster up")
	assertNoneOf(t, m, "gcp:")

	kubeconfig := assertSecretKubeconfig(t, m, out)
	assert.Equal(t, []string{"eks", "get-token", "--cluster-name", "llm-eks", "--region", "us-west-2", "--output", "json"}, execArgs(t, kubeconfig))

	assertEKSStorageAndDevicePlugin(t, m)
	assertGPUModelsLandOnTheEKSNodeGroup(t, m)
	assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
}

func TestEKSAdopt(t *testing.T) {
	m, out := runCloud(t, eksConfig(`{"create":false,"name":"shared"}`))

	assertNothingClusterCreating(t, m)
	assert.Equal(t, []string{"eks-gpu"}, resourceNames(m.ByType(eksNodeGroupType)), "only the GPU node group is added")
	assert.Equal(t, []string{eksLookup}, m.Calls(), "no zone lookup, one cluster lookup")
	gpu := inputsOf(m.Find(t, eksNodeGroupType, "eks-gpu"))
	assert.Equal(t, "shared", gpu["clusterName"])
	assert.Equal(t, []any{"subnet-0aaa", "subnet-0bbb"}, gpu["subnetIds"], "the adopted cluster's subnets")

	kubeconfig := assertSecretKubeconfig(t, m, out)
	assert.Contains(t, kubeconfig, "server: "+adoptedEKSEndpoint)
	assert.Equal(t, []string{"eks", "get-token", "--cluster-name", "shared", "--region", "us-west-2", "--output", "json"}, execArgs(t, kubeconfig))

	assertEKSStorageAndDevicePlugin(t, m)
	assertGPUModelsLandOnTheEKSNodeGroup(t, m)
	assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
}

func TestExistingCluster(t *testing.T) {
	m, out := runCloud(t, map[string]string{
		"cloud":    "existing",
		"existing": `{"context":"kind-llm","kubeconfig":"/home/me/.kube/lab","nodeSelector":{"gpu.lab/class":"a6000"}}`,
		"models":   cloudModels,
	})

	assertNothingClusterCreating(t, m)
	assertNoneOf(t, m, "gcp:")
	assertNoneOf(t, m, "aws:")
	assert.Empty(t, m.Calls(), "no cloud lookups")
	assert.Equal(t, pulumi.StringOutput{}, out.Kubeconfig, "the kubeconfig is the user's own: no output")

	p := inputsOf(m.Find(t, k8sProviderType, "cluster"))
	assert.Equal(t, "kind-llm", p["context"])
	assert.Equal(t, "/home/me/.kube/lab", p["kubeconfig"])
	name, _ := harness.Await(t, out.ClusterName)
	assert.Equal(t, "kind-llm", name)

	gpu := modelStatefulSet(t, m, "qwen3-8b")
	assert.Equal(t, map[string]string{"gpu.lab/class": "a6000"}, gpu.Spec.Template.Spec.NodeSelector, "the stack's node selector")
	assert.False(t, m.Has(helmReleaseType, "nvidia-device-plugin"))
	assert.Empty(t, m.ByType(storageClassType))
	assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
}

func TestExistingClusterCurrentContext(t *testing.T) {
	m, out := runCloud(t, map[string]string{"models": cloudModels})
	p := inputsOf(m.Find(t, k8sProviderType, "cluster"))
	assert.NotContains(t, p, "context", "the current context")
	assert.NotContains(t, p, "kubeconfig", "the default kubeconfig")
	name, _ := harness.Await(t, out.ClusterName)
	assert.Equal(t, "current-context", name)
	assert.Empty(t, modelStatefulSet(t, m, "qwen3-8b").Spec.Template.Spec.NodeSelector, "no node selector unless configured")
}

// gpusPerGKEMachine: the GPUs each accelerator-optimized machine type comes
// with (GKE requires the pool's accelerator count to match).
var gpusPerGKEMachine = map[string]struct {
	accelerator string
	count       int
}{
	"g2-standard-4": {"nvidia-l4", 1}, "g2-standard-8": {"nvidia-l4", 1}, "g2-standard-12": {"nvidia-l4", 1},
	"g2-standard-16": {"nvidia-l4", 1}, "g2-standard-24": {"nvidia-l4", 2}, "g2-standard-32": {"nvidia-l4", 1},
	"g2-standard-48": {"nvidia-l4", 4}, "g2-standard-96": {"nvidia-l4", 8},
	"a2-highgpu-1g": {"nvidia-tesla-a100", 1}, "a2-highgpu-2g": {"nvidia-tesla-a100", 2},
	"a2-highgpu-4g": {"nvidia-tesla-a100", 4}, "a2-highgpu-8g": {"nvidia-tesla-a100", 8},
	"a2-ultragpu-1g": {"nvidia-a100-80gb", 1}, "a2-ultragpu-2g": {"nvidia-a100-80gb", 2},
	"a2-ultragpu-4g": {"nvidia-a100-80gb", 4}, "a2-ultragpu-8g": {"nvidia-a100-80gb", 8},
	"a3-highgpu-8g": {"nvidia-h100-80gb", 8},
}

// gpusPerEC2Instance: the GPUs of the EC2 instance types the stacks use.
var gpusPerEC2Instance = map[string]int{
	"g5.xlarge": 1, "g5.2xlarge": 1, "g5.12xlarge": 4, "g5.48xlarge": 8,
	"g6.xlarge": 1, "g6.2xlarge": 1, "g6.12xlarge": 4, "g6.48xlarge": 8,
	"g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.12xlarge": 4, "g6e.24xlarge": 4, "g6e.48xlarge": 8,
	"p4d.24xlarge": 8, "p5.48xlarge": 8,
}

// TestStackFilesCreateClustersSizedForTheirModels: Pulumi.gke.yaml and
// Pulumi.eks.yaml create their cluster, and every model's tensor-parallel
// size fits on one node of the GPU pool they declare.
func TestStackFilesCreateClustersSizedForTheirModels(t *testing.T) {
	t.Run("gke", func(t *testing.T) {
		config := harness.StackConfig(t, "../Pulumi.gke.yaml")
		m, _ := runCloud(t, config)
		require.Len(t, m.ByType(gkeClusterType), 1, "the stack file creates its cluster")
		assert.NotContains(t, m.Calls(), gkeLookup)

		pool := decodePool(t, m)
		machine, known := gpusPerGKEMachine[pool.NodeConfig.MachineType]
		require.True(t, known, "add %s to gpusPerGKEMachine", pool.NodeConfig.MachineType)
		require.Len(t, pool.NodeConfig.GuestAccelerators, 1)
		accel := pool.NodeConfig.GuestAccelerators[0]
		assert.Equal(t, machine.accelerator, accel.Type, "%s comes with %s", pool.NodeConfig.MachineType, machine.accelerator)
		assert.Equal(t, machine.count, accel.Count, "%s comes with %d GPUs", pool.NodeConfig.MachineType, machine.count)
		assertModelsFit(t, m, config, accel.Count, pool.Autoscaling.MaxNodeCount)
	})
	t.Run("eks", func(t *testing.T) {
		config := harness.StackConfig(t, "../Pulumi.eks.yaml")
		m, _ := runCloud(t, config)
		require.Len(t, m.ByType(eksClusterType), 1, "the stack file creates its cluster")
		assert.NotContains(t, m.Calls(), eksLookup)

		cfg, err := spec.Parse(config)
		require.NoError(t, err)
		ng := cfg.EKS.GPUNodeGroup
		group := harness.View[struct {
			InstanceTypes []string `json:"instanceTypes"`
			ScalingConfig struct {
				MaxSize int `json:"maxSize"`
			} `json:"scalingConfig"`
		}](t, m.Find(t, eksNodeGroupType, "eks-gpu"))
		require.NotEmpty(t, group.InstanceTypes)
		perNode := 0
		for _, typ := range group.InstanceTypes {
			gpus, known := gpusPerEC2Instance[typ]
			require.True(t, known, "add %s to gpusPerEC2Instance", typ)
			assert.Equal(t, ng.GPUsPerNode, gpus, "eks.gpuNodeGroup.gpusPerNode matches %s", typ)
			if perNode == 0 || gpus < perNode {
				perNode = gpus // the smallest instance type decides
			}
		}
		assertModelsFit(t, m, config, perNode, group.ScalingConfig.MaxSize)
	})
}

// assertModelsFit: each model's GPU request fits on one node, and all
// replicas together fit in the pool at its maximum size.
func assertModelsFit(t *testing.T, m *harness.Mocks, config map[string]string, perNode, maxNodes int) {
	t.Helper()
	cfg, err := spec.Parse(config)
	require.NoError(t, err)
	require.NoError(t, spec.Validate(&cfg), "derives each model's Kubernetes name")
	require.NotEmpty(t, cfg.Models)
	total := 0
	for _, model := range cfg.Models {
		sts := modelStatefulSet(t, m, model.KubeName)
		limit := sts.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]
		assert.Equal(t, int64(model.GPURequestCount), limit.Value(), "%s requests gpuRequestCount GPUs", model.ModelName)
		assert.LessOrEqual(t, model.GPURequestCount, perNode,
			"%s needs %d GPUs on one node; a node of the pool has %d", model.ModelName, model.GPURequestCount, perNode)
		total += model.GPURequestCount * model.Replicas
	}
	assert.LessOrEqual(t, total, perNode*maxNodes, "all replicas fit in the pool at its maximum size")
}

// assertSecretKubeconfig: the kubeconfig is a secret output and reaches the
// Kubernetes provider as a secret. It returns the kubeconfig.
func assertSecretKubeconfig(t *testing.T, m *harness.Mocks, out *Outputs) string {
	t.Helper()
	value, secret := harness.Await(t, out.Kubeconfig)
	assert.True(t, secret, "the kubeconfig output is secret")
	p := m.Find(t, k8sProviderType, "cluster")
	assert.Contains(t, harness.SecretPaths(p.Inputs), "kubeconfig", "the provider's kubeconfig stays secret")
	assert.Equal(t, value, inputsOf(p)["kubeconfig"], "the provider uses the cloud's kubeconfig")
	s, _ := value.(string)
	require.NotEmpty(t, s)
	return s
}

type gkePool struct {
	Autoscaling struct {
		MaxNodeCount int `json:"maxNodeCount"`
	} `json:"autoscaling"`
	NodeConfig struct {
		MachineType       string `json:"machineType"`
		GuestAccelerators []struct {
			Type  string `json:"type"`
			Count int    `json:"count"`
		} `json:"guestAccelerators"`
		Taints []cloudTaint `json:"taints"`
	} `json:"nodeConfig"`
}

type cloudTaint struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"`
}

// kube converts a GKE/EKS taint (NO_SCHEDULE) into the node taint Kubernetes sees.
func (c cloudTaint) kube() corev1.Taint {
	effects := map[string]corev1.TaintEffect{
		"NO_SCHEDULE": corev1.TaintEffectNoSchedule, "PREFER_NO_SCHEDULE": corev1.TaintEffectPreferNoSchedule,
		"NO_EXECUTE": corev1.TaintEffectNoExecute,
	}
	return corev1.Taint{Key: c.Key, Value: c.Value, Effect: effects[c.Effect]}
}

func decodePool(t *testing.T, m *harness.Mocks) gkePool {
	t.Helper()
	return harness.View[gkePool](t, m.Find(t, gkeNodePoolType, "gke-gpu"))
}

// assertGPUModelsLandOnTheGKEPool: GKE labels GPU nodes with their
// accelerator type; the GPU model selects exactly that and tolerates the
// pool's taint. The CPU model goes anywhere.
func assertGPUModelsLandOnTheGKEPool(t *testing.T, m *harness.Mocks) {
	t.Helper()
	pool := decodePool(t, m)
	require.Len(t, pool.NodeConfig.GuestAccelerators, 1)
	pod := modelStatefulSet(t, m, "qwen3-8b").Spec.Template.Spec
	assert.Equal(t, map[string]string{"cloud.google.com/gke-accelerator": pool.NodeConfig.GuestAccelerators[0].Type}, pod.NodeSelector)
	assert.Equal(t, "nvidia-l4", pod.NodeSelector["cloud.google.com/gke-accelerator"])
	assertTolerates(t, pod.Tolerations, pool.NodeConfig.Taints)
	assert.Empty(t, modelStatefulSet(t, m, "qwen3-0-6b").Spec.Template.Spec.NodeSelector, "CPU models need no GPU node")
}

// assertGPUModelsLandOnTheEKSNodeGroup: the GPU model selects a label the
// GPU node group carries and tolerates its taint.
func assertGPUModelsLandOnTheEKSNodeGroup(t *testing.T, m *harness.Mocks) {
	t.Helper()
	group := eksGPUGroup(t, m)
	pod := modelStatefulSet(t, m, "qwen3-8b").Spec.Template.Spec
	assert.Equal(t, map[string]string{"nvidia.com/gpu.present": "true"}, pod.NodeSelector)
	assertSelects(t, pod.NodeSelector, group.Labels, "the GPU model")
	assertTolerates(t, pod.Tolerations, group.Taints)
	assert.Empty(t, modelStatefulSet(t, m, "qwen3-0-6b").Spec.Template.Spec.NodeSelector, "CPU models need no GPU node")
}

type eksGroup struct {
	Labels map[string]string `json:"labels"`
	Taints []cloudTaint      `json:"taints"`
}

func eksGPUGroup(t *testing.T, m *harness.Mocks) eksGroup {
	t.Helper()
	return harness.View[eksGroup](t, m.Find(t, eksNodeGroupType, "eks-gpu"))
}

// assertEKSStorageAndDevicePlugin: EKS gets a default gp3 class (the EBS CSI
// driver's) so cache claims bind, and the NVIDIA device plugin on the GPU nodes.
func assertEKSStorageAndDevicePlugin(t *testing.T, m *harness.Mocks) {
	t.Helper()
	sc := harness.Decode[storagev1.StorageClass](t, m, storageClassType, "gp3")
	assert.Equal(t, "gp3", sc.Name)
	assert.Equal(t, "ebs.csi.aws.com", sc.Provisioner)
	assert.Equal(t, "true", sc.Annotations["storageclass.kubernetes.io/is-default-class"], "claims without a class use it")
	assert.Equal(t, "gp3", sc.Parameters["type"])
	require.NotNil(t, sc.VolumeBindingMode)
	assert.Equal(t, storagev1.VolumeBindingWaitForFirstConsumer, *sc.VolumeBindingMode, "the volume lands in the pod's zone")
	require.Len(t, m.ByType("aws:eks/addon:Addon"), 2, "the EBS CSI driver and its pod identity agent")
	assert.Equal(t, "aws-ebs-csi-driver", inputsOf(m.Find(t, "aws:eks/addon:Addon", "eks-ebs-csi"))["addonName"])

	plugin := m.Find(t, helmReleaseType, "nvidia-device-plugin")
	rel := harness.View[struct {
		Chart  string `json:"chart"`
		Values struct {
			NodeSelector map[string]string   `json:"nodeSelector"`
			Tolerations  []corev1.Toleration `json:"tolerations"`
		} `json:"values"`
	}](t, plugin)
	assert.Equal(t, "nvidia-device-plugin", rel.Chart)
	group := eksGPUGroup(t, m)
	require.NotEmpty(t, rel.Values.NodeSelector)
	assertSelects(t, rel.Values.NodeSelector, group.Labels, "the device plugin")
	assertTolerates(t, rel.Values.Tolerations, group.Taints)
}

func assertSelects(t *testing.T, selector, nodeLabels map[string]string, who string) {
	t.Helper()
	for k, v := range selector {
		assert.Equal(t, v, nodeLabels[k], "%s selects %s=%s; the GPU nodes are labelled %v", who, k, v, nodeLabels)
	}
}

func assertTolerates(t *testing.T, tolerations []corev1.Toleration, taints []cloudTaint) {
	t.Helper()
	require.NotEmpty(t, taints, "the GPU nodes are tainted")
	for _, ct := range taints {
		taint := ct.kube()
		ok := false
		for _, tol := range tolerations {
			ok = ok || tol.ToleratesTaint(klog.Background(), &taint, false)
		}
		assert.True(t, ok, "tolerations %+v do not tolerate the GPU taint %s", tolerations, taint.ToString())
	}
}

func assertNothingClusterCreating(t *testing.T, m *harness.Mocks) {
	t.Helper()
	for _, typ := range clusterCreating {
		assert.Empty(t, resourceNames(m.ByType(typ)), "no %s", typ)
	}
	assert.False(t, m.Has(gkeNodePoolType, "gke-system"), "no GKE system pool")
	assert.False(t, m.Has(eksNodeGroupType, "eks-system"), "no EKS system node group")
	assert.False(t, m.Has("aws:iam/role:Role", "eks-cluster"), "no EKS cluster role")
}

func assertNoneOf(t *testing.T, m *harness.Mocks, prefix string) {
	t.Helper()
	for _, r := range m.Resources() {
		assert.False(t, strings.HasPrefix(r.Type, prefix) || r.Type == "pulumi:providers:"+strings.TrimSuffix(prefix, ":"),
			"%s %s does not belong to this cloud", r.Type, r.Name)
	}
}

func modelStatefulSet(t *testing.T, m *harness.Mocks, name string) appsv1.StatefulSet {
	t.Helper()
	return harness.Decode[appsv1.StatefulSet](t, m, statefulSetType, name)
}

func inputsOf(r harness.Resource) map[string]any { return harness.Plain(r.Inputs) }

func resourceNames(rs []harness.Resource) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// execArgs reads the exec credential plugin's arguments from a kubeconfig.
func execArgs(t *testing.T, kubeconfig string) []string {
	t.Helper()
	var kc struct {
		Users []struct {
			User struct {
				Exec struct {
					Args []string `yaml:"args"`
				} `yaml:"exec"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(kubeconfig), &kc))
	require.Len(t, kc.Users, 1)
	return kc.Users[0].User.Exec.Args
}
