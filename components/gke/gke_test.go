package gke_test

import (
	"net"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const (
	clusterType   = "gcp:container/cluster:Cluster"
	nodePoolType  = "gcp:container/nodePool:NodePool"
	componentType = gke.Type
	getCluster    = "gcp:container/getCluster:getCluster"
	accountType   = "gcp:serviceaccount/account:Account"
	iamMemberType = "gcp:projects/iAMMember:IAMMember"
	networkType   = "gcp:compute/network:Network"
	subnetType    = "gcp:compute/subnetwork:Subnetwork"
	routerType    = "gcp:compute/router:Router"
	natType       = "gcp:compute/routerNat:RouterNat"

	// What the mock Google Cloud reports for a cluster, created or adopted.
	endpoint = "34.118.0.10"
	caCert   = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"
)

// mockGCP records through pulumimock.Mocks and plays the parts of Google Cloud
// the component reads back: a created cluster's endpoint and CA, and the
// getCluster lookup of an existing one.
type mockGCP struct {
	*pulumimock.Mocks
}

func newMockGCP() *mockGCP {
	return newMockGCPAdopting(adoptedCluster())
}

// adoptedCluster is what getCluster reports for the adopted cluster: Workload
// Identity and Dataplane V2 on, as the platform needs.
func adoptedCluster() map[string]any {
	return map[string]any{
		"name":                    "shared-gpu",
		"location":                "us-central1",
		"endpoint":                endpoint,
		"masterAuths":             []any{map[string]any{"clusterCaCertificate": caCert}},
		"workloadIdentityConfigs": []any{map[string]any{"workloadPool": "acme-ml.svc.id.goog"}},
		"datapathProvider":        "ADVANCED_DATAPATH",
	}
}

func newMockGCPAdopting(found map[string]any) *mockGCP {
	return &mockGCP{Mocks: &pulumimock.Mocks{CallResults: map[string]resource.PropertyMap{
		getCluster: resource.NewPropertyMapFromMap(found),
	}}}
}

func (m *mockGCP) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, state, err := m.Mocks.NewResource(args)
	if args.TypeToken == clusterType {
		// A regional cluster without node locations gets three zones.
		state["nodeLocations"] = resource.NewProperty([]resource.PropertyValue{
			resource.NewProperty("us-central1-a"), resource.NewProperty("us-central1-b"), resource.NewProperty("us-central1-f"),
		})
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
	m, g, err := deployWith(newMockGCP(), cfg)
	require.NoError(t, err)
	return m, g
}

// deployWith runs the component against the given mock cloud and returns
// the program's error.
func deployWith(m *mockGCP, cfg spec.GKEConfig) (*mockGCP, *gke.GKE, error) {
	var g *gke.GKE
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		g, err = gke.New(ctx, "gke", gke.Args{Config: cfg})
		return err
	}, pulumi.WithMocks(pulumimock.Project, "test", m))
	return m, g, err
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
		DatapathProvider      string `json:"datapathProvider"`
		NetworkPolicy         *struct {
			Enabled bool `json:"enabled"`
		} `json:"networkPolicy"`
		Network            string `json:"network"`
		Subnetwork         string `json:"subnetwork"`
		IpAllocationPolicy struct {
			ClusterSecondaryRangeName  string `json:"clusterSecondaryRangeName"`
			ServicesSecondaryRangeName string `json:"servicesSecondaryRangeName"`
		} `json:"ipAllocationPolicy"`
		PrivateClusterConfig *struct {
			EnablePrivateNodes    bool `json:"enablePrivateNodes"`
			EnablePrivateEndpoint bool `json:"enablePrivateEndpoint"`
		} `json:"privateClusterConfig"`
		NodeConfig struct {
			ServiceAccount string   `json:"serviceAccount"`
			OauthScopes    []string `json:"oauthScopes"`
		} `json:"nodeConfig"`
		ReleaseChannel struct {
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
			// Per zone: the pool must not set them (see TestGPUPoolSizesAreTotals).
			MinNodeCount      *int   `json:"minNodeCount"`
			MaxNodeCount      *int   `json:"maxNodeCount"`
			TotalMinNodeCount *int   `json:"totalMinNodeCount"`
			TotalMaxNodeCount *int   `json:"totalMaxNodeCount"`
			LocationPolicy    string `json:"locationPolicy"`
		} `json:"autoscaling"`
		Management struct {
			AutoRepair  bool `json:"autoRepair"`
			AutoUpgrade bool `json:"autoUpgrade"`
		} `json:"management"`
		NodeConfig struct {
			MachineType       string            `json:"machineType"`
			ServiceAccount    string            `json:"serviceAccount"`
			OauthScopes       []string          `json:"oauthScopes"`
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

func decode[T any](t *testing.T, m *mockGCP, typ, name string) (pulumimock.Resource, T) {
	t.Helper()
	r := m.Find(t, typ, name)
	return r, pulumimock.View[T](t, r)
}

func readKubeconfig(t *testing.T, g *gke.GKE) kubeconfig {
	t.Helper()
	value, secret := pulumimock.Await(t, g.Kubeconfig)
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

	name, _ := pulumimock.Await(t, g.ClusterName)
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
	assert.Regexp(t, `^projects/acme-ml/regions/us-central1/subnetworks/`, c.Subnetwork, "the subnet is regional, the cluster zonal")
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
	assert.Equal(t, ptr(0), p.Autoscaling.TotalMinNodeCount, "scales to zero")
	assert.Equal(t, ptr(3), p.Autoscaling.TotalMaxNodeCount, "3 nodes in all, not 3 per zone")
	assert.Equal(t, "ANY", p.Autoscaling.LocationPolicy, "spot: take capacity in any zone")
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
	assert.Equal(t, ptr(0), p.Autoscaling.TotalMinNodeCount)
	assert.Equal(t, ptr(2), p.Autoscaling.TotalMaxNodeCount)
	assert.Equal(t, "BALANCED", p.Autoscaling.LocationPolicy, "on-demand: keep zones even")
	assert.Empty(t, p.NodeLocations, "the cluster's zones unless told otherwise")
}

func TestGPUPoolWithMinimumNodes(t *testing.T) {
	cfg := config()
	cfg.GPUPool.MinNodes, cfg.GPUPool.MaxNodes = 1, 4
	m, _ := deploy(t, cfg)
	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, ptr(1), p.Autoscaling.TotalMinNodeCount)
	assert.Equal(t, ptr(4), p.Autoscaling.TotalMaxNodeCount)
	assert.Equal(t, 0, *p.InitialNodeCount, "1 node over 3 zones: none per zone, never 3; the autoscaler adds one for the first Pod")
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

	name, _ := pulumimock.Await(t, g.ClusterName)
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

func ptr(n int) *int { return &n }

// TestGPUPoolSizesAreTotals: minNodes/maxNodes bound the whole pool, not
// each zone (GKE's minNodeCount/maxNodeCount are per zone: maxNodes 3 over
// two zones allowed 6 GPU nodes).
func TestGPUPoolSizesAreTotals(t *testing.T) {
	for _, spot := range []bool{true, false} {
		cfg := config()
		cfg.GPUPool.NodeLocations = []string{"us-central1-a", "us-central1-c"}
		cfg.GPUPool.MinNodes, cfg.GPUPool.MaxNodes, cfg.GPUPool.Spot = 1, 3, spot
		m, _ := deploy(t, cfg)
		_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
		require.NotNil(t, p.Autoscaling)
		assert.Nil(t, p.Autoscaling.MinNodeCount, "no per-zone minimum")
		assert.Nil(t, p.Autoscaling.MaxNodeCount, "no per-zone maximum")
		assert.Equal(t, ptr(1), p.Autoscaling.TotalMinNodeCount)
		assert.Equal(t, ptr(3), p.Autoscaling.TotalMaxNodeCount)
		want := map[bool]string{true: "ANY", false: "BALANCED"}[spot]
		assert.Equal(t, want, p.Autoscaling.LocationPolicy, "spot=%v", spot)
		assert.Equal(t, want, gke.LocationPolicy(spot))
	}
}

// TestGPUPoolInitialNodeCount: initialNodeCount is per zone, so the pool
// starts with initialNodeCount x zones nodes; that total never exceeds
// minNodes.
func TestGPUPoolInitialNodeCount(t *testing.T) {
	cases := []struct {
		name       string
		zone       string
		locations  []string
		min, max   int
		perZone    int
		totalAtMin int // perZone x zones
	}{
		{"scale from zero", "", []string{"us-central1-a", "us-central1-c"}, 0, 3, 0, 0},
		{"two zones, even", "", []string{"us-central1-a", "us-central1-c"}, 2, 4, 1, 2},
		{"two zones, odd", "", []string{"us-central1-a", "us-central1-c"}, 3, 4, 1, 2},
		{"one node over two zones", "", []string{"us-central1-a", "us-central1-c"}, 1, 1, 0, 0},
		{"zonal cluster", "us-central1-b", nil, 2, 2, 2, 2},
		{"regional, the cluster's three zones", "", nil, 3, 6, 1, 3},
		{"regional, fewer than the zones", "", nil, 2, 6, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config()
			cfg.Zone = tc.zone
			cfg.GPUPool.NodeLocations = tc.locations
			cfg.GPUPool.MinNodes, cfg.GPUPool.MaxNodes = tc.min, tc.max
			m, _ := deploy(t, cfg)
			_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
			require.NotNil(t, p.InitialNodeCount)
			assert.Equal(t, tc.perZone, *p.InitialNodeCount)
			zones := len(tc.locations)
			if zones == 0 {
				zones = map[bool]int{true: 1, false: 3}[tc.zone != ""]
			}
			assert.Equal(t, tc.totalAtMin, *p.InitialNodeCount*zones)
			assert.LessOrEqual(t, *p.InitialNodeCount*zones, tc.min, "never starts above minNodes in total")
		})
	}
	t.Run("adopted cluster: its node locations", func(t *testing.T) {
		cfg := config()
		cfg.Cluster.Create = false
		cfg.GPUPool.MinNodes, cfg.GPUPool.MaxNodes = 4, 4
		found := adoptedCluster()
		found["nodeLocations"] = []any{"us-central1-a", "us-central1-b"}
		m, _, err := deployWith(newMockGCPAdopting(found), cfg)
		require.NoError(t, err)
		_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
		assert.Equal(t, 2, *p.InitialNodeCount, "4 nodes over the adopted cluster's 2 zones")
	})
	assert.Equal(t, 0, gke.InitialPerZone(1, 3))
	assert.Equal(t, 2, gke.InitialPerZone(5, 2))
	assert.Equal(t, 4, gke.InitialPerZone(4, 0), "no zones known: treated as one")
}

