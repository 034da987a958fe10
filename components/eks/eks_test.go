package eks_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const (
	componentType   = eks.Type
	providerType    = "pulumi:providers:aws"
	vpcType         = "aws:ec2/vpc:Vpc"
	subnetType      = "aws:ec2/subnet:Subnet"
	igwType         = "aws:ec2/internetGateway:InternetGateway"
	natType         = "aws:ec2/natGateway:NatGateway"
	eipType         = "aws:ec2/eip:Eip"
	routeTableType  = "aws:ec2/routeTable:RouteTable"
	roleType        = "aws:iam/role:Role"
	attachmentType  = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	clusterType     = "aws:eks/cluster:Cluster"
	nodeGroupType   = "aws:eks/nodeGroup:NodeGroup"
	addonType       = "aws:eks/addon:Addon"
	accessEntryType = "aws:eks/accessEntry:AccessEntry"
	accessPolicy    = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
	policyType      = "aws:iam/policy:Policy"
	podIdentityType = "aws:eks/podIdentityAssociation:PodIdentityAssociation"

	getAZs       = "aws:index/getAvailabilityZones:getAvailabilityZones"
	getOfferings = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
	getCluster   = "aws:eks/getCluster:getCluster"

	// What the mock AWS reports for a cluster, created or adopted.
	endpoint = "https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com"
	caData   = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"
	account  = "arn:aws:iam::111122223333:role/"
)

// mockAWS records through pulumimock.Mocks and plays the parts of AWS the
// component reads back: IDs that name the resource type, role names and
// ARNs, a created cluster's endpoint and CA, and the two lookups.
type mockAWS struct {
	*pulumimock.Mocks
}

func newMockAWS() *mockAWS {
	return &mockAWS{Mocks: &pulumimock.Mocks{CallResults: map[string]resource.PropertyMap{
		getAZs: resource.NewPropertyMapFromMap(map[string]any{
			"id":    "us-west-2",
			"names": []any{"us-west-2a", "us-west-2b", "us-west-2c"},
		}),
		// Every zone offers the GPU type (EC2 filtered by instance type).
		getOfferings: offerings("us-west-2a", "us-west-2b", "us-west-2c"),
		getCluster: resource.NewPropertyMapFromMap(map[string]any{
			"name":                   "shared",
			"version":                "1.35",
			"endpoint":               endpoint,
			"certificateAuthorities": []any{map[string]any{"data": caData}},
			"vpcConfig": map[string]any{
				"vpcId":     "vpc-0shared",
				"subnetIds": []any{"subnet-0aaa", "subnet-0bbb", "subnet-0ccc"},
			},
		}),
	}}}
}

// offerings is what EC2 reports for an instance-type filter: one entry per
// zone that offers it.
func offerings(zones ...string) resource.PropertyMap {
	var types, locations []any
	for _, z := range zones {
		types, locations = append(types, "g6.xlarge"), append(locations, z)
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"id": "us-west-2", "instanceTypes": types, "locations": locations, "locationTypes": []any{"availability-zone"},
	})
}

func (m *mockAWS) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	_, state, err := m.Mocks.NewResource(args)
	kind := strings.ToLower(args.TypeToken[strings.LastIndex(args.TypeToken, ":")+1:])
	switch args.TypeToken {
	case roleType:
		state["name"] = resource.NewProperty(args.Name)
		state["arn"] = resource.NewProperty(account + args.Name)
	case policyType:
		state["arn"] = resource.NewProperty("arn:aws:iam::111122223333:policy/" + args.Name)
	case clusterType:
		state["endpoint"] = resource.NewProperty(endpoint)
		state["certificateAuthority"] = resource.NewProperty(resource.NewPropertyMapFromMap(map[string]any{"data": caData}))
	}
	return kind + "-" + args.Name, state, err
}

// config is a valid EKS config: the defaults plus a region.
func config() spec.EKSConfig {
	cfg := spec.Defaults().EKS
	cfg.Region = "us-west-2"
	return cfg
}

func deployWith(t *testing.T, cfg spec.EKSConfig, m *mockAWS) (*eks.EKS, error) {
	t.Helper()
	return deployArgs(t, eks.Args{Config: cfg}, m)
}

func deployArgs(t *testing.T, args eks.Args, m *mockAWS) (*eks.EKS, error) {
	t.Helper()
	var e *eks.EKS
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		e, err = eks.New(ctx, "eks", args)
		return err
	}, pulumi.WithMocks(pulumimock.Project, "test", m))
	return e, err
}

func deploy(t *testing.T, cfg spec.EKSConfig) (*mockAWS, *eks.EKS) {
	t.Helper()
	m := newMockAWS()
	e, err := deployWith(t, cfg, m)
	require.NoError(t, err)
	return m, e
}

// adopt adopts the cluster "shared", its GPU nodes in two private subnets.
func adopt() spec.EKSConfig {
	cfg := config()
	cfg.Cluster.Create = false
	cfg.Cluster.Name = "shared"
	cfg.Cluster.SubnetIDs = []string{"subnet-private-1", "subnet-private-2"}
	return cfg
}

func on(b bool) *bool { return &b }

