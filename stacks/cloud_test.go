package stacks

import (
	"encoding/json"
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

	"github.com/llm-platform/llm-platform/internal/pulumimock"
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
func adoptLookups() *pulumimock.Mocks {
	m := cloudLookups()
	m.CallResults[gkeLookup] = resource.NewPropertyMapFromMap(map[string]any{
		"name":        "shared-gpu",
		"endpoint":    adoptedGKEEndpoint,
		"masterAuths": []any{map[string]any{"clusterCaCertificate": "R0tFLUNB"}},
		// The GPU pool's GKE_METADATA mode needs Workload Identity.
		"workloadIdentityConfigs": []any{map[string]any{"workloadPool": "acme-ml.svc.id.goog"}},
		"datapathProvider":        "ADVANCED_DATAPATH",
	})
	m.CallResults[eksLookup] = resource.NewPropertyMapFromMap(map[string]any{
		"name":                   "shared",
		"version":                "1.35",
		"endpoint":               adoptedEKSEndpoint,
		"certificateAuthorities": []any{map[string]any{"data": "RUtTLUNB"}},
		"vpcConfig":              map[string]any{"vpcId": "vpc-0shared", "subnetIds": []any{"subnet-0aaa", "subnet-0bbb"}},
	})
	return m
}

func runCloud(t *testing.T, config map[string]string) (*pulumimock.Mocks, *Outputs) {
	t.Helper()
	var out *Outputs
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		out, err = Program(ctx)
		return err
	}, pulumimock.WithConfig(config), pulumimock.WithRecorder(adoptLookups()))
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
	// Istio's CNI agent gets GKE's profile: its binaries live in /home/kubernetes/bin there,
	// and its system-node-critical pods need the profile's ResourceQuota.
	cni := pulumimock.View[struct {
		Values struct {
			Global struct {
				Platform string `json:"platform"`
			} `json:"global"`
		} `json:"values"`
	}](t, m.Find(t, helmReleaseType, "istio-cni"))
	assert.Equal(t, "gke", cni.Values.Global.Platform)
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
	name, _ := pulumimock.Await(t, out.ClusterName)
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

// adoptedEKS adopts "shared", its GPU nodes in two private subnets (required).
const adoptedEKS = `{"create":false,"name":"shared","subnetIds":["subnet-0priv1","subnet-0priv2"]}`

