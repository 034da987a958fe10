package gke_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/harness"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const (
	clusterType   = "gcp:container/cluster:Cluster"
	nodePoolType  = "gcp:container/nodePool:NodePool"
	componentType = "llm-platform:gke:GKE"
	getCluster    = "gcp:container/getCluster:getCluster"

	// What the mock Google Cloud reports for a cluster, created or adopted.
	endpoint = "34.118.0.10"
	caCert   = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"
)

// mockGCP records through harness.Mocks and plays the parts of Google Cloud
// the component reads back: a created cluster's endpoint and CA, and the
// getCluster lookup of an existing one.
type mockGCP struct {
	*harness.Mocks
}

func newMockGCP() *mockGCP {
	return &mockGCP{Mocks: &harness.Mocks{CallResults: map[string]resource.PropertyMap{
		getCluster: resource.NewPropertyMapFromMap(map[string]any{
			"name":        "shared-gpu",
			"location":    "us-central1",
			"endpoint":    endpoint,
			"masterAuths": []any{map[string]any{"clusterCaCertificate": caCert}},
		}),
	}}}
}

func (m *mockGCP) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, state, err := m.Mocks.NewResource(args)
	if args.TypeToken == clusterType {
		state["endpoint"] = resource.NewProperty(endpoint)
		state["masterAuth"] = resource.NewProperty(resource.NewPropertyMapFromMap(map[string]any{"clusterCaCertificate": caCert}))
	}
	return id, state, err
}

// config is a valid GKE config: the defaults plus a project and region.
func config() spec.GKEConfig {
	cfg := spec.Defaults().GKE
	cfg.Project, cfg.Region = "acme-ml", "us-central1"
	return cfg
}

func deploy(t *testing.T, cfg spec.GKEConfig) (*mockGCP, *gke.GKE) {
	t.Helper()
	m := newMockGCP()
	var g *gke.GKE
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		g, err = gke.New(ctx, "gke", gke.Args{Config: cfg})
		return err
	}, pulumi.WithMocks(harness.Project, "test", m))
	require.NoError(t, err)
	return m, g
}

// Typed views of the inputs the tests read, named as the gcp provider names them.
type (
	cluster struct {
		Name                  string `json:"name"`
		Project               string `json:"project"`
		Location              string `json:"location"`
		RemoveDefaultNodePool bool   `json:"removeDefaultNodePool"`
		DeletionProtection    bool   `json:"deletionProtection"`
		NetworkingMode        string `json:"networkingMode"`
		ReleaseChannel        struct {
			Channel string `json:"channel"`
		} `json:"releaseChannel"`
		WorkloadIdentityConfig struct {
			WorkloadPool string `json:"workloadPool"`
		} `json:"workloadIdentityConfig"`
	}
	nodePool struct {
		Name             string   `json:"name"`
		Project          string   `json:"project"`
		Location         string   `json:"location"`
		Cluster          string   `json:"cluster"`
		NodeCount        *int     `json:"nodeCount"`
		InitialNodeCount *int     `json:"initialNodeCount"`
		NodeLocations    []string `json:"nodeLocations"`
		Autoscaling      *struct {
			MinNodeCount int `json:"minNodeCount"`
			MaxNodeCount int `json:"maxNodeCount"`
		} `json:"autoscaling"`
		Management struct {
			AutoRepair  bool `json:"autoRepair"`
			AutoUpgrade bool `json:"autoUpgrade"`
		} `json:"management"`
		NodeConfig struct {
			MachineType       string            `json:"machineType"`
			Spot              bool              `json:"spot"`
			DiskSizeGb        int               `json:"diskSizeGb"`
			DiskType          string            `json:"diskType"`
			Labels            map[string]string `json:"labels"`
			GuestAccelerators []struct {
				Type                        string `json:"type"`
				Count                       int    `json:"count"`
				GpuDriverInstallationConfig struct {
					GpuDriverVersion string `json:"gpuDriverVersion"`
				} `json:"gpuDriverInstallationConfig"`
			} `json:"guestAccelerators"`
			Taints []struct {
				Key    string `json:"key"`
				Value  string `json:"value"`
				Effect string `json:"effect"`
			} `json:"taints"`
			WorkloadMetadataConfig struct {
				Mode string `json:"mode"`
			} `json:"workloadMetadataConfig"`
		} `json:"nodeConfig"`
	}
	// kubeconfig is the part of a kubeconfig file the tests read.
	kubeconfig struct {
		Clusters []struct {
			Name    string
			Cluster struct {
				Server                   string `yaml:"server"`
				CertificateAuthorityData string `yaml:"certificate-authority-data"`
			}
		}
		CurrentContext string `yaml:"current-context"`
		Users          []struct {
			Name string
			User struct {
				Exec struct {
					APIVersion         string `yaml:"apiVersion"`
					Command            string
					ProvideClusterInfo bool `yaml:"provideClusterInfo"`
				}
			}
		}
	}
)