// TestCreatedClusterEnforcesNetworkPolicy: Dataplane V2 enforces the
// NetworkPolicies the platform declares; the legacy Calico block stays unset
// (GKE refuses both together).
func TestCreatedClusterEnforcesNetworkPolicy(t *testing.T) {
	m, _ := deploy(t, config())
	_, c := decode[cluster](t, m, clusterType, "gke")
	assert.Equal(t, "ADVANCED_DATAPATH", c.DatapathProvider)
	assert.Nil(t, c.NetworkPolicy, "no Calico networkPolicy block with Dataplane V2")
}

// nodeAccount is the typed view of the node service account.
type nodeAccount struct {
	AccountID   string `json:"accountId"`
	Project     string `json:"project"`
	DisplayName string `json:"displayName"`
}

type iamMember struct {
	Project string `json:"project"`
	Role    string `json:"role"`
	Member  string `json:"member"`
}

// assertNodeIdentity: one dedicated service account with exactly the node
// roles; it returns the account's email.
func assertNodeIdentity(t *testing.T, m *mockGCP) string {
	t.Helper()
	require.Len(t, m.ByType(accountType), 1)
	_, sa := decode[nodeAccount](t, m, accountType, "gke-nodes")
	assert.Equal(t, "acme-ml", sa.Project)
	assert.Regexp(t, `^[a-z][-a-z0-9]{4,28}[a-z0-9]$`, sa.AccountID, "a valid service account id")
	email := sa.AccountID + "@acme-ml.iam.gserviceaccount.com"
	var roles []string
	for _, r := range m.ByType(iamMemberType) {
		b := pulumimock.View[iamMember](t, r)
		assert.Equal(t, "acme-ml", b.Project)
		assert.Equal(t, "serviceAccount:"+email, b.Member)
		roles = append(roles, b.Role)
	}
	assert.ElementsMatch(t, gke.NodeRoles, roles)
	assert.NotContains(t, roles, "roles/editor")
	assert.NotContains(t, roles, "roles/owner")
	return email
}