func TestEKSAdopt(t *testing.T) {
	m, out := runCloud(t, eksConfig(adoptedEKS))

	assertNothingClusterCreating(t, m)
	assert.Equal(t, []string{"eks-gpu"}, resourceNames(m.ByType(eksNodeGroupType)), "only the GPU node group is added")
	assert.Equal(t, []string{eksLookup}, m.Calls(), "no zone lookup, one cluster lookup")
	gpu := inputsOf(m.Find(t, eksNodeGroupType, "eks-gpu"))
	assert.Equal(t, "shared", gpu["clusterName"])
	assert.Equal(t, []any{"subnet-0priv1", "subnet-0priv2"}, gpu["subnetIds"], "the configured private subnets")
	assert.Equal(t, "1.35", gpu["version"], "the adopted control plane's version")

	kubeconfig := assertSecretKubeconfig(t, m, out)
	assert.Contains(t, kubeconfig, "server: "+adoptedEKSEndpoint)
	assert.Equal(t, []string{"eks", "get-token", "--cluster-name", "shared", "--region", "us-west-2", "--output", "json"}, execArgs(t, kubeconfig))

	// The cluster's own add-ons, default class and LB controller stay its own.
	assert.Empty(t, m.ByType("aws:eks/addon:Addon"))
	assert.Empty(t, m.ByType(storageClassType))
	assert.False(t, m.Has(helmReleaseType, "aws-load-balancer-controller"))
	assert.True(t, m.Has(helmReleaseType, "nvidia-device-plugin"))
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
	name, _ := pulumimock.Await(t, out.ClusterName)
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
	name, _ := pulumimock.Await(t, out.ClusterName)
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
		config := pulumimock.StackConfig(t, "../Pulumi.gke.yaml")
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
		assert.Zero(t, pool.Autoscaling.MaxNodeCount, "no per-zone maximum: it multiplies by the zones")
		assert.Equal(t, 3, pool.Autoscaling.TotalMaxNodeCount, "gke.gpuPool.maxNodes is the pool's total")
		assertModelsFit(t, m, config, accel.Count, pool.Autoscaling.TotalMaxNodeCount)
	})
	t.Run("eks", func(t *testing.T) {
		config := pulumimock.StackConfig(t, "../Pulumi.eks.yaml")
		m, _ := runCloud(t, config)
		require.Len(t, m.ByType(eksClusterType), 1, "the stack file creates its cluster")
		assert.NotContains(t, m.Calls(), eksLookup)

		cfg, err := spec.Parse(config)
		require.NoError(t, err)
		ng := cfg.EKS.GPUNodeGroup
		group := pulumimock.View[struct {
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
func assertModelsFit(t *testing.T, m *pulumimock.Mocks, config map[string]string, perNode, maxNodes int) {
	t.Helper()
	cfg, err := spec.Parse(config)
	require.NoError(t, err)
	require.NoError(t, spec.Validate(&cfg))
	require.NotEmpty(t, cfg.Models)
	total := 0
	for _, model := range cfg.Models {
		sts := modelStatefulSet(t, m, spec.KubeName(model))
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
func assertSecretKubeconfig(t *testing.T, m *pulumimock.Mocks, out *Outputs) string {
	t.Helper()
	value, secret := pulumimock.Await(t, out.Kubeconfig)
	assert.True(t, secret, "the kubeconfig output is secret")
	p := m.Find(t, k8sProviderType, "cluster")
	assert.Contains(t, pulumimock.SecretPaths(p.Inputs), "kubeconfig", "the provider's kubeconfig stays secret")
	assert.Equal(t, value, inputsOf(p)["kubeconfig"], "the provider uses the cloud's kubeconfig")
	s, _ := value.(string)
	require.NotEmpty(t, s)
	return s
}

type gkePool struct {
	Autoscaling struct {
		MaxNodeCount      int `json:"maxNodeCount"`      // per zone: unset
		TotalMaxNodeCount int `json:"totalMaxNodeCount"` // over all zones
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

func decodePool(t *testing.T, m *pulumimock.Mocks) gkePool {
	t.Helper()
	return pulumimock.View[gkePool](t, m.Find(t, gkeNodePoolType, "gke-gpu"))
}

// assertGPUModelsLandOnTheGKEPool: GKE labels GPU nodes with their
// accelerator type; the GPU model selects exactly that and tolerates the
// pool's taint. The CPU model goes anywhere.
func assertGPUModelsLandOnTheGKEPool(t *testing.T, m *pulumimock.Mocks) {
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
func assertGPUModelsLandOnTheEKSNodeGroup(t *testing.T, m *pulumimock.Mocks) {
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

func eksGPUGroup(t *testing.T, m *pulumimock.Mocks) eksGroup {
	t.Helper()
	return pulumimock.View[eksGroup](t, m.Find(t, eksNodeGroupType, "eks-gpu"))
}

// assertEKSStorageAndDevicePlugin: EKS gets a default gp3 class (the EBS CSI
// driver's) so cache claims bind, and the NVIDIA device plugin on the GPU nodes.
func assertEKSStorageAndDevicePlugin(t *testing.T, m *pulumimock.Mocks) {
	t.Helper()
	sc := pulumimock.Decode[storagev1.StorageClass](t, m, storageClassType, "gp3")
	assert.Equal(t, "gp3", sc.Name)
	assert.Equal(t, "ebs.csi.aws.com", sc.Provisioner)
	assert.Equal(t, "true", sc.Annotations["storageclass.kubernetes.io/is-default-class"], "claims without a class use it")
	assert.Equal(t, "gp3", sc.Parameters["type"])
	require.NotNil(t, sc.VolumeBindingMode)
	assert.Equal(t, storagev1.VolumeBindingWaitForFirstConsumer, *sc.VolumeBindingMode, "the volume lands in the pod's zone")
	require.Len(t, m.ByType("aws:eks/addon:Addon"), 3, "the EBS CSI driver, the pod identity agent and the VPC CNI")
	assert.Equal(t, "aws-ebs-csi-driver", inputsOf(m.Find(t, "aws:eks/addon:Addon", "eks-ebs-csi"))["addonName"])

	plugin := m.Find(t, helmReleaseType, "nvidia-device-plugin")
	rel := pulumimock.View[struct {
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

func assertNothingClusterCreating(t *testing.T, m *pulumimock.Mocks) {
	t.Helper()
	for _, typ := range clusterCreating {
		assert.Empty(t, resourceNames(m.ByType(typ)), "no %s", typ)
	}
	assert.False(t, m.Has(gkeNodePoolType, "gke-system"), "no GKE system pool")
	assert.False(t, m.Has(eksNodeGroupType, "eks-system"), "no EKS system node group")
	assert.False(t, m.Has("aws:iam/role:Role", "eks-cluster"), "no EKS cluster role")
}

func assertNoneOf(t *testing.T, m *pulumimock.Mocks, prefix string) {
	t.Helper()
	for _, r := range m.Resources() {
		assert.False(t, strings.HasPrefix(r.Type, prefix) || r.Type == "pulumi:providers:"+strings.TrimSuffix(prefix, ":"),
			"%s %s does not belong to this cloud", r.Type, r.Name)
	}
}

func modelStatefulSet(t *testing.T, m *pulumimock.Mocks, name string) appsv1.StatefulSet {
	t.Helper()
	return pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSetType, name)
}

func inputsOf(r pulumimock.Resource) map[string]any { return pulumimock.Plain(r.Inputs) }

func resourceNames(rs []pulumimock.Resource) []string {
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

// TestEKSDefaultStorageClass: the gp3 default class comes with clusters the
// stack creates; an adopted cluster keeps its own default unless
// eks.defaultStorageClass says otherwise (two defaults: the newest wins
// every claim without a class).
func TestEKSDefaultStorageClass(t *testing.T) {
	for _, tc := range []struct {
		name, cluster, setting string
		want                   bool
	}{
		{"created", `{"name":"llm-eks"}`, "", true},
		{"created, off", `{"name":"llm-eks"}`, `"defaultStorageClass":false,`, false},
		{"adopted", adoptedEKS, "", false},
		{"adopted, on", adoptedEKS, `"defaultStorageClass":true,`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := runCloud(t, map[string]string{
				"cloud":  "eks",
				"eks":    `{"region":"us-west-2",` + tc.setting + `"cluster":` + tc.cluster + `}`,
				"models": cloudModels,
			})
			assert.Equal(t, tc.want, m.Has(storageClassType, "gp3"))
		})
	}
}

// TestEKSLBController: the AWS Load Balancer Controller serves the ingress
// gateway's `aws-load-balancer-type: external` NLB (Pulumi.eks.yaml): the
// EKS component's pod identity, the platform's chart, the gateway after it.
func TestEKSLBController(t *testing.T) {
	type lbValues struct {
		ClusterName    string `json:"clusterName"`
		Region         string `json:"region"`
		VpcID          string `json:"vpcId"`
		ServiceAccount struct {
			Name string `json:"name"`
		} `json:"serviceAccount"`
	}
	for _, tc := range []struct {
		name   string
		config map[string]string
		vpc    string
	}{
		{"created", eksConfig(`{"name":"llm-eks"}`), "eks-id"},
		{"adopted, on", map[string]string{"cloud": "eks", "models": cloudModels,
			"eks": `{"region":"us-west-2","loadBalancerController":true,"podIdentityAgent":true,"cluster":` + adoptedEKS + `}`}, "vpc-0shared"},
		{"stack file", pulumimock.StackConfig(t, "../Pulumi.eks.yaml"), "eks-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, out := runCloud(t, tc.config)
			name, _ := pulumimock.Await(t, out.ClusterName)
			r := m.Find(t, helmReleaseType, "aws-load-balancer-controller")
			rel := pulumimock.View[struct {
				Namespace string   `json:"namespace"`
				Values    lbValues `json:"values"`
			}](t, r)
			assert.Equal(t, lbValues{ClusterName: name.(string), Region: "us-west-2", VpcID: tc.vpc,
				ServiceAccount: struct {
					Name string `json:"name"`
				}{"aws-load-balancer-controller"}}, rel.Values)

			assoc := m.Find(t, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "eks-lb-controller")
			assert.Equal(t, rel.Namespace, inputsOf(assoc)["namespace"])
			assert.Equal(t, rel.Values.ServiceAccount.Name, inputsOf(assoc)["serviceAccount"])
			assert.Contains(t, r.DependsOn, assoc.URN, "the controller's pods start with credentials")
			assert.Contains(t, m.Find(t, helmReleaseType, "istio-ingressgateway").DependsOn, r.URN)
			assertEveryKubernetesResourceUsesTheClusterProvider(t, m)
		})
	}
	t.Run("adopted", func(t *testing.T) {
		m, _ := runCloud(t, eksConfig(adoptedEKS))
		assert.False(t, m.Has(helmReleaseType, "aws-load-balancer-controller"), "adopted clusters usually run their own")
	})
	t.Run("off", func(t *testing.T) {
		m, _ := runCloud(t, map[string]string{"cloud": "eks", "models": cloudModels,
			"eks": `{"region":"us-west-2","loadBalancerController":false}`})
		assert.False(t, m.Has(helmReleaseType, "aws-load-balancer-controller"))
		assert.True(t, m.Has(helmReleaseType, "istio-ingressgateway"))
	})
	t.Run("other clouds", func(t *testing.T) {
		m, _ := runCloud(t, map[string]string{"models": cloudModels})
		assert.False(t, m.Has(helmReleaseType, "aws-load-balancer-controller"))
	})
}

// runWithAWSConfig runs the program with project config plus provider
// config keys (aws:*), as the engine hands both to programs.
func runWithAWSConfig(t *testing.T, config, aws map[string]string) (*pulumimock.Mocks, *Outputs, error) {
	t.Helper()
	m := adoptLookups()
	full := map[string]string{}
	for k, v := range config {
		full[pulumimock.Project+":"+k] = v
	}
	for k, v := range aws {
		full["aws:"+k] = v
	}
	var out *Outputs
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		out, err = Program(ctx)
		return err
	}, pulumi.WithMocks(pulumimock.Project, "test", m), func(info *pulumi.RunInfo) { info.Config = full })
	return m, out, err
}

// TestEKSStackAWSConfig: the stack's aws:* settings reach the EKS
// component's explicit provider and the kubeconfig's `aws eks get-token`.
func TestEKSStackAWSConfig(t *testing.T) {
	m, out, err := runWithAWSConfig(t, eksConfig(`{"name":"llm-eks"}`), map[string]string{
		"region":                 "us-west-2",
		"profile":                "ml-prod",
		"assumeRole":             `{"roleArn":"arn:aws:iam::111122223333:role/deployer","sessionName":"pulumi"}`,
		"defaultTags":            `{"tags":{"team":"ml"}}`,
		"sharedCredentialsFiles": `["/secrets/aws/credentials"]`,
	})
	require.NoError(t, err)
	p := inputsOf(m.Find(t, "pulumi:providers:aws", "eks"))
	assert.Equal(t, "ml-prod", p["profile"])
	assert.Equal(t, "us-west-2", p["region"])
	for key, want := range map[string]string{
		"assumeRole":             `{"roleArn":"arn:aws:iam::111122223333:role/deployer","sessionName":"pulumi"}`,
		"defaultTags":            `{"tags":{"team":"ml"}}`,
		"sharedCredentialsFiles": `["/secrets/aws/credentials"]`,
	} {
		got := p[key]
		if text, isText := got.(string); isText {
			assert.JSONEq(t, want, text, key) // provider inputs may arrive JSON-encoded
			continue
		}
		raw, _ := json.Marshal(got)
		assert.JSONEq(t, want, string(raw), key)
	}
	kubeconfig := assertSecretKubeconfig(t, m, out)
	assert.Equal(t, []string{"eks", "get-token", "--cluster-name", "llm-eks", "--region", "us-west-2", "--output", "json",
		"--profile", "ml-prod", "--role-arn", "arn:aws:iam::111122223333:role/deployer"}, execArgs(t, kubeconfig))
	lb := pulumimock.View[struct {
		Values struct {
			DefaultTags map[string]string `json:"defaultTags"`
		} `json:"values"`
	}](t, m.Find(t, helmReleaseType, "aws-load-balancer-controller"))
	assert.Equal(t, map[string]string{"team": "ml"}, lb.Values.DefaultTags, "the NLB gets the stack's tags too")

	t.Run("malformed", func(t *testing.T) {
		_, _, err := runWithAWSConfig(t, eksConfig(`{"name":"llm-eks"}`), map[string]string{"assumeRole": `"arn:aws:iam::111122223333:role/deployer"`})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "aws:assumeRole")
		_, _, err = runWithAWSConfig(t, eksConfig(`{"name":"llm-eks"}`), map[string]string{"assumeRole": `{"sessionName":"x"}`})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "aws:assumeRole.roleArn: is required")
	})
}

// TestGKECreateHardening: through the whole program, the created GKE
// cluster enforces NetworkPolicy (Dataplane V2), its nodes are private in
// the cluster's own VPC with Cloud NAT for egress, and every pool runs as
// the dedicated node service account.
func TestGKECreateHardening(t *testing.T) {
	// Enough system nodes for the platform's pods whatever the sizing rule says.
	m, _ := runCloud(t, gkeConfig(`{"name":"llm-gke","systemNodeCount":3}`))
	cluster := pulumimock.View[struct {
		DatapathProvider     string         `json:"datapathProvider"`
		NetworkPolicy        map[string]any `json:"networkPolicy"`
		Network              string         `json:"network"`
		Subnetwork           string         `json:"subnetwork"`
		PrivateClusterConfig struct {
			EnablePrivateNodes    bool `json:"enablePrivateNodes"`
			EnablePrivateEndpoint bool `json:"enablePrivateEndpoint"`
		} `json:"privateClusterConfig"`
	}](t, m.ByType(gkeClusterType)[0])
	assert.Equal(t, "ADVANCED_DATAPATH", cluster.DatapathProvider, "the edge's NetworkPolicies are enforced")
	assert.Nil(t, cluster.NetworkPolicy)
	assert.True(t, cluster.PrivateClusterConfig.EnablePrivateNodes)
	assert.False(t, cluster.PrivateClusterConfig.EnablePrivateEndpoint)
	require.Len(t, m.ByType("gcp:compute/network:Network"), 1)
	assert.Equal(t, "projects/acme-ml/global/networks/"+inputsOf(m.ByType("gcp:compute/network:Network")[0])["name"].(string), cluster.Network)
	assert.NotContains(t, cluster.Network, "/default")
	require.Len(t, m.ByType("gcp:compute/subnetwork:Subnetwork"), 1)
	assert.Equal(t, "projects/acme-ml/regions/us-central1/subnetworks/"+inputsOf(m.ByType("gcp:compute/subnetwork:Subnetwork")[0])["name"].(string), cluster.Subnetwork)
	assert.Len(t, m.ByType("gcp:compute/routerNat:RouterNat"), 1, "private nodes pull images and weights through Cloud NAT")

	accounts := m.ByType("gcp:serviceaccount/account:Account")
	require.Len(t, accounts, 1)
	email := inputsOf(accounts[0])["accountId"].(string) + "@acme-ml.iam.gserviceaccount.com"
	for _, name := range []string{"gke-system", "gke-gpu"} {
		nodeConfig, _ := inputsOf(m.Find(t, gkeNodePoolType, name))["nodeConfig"].(map[string]any)
		assert.Equal(t, email, nodeConfig["serviceAccount"], "%s runs as the node account, not the Compute Engine default", name)
	}
}

// TestGKEAdoptWithoutWorkloadIdentityFails: an adopted cluster without a
// workload pool fails the deployment with the key and the gcloud command
// that fixes it, instead of a GPU pool GKE refuses (or one that hands Pods
// the node's credentials).
func TestGKEAdoptWithoutWorkloadIdentityFails(t *testing.T) {
	lookups := adoptLookups()
	found := lookups.CallResults[gkeLookup].Copy()
	delete(found, "workloadIdentityConfigs")
	lookups.CallResults[gkeLookup] = found
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := Program(ctx)
		return err
	}, pulumimock.WithConfig(gkeConfig(`{"create":false,"name":"shared-gpu"}`)), pulumimock.WithRecorder(lookups))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gke.cluster.name: the adopted cluster \"shared-gpu\" (gke.cluster.create: false) has no Workload Identity")
	assert.Contains(t, err.Error(), "--workload-pool=acme-ml.svc.id.goog")
	assert.False(t, m.Has(gkeNodePoolType, "gke-gpu"))
}
