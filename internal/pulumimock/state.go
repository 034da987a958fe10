// What the mocks answer for a resource's state: its inputs, plus what the cloud or the cluster
// would set.

package pulumimock

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The addresses the mocks give managed instances (Cloud SQL's private IP, RDS's
// endpoint, Memorystore's and ElastiCache's), which the clouds assign.
const (
	MockSQLAddress = "10.20.0.3"
	MockRDSAddress = "webui-database.c0ffee.us-west-2.rds.amazonaws.com"
	// MockMemorystoreHost is the private IP Memorystore gives an instance, MockMemorystoreAuth
	// its AUTH string (it generates both).
	MockMemorystoreHost = "10.20.0.11"
	MockMemorystoreAuth = "mock-memorystore-auth-string"
	// MockElastiCacheEndpoint is the primary endpoint ElastiCache names for a replication group.
	MockElastiCacheEndpoint = "master.limits-redis.c0ffee.usw2.cache.amazonaws.com"
	// MockElastiCacheAuthToken is a replication group's auth token as applied: an earlier run's,
	// since the program ignores changes to it, never this run's generated input.
	MockElastiCacheAuthToken = "mock-elasticache-token-applied-by-an-earlier-run"
	// MockNameSuffix is the suffix Pulumi's autonaming adds to a resource's name, for the
	// resources whose physical name the program reads.
	MockNameSuffix = "a1b2c3d"
	// MockClusterSecurityGroup is the security group EKS creates for a cluster.
	MockClusterSecurityGroup = "sg-0c1u5te7"
)

// MockMemorystoreCA is the server CA certificate (PEM) the mocks give a Memorystore instance
// with in-transit encryption: a real certificate (a self-signed P-256 CA, valid until 2126),
// since the gateway refuses a CA that does not parse.
const MockMemorystoreCA = `-----BEGIN CERTIFICATE-----
MIIBojCCAUegAwIBAgIUd85quyNBDqCWHvxNNieL/R+lNiEwCgYIKoZIzj0EAwIw
JTEjMCEGA1UEAwwaTW9jayBNZW1vcnlzdG9yZSBTZXJ2ZXIgQ0EwIBcNMjYxMjA3
MTczNjQ1WhgPMjEyNjExMTMxNzM2NDVaMCUxIzAhBgNVBAMMGk1vY2sgTWVtb3J5
c3RvcmUgU2VydmVyIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx7WPfT44
CYr1qsuKAIfSQufygbC/VO8Ong8ewX+xCUs3Yxw1ZwrH3U9xXIY4RTCcG86QAKDn
sL+XhU0KAhoXiqNTMFEwHQYDVR0OBBYEFN0vHMW/TEDNX3aHqtKkUMzyqi7QMB8G
A1UdIwQYMBaAFN0vHMW/TEDNX3aHqtKkUMzyqi7QMA8GA1UdEwEB/wQFMAMBAf8w
CgYIKoZIzj0EAwIDSQAwRgIhAKTx8BGKIwsYdHcRaiNg7rKfkf+wna3I9poiFfGE
WWaqAiEAln3POSYzMna8y7v+ZHTU3Z/U62l+OGLlfpyFVHCu6f4=
-----END CERTIFICATE-----
`

// mockState is a resource's state as the mocks answer it: its inputs, plus the outputs the
// cloud or the cluster would set and the program reads.
func mockState(args pulumi.MockResourceArgs) resource.PropertyMap {
	state := args.Inputs.Copy()
	switch args.TypeToken {
	case "kubernetes:core/v1:Service":
		// A Service's status is set by the cluster; give it none, like a
		// LoadBalancer that has no address yet.
		state["status"] = resource.NewProperty(resource.PropertyMap{})
	case "aws:eks/nodeGroup:NodeGroup":
		// EKS reports the Auto Scaling group behind the node group (named eks-<group>-<uuid>).
		group := "nodegroup"
		if v := args.Inputs["nodeGroupName"]; v.IsString() {
			group = v.StringValue()
		}
		asg := resource.NewPropertyMapFromMap(map[string]any{"name": "eks-" + group + "-asg"})
		state["resources"] = resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
			"autoscalingGroups": resource.NewProperty([]resource.PropertyValue{resource.NewProperty(asg)}),
		})})
	case "gcp:sql/databaseInstance:DatabaseInstance":
		// Cloud SQL assigns the private address from the peered range.
		state["privateIpAddress"] = resource.NewProperty(MockSQLAddress)
	case "aws:eks/cluster:Cluster":
		// EKS creates the cluster security group, which every managed node carries.
		if v := args.Inputs["vpcConfig"]; v.IsObject() {
			vpc := v.ObjectValue().Copy()
			vpc["clusterSecurityGroupId"] = resource.NewProperty(MockClusterSecurityGroup)
			state["vpcConfig"] = resource.NewProperty(vpc)
		}
	case "aws:rds/instance:Instance":
		// RDS names the instance's endpoint.
		state["address"] = resource.NewProperty(MockRDSAddress)
	case "gcp:redis/instance:Instance":
		memorystoreState(args.Inputs, state)
	case "aws:elasticache/parameterGroup:ParameterGroup":
		// Pulumi names a group declared without one: the resource's name and a suffix.
		if _, ok := state["name"]; !ok {
			state["name"] = resource.NewProperty(args.Name + "-" + MockNameSuffix)
		}
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		// ElastiCache names the primary endpoint; the port defaults to Redis's. The auth token
		// is the one an earlier run applied (a program that read its own input instead would
		// hand the gateway a password the server never had).
		state["primaryEndpointAddress"] = resource.NewProperty(MockElastiCacheEndpoint)
		if _, ok := state["authToken"]; ok {
			state["authToken"] = resource.MakeSecret(resource.NewProperty(MockElastiCacheAuthToken))
		}
		if _, ok := state["port"]; !ok {
			state["port"] = resource.NewProperty(6379.0)
		}
	case "kubernetes:helm.sh/v3:Release":
		// The provider reports the installed release's name and namespace.
		state["status"] = resource.NewProperty(resource.PropertyMap{
			"name":      args.Inputs["name"],
			"namespace": args.Inputs["namespace"],
			"status":    resource.NewProperty("deployed"),
		})
	}
	return state
}

// memorystoreState adds what Memorystore sets on an instance: its address and port (6378 with
// in-transit encryption), its AUTH string when AUTH is on, and its server CA.
func memorystoreState(in, state resource.PropertyMap) {
	state["host"] = resource.NewProperty(MockMemorystoreHost)
	state["port"] = resource.NewProperty(6379.0)
	if v := in["transitEncryptionMode"]; v.IsString() && v.StringValue() == "SERVER_AUTHENTICATION" {
		state["port"] = resource.NewProperty(6378.0)
		ca := resource.NewPropertyMapFromMap(map[string]any{"cert": MockMemorystoreCA})
		state["serverCaCerts"] = resource.NewProperty([]resource.PropertyValue{resource.NewProperty(ca)})
	}
	if v := in["authEnabled"]; v.IsBool() && v.BoolValue() {
		state["authString"] = resource.NewProperty(MockMemorystoreAuth)
	}
}