// Typed views of the inputs the tests read, named as the aws provider names them.
type (
	subnet struct {
		VpcID               string            `json:"vpcId"`
		AvailabilityZone    string            `json:"availabilityZone"`
		CidrBlock           string            `json:"cidrBlock"`
		MapPublicIPOnLaunch bool              `json:"mapPublicIpOnLaunch"`
		Tags                map[string]string `json:"tags"`
	}
	route struct {
		CidrBlock    string `json:"cidrBlock"`
		GatewayID    string `json:"gatewayId"`
		NatGatewayID string `json:"natGatewayId"`
	}
	cluster struct {
		Name      string `json:"name"`
		RoleArn   string `json:"roleArn"`
		Version   string `json:"version"`
		VpcConfig struct {
			SubnetIDs             []string `json:"subnetIds"`
			EndpointPublicAccess  bool     `json:"endpointPublicAccess"`
			EndpointPrivateAccess bool     `json:"endpointPrivateAccess"`
			PublicAccessCidrs     []string `json:"publicAccessCidrs"`
		} `json:"vpcConfig"`
		AccessConfig struct {
			AuthenticationMode                      string `json:"authenticationMode"`
			BootstrapClusterCreatorAdminPermissions bool   `json:"bootstrapClusterCreatorAdminPermissions"`
		} `json:"accessConfig"`
	}
	nodeGroup struct {
		ClusterName   string            `json:"clusterName"`
		NodeGroupName string            `json:"nodeGroupName"`
		NodeRoleArn   string            `json:"nodeRoleArn"`
		SubnetIDs     []string          `json:"subnetIds"`
		Version       string            `json:"version"`
		AmiType       string            `json:"amiType"`
		InstanceTypes []string          `json:"instanceTypes"`
		CapacityType  string            `json:"capacityType"`
		DiskSize      int               `json:"diskSize"`
		Labels        map[string]string `json:"labels"`
		ScalingConfig struct {
			MinSize     int `json:"minSize"`
			MaxSize     int `json:"maxSize"`
			DesiredSize int `json:"desiredSize"`
		} `json:"scalingConfig"`
		Taints []struct {
			Key    string `json:"key"`
			Value  string `json:"value"`
			Effect string `json:"effect"`
		} `json:"taints"`
	}
	addon struct {
		ClusterName              string `json:"clusterName"`
		AddonName                string `json:"addonName"`
		ConfigurationValues      string `json:"configurationValues"`
		ResolveConflictsOnCreate string `json:"resolveConflictsOnCreate"`
		ResolveConflictsOnUpdate string `json:"resolveConflictsOnUpdate"`
		PodIdentityAssociations  []struct {
			RoleArn        string `json:"roleArn"`
			ServiceAccount string `json:"serviceAccount"`
		} `json:"podIdentityAssociations"`
	}
	trustPolicy struct {
		Statement []struct {
			Effect    string
			Principal struct{ Service string }
			Action    []string
		}
	}
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
			User struct {
				Exec struct {
					APIVersion string `yaml:"apiVersion"`
					Command    string
					Args       []string
				}
			}
		}
	}
)

func decode[T any](t *testing.T, m *mockAWS, typ, name string) (pulumimock.Resource, T) {
	t.Helper()
	r := m.Find(t, typ, name)
	return r, pulumimock.View[T](t, r)
}

func subnets(t *testing.T, m *mockAWS) map[string]subnet {
	t.Helper()
	out := map[string]subnet{}
	for _, r := range m.ByType(subnetType) {
		out[r.Name] = pulumimock.View[subnet](t, r)
	}
	return out
}

func readKubeconfig(t *testing.T, e *eks.EKS) kubeconfig {
	t.Helper()
	value, secret := pulumimock.Await(t, e.Kubeconfig)
	require.True(t, secret, "the kubeconfig output is secret")
	var kc kubeconfig
	require.NoError(t, yaml.Unmarshal([]byte(value.(string)), &kc))
	require.Len(t, kc.Clusters, 1)
	require.Len(t, kc.Users, 1)
	return kc
}

// policiesOf returns the managed policy ARNs attached to the role.
func policiesOf(t *testing.T, m *mockAWS, role string) []string {
	t.Helper()
	var out []string
	for _, r := range m.ByType(attachmentType) {
		in := pulumimock.Plain(r.Inputs)
		if in["role"] == role {
			out = append(out, in["policyArn"].(string))
		}
	}
	return out
}

func TestNetworkOverTwoZones(t *testing.T) {
	m, _ := deploy(t, config())

	require.Equal(t, []string{getAZs, getOfferings}, m.Calls(), "the zones come from the region and the GPU type")
	assert.Equal(t, "available", m.CallArgs()[0].Args["state"].StringValue())

	v := pulumimock.Plain(m.Find(t, vpcType, "eks").Inputs)
	assert.Equal(t, "10.0.0.0/16", v["cidrBlock"])
	assert.Equal(t, true, v["enableDnsHostnames"], "EKS nodes need DNS hostnames")
	assert.Equal(t, true, v["enableDnsSupport"])

	got := subnets(t, m)
	require.Len(t, got, 4, "a public and a private subnet per zone")
	for _, tc := range []struct {
		name, zone, role string
		public           bool
	}{
		{"eks-public-0", "us-west-2a", "kubernetes.io/role/elb", true},
		{"eks-public-1", "us-west-2b", "kubernetes.io/role/elb", true},
		{"eks-private-0", "us-west-2a", "kubernetes.io/role/internal-elb", false},
		{"eks-private-1", "us-west-2b", "kubernetes.io/role/internal-elb", false},
	} {
		s, ok := got[tc.name]
		require.True(t, ok, tc.name)
		assert.Equal(t, "vpc-eks", s.VpcID, tc.name)
		assert.Equal(t, tc.zone, s.AvailabilityZone, tc.name)
		assert.Equal(t, "1", s.Tags[tc.role], "%s: load balancers find it by %s", tc.name, tc.role)
		assert.Equal(t, "shared", s.Tags["kubernetes.io/cluster/llm-platform"], tc.name)
		assert.Equal(t, tc.public, s.MapPublicIPOnLaunch, tc.name)
	}
	assertSubnetsCarveTheVPC(t, "10.0.0.0/16", got)
}