// TestNodesRunAsADedicatedServiceAccount: no pool (nor the cluster's
// short-lived default pool) runs as the Compute Engine default account.
func TestNodesRunAsADedicatedServiceAccount(t *testing.T) {
	m, _ := deploy(t, config())
	email := assertNodeIdentity(t, m)

	_, c := decode[cluster](t, m, clusterType, "gke")
	assert.Equal(t, email, c.NodeConfig.ServiceAccount, "the default pool too")
	for _, name := range []string{"gke-system", "gke-gpu"} {
		r, p := decode[nodePool](t, m, nodePoolType, name)
		assert.Equal(t, email, p.NodeConfig.ServiceAccount, name)
		assert.NotEqual(t, "default", p.NodeConfig.ServiceAccount)
		for _, grant := range m.ByType(iamMemberType) {
			assert.Contains(t, r.DependsOn, grant.URN, "%s boots only once its account may write logs and pull images", name)
		}
	}
	assert.Contains(t, m.Find(t, clusterType, "gke").IgnoreChanges, "nodeConfig", "the default pool's config must not replace the cluster later")
}

func TestAdoptedClusterGPUPoolRunsAsADedicatedServiceAccount(t *testing.T) {
	cfg := config()
	cfg.Cluster.Create = false
	cfg.Cluster.Name = "shared-gpu"
	m, _ := deploy(t, cfg)
	email := assertNodeIdentity(t, m)
	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, email, p.NodeConfig.ServiceAccount)
	for _, typ := range []string{networkType, subnetType, routerType, natType} {
		assert.Empty(t, m.ByType(typ), "an adopted cluster keeps its network (%s)", typ)
	}
}

