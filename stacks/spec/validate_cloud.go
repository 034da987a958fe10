package spec

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Allowed values of the clouds' enum-like keys.
var (
	gkeReleaseChannel = []string{"RAPID", "REGULAR", "STABLE"} // what pulumi-gcp v7.38.0 accepts; see extendedChannelNote
	gkeDriverVersions = []string{"DEFAULT", "LATEST", "INSTALLATION_DISABLED"}
	gkeAccelerators   = []string{
		"nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-v100", "nvidia-tesla-p4", "nvidia-tesla-p100",
		"nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb", "nvidia-h100-mega-80gb",
		"nvidia-h200-141gb", "nvidia-b200", "nvidia-gb200", "nvidia-rtx-pro-6000",
	}
	eksCapacityTypes = []string{"ON_DEMAND", "SPOT"}
)

// extendedChannelNote explains why a created cluster cannot use EXTENDED:
// pulumi-gcp v7.38.0's schema documents the channel values UNSPECIFIED,
// RAPID, REGULAR and STABLE (ClusterReleaseChannel in its container
// package). EXTENDED reached the Terraform provider with magic-modules PR
// 11437 (August 2024, terraform-provider-google 6.x), which only pulumi-gcp
// v8 bridges. An adopted cluster may be on any channel: it is not set then.
const extendedChannelNote = `"EXTENDED" is not supported by the pinned pulumi-gcp v7.38.0, whose provider accepts only ` +
	`UNSPECIFIED, RAPID, REGULAR and STABLE (EXTENDED arrived in terraform-provider-google 6.x, bridged by pulumi-gcp v8); ` +
	`use RAPID, REGULAR or STABLE, or create the cluster on the Extended channel yourself and adopt it (gke.cluster.create: false)`

func validateGKE(p *problems, cfg *Config) {
	g := cfg.GKE
	if g.Project == "" {
		p.add("gke.project", "is required; set it to your Google Cloud project id")
	}
	if g.Region == "" {
		p.add("gke.region", "is required; set it to a region with your GPU type, e.g. \"us-central1\"")
	}
	if g.Zone != "" && g.Region != "" && !strings.HasPrefix(g.Zone, g.Region+"-") {
		p.add("gke.zone", "%q is not in region %q; use a zone such as %q", g.Zone, g.Region, g.Region+"-a")
	}
	if g.Cluster.Name == "" {
		p.add("gke.cluster.name", "is required")
	} else if errs := validation.IsDNS1035Label(g.Cluster.Name); len(errs) > 0 || len(g.Cluster.Name) > 40 {
		// GKE's rule; the node service account and VPC are named after it.
		p.add("gke.cluster.name", "%q is not a GKE cluster name; use up to 40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen", g.Cluster.Name)
	}
	if g.Cluster.Create {
		if g.Cluster.ReleaseChannel == "EXTENDED" {
			p.add("gke.cluster.releaseChannel", "%s", extendedChannelNote)
		} else {
			p.oneOf("gke.cluster.releaseChannel", g.Cluster.ReleaseChannel, gkeReleaseChannel)
		}
		if g.Cluster.SystemNodeCount < 1 {
			p.add("gke.cluster.systemNodeCount", "is %d; the system pool needs at least 1 node", g.Cluster.SystemNodeCount)
		}
	}
	pool := g.GPUPool
	if pool.MachineType == "" {
		p.add("gke.gpuPool.machineType", "is required, e.g. \"g2-standard-24\" for nvidia-l4")
	}
	p.oneOf("gke.gpuPool.acceleratorType", pool.AcceleratorType, gkeAccelerators)
	p.oneOf("gke.gpuPool.driverVersion", pool.DriverVersion, gkeDriverVersions)
	if pool.AcceleratorCount < 1 {
		p.add("gke.gpuPool.acceleratorCount", "is %d; use the GPUs per node (1 or more)", pool.AcceleratorCount)
	}
	checkScaling(p, "gke.gpuPool", "minNodes", "maxNodes", "", pool.MinNodes, pool.MaxNodes, pool.MinNodes)
	// The pool's zones: GKE applies the initial size per zone, so each must
	// be real and counted once.
	seenZones := map[string]int{}
	for i, zone := range pool.NodeLocations {
		at := fmt.Sprintf("gke.gpuPool.nodeLocations[%d]", i)
		if g.Region != "" && !strings.HasPrefix(zone, g.Region+"-") {
			p.add(at, "%q is not in region %q; list zones of the region that have %s, such as %q", zone, g.Region, pool.AcceleratorType, g.Region+"-a")
		}
		if j, dup := seenZones[zone]; dup {
			p.add(at, "%q is already gke.gpuPool.nodeLocations[%d]; list each zone once", zone, j)
		}
		seenZones[zone] = i
	}
	if pool.DiskSizeGB < 50 {
		p.add("gke.gpuPool.diskSizeGb", "is %d; use at least 50 (images are large)", pool.DiskSizeGB)
	}
	checkFit(p, cfg.Models, pool.AcceleratorCount, "gke.gpuPool.acceleratorCount")
}