// assertSubnetsCarveTheVPC: every subnet lies inside the VPC's block and no
// two overlap.
func assertSubnetsCarveTheVPC(t *testing.T, vpcCIDR string, got map[string]subnet) {
	t.Helper()
	vpc := netip.MustParsePrefix(vpcCIDR)
	var prefixes []netip.Prefix
	for name, s := range got {
		p, err := netip.ParsePrefix(s.CidrBlock)
		require.NoError(t, err, "%s: %q", name, s.CidrBlock)
		assert.True(t, vpc.Contains(p.Addr()) && p.Bits() >= vpc.Bits(), "%s %s lies inside %s", name, p, vpc)
		assert.LessOrEqual(t, p.Bits(), 20, "%s leaves room for pod IPs (VPC CNI)", name)
		for _, q := range prefixes {
			assert.False(t, p.Overlaps(q), "%s overlaps %s", p, q)
		}
		prefixes = append(prefixes, p)
	}
}

func TestInternetAndNATGateways(t *testing.T) {
	m, _ := deploy(t, config())

	igw := pulumimock.Plain(m.Find(t, igwType, "eks").Inputs)
	assert.Equal(t, "vpc-eks", igw["vpcId"])

	nat := pulumimock.Plain(m.Find(t, natType, "eks").Inputs)
	assert.Equal(t, "subnet-eks-public-0", nat["subnetId"], "the NAT gateway sits in a public subnet")
	assert.Equal(t, "eip-eks-nat", nat["allocationId"])
	assert.Equal(t, "vpc", pulumimock.Plain(m.Find(t, eipType, "eks-nat").Inputs)["domain"])

	_, public := decode[struct{ Routes []route }](t, m, routeTableType, "eks-public")
	assert.Equal(t, []route{{CidrBlock: "0.0.0.0/0", GatewayID: "internetgateway-eks"}}, public.Routes)
	_, private := decode[struct{ Routes []route }](t, m, routeTableType, "eks-private")
	assert.Equal(t, []route{{CidrBlock: "0.0.0.0/0", NatGatewayID: "natgateway-eks"}}, private.Routes,
		"private subnets reach the internet (images, weights) through NAT")

	assoc := map[string]string{}
	for _, r := range m.ByType("aws:ec2/routeTableAssociation:RouteTableAssociation") {
		in := pulumimock.Plain(r.Inputs)
		assoc[in["subnetId"].(string)] = in["routeTableId"].(string)
	}
	assert.Equal(t, map[string]string{
		"subnet-eks-public-0":  "routetable-eks-public",
		"subnet-eks-public-1":  "routetable-eks-public",
		"subnet-eks-private-0": "routetable-eks-private",
		"subnet-eks-private-1": "routetable-eks-private",
	}, assoc)
}

func TestExplicitZonesAndCIDR(t *testing.T) {
	cfg := config()
	cfg.Cluster.AvailabilityZones = []string{"us-west-2b", "us-west-2d"}
	cfg.Cluster.VPCCIDR = "172.20.0.0/16"
	m, _ := deploy(t, cfg)

	assert.Empty(t, m.Calls(), "configured zones need no lookup")
	assert.Equal(t, "172.20.0.0/16", pulumimock.Plain(m.Find(t, vpcType, "eks").Inputs)["cidrBlock"])
	got := subnets(t, m)
	require.Len(t, got, 4)
	assert.Equal(t, "us-west-2b", got["eks-public-0"].AvailabilityZone)
	assert.Equal(t, "us-west-2d", got["eks-public-1"].AvailabilityZone)
	assert.Equal(t, "us-west-2b", got["eks-private-0"].AvailabilityZone)
	assert.Equal(t, "us-west-2d", got["eks-private-1"].AvailabilityZone)
	assertSubnetsCarveTheVPC(t, "172.20.0.0/16", got)
}

func TestTooFewZones(t *testing.T) {
	m := newMockAWS()
	m.CallResults[getAZs] = resource.NewPropertyMapFromMap(map[string]any{"id": "x", "names": []any{"us-west-2a"}})
	_, err := deployWith(t, config(), m)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "eks.cluster.availabilityZones")
}