func TestServiceAccountIDsFitAndDiffer(t *testing.T) {
	ids := map[string]bool{}
	for _, c := range []struct{ region, zone, name string }{
		{"us-central1", "", "llm-platform"},
		{"europe-west4", "", "llm-platform"},
		{"us-central1", "us-central1-a", "llm-platform"},
		{"us-central1", "", "a-very-long-cluster-name-of-forty-chars"},
	} {
		cfg := config()
		cfg.Region, cfg.Zone, cfg.Cluster.Name = c.region, c.zone, c.name
		m, _ := deploy(t, cfg)
		_, sa := decode[nodeAccount](t, m, accountType, "gke-nodes")
		assert.Regexp(t, `^[a-z][-a-z0-9]{4,28}[a-z0-9]$`, sa.AccountID)
		assert.False(t, ids[sa.AccountID], "%s is unique per project, location and cluster", sa.AccountID)
		ids[sa.AccountID] = true
	}
}

type (
	network struct {
		Name                  string `json:"name"`
		Project               string `json:"project"`
		AutoCreateSubnetworks *bool  `json:"autoCreateSubnetworks"`
	}
	subnetwork struct {
		Name                  string `json:"name"`
		Region                string `json:"region"`
		Network               string `json:"network"`
		IpCidrRange           string `json:"ipCidrRange"`
		PrivateIpGoogleAccess bool   `json:"privateIpGoogleAccess"`
		SecondaryIpRanges     []struct {
			RangeName   string `json:"rangeName"`
			IpCidrRange string `json:"ipCidrRange"`
		} `json:"secondaryIpRanges"`
	}
	router struct {
		Name    string `json:"name"`
		Region  string `json:"region"`
		Network string `json:"network"`
	}
	routerNat struct {
		Router                        string `json:"router"`
		Region                        string `json:"region"`
		NatIpAllocateOption           string `json:"natIpAllocateOption"`
		SourceSubnetworkIpRangesToNat string `json:"sourceSubnetworkIpRangesToNat"`
	}
)

