package gke

// The component's configuration types. Every field is plain Go, known at plan time: they
// decide which resources exist and how they are sized. The JSON names are the stack config's
// keys (package stacks/spec aliases these types).

// Config creates or adopts a GKE cluster and adds a GPU node pool.
type Config struct {
	Project string        `json:"project" pulumi:"project"`
	Region  string        `json:"region" pulumi:"region"`
	Zone    string        `json:"zone" pulumi:"zone"`
	Cluster ClusterConfig `json:"cluster" pulumi:"cluster"`
	GPUPool GPUPoolConfig `json:"gpuPool" pulumi:"gpuPool"`
	// Postgres sizes the Cloud SQL instance created for Open WebUI with webui.database.kind
	// managed (cloudsql.go).
	Postgres PostgresConfig `json:"postgres" pulumi:"postgres,optional"`
	// Redis sizes the Memorystore instance created for the tenants' limits with
	// tenancy.redis.kind managed (memorystore.go).
	Redis RedisConfig `json:"redis" pulumi:"redis,optional"`
}

type ClusterConfig struct {
	Create             bool   `json:"create" pulumi:"create"`
	Name               string `json:"name" pulumi:"name"`
	ReleaseChannel     string `json:"releaseChannel" pulumi:"releaseChannel"`
	DeletionProtection bool   `json:"deletionProtection" pulumi:"deletionProtection"`
	SystemMachineType  string `json:"systemMachineType" pulumi:"systemMachineType"`
	SystemNodeCount    int    `json:"systemNodeCount" pulumi:"systemNodeCount"`
}

type GPUPoolConfig struct {
	MachineType      string            `json:"machineType" pulumi:"machineType"`
	AcceleratorType  string            `json:"acceleratorType" pulumi:"acceleratorType"`
	AcceleratorCount int               `json:"acceleratorCount" pulumi:"acceleratorCount"`
	DriverVersion    string            `json:"driverVersion" pulumi:"driverVersion"`
	MinNodes         int               `json:"minNodes" pulumi:"minNodes"`
	MaxNodes         int               `json:"maxNodes" pulumi:"maxNodes"`
	Spot             bool              `json:"spot" pulumi:"spot"`
	DiskSizeGB       int               `json:"diskSizeGb" pulumi:"diskSizeGb"`
	DiskType         string            `json:"diskType" pulumi:"diskType"`
	NodeLocations    []string          `json:"nodeLocations" pulumi:"nodeLocations"`
	Labels           map[string]string `json:"labels" pulumi:"labels"`
}

// SystemPoolZones is how many zones the system pool spans: its node count is per zone, and a
// regional cluster's default node locations are the region's zones (three or more; three is
// counted, the lower bound).
func (g Config) SystemPoolZones() int {
	if g.Zone != "" {
		return 1
	}
	return 3
}