func TestIAMRoles(t *testing.T) {
	nodePolicies := []string{
		"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
	}
	m, _ := deploy(t, config())
	for _, tc := range []struct {
		role     string
		service  string
		policies []string
	}{
		{"eks-cluster", "eks.amazonaws.com", []string{"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}},
		{"eks-system-node", "ec2.amazonaws.com", nodePolicies},
		{"eks-gpu-node", "ec2.amazonaws.com", nodePolicies},
		{"eks-ebs-csi", "pods.eks.amazonaws.com", []string{"arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"}},
		{"eks-lb-controller", "pods.eks.amazonaws.com", []string{"arn:aws:iam::111122223333:policy/eks-lb-controller"}},
	} {
		t.Run(tc.role, func(t *testing.T) {
			in := pulumimock.Plain(m.Find(t, roleType, tc.role).Inputs)
			var trust trustPolicy
			require.NoError(t, json.Unmarshal([]byte(in["assumeRolePolicy"].(string)), &trust))
			require.Len(t, trust.Statement, 1)
			st := trust.Statement[0]
			assert.Equal(t, "Allow", st.Effect)
			assert.Equal(t, tc.service, st.Principal.Service, "who may assume the role")
			assert.Contains(t, st.Action, "sts:AssumeRole")
			assert.ElementsMatch(t, tc.policies, policiesOf(t, m, tc.role))
		})
	}
	assert.Len(t, m.ByType(roleType), 5)
}

func TestCluster(t *testing.T) {
	cfg := config()
	cfg.Cluster.Version = "1.32"
	m, _ := deploy(t, cfg)

	r, c := decode[cluster](t, m, clusterType, "eks")
	assert.Equal(t, "llm-platform", c.Name)
	assert.Equal(t, "1.32", c.Version)
	assert.Equal(t, account+"eks-cluster", c.RoleArn)
	assert.ElementsMatch(t, []string{
		"subnet-eks-public-0", "subnet-eks-public-1", "subnet-eks-private-0", "subnet-eks-private-1",
	}, c.VpcConfig.SubnetIDs)
	assert.True(t, c.VpcConfig.EndpointPublicAccess, "pulumi up reaches the API from outside")
	assert.True(t, c.VpcConfig.EndpointPrivateAccess, "nodes reach the API inside the VPC")
	assert.Equal(t, "API", c.AccessConfig.AuthenticationMode, "access entries, not the aws-auth ConfigMap")
	assert.True(t, c.AccessConfig.BootstrapClusterCreatorAdminPermissions)
	assert.Contains(t, r.DependsOn, m.Find(t, attachmentType, "eks-cluster-AmazonEKSClusterPolicy").URN,
		"the role has its policy before the cluster uses it")
	assert.Empty(t, m.ByType(accessEntryType), "no extra admins unless configured")
}

func TestAdminRoles(t *testing.T) {
	cfg := config()
	cfg.Cluster.AdminRoleARNs = []string{"arn:aws:iam::111122223333:role/platform-admins", "arn:aws:iam::111122223333:role/ci"}
	m, _ := deploy(t, cfg)

	require.Len(t, m.ByType(accessEntryType), 2)
	require.Len(t, m.ByType(accessPolicy), 2)
	for i, arn := range cfg.Cluster.AdminRoleARNs {
		name := fmt.Sprintf("eks-admin-%d", i)
		entry := pulumimock.Plain(m.Find(t, accessEntryType, name).Inputs)
		assert.Equal(t, arn, entry["principalArn"])
		assert.Equal(t, "llm-platform", entry["clusterName"])
		assoc := pulumimock.Plain(m.Find(t, accessPolicy, name).Inputs)
		assert.Equal(t, arn, assoc["principalArn"])
		assert.Equal(t, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", assoc["policyArn"])
		assert.Equal(t, map[string]any{"type": "cluster"}, assoc["accessScope"])
	}
}

func TestSystemNodeGroup(t *testing.T) {
	cfg := config()
	cfg.Cluster.SystemInstanceType = "m7i.xlarge"
	cfg.Cluster.SystemNodeCount = 3
	m, _ := deploy(t, cfg)

	_, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-system")
	assert.Equal(t, "system", ng.NodeGroupName)
	assert.Equal(t, "llm-platform", ng.ClusterName)
	assert.Equal(t, "AL2023_x86_64_STANDARD", ng.AmiType)
	assert.Equal(t, []string{"m7i.xlarge"}, ng.InstanceTypes)
	assert.Equal(t, 3, ng.ScalingConfig.MinSize)
	assert.Equal(t, 3, ng.ScalingConfig.DesiredSize)
	assert.GreaterOrEqual(t, ng.ScalingConfig.MaxSize, 3)
	assert.Equal(t, []string{"subnet-eks-private-0", "subnet-eks-private-1"}, ng.SubnetIDs, "nodes live in private subnets")
	assert.Equal(t, account+"eks-system-node", ng.NodeRoleArn)
	assert.Empty(t, ng.Taints)
}

func TestGPUNodeGroup(t *testing.T) {
	cfg := config()
	cfg.GPUNodeGroup = spec.EKSGPUNodeGroup{
		InstanceTypes: []string{"g6e.12xlarge", "g6e.24xlarge"},
		GPUsPerNode:   4,
		CapacityType:  "SPOT",
		MinSize:       1,
		DesiredSize:   2,
		MaxSize:       4,
		DiskSizeGB:    300,
		Labels:        map[string]string{"team": "ml"},
	}
	m, _ := deploy(t, cfg)

	r, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")
	assert.Equal(t, "gpu", ng.NodeGroupName)
	assert.Equal(t, "llm-platform", ng.ClusterName)
	assert.Equal(t, "AL2023_x86_64_NVIDIA", ng.AmiType, "the AMI ships the NVIDIA driver")
	assert.Equal(t, []string{"g6e.12xlarge", "g6e.24xlarge"}, ng.InstanceTypes)
	assert.Equal(t, "SPOT", ng.CapacityType)
	assert.Equal(t, 1, ng.ScalingConfig.MinSize)
	assert.Equal(t, 2, ng.ScalingConfig.DesiredSize)
	assert.Equal(t, 4, ng.ScalingConfig.MaxSize)
	assert.Equal(t, 300, ng.DiskSize)
	assert.Equal(t, map[string]string{"nvidia.com/gpu.present": "true", "k8s.amazonaws.com/accelerator": "nvidia-l40s", "team": "ml"}, ng.Labels,
		"the label the device plugin and the models select, plus the configured ones")
	require.Len(t, ng.Taints, 1)
	assert.Equal(t, "nvidia.com/gpu", ng.Taints[0].Key)
	assert.Equal(t, "NO_SCHEDULE", ng.Taints[0].Effect, "only pods that tolerate GPUs land here")
	assert.Equal(t, []string{"subnet-eks-private-0", "subnet-eks-private-1"}, ng.SubnetIDs)
	assert.Equal(t, account+"eks-gpu-node", ng.NodeRoleArn)

	assert.Contains(t, r.IgnoreChanges, "scalingConfig.desiredSize", "the cluster autoscaler owns the current size")
	assert.Contains(t, r.DependsOn, m.Find(t, nodeGroupType, "eks-system").URN, "system pods first")
	for _, p := range []string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"} {
		assert.Contains(t, r.DependsOn, m.Find(t, attachmentType, "eks-gpu-node-"+p).URN, "nodes join only with %s", p)
	}
}

func TestGPUNodeGroupDefaults(t *testing.T) {
	m, _ := deploy(t, config())
	_, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")
	assert.Equal(t, spec.Defaults().EKS.GPUNodeGroup.InstanceTypes, ng.InstanceTypes)
	assert.Equal(t, "ON_DEMAND", ng.CapacityType)
	assert.Equal(t, 0, ng.ScalingConfig.MinSize, "may scale to zero")
	assert.Equal(t, 1, ng.ScalingConfig.DesiredSize)
	assert.Equal(t, 2, ng.ScalingConfig.MaxSize)
	assert.Equal(t, 200, ng.DiskSize)
	assert.Equal(t, map[string]string{"nvidia.com/gpu.present": "true", "k8s.amazonaws.com/accelerator": "nvidia-l4"}, ng.Labels,
		"the Cluster Autoscaler's GPU label, from the capacity table's L4 of g6.2xlarge")
}

func TestEBSCSIDriver(t *testing.T) {
	m, _ := deploy(t, config())

	agent, a := decode[addon](t, m, addonType, "eks-pod-identity-agent")
	assert.Equal(t, "eks-pod-identity-agent", a.AddonName)
	assert.Equal(t, "llm-platform", a.ClusterName)
	assert.Contains(t, agent.DependsOn, m.Find(t, nodeGroupType, "eks-system").URN, "add-on pods need nodes")

	r, csi := decode[addon](t, m, addonType, "eks-ebs-csi")
	assert.Equal(t, "aws-ebs-csi-driver", csi.AddonName)
	assert.Equal(t, "llm-platform", csi.ClusterName)
	require.Len(t, csi.PodIdentityAssociations, 1)
	assert.Equal(t, "ebs-csi-controller-sa", csi.PodIdentityAssociations[0].ServiceAccount)
	assert.Equal(t, account+"eks-ebs-csi", csi.PodIdentityAssociations[0].RoleArn)
	assert.Equal(t, []string{"arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"}, policiesOf(t, m, "eks-ebs-csi"))
	assert.Contains(t, r.DependsOn, agent.URN, "pod identity needs its agent")
	assert.Contains(t, r.DependsOn, m.Find(t, attachmentType, "eks-ebs-csi-service-role/AmazonEBSCSIDriverPolicy").URN)
}

func TestCreateKubeconfig(t *testing.T) {
	_, e := deploy(t, config())
	kc := readKubeconfig(t, e)

	assert.Equal(t, endpoint, kc.Clusters[0].Cluster.Server)
	assert.Equal(t, caData, kc.Clusters[0].Cluster.CertificateAuthorityData)
	assert.Equal(t, "llm-platform", kc.CurrentContext)
	exec := kc.Users[0].User.Exec
	assert.Equal(t, "aws", exec.Command)
	assert.Equal(t, []string{"eks", "get-token", "--cluster-name", "llm-platform", "--region", "us-west-2", "--output", "json"}, exec.Args)
	assert.Equal(t, "client.authentication.k8s.io/v1beta1", exec.APIVersion)

	name, _ := pulumimock.Await(t, e.ClusterName)
	assert.Equal(t, "llm-platform", name)
}

// TestAdoptCluster: with cluster.create false the component looks the
// cluster up and adds the GPU node group (and EBS CSI) to it, nothing more.
func TestAdoptCluster(t *testing.T) {
	m, e := deploy(t, adopt())

	for _, typ := range []string{vpcType, subnetType, igwType, natType, eipType, routeTableType, clusterType, accessEntryType} {
		assert.Empty(t, m.ByType(typ), "adopt mode declares no %s", typ)
	}
	assert.False(t, m.Has(nodeGroupType, "eks-system"))
	assert.False(t, m.Has(roleType, "eks-cluster"))

	require.Equal(t, []string{getCluster}, m.Calls(), "no zone lookup, one cluster lookup")
	assert.Equal(t, "shared", m.CallArgs()[0].Args["name"].StringValue())

	_, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")
	assert.Equal(t, "shared", ng.ClusterName)
	assert.Equal(t, []string{"subnet-private-1", "subnet-private-2"}, ng.SubnetIDs,
		"the configured private subnets, not the cluster's (public ones among them strand nodes without public IPs)")
	assert.Equal(t, "AL2023_x86_64_NVIDIA", ng.AmiType)
	assert.Equal(t, "true", ng.Labels["nvidia.com/gpu.present"])
	assert.Empty(t, m.ByType(addonType), "an adopted cluster's add-ons are its own unless the stack opts in")

	kc := readKubeconfig(t, e)
	assert.Equal(t, endpoint, kc.Clusters[0].Cluster.Server)
	assert.Equal(t, caData, kc.Clusters[0].Cluster.CertificateAuthorityData, "certificateAuthorities[0].data")
	assert.Contains(t, kc.Users[0].User.Exec.Args, "shared")
}

// TestAdoptOptsIntoAddons: on an adopted cluster each add-on is opt-in (an
// existing EKS add-on makes CreateAddon fail with ResourceInUseException).
func TestAdoptOptsIntoAddons(t *testing.T) {
	cfg := adopt()
	cfg.EBSCSIDriver = on(true)
	m, _ := deploy(t, cfg)
	_, csi := decode[addon](t, m, addonType, "eks-ebs-csi")
	assert.Equal(t, "shared", csi.ClusterName)
	assert.False(t, m.Has(addonType, "eks-pod-identity-agent"), "the cluster runs its own Pod Identity agent")

	cfg.PodIdentityAgent = on(true)
	m, _ = deploy(t, cfg)
	r, _ := decode[addon](t, m, addonType, "eks-ebs-csi")
	assert.Contains(t, r.DependsOn, m.Find(t, addonType, "eks-pod-identity-agent").URN)
}

func TestAdoptRequiresSubnets(t *testing.T) {
	cfg := adopt()
	cfg.Cluster.SubnetIDs = nil
	_, err := deployWith(t, cfg, newMockAWS())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "eks.cluster.subnetIds: is required")
}

func TestUserLabelsCannotDropTheGPULabel(t *testing.T) {
	cfg := config()
	cfg.GPUNodeGroup.Labels = map[string]string{"team": "ml", "nvidia.com/gpu.present": "false"}
	m, _ := deploy(t, cfg)
	_, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")
	assert.Equal(t, "true", ng.Labels["nvidia.com/gpu.present"])
	assert.Equal(t, "ml", ng.Labels["team"])
}

func TestAdoptErrorsNameTheKey(t *testing.T) {
	t.Run("cluster not found", func(t *testing.T) {
		m := newMockAWS()
		delete(m.CallResults, getCluster)
		_, err := deployWith(t, adopt(), m)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `eks.cluster.name: cannot adopt cluster "shared"`)
	})
	t.Run("cluster still creating", func(t *testing.T) {
		m := newMockAWS()
		m.CallResults[getCluster] = resource.NewPropertyMapFromMap(map[string]any{
			"name": "shared", "endpoint": endpoint, "certificateAuthorities": []any{},
		})
		_, err := deployWith(t, adopt(), m)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "eks.cluster.name")
		assert.Contains(t, err.Error(), "ACTIVE")
	})
}