// TestCreatedClusterIsPrivateInItsOwnVPC: the cluster gets its own VPC and
// subnet (not `default`), VPC-native ranges from that subnet, private nodes
// with a reachable public endpoint, and Cloud NAT for their egress (images
// from Docker Hub and ghcr.io, weights from Hugging Face).
func TestCreatedClusterIsPrivateInItsOwnVPC(t *testing.T) {
	m, _ := deploy(t, config())
	_, c := decode[cluster](t, m, clusterType, "gke")
	_, n := decode[network](t, m, networkType, "gke-network")
	_, s := decode[subnetwork](t, m, subnetType, "gke-subnet")

	require.NotNil(t, n.AutoCreateSubnetworks)
	assert.False(t, *n.AutoCreateSubnetworks, "one subnet of ours, none in every region")
	assert.Equal(t, "acme-ml", n.Project)
	assert.NotEqual(t, "default", n.Name)
	assert.Equal(t, "projects/acme-ml/global/networks/"+n.Name, c.Network, "the cluster lives in the new VPC")
	assert.Equal(t, "projects/acme-ml/regions/us-central1/subnetworks/"+s.Name, c.Subnetwork)
	assert.Equal(t, n.Name, s.Network)
	assert.Equal(t, "us-central1", s.Region)
	assert.True(t, s.PrivateIpGoogleAccess, "private nodes reach Google APIs")

	ranges := map[string]string{}
	for _, r := range s.SecondaryIpRanges {
		ranges[r.RangeName] = r.IpCidrRange
	}
	require.Contains(t, ranges, c.IpAllocationPolicy.ClusterSecondaryRangeName, "Pods come from a range of the subnet")
	require.Contains(t, ranges, c.IpAllocationPolicy.ServicesSecondaryRangeName, "Services come from a range of the subnet")
	assert.NotEqual(t, c.IpAllocationPolicy.ClusterSecondaryRangeName, c.IpAllocationPolicy.ServicesSecondaryRangeName)
	assertDisjoint(t, s.IpCidrRange, ranges[c.IpAllocationPolicy.ClusterSecondaryRangeName], ranges[c.IpAllocationPolicy.ServicesSecondaryRangeName])

	require.NotNil(t, c.PrivateClusterConfig)
	assert.True(t, c.PrivateClusterConfig.EnablePrivateNodes, "nodes have no public IPs")
	assert.False(t, c.PrivateClusterConfig.EnablePrivateEndpoint, "pulumi and kubectl still reach the control plane")

	_, r := decode[router](t, m, routerType, "gke-router")
	assert.Equal(t, n.Name, r.Network)
	assert.Equal(t, "us-central1", r.Region)
	_, nat := decode[routerNat](t, m, natType, "gke-nat")
	assert.Equal(t, r.Name, nat.Router)
	assert.Equal(t, "us-central1", nat.Region)
	assert.Equal(t, "AUTO_ONLY", nat.NatIpAllocateOption)
	assert.Equal(t, "ALL_SUBNETWORKS_ALL_IP_RANGES", nat.SourceSubnetworkIpRangesToNat, "nodes and Pods egress")
	assert.Contains(t, m.Find(t, clusterType, "gke").DependsOn, m.Find(t, subnetType, "gke-subnet").URN)
}

func assertDisjoint(t *testing.T, cidrs ...string) {
	t.Helper()
	nets := make([]*net.IPNet, len(cidrs))
	for i, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		require.NoError(t, err, c)
		nets[i] = n
	}
	for i := range nets {
		for j := i + 1; j < len(nets); j++ {
			assert.False(t, nets[i].Contains(nets[j].IP) || nets[j].Contains(nets[i].IP), "%s and %s overlap", cidrs[i], cidrs[j])
		}
	}
}

// TestAdoptedClusterWithoutWorkloadIdentityFails: the GPU pool runs
// GKE_METADATA, which needs Workload Identity on the cluster; an adopted
// cluster without it fails the deployment, naming the key and the fix,
// before the pool is created.
func TestAdoptedClusterWithoutWorkloadIdentityFails(t *testing.T) {
	cfg := config()
	cfg.Cluster.Create = false
	cfg.Cluster.Name = "shared-gpu"
	for _, wi := range []any{nil, []any{}, []any{map[string]any{"workloadPool": ""}}} {
		found := adoptedCluster()
		delete(found, "workloadIdentityConfigs")
		if wi != nil {
			found["workloadIdentityConfigs"] = wi
		}
		m, _, err := deployWith(newMockGCPAdopting(found), cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "gke.cluster.name")
		assert.Contains(t, err.Error(), "gke.cluster.create")
		assert.Contains(t, err.Error(), "gcloud container clusters update shared-gpu --location=us-central1 --project=acme-ml --workload-pool=acme-ml.svc.id.goog")
		assert.False(t, m.Has(nodePoolType, "gke-gpu"), "no pool that could not work")
	}
}

func TestAdoptedClusterWithWorkloadIdentity(t *testing.T) {
	cfg := config()
	cfg.Cluster.Create = false
	m, _ := deploy(t, cfg)
	_, p := decode[nodePool](t, m, nodePoolType, "gke-gpu")
	assert.Equal(t, "GKE_METADATA", p.NodeConfig.WorkloadMetadataConfig.Mode)
}

// TestAdoptedClusterWithoutNetworkPolicyEnforcementStillDeploys: no
// Dataplane V2 and no Calico enforcement is a warning (the NetworkPolicies
// are then decorative), not an error: many clusters predate Dataplane V2.
func TestAdoptedClusterWithoutNetworkPolicyEnforcementStillDeploys(t *testing.T) {
	cfg := config()
	cfg.Cluster.Create = false
	found := adoptedCluster()
	delete(found, "datapathProvider")
	m, _, err := deployWith(newMockGCPAdopting(found), cfg)
	require.NoError(t, err)
	assert.True(t, m.Has(nodePoolType, "gke-gpu"))
}