func decode[T any](t *testing.T, m *mockGCP, typ, name string) (harness.Resource, T) {
	t.Helper()
	r := m.Find(t, typ, name)
	return r, harness.View[T](t, r)
}

func readKubeconfig(t *testing.T, g *gke.GKE) kubeconfig {
	t.Helper()
	value, secret := harness.Await(t, g.Kubeconfig)
	require.True(t, secret, "the kubeconfig output is secret")
	var kc kubeconfig
	require.NoError(t, yaml.Unmarshal([]byte(value.(string)), &kc))
	require.Len(t, kc.Clusters, 1)
	require.Len(t, kc.Users, 1)
	return kc
}

func TestCreateRegionalCluster(t *testing.T) {
	m, g := deploy(t, config())

	_, c := decode[cluster](t, m, clusterType, "gke")
	assert.Equal(t, "llm-platform", c.Name)
	assert.Equal(t, "acme-ml", c.Project)
	assert.Equal(t, "us-central1", c.Location, "no zone: a regional cluster")
	assert.True(t, c.RemoveDefaultNodePool, "pools are managed separately")
	assert.Equal(t, "REGULAR", c.ReleaseChannel.Channel)
	assert.Equal(t, "acme-ml.svc.id.goog", c.WorkloadIdentityConfig.WorkloadPool, "Workload Identity")
	assert.True(t, c.DeletionProtection, "protected by default")
	assert.Equal(t, "VPC_NATIVE", c.NetworkingMode)

	name, _ := harness.Await(t, g.ClusterName)
	assert.Equal(t, "llm-platform", name)
}

func TestCreateZonalClusterWithOptions(t *testing.T) {
	cfg := config()
	cfg.Zone = "us-central1-b"
	cfg.Cluster.Name = "llm-zonal"
	cfg.Cluster.ReleaseChannel = "RAPID"
	cfg.Cluster.DeletionProtection = false
	m, _ := deploy(t, cfg)

	_, c := decode[cluster](t, m, clusterType, "gke")
	assert.Equal(t, "us-central1-b", c.Location, "a zone makes the cluster zonal")
	assert.Equal(t, "llm-zonal", c.Name)
	assert.Equal(t, "RAPID", c.ReleaseChannel.Channel)
	assert.False(t, c.DeletionProtection, "deletionProtection is configurable")
	for _, pool := range []string{"gke-system", "gke-gpu"} {
		_, p := decode[nodePool](t, m, nodePoolType, pool)
		assert.Equal(t, "us-central1-b", p.Location, "%s lives where the cluster lives", pool)
		assert.Equal(t, "llm-zonal", p.Cluster)
	}
}

func TestSystemPool(t *testing.T) {
	cfg := config()
	cfg.Cluster.SystemMachineType = "e2-standard-8"
	cfg.Cluster.SystemNodeCount = 2
	m, _ := deploy(t, cfg)

	r, p := decode[nodePool](t, m, nodePoolType, "gke-system")
	assert.Equal(t, "system", p.Name)
	assert.Equal(t, "llm-platform", p.Cluster)
	assert.Equal(t, "us-central1", p.Location)
	assert.Equal(t, "acme-ml", p.Project)
	require.NotNil(t, p.NodeCount)
	assert.Equal(t, 2, *p.NodeCount)
	assert.Equal(t, "e2-standard-8", p.NodeConfig.MachineType)
	assert.Empty(t, p.NodeConfig.GuestAccelerators, "no GPUs in the system pool")
	assert.Empty(t, p.NodeConfig.Taints, "system pods schedule here untolerated")
	assert.Equal(t, "GKE_METADATA", p.NodeConfig.WorkloadMetadataConfig.Mode, "Workload Identity on the nodes")
	assert.Contains(t, r.DependsOn, m.Find(t, clusterType, "gke").URN)
}