// TestEverythingUsesTheComponentsAWSProvider: every AWS resource and lookup
// runs against the stack's region, whatever the ambient AWS config says.
func TestEverythingUsesTheComponentsAWSProvider(t *testing.T) {
	withAddons := adopt()
	withAddons.EBSCSIDriver, withAddons.PodIdentityAgent, withAddons.LoadBalancerController = on(true), on(true), on(true)
	for name, cfg := range map[string]spec.EKSConfig{"create": config(), "adopt": withAddons} {
		t.Run(name, func(t *testing.T) {
			m, _ := deploy(t, cfg)
			component := m.Find(t, componentType, "eks")
			p := m.Find(t, providerType, "eks")
			assert.Equal(t, component.URN, p.Parent)
			assert.Equal(t, "us-west-2", pulumimock.Plain(p.Inputs)["region"])

			n := 0
			for _, r := range m.Resources() {
				if !strings.HasPrefix(r.Type, "aws:") {
					continue
				}
				n++
				assert.True(t, strings.HasPrefix(r.Provider, p.URN+"::"), "%s %s uses provider %q", r.Type, r.Name, r.Provider)
				assert.Contains(t, r.Provider, "pulumi:providers:aws")
				assert.Equal(t, component.URN, r.Parent, "%s %s is a child of the component", r.Type, r.Name)
			}
			assert.Greater(t, n, 5)
			assert.Len(t, m.Children(component), n+1, "the aws resources and the provider")
			for _, c := range m.CallArgs() {
				assert.True(t, strings.HasPrefix(c.Provider, p.URN+"::"), "%s uses provider %q", c.Token, c.Provider)
			}
		})
	}
}

