package eks_test

import (
	"errors"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

func elastiCache(t *testing.T, cfg eks.RedisConfig) (*pulumimock.Mocks, *eks.ElastiCache) {
	t.Helper()
	var c *eks.ElastiCache
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		c, err = eks.NewElastiCache(ctx, "limits-redis", eks.ElastiCacheArgs{
			Config: cfg, VpcID: pulumi.String("vpc-0abc"),
			SubnetIDs:           pulumi.ToStringArray([]string{"subnet-0priv1", "subnet-0priv2"}),
			NodeSecurityGroupID: pulumi.String("sg-0cluster"),
		})
		return err
	})
	require.NoError(t, err)
	return m, c
}

// TestElastiCacheIsPrivateEncryptedAndAuthenticated: the replication group and its network as
// the provider receives them, and what the gateway gets from it.
func TestElastiCacheIsPrivateEncryptedAndAuthenticated(t *testing.T) {
	m, c := elastiCache(t, eks.DefaultRedis())
	res := m.Find(t, "aws:elasticache/replicationGroup:ReplicationGroup", "limits-redis")
	in := pulumimock.Plain(res.Inputs)
	for key, want := range map[string]any{
		"engine": "valkey", "engineVersion": "8.0", "nodeType": "cache.t4g.small", "numCacheClusters": float64(1),
		"automaticFailoverEnabled": false, "multiAzEnabled": false, "port": float64(6379),
		"transitEncryptionEnabled": true, "atRestEncryptionEnabled": true,
	} {
		assert.Equal(t, want, in[key], key)
	}
	for _, dep := range []string{"aws:elasticache/subnetGroup:SubnetGroup", "aws:ec2/securityGroup:SecurityGroup"} {
		assert.Contains(t, res.DependsOn, m.Find(t, dep, "limits-redis").URN, dep)
	}
	assert.Equal(t, []any{"subnet-0priv1", "subnet-0priv2"}, pulumimock.Plain(m.Find(t, "aws:elasticache/subnetGroup:SubnetGroup", "limits-redis").Inputs)["subnetIds"])
	sg := pulumimock.Plain(m.Find(t, "aws:ec2/securityGroup:SecurityGroup", "limits-redis").Inputs)
	assert.Equal(t, "vpc-0abc", sg["vpcId"])
	assert.Equal(t, []any{map[string]any{
		"description": "Redis (TLS) from the EKS nodes", "protocol": "tcp", "fromPort": float64(6379), "toPort": float64(6379),
		"securityGroups": []any{"sg-0cluster"},
	}}, sg["ingress"], "the nodes' security group, on 6379, and nothing else")
	assert.Nil(t, sg["egress"])

	assert.Equal(t, []string{"authToken"}, pulumimock.SecretPaths(res.Inputs))
	assert.Equal(t, []string{"authToken"}, res.IgnoreChanges, "generated once, then kept")
	token := in["authToken"].(string)
	assert.Len(t, token, 64, "within ElastiCache's 16-128 printable characters, no @ \" /")
	password, secret := pulumimock.Await(t, c.Password)
	assert.True(t, secret)
	assert.Equal(t, pulumimock.MockElastiCacheAuthToken, password, "the gateway's password is the token applied, not this run's input")
	address, _ := pulumimock.Await(t, c.Address)
	assert.Equal(t, pulumimock.MockElastiCacheEndpoint+":6379", address)
}

// TestElastiCacheKeepsTheCounters: a daily snapshot kept a week, and a parameter group of the
// engine's family with noeviction (a full node refuses writes, which the gateway treats as Redis
// down, instead of evicting budget keys, which all have a TTL), referenced by the group.
func TestElastiCacheKeepsTheCounters(t *testing.T) {
	m, _ := elastiCache(t, eks.DefaultRedis())
	group := m.Find(t, "aws:elasticache/replicationGroup:ReplicationGroup", "limits-redis")
	in := pulumimock.Plain(group.Inputs)
	assert.Equal(t, float64(7), in["snapshotRetentionLimit"])
	params := m.Find(t, "aws:elasticache/parameterGroup:ParameterGroup", "limits-redis")
	assert.Contains(t, group.DependsOn, params.URN, "the group uses the parameter group")
	assert.Equal(t, "limits-redis-"+pulumimock.MockNameSuffix, in["parameterGroupName"], "by its name, Pulumi's")
	assert.NotContains(t, pulumimock.Plain(params.Inputs), "name", "autonamed")
	p := pulumimock.Plain(params.Inputs)
	assert.Equal(t, "valkey8", p["family"], "8.0's family")
	assert.Equal(t, []any{map[string]any{"name": "maxmemory-policy", "value": "noeviction"}}, p["parameters"])

	cfg := eks.DefaultRedis()
	cfg.EngineVersion = "7.2"
	m, _ = elastiCache(t, cfg)
	p = pulumimock.Plain(m.Find(t, "aws:elasticache/parameterGroup:ParameterGroup", "limits-redis").Inputs)
	assert.Equal(t, "valkey7", p["family"], "the family follows the engine")
}

func TestParameterGroupFamily(t *testing.T) {
	for version, family := range map[string]string{"7.2": "valkey7", "8.0": "valkey8", "8.2": "valkey8", "9.0": "valkey9"} {
		assert.Equal(t, family, eks.RedisConfig{EngineVersion: version}.ParameterGroupFamily(), version)
	}
}

// TestElastiCacheFailover: replicas in other zones, promoted automatically.
func TestElastiCacheFailover(t *testing.T) {
	cfg := eks.DefaultRedis()
	cfg.Replicas, cfg.NodeType = 2, "cache.m7g.large"
	m, _ := elastiCache(t, cfg)
	in := pulumimock.Plain(m.Find(t, "aws:elasticache/replicationGroup:ReplicationGroup", "limits-redis").Inputs)
	assert.Equal(t, float64(3), in["numCacheClusters"])
	assert.Equal(t, true, in["automaticFailoverEnabled"])
	assert.Equal(t, true, in["multiAzEnabled"])
	assert.Equal(t, "cache.m7g.large", in["nodeType"])
}

func TestElastiCacheConfigValidate(t *testing.T) {
	require.Empty(t, eks.DefaultRedis().Validate("eks.redis"))
	for name, tc := range map[string]struct {
		edit func(*eks.RedisConfig)
		want string
	}{
		"not a node type": {func(r *eks.RedisConfig) { r.NodeType = "t4g.small" }, "eks.redis.nodeType"},
		"rds class":       {func(r *eks.RedisConfig) { r.NodeType = "db.t4g.small" }, "eks.redis.nodeType"},
		"negative":        {func(r *eks.RedisConfig) { r.Replicas = -1 }, "eks.redis.replicas"},
		"too many":        {func(r *eks.RedisConfig) { r.Replicas = 6 }, "eks.redis.replicas"},
		"old":             {func(r *eks.RedisConfig) { r.EngineVersion = "7.0" }, "eks.redis.engineVersion"},
		"redis version":   {func(r *eks.RedisConfig) { r.EngineVersion = "6.x" }, "eks.redis.engineVersion"},
		"patch":           {func(r *eks.RedisConfig) { r.EngineVersion = "8.0.1" }, "eks.redis.engineVersion"},
	} {
		t.Run(name, func(t *testing.T) {
			r := eks.DefaultRedis()
			tc.edit(&r)
			assert.Contains(t, errors.Join(r.Validate("eks.redis")...).Error(), tc.want)
		})
	}
}
