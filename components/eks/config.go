package eks

// The component's configuration types. Every field is plain Go, known at plan time: they
// decide which resources exist and how they are sized. The JSON names are the stack config's
// keys (package stacks/spec aliases these types).

// Config creates or adopts an EKS cluster and adds a GPU managed node group.
//
// The cluster-wide add-ons below are *bool: nil means "on for a cluster this
// stack creates, off for an adopted one" (see ForCreatedClusters). An adopted
// cluster usually runs them already, and a second copy either fails
// (an EKS add-on that exists: ResourceInUseException; a Helm release over the
// LB controller's objects: ownership conflict) or silently takes over (a
// second default StorageClass wins for every namespace).
type Config struct {
	Region string `json:"region" pulumi:"region"`
	// EBSCSIDriver installs the EBS CSI driver add-on, without which no
	// PersistentVolumeClaim binds.
	EBSCSIDriver *bool `json:"ebsCsiDriver" pulumi:"ebsCsiDriver"`
	// PodIdentityAgent installs the EKS Pod Identity agent add-on, which
	// the EBS CSI driver and the LB controller get their AWS credentials from.
	PodIdentityAgent *bool `json:"podIdentityAgent" pulumi:"podIdentityAgent"`
	// LoadBalancerController installs the AWS Load Balancer Controller (an
	// IAM role and pod identity here, its Helm chart in the platform), which
	// serves the ingress gateway's `aws-load-balancer-type: external` NLB.
	LoadBalancerController *bool `json:"loadBalancerController" pulumi:"loadBalancerController"`
	// ClusterAutoscaler installs the Kubernetes Cluster Autoscaler (an IAM role and pod
	// identity here, the GPU node group's scale-from-zero tags, its Helm chart in the
	// platform), which adds GPU nodes for pending model pods and removes idle ones. nil: on
	// when this stack creates the cluster and some model autoscales; an adopted cluster
	// usually runs its own, which finds the GPU node group by EKS's discovery tags.
	ClusterAutoscaler *bool `json:"clusterAutoscaler" pulumi:"clusterAutoscaler"`
	// DefaultStorageClass declares the EBS CSI driver's gp3 class as the
	// cluster's default.
	DefaultStorageClass *bool              `json:"defaultStorageClass" pulumi:"defaultStorageClass"`
	Cluster             ClusterConfig      `json:"cluster" pulumi:"cluster"`
	GPUNodeGroup        GPUNodeGroupConfig `json:"gpuNodeGroup" pulumi:"gpuNodeGroup"`
	// Postgres sizes the RDS instance created for Open WebUI with webui.database.kind managed
	// (rds.go).
	Postgres PostgresConfig `json:"postgres" pulumi:"postgres,optional"`
	// Redis sizes the ElastiCache replication group created for the tenants' limits with
	// tenancy.redis.kind managed (elasticache.go).
	Redis RedisConfig `json:"redis" pulumi:"redis,optional"`
}

type ClusterConfig struct {
	Create             bool     `json:"create" pulumi:"create"`
	Name               string   `json:"name" pulumi:"name"`
	Version            string   `json:"version" pulumi:"version"`
	VPCCIDR            string   `json:"vpcCidr" pulumi:"vpcCidr"`
	AvailabilityZones  []string `json:"availabilityZones" pulumi:"availabilityZones"`
	SystemInstanceType string   `json:"systemInstanceType" pulumi:"systemInstanceType"`
	SystemNodeCount    int      `json:"systemNodeCount" pulumi:"systemNodeCount"`
	AdminRoleARNs      []string `json:"adminRoleArns" pulumi:"adminRoleArns"`
	// PublicAccessCIDRs may reach the public API endpoint of a created
	// cluster (the machine running `pulumi up` must be inside one).
	PublicAccessCIDRs []string `json:"publicAccessCidrs" pulumi:"publicAccessCidrs"`
	// SubnetIDs places the GPU node group when adopting a cluster; it is
	// required then (the cluster's own subnets often include public ones
	// where nodes without public IPs never join).
	SubnetIDs []string `json:"subnetIds" pulumi:"subnetIds"`
}

type GPUNodeGroupConfig struct {
	InstanceTypes []string          `json:"instanceTypes" pulumi:"instanceTypes"`
	GPUsPerNode   int               `json:"gpusPerNode" pulumi:"gpusPerNode"`
	CapacityType  string            `json:"capacityType" pulumi:"capacityType"`
	MinSize       int               `json:"minSize" pulumi:"minSize"`
	MaxSize       int               `json:"maxSize" pulumi:"maxSize"`
	DesiredSize   int               `json:"desiredSize" pulumi:"desiredSize"`
	DiskSizeGB    int               `json:"diskSizeGb" pulumi:"diskSizeGb"`
	Labels        map[string]string `json:"labels" pulumi:"labels"`
}

// ForCreatedClusters resolves one of Config's optional add-on switches:
// as set, or (nil) on exactly when this stack creates the cluster.
func (e Config) ForCreatedClusters(on *bool) bool {
	if on != nil {
		return *on
	}
	return e.Cluster.Create
}