// TestZonesOfferTheGPUType: without configured zones the VPC spans the
// region's first two standard zones (no Local Zones) that offer the GPU
// node group's instance types, in the region's order.
func TestZonesOfferTheGPUType(t *testing.T) {
	m := newMockAWS()
	m.CallResults[getOfferings] = offerings("us-west-2c", "us-west-2b")
	cfg := config()
	cfg.GPUNodeGroup.InstanceTypes = []string{"g6e.12xlarge", "g6e.24xlarge"}
	_, err := deployWith(t, cfg, m)
	require.NoError(t, err)

	got := subnets(t, m)
	assert.Equal(t, "us-west-2b", got["eks-private-0"].AvailabilityZone, "us-west-2a lacks the GPU type")
	assert.Equal(t, "us-west-2c", got["eks-private-1"].AvailabilityZone)

	calls := m.CallArgs()
	require.Len(t, calls, 2)
	azs := pulumimock.Plain(calls[0].Args)
	assert.ElementsMatch(t, []any{
		map[string]any{"name": "zone-type", "values": []any{"availability-zone"}},
		map[string]any{"name": "opt-in-status", "values": []any{"opt-in-not-required"}},
	}, azs["filters"], "standard zones only: Local and Wavelength Zones have no EKS control plane subnets or GPUs")
	offers := pulumimock.Plain(calls[1].Args)
	assert.Equal(t, "availability-zone", offers["locationType"])
	assert.Equal(t, []any{map[string]any{"name": "instance-type", "values": []any{"g6e.12xlarge", "g6e.24xlarge"}}}, offers["filters"])

	t.Run("fewer than two", func(t *testing.T) {
		m := newMockAWS()
		m.CallResults[getOfferings] = offerings("us-west-2c", "us-west-2-lax-1a")
		_, err := deployWith(t, config(), m)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "eks.cluster.availabilityZones")
		assert.Contains(t, err.Error(), "eks.gpuNodeGroup.instanceTypes")
		assert.Empty(t, m.ByType(vpcType))
	})
}