func TestGPUPool(t *testing.T) {
	cfg := config()
	cfg.GPUPool = spec.GKEGPUPool{
		MachineType:      "a2-ultragpu-2g",
		AcceleratorType:  "nvidia-a100-80gb",
		AcceleratorCount: 2,
		DriverVersion:    "LATEST",
		MinNodes:         0,
		MaxNodes:         3,
		Spot:             true,
		DiskSizeGB:       300,
		DiskType:         "pd-balanced",
		NodeLocations:    []string{"us-central1-a", "us-central1-c"},
		Labels:           map[string]string{"team": "ml"},
	}
	m, _ := deploy(t, cfg)

	r, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, "gpu", p.Name)
	assert.Equal(t, "llm-platform", p.Cluster)
	assert.Equal(t, "acme-ml", p.Project)
	assert.Equal(t, "us-central1", p.Location)
	assert.Equal(t, []string{"us-central1-a", "us-central1-c"}, p.NodeLocations, "only the zones that have the GPU")

	require.NotNil(t, p.Autoscaling)
	assert.Equal(t, 0, p.Autoscaling.MinNodeCount, "scales to zero")
	assert.Equal(t, 3, p.Autoscaling.MaxNodeCount)
	require.NotNil(t, p.InitialNodeCount)
	assert.Equal(t, 0, *p.InitialNodeCount, "starts at the minimum")
	assert.Nil(t, p.NodeCount, "a fixed node count would fight the autoscaler")

	n := p.NodeConfig
	assert.Equal(t, "a2-ultragpu-2g", n.MachineType)
	assert.True(t, n.Spot)
	assert.Equal(t, 300, n.DiskSizeGb)
	assert.Equal(t, "pd-balanced", n.DiskType)
	assert.Equal(t, map[string]string{"team": "ml"}, n.Labels)
	require.Len(t, n.GuestAccelerators, 1)
	assert.Equal(t, "nvidia-a100-80gb", n.GuestAccelerators[0].Type)
	assert.Equal(t, 2, n.GuestAccelerators[0].Count)
	assert.Equal(t, "LATEST", n.GuestAccelerators[0].GpuDriverInstallationConfig.GpuDriverVersion, "GKE installs the driver")
	require.Len(t, n.Taints, 1)
	assert.Equal(t, "nvidia.com/gpu", n.Taints[0].Key)
	assert.Equal(t, "present", n.Taints[0].Value)
	assert.Equal(t, "NO_SCHEDULE", n.Taints[0].Effect)
	assert.Equal(t, "GKE_METADATA", n.WorkloadMetadataConfig.Mode)
	assert.True(t, p.Management.AutoRepair)
	assert.True(t, p.Management.AutoUpgrade)

	assert.Contains(t, r.DependsOn, m.Find(t, nodePoolType, "gke-system").URN,
		"the GPU pool comes after the system pool, so system pods never wait for a GPU node")
}

func TestGPUPoolIgnoresInitialNodeCountChanges(t *testing.T) {
	m, _ := deploy(t, config())
	pool := m.Find(t, "gcp:container/nodePool:NodePool", "gke-gpu")
	assert.Equal(t, []string{"initialNodeCount"}, pool.IgnoreChanges, "raising minNodes must not recreate the pool")
}

func TestGPUPoolDefaults(t *testing.T) {
	m, _ := deploy(t, config())
	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	n := p.NodeConfig
	assert.Equal(t, "g2-standard-8", n.MachineType)
	require.Len(t, n.GuestAccelerators, 1)
	assert.Equal(t, "nvidia-l4", n.GuestAccelerators[0].Type)
	assert.Equal(t, 1, n.GuestAccelerators[0].Count)
	assert.Equal(t, "LATEST", n.GuestAccelerators[0].GpuDriverInstallationConfig.GpuDriverVersion)
	assert.False(t, n.Spot, "on-demand by default")
	assert.Equal(t, 0, p.Autoscaling.MinNodeCount)
	assert.Equal(t, 2, p.Autoscaling.MaxNodeCount)
	assert.Empty(t, p.NodeLocations, "the cluster's zones unless told otherwise")
}