func validateEKS(p *problems, cfg *Config) {
	e := cfg.EKS
	if e.Region == "" {
		p.add("eks.region", "is required; set it to an AWS region, e.g. \"us-west-2\"")
	}
	if e.Cluster.Name == "" {
		p.add("eks.cluster.name", "is required")
	}
	if e.Cluster.Create {
		if n := len(e.Cluster.AvailabilityZones); n == 1 {
			p.add("eks.cluster.availabilityZones", "has 1 zone; EKS needs subnets in 2 or more (or leave it empty to pick 2)")
		}
		if e.Cluster.SystemNodeCount < 1 {
			p.add("eks.cluster.systemNodeCount", "is %d; the system node group needs at least 1 node", e.Cluster.SystemNodeCount)
		}
		checkVPCCIDR(p, e.Cluster.VPCCIDR)
		checkPublicAccessCIDRs(p, e.Cluster.PublicAccessCIDRs)
		if !eksVersion.MatchString(e.Cluster.Version) {
			p.add("eks.cluster.version", "%q is not a Kubernetes minor version; use one EKS supports, e.g. \"1.36\"", e.Cluster.Version)
		}
	} else if len(e.Cluster.SubnetIDs) == 0 {
		p.add("eks.cluster.subnetIds", "is required when adopting a cluster (create: false); list the private subnets (routed through NAT) the GPU nodes go in: "+
			"the cluster's own subnets often include public ones, where nodes without public IPs never join")
	}
	ng := e.GPUNodeGroup
	if len(ng.InstanceTypes) == 0 {
		p.add("eks.gpuNodeGroup.instanceTypes", "is empty; use GPU instance types such as [\"g6.12xlarge\"]")
	}
	p.oneOf("eks.gpuNodeGroup.capacityType", ng.CapacityType, eksCapacityTypes)
	if ng.GPUsPerNode < 1 {
		p.add("eks.gpuNodeGroup.gpusPerNode", "is %d; use the GPU count of the instance types", ng.GPUsPerNode)
	}
	checkScaling(p, "eks.gpuNodeGroup", "minSize", "maxSize", "desiredSize", ng.MinSize, ng.MaxSize, ng.DesiredSize)
	if ng.DiskSizeGB < 50 {
		p.add("eks.gpuNodeGroup.diskSizeGb", "is %d; use at least 50 (images are large)", ng.DiskSizeGB)
	}
	checkFit(p, cfg.Models, ng.GPUsPerNode, "eks.gpuNodeGroup.gpusPerNode")
	// The EKS component sets this label itself; the models and the device
	// plugin select on it.
	if _, set := ng.Labels["nvidia.com/gpu.present"]; set {
		p.add("eks.gpuNodeGroup.labels", "sets \"nvidia.com/gpu.present\", which the platform manages; remove it")
	}
	if e.Cluster.Create && len(e.Cluster.SubnetIDs) > 0 {
		p.add("eks.cluster.subnetIds", "is only for adopted clusters (create: false); a created cluster gets its own VPC")
	}
}

// eksVersion is a Kubernetes minor version as EKS names them ("1.36").
var eksVersion = regexp.MustCompile(`^1\.[0-9]+$`)

// checkVPCCIDR: the created VPC's block is an IPv4 /16 (AWS allows /16 to
// /28, and the component carves a /20 per subnet out of it), written as its
// network address.
func checkVPCCIDR(p *problems, cidr string) {
	const key = "eks.cluster.vpcCidr"
	prefix, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil || !prefix.Addr().Is4():
		p.add(key, "%q is not an IPv4 CIDR block; use a private /16 such as \"10.0.0.0/16\"", cidr)
	case prefix.Bits() != 16:
		p.add(key, "%q is a /%d; use a /16 (the largest VPC block AWS allows; the subnets are /20s carved out of it)", cidr, prefix.Bits())
	case prefix.Masked() != prefix:
		p.add(key, "%q has host bits set; use its network address %q", cidr, prefix.Masked().String())
	}
}

// checkPublicAccessCIDRs: who may reach a created cluster's public API
// endpoint. EKS takes IPv4 blocks written as network addresses.
func checkPublicAccessCIDRs(p *problems, cidrs []string) {
	if len(cidrs) == 0 {
		p.add("eks.cluster.publicAccessCidrs", "is empty; list the IPv4 networks that run `pulumi up` and kubectl (e.g. [\"203.0.113.0/24\"]), or [\"0.0.0.0/0\"]: the program reaches the API through the public endpoint")
	}
	for i, cidr := range cidrs {
		key := fmt.Sprintf("eks.cluster.publicAccessCidrs[%d]", i)
		prefix, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil || !prefix.Addr().Is4():
			p.add(key, "%q is not an IPv4 CIDR block; write it like \"203.0.113.0/24\" (a single address is \"/32\")", cidr)
		case prefix.Masked() != prefix:
			p.add(key, "%q has host bits set; use %q", cidr, prefix.Masked().String())
		}
	}
}

// checkScaling enforces 0 <= min <= desired <= max and max >= 1.
func checkScaling(p *problems, at, minKey, maxKey, desiredKey string, lo, hi, desired int) {
	if lo < 0 {
		p.add(at+"."+minKey, "is %d; use 0 or more", lo)
	}
	if hi < 1 || hi < lo {
		p.add(at+"."+maxKey, "is %d; use at least 1 and at least %s (%d)", hi, minKey, lo)
	}
	if desiredKey != "" && (desired < lo || desired > hi) {
		p.add(at+"."+desiredKey, "is %d; it must lie between %s (%d) and %s (%d)", desired, minKey, lo, maxKey, hi)
	}
}

// checkFit rejects models whose tensor-parallel size does not fit on one node.
func checkFit(p *problems, models []ModelSpec, perNode int, key string) {
	for i, m := range models {
		if perNode > 0 && m.GPURequestCount > perNode {
			p.add(fmt.Sprintf("models[%d].gpuRequestCount", i), "is %d but a GPU node has %d (%s); use a bigger node type or fewer GPUs", m.GPURequestCount, perNode, key)
		}
	}
}