// TestVPCCNIEnforcesNetworkPolicies: a created cluster's VPC CNI runs its
// network policy agent, or the edge's NetworkPolicies are never enforced;
// the nodes join after it is configured.
func TestVPCCNIEnforcesNetworkPolicies(t *testing.T) {
	m, _ := deploy(t, config())
	r, cni := decode[addon](t, m, addonType, "eks-vpc-cni")
	assert.Equal(t, "vpc-cni", cni.AddonName)
	assert.Equal(t, "llm-platform", cni.ClusterName)
	var values map[string]any
	require.NoError(t, json.Unmarshal([]byte(cni.ConfigurationValues), &values))
	assert.Equal(t, map[string]any{"enableNetworkPolicy": "true"}, values, "the add-on's schema takes the string \"true\"")
	assert.Equal(t, "OVERWRITE", cni.ResolveConflictsOnCreate, "EKS installed the CNI self-managed; the add-on takes it over")
	assert.Equal(t, "OVERWRITE", cni.ResolveConflictsOnUpdate)
	assert.Contains(t, r.DependsOn, m.Find(t, clusterType, "eks").URN)
	for _, group := range []string{"eks-system", "eks-gpu"} {
		assert.Contains(t, m.Find(t, nodeGroupType, group).DependsOn, r.URN, "%s joins with network policies on", group)
	}

	m, _ = deploy(t, adopt())
	assert.False(t, m.Has(addonType, "eks-vpc-cni"), "an adopted cluster's CNI is its own (see docs/clouds.md, Adopted clusters)")
}

// TestNodeGroupsFollowTheClusterVersion: node groups run the control
// plane's version, so upgrading eks.cluster.version upgrades the nodes too.
func TestNodeGroupsFollowTheClusterVersion(t *testing.T) {
	assert.Equal(t, "1.36", spec.Defaults().EKS.Cluster.Version, "the newest version in EKS standard support")

	cfg := config()
	cfg.Cluster.Version = "1.35"
	m, _ := deploy(t, cfg)
	for _, group := range []string{"eks-system", "eks-gpu"} {
		_, ng := decode[nodeGroup](t, m, nodeGroupType, group)
		assert.Equal(t, "1.35", ng.Version, group)
	}

	m, _ = deploy(t, adopt())
	_, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")
	assert.Equal(t, "1.35", ng.Version, "the adopted cluster's version, as looked up")
}

func TestPublicAccessCIDRs(t *testing.T) {
	_, c := decode[cluster](t, deployed(t, config()), clusterType, "eks")
	assert.Equal(t, []string{"0.0.0.0/0"}, c.VpcConfig.PublicAccessCidrs, "EKS's default, kept explicit (and warned about)")

	cfg := config()
	cfg.Cluster.PublicAccessCIDRs = []string{"203.0.113.0/24", "198.51.100.7/32"}
	_, c = decode[cluster](t, deployed(t, cfg), clusterType, "eks")
	assert.Equal(t, cfg.Cluster.PublicAccessCIDRs, c.VpcConfig.PublicAccessCidrs)
	assert.True(t, c.VpcConfig.EndpointPublicAccess)
}

func deployed(t *testing.T, cfg spec.EKSConfig) *mockAWS {
	t.Helper()
	m, _ := deploy(t, cfg)
	return m
}

// TestStackAWSSettingsReachTheProviderAndKubeconfig: the explicit provider
// carries the stack's aws:* identity and tags, and `aws eks get-token`
// mints tokens as the same identity.
func TestStackAWSSettingsReachTheProviderAndKubeconfig(t *testing.T) {
	settings := eks.AWSSettings{
		Profile:                "ml-prod",
		AssumeRole:             &eks.AssumeRole{RoleARN: "arn:aws:iam::111122223333:role/deployer", ExternalID: "x-123", SessionName: "pulumi"},
		DefaultTags:            map[string]string{"team": "ml", "cost-center": "42"},
		SharedCredentialsFiles: []string{"/secrets/aws/credentials"},
		SharedConfigFiles:      []string{"/secrets/aws/config"},
	}
	for name, cfg := range map[string]spec.EKSConfig{"create": config(), "adopt": adopt()} {
		t.Run(name, func(t *testing.T) {
			m := newMockAWS()
			e, err := deployArgs(t, eks.Args{Config: cfg, AWS: settings}, m)
			require.NoError(t, err)

			p := pulumimock.View[struct {
				Region                 string                                     `json:"region"`
				Profile                string                                     `json:"profile"`
				AssumeRole             providerJSON[map[string]string]            `json:"assumeRole"`
				DefaultTags            providerJSON[map[string]map[string]string] `json:"defaultTags"`
				SharedCredentialsFiles providerJSON[[]string]                     `json:"sharedCredentialsFiles"`
				SharedConfigFiles      providerJSON[[]string]                     `json:"sharedConfigFiles"`
			}](t, m.Find(t, providerType, "eks"))
			assert.Equal(t, "us-west-2", p.Region)
			assert.Equal(t, "ml-prod", p.Profile)
			assert.Equal(t, map[string]string{"roleArn": "arn:aws:iam::111122223333:role/deployer", "externalId": "x-123", "sessionName": "pulumi"}, p.AssumeRole.V)
			assert.Equal(t, map[string]map[string]string{"tags": {"team": "ml", "cost-center": "42"}}, p.DefaultTags.V)
			assert.Equal(t, []string{"/secrets/aws/credentials"}, p.SharedCredentialsFiles.V)
			assert.Equal(t, []string{"/secrets/aws/config"}, p.SharedConfigFiles.V)

			exec := readKubeconfig(t, e).Users[0].User.Exec
			assert.Equal(t, []string{"eks", "get-token", "--cluster-name", map[string]string{"create": "llm-platform", "adopt": "shared"}[name],
				"--region", "us-west-2", "--output", "json", "--profile", "ml-prod", "--role-arn", "arn:aws:iam::111122223333:role/deployer"}, exec.Args)
		})
	}
}