func TestGPUPoolWithMinimumNodes(t *testing.T) {
	cfg := config()
	cfg.GPUPool.MinNodes, cfg.GPUPool.MaxNodes = 1, 4
	m, _ := deploy(t, cfg)
	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, 1, p.Autoscaling.MinNodeCount)
	assert.Equal(t, 4, p.Autoscaling.MaxNodeCount)
	assert.Equal(t, 1, *p.InitialNodeCount)
}

func TestCreateKubeconfig(t *testing.T) {
	_, g := deploy(t, config())
	kc := readKubeconfig(t, g)

	assert.Equal(t, "https://"+endpoint, kc.Clusters[0].Cluster.Server, "the created cluster's endpoint")
	assert.Equal(t, caCert, kc.Clusters[0].Cluster.CertificateAuthorityData)
	assert.Equal(t, "llm-platform", kc.CurrentContext)
	exec := kc.Users[0].User.Exec
	assert.Equal(t, "gke-gcloud-auth-plugin", exec.Command, "no long-lived credential in the kubeconfig")
	assert.Equal(t, "client.authentication.k8s.io/v1beta1", exec.APIVersion)
}

// TestAdoptCluster: with cluster.create false the component looks the
// cluster up, creates nothing cluster-level, and adds only the GPU pool.
func TestAdoptCluster(t *testing.T) {
	cfg := config()
	cfg.Cluster.Create = false
	cfg.Cluster.Name = "shared-gpu"
	m, g := deploy(t, cfg)

	assert.Empty(t, m.ByType(clusterType), "nothing cluster-creating in adopt mode")
	assert.False(t, m.Has(nodePoolType, "gke-system"), "the adopted cluster keeps its own pools")
	require.Len(t, m.ByType(nodePoolType), 1)

	require.Equal(t, []string{getCluster}, m.Calls())
	lookup := m.CallArgs()[0].Args
	assert.Equal(t, "shared-gpu", lookup["name"].StringValue())
	assert.Equal(t, "us-central1", lookup["location"].StringValue())
	assert.Equal(t, "acme-ml", lookup["project"].StringValue())

	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, "shared-gpu", p.Cluster, "the GPU pool joins the adopted cluster")
	assert.Equal(t, "us-central1", p.Location)
	require.Len(t, p.NodeConfig.GuestAccelerators, 1)
	assert.Equal(t, "nvidia-l4", p.NodeConfig.GuestAccelerators[0].Type)

	name, _ := harness.Await(t, g.ClusterName)
	assert.Equal(t, "shared-gpu", name)
	kc := readKubeconfig(t, g)
	assert.Equal(t, "https://"+endpoint, kc.Clusters[0].Cluster.Server, "from the lookup")
	assert.Equal(t, caCert, kc.Clusters[0].Cluster.CertificateAuthorityData, "masterAuths[0].clusterCaCertificate")
	assert.Equal(t, "gke-gcloud-auth-plugin", kc.Users[0].User.Exec.Command)
}

func TestAdoptZonalCluster(t *testing.T) {
	cfg := config()
	cfg.Cluster.Create = false
	cfg.Zone = "us-central1-a"
	m, _ := deploy(t, cfg)
	assert.Equal(t, "us-central1-a", m.CallArgs()[0].Args["location"].StringValue())
	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, "us-central1-a", p.Location)
}

func TestCreateModeMakesNoLookups(t *testing.T) {
	m, _ := deploy(t, config())
	assert.Empty(t, m.Calls())
}

func TestEveryResourceIsAChild(t *testing.T) {
	for _, create := range []bool{true, false} {
		cfg := config()
		cfg.Cluster.Create = create
		m, _ := deploy(t, cfg)
		component := m.Find(t, componentType, "gke")
		children := m.Children(component)
		assert.Len(t, children, len(m.Resources())-1, "everything but the component is its child (create=%v)", create)
		for _, r := range children {
			assert.True(t, r.Custom, "%s %s", r.Type, r.Name)
		}
	}
}