// providerJSON reads a provider input that the engine may hand over either
// as a value or JSON-encoded in a string (provider inputs are flattened).
type providerJSON[T any] struct{ V T }

func (p *providerJSON[T]) UnmarshalJSON(raw []byte) error {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		raw = []byte(text)
	}
	return json.Unmarshal(raw, &p.V)
}

// TestLBControllerIdentity: the AWS Load Balancer Controller gets a role
// that EKS Pod Identity hands to its service account, carrying the
// controller's published IAM policy; the component exports what the chart
// needs.
func TestLBControllerIdentity(t *testing.T) {
	published, err := os.ReadFile("lbcontroller_iam_policy.json")
	require.NoError(t, err)

	for name, cfg := range map[string]spec.EKSConfig{"create": config(), "adopt": func() spec.EKSConfig {
		c := adopt()
		c.LoadBalancerController = on(true)
		return c
	}()} {
		t.Run(name, func(t *testing.T) {
			m, e := deploy(t, cfg)
			require.NotNil(t, e.LBController)

			in := pulumimock.Plain(m.Find(t, roleType, "eks-lb-controller").Inputs)
			var trust trustPolicy
			require.NoError(t, json.Unmarshal([]byte(in["assumeRolePolicy"].(string)), &trust))
			require.Len(t, trust.Statement, 1)
			assert.Equal(t, "pods.eks.amazonaws.com", trust.Statement[0].Principal.Service)
			assert.ElementsMatch(t, []string{"sts:AssumeRole", "sts:TagSession"}, trust.Statement[0].Action, "what EKS Pod Identity calls")

			policy := pulumimock.Plain(m.Find(t, policyType, "eks-lb-controller").Inputs)
			assert.JSONEq(t, string(published), policy["policy"].(string), "the published policy, unchanged")
			var doc struct{ Statement []struct{ Action any } }
			require.NoError(t, json.Unmarshal(published, &doc))
			raw, _ := json.Marshal(doc)
			for _, action := range []string{"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup", "ec2:DescribeSubnets", "ec2:AuthorizeSecurityGroupIngress"} {
				assert.Contains(t, string(raw), `"`+action+`"`, "the controller needs %s for an NLB", action)
			}
			assert.Equal(t, []string{"arn:aws:iam::111122223333:policy/eks-lb-controller"}, policiesOf(t, m, "eks-lb-controller"))

			r := m.Find(t, podIdentityType, "eks-lb-controller")
			assoc := pulumimock.Plain(r.Inputs)
			assert.Equal(t, map[string]any{
				"clusterName": map[string]string{"create": "llm-platform", "adopt": "shared"}[name], "namespace": "kube-system",
				"serviceAccount": "aws-load-balancer-controller", "roleArn": account + "eks-lb-controller",
			}, assoc)
			assert.Contains(t, r.DependsOn, m.Find(t, attachmentType, "eks-lb-controller").URN, "the role has its policy first")

			assert.Equal(t, "kube-system", e.LBController.Namespace)
			assert.Equal(t, "aws-load-balancer-controller", e.LBController.ServiceAccount)
			arn, _ := pulumimock.Await(t, e.LBController.RoleARN)
			assert.Equal(t, account+"eks-lb-controller", arn)
			require.Len(t, e.LBController.Ready, 1)
			urn, _ := pulumimock.Await(t, e.LBController.Ready[0].URN())
			assert.Equal(t, r.URN, fmt.Sprint(urn), "the chart waits for the association")
			vpc, _ := pulumimock.Await(t, e.VpcID)
			assert.Equal(t, map[string]string{"create": "vpc-eks", "adopt": "vpc-0shared"}[name], vpc)
		})
	}

	t.Run("pod identity agent without the EBS CSI driver", func(t *testing.T) {
		cfg := config()
		cfg.EBSCSIDriver = on(false)
		m, _ := deploy(t, cfg)
		assert.False(t, m.Has(addonType, "eks-ebs-csi"))
		agent := m.Find(t, addonType, "eks-pod-identity-agent")
		assert.Contains(t, m.Find(t, podIdentityType, "eks-lb-controller").DependsOn, agent.URN)
	})
	t.Run("off", func(t *testing.T) {
		cfg := config()
		cfg.LoadBalancerController = on(false)
		m, e := deploy(t, cfg)
		assert.Nil(t, e.LBController)
		assert.Empty(t, m.ByType(podIdentityType))
		assert.Empty(t, m.ByType(policyType))
		assert.False(t, m.Has(roleType, "eks-lb-controller"))
	})
	t.Run("adopted clusters opt in", func(t *testing.T) {
		m, e := deploy(t, adopt())
		assert.Nil(t, e.LBController, "an adopted cluster usually runs its own controller")
		assert.Empty(t, m.ByType(podIdentityType))
	})
}
