package eks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/genkey"
)

// ElastiCacheType is the ElastiCache component's type token.
const ElastiCacheType = "llm-platform:index:ElastiCache"

// RedisEngine is the replication group's engine: Valkey, the BSD-licensed Redis fork, which
// the pinned provider supports beside redis, speaks the same protocol and scripts, and costs
// less per node.
const RedisEngine = "valkey"

// RedisPort is the port the nodes listen on (TLS: transit encryption is on).
const RedisPort = 6379

// RedisConfig sizes the ElastiCache replication group a stack creates for the tenants' limits
// (tenancy.redis.kind managed on eks). The JSON names are the stack config's eks.redis keys.
type RedisConfig struct {
	// NodeType is each node's instance type (cache.t4g.small: 2 vCPUs, 1.37 GiB, burstable).
	NodeType string `json:"nodeType" pulumi:"nodeType"`
	// Replicas are read replicas of the primary (0 to 5). With one or more, each in another
	// zone, the primary fails over automatically (Multi-AZ); 0 is one node.
	Replicas int `json:"replicas" pulumi:"replicas"`
	// EngineVersion is Valkey's major.minor version (7.2 or later).
	EngineVersion string `json:"engineVersion" pulumi:"engineVersion"`
}

// DefaultRedis is one small node: the gateway keeps enforcing each pod's share while it is
// down (tenancy.onRedisDown fail-open).
func DefaultRedis() RedisConfig {
	return RedisConfig{NodeType: "cache.t4g.small", Replicas: 0, EngineVersion: "8.0"}
}

var valkeyVersion = regexp.MustCompile(`^(7\.2|([89]|[1-9][0-9])\.[0-9]+)$`)

// ParameterGroupFamily is the ElastiCache parameter group family of EngineVersion: one per
// Valkey major version (7.2: valkey7, 8.x: valkey8, 9.x: valkey9).
func (r RedisConfig) ParameterGroupFamily() string {
	major, _, _ := strings.Cut(r.EngineVersion, ".")
	return RedisEngine + major
}

// redisSnapshotRetentionDays is how many days of ElastiCache's daily snapshots are kept.
const redisSnapshotRetentionDays = 7

// Validate checks the settings under path ("eks.redis").
func (r RedisConfig) Validate(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	if !strings.HasPrefix(r.NodeType, "cache.") || strings.Count(r.NodeType, ".") != 2 {
		add("nodeType", "%q is not an ElastiCache node type; use e.g. \"cache.t4g.small\" or \"cache.m7g.large\"", r.NodeType)
	}
	if r.Replicas < 0 || r.Replicas > 5 {
		add("replicas", "is %d; use 0 (one node) to 5 (1 or more fails over automatically)", r.Replicas)
	}
	if !valkeyVersion.MatchString(r.EngineVersion) {
		add("engineVersion", "%q is not a Valkey major.minor version on ElastiCache; use 7.2 or later, e.g. \"8.0\"", r.EngineVersion)
	}
	return errs
}

// ElastiCacheArgs are the replication group's inputs.
type ElastiCacheArgs struct {
	// Config sizes the group (plain: it shapes the plan).
	Config RedisConfig `pulumi:"config"`
	// VpcID is the cluster's VPC; SubnetIDs its private subnets, where the nodes live,
	// unreachable from outside the VPC (two zones at least with replicas).
	VpcID     pulumi.StringInput      `pulumi:"vpcId"`
	SubnetIDs pulumi.StringArrayInput `pulumi:"subnetIds"`
	// NodeSecurityGroupID is the security group every node carries (the EKS cluster security
	// group): the only source the group admits, on RedisPort. Pods use their node's.
	NodeSecurityGroupID pulumi.StringInput `pulumi:"nodeSecurityGroupId"`
}

// ElastiCache is the replication group as its clients reach it.
type ElastiCache struct {
	pulumi.ResourceState
	// Address is host:port of the primary endpoint, a DNS name that follows failovers; it is
	// also the name the server's certificate carries (issued under Amazon's public CAs).
	Address pulumi.StringOutput `pulumi:"address"`
	// Password is the auth token as applied (secret): generated once, then kept.
	Password pulumi.StringOutput `pulumi:"password"`
}

// NewElastiCache creates an ElastiCache for Valkey replication group in the cluster's private
// subnets, admitting only the nodes, encrypted in transit (TLS, required with an auth token)
// and at rest, with a generated auth token. Declare it with EKS.ElastiCache, which puts it on
// the component's provider (the stack's region and identity).
func NewElastiCache(ctx *pulumi.Context, name string, args ElastiCacheArgs, opts ...pulumi.ResourceOption) (*ElastiCache, error) {
	c := &ElastiCache{}
	if err := ctx.RegisterComponentResource(ElastiCacheType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	sg, err := nodesOnly{
		VpcID: args.VpcID, NodeSecurityGroupID: args.NodeSecurityGroupID, Port: RedisPort,
		Group: "The tenants' limits Redis: the cluster's nodes only", Rule: "Redis (TLS) from the EKS nodes",
	}.declare(ctx, name, parent)
	if err != nil {
		return nil, err
	}
	subnets, err := elasticache.NewSubnetGroup(ctx, name, &elasticache.SubnetGroupArgs{
		SubnetIds: args.SubnetIDs, Description: pulumi.String("The tenants' limits Redis: the cluster's private subnets"),
	}, parent)
	if err != nil {
		return nil, err
	}
	generated, err := genkey.Hex()
	if err != nil {
		return nil, err
	}
	cfg := args.Config
	params, err := noEviction(ctx, name, cfg, parent)
	if err != nil {
		return nil, err
	}
	failover := cfg.Replicas > 0
	group, err := elasticache.NewReplicationGroup(ctx, name, &elasticache.ReplicationGroupArgs{
		Description:              pulumi.String("llm-platform: the tenants' limits"),
		Engine:                   pulumi.String(RedisEngine),
		EngineVersion:            pulumi.String(cfg.EngineVersion),
		NodeType:                 pulumi.String(cfg.NodeType),
		NumCacheClusters:         pulumi.Int(1 + cfg.Replicas),
		AutomaticFailoverEnabled: pulumi.Bool(failover),
		MultiAzEnabled:           pulumi.Bool(failover),
		Port:                     pulumi.Int(RedisPort),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{sg.ID()},
		TransitEncryptionEnabled: pulumi.Bool(true),
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		AuthToken:                pulumi.ToSecret(pulumi.String(generated)).(pulumi.StringOutput),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		ParameterGroupName:       params.Name,
		// A daily snapshot (in a window ElastiCache picks), kept a week: a group that lost its
		// only node is restored from the latest as a new group, rather than every tenant
		// starting a fresh day's and month's token budget.
		SnapshotRetentionLimit: pulumi.Int(redisSnapshotRetentionDays),
	}, parent,
		// A new token is generated on every run; only the first is applied, and the gateway's
		// password is the output, the one applied.
		pulumi.IgnoreChanges([]string{"authToken"}))
	if err != nil {
		return nil, err
	}
	c.Address = pulumi.Sprintf("%s:%d", group.PrimaryEndpointAddress, RedisPort)
	c.Password = pulumi.ToSecret(group.AuthToken.Elem()).(pulumi.StringOutput)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"address": c.Address, "password": c.Password})
}

// noEviction is the group's parameter group: the default one's volatile-lru would evict the
// counters (every one has a TTL) when memory runs out, silently resetting budgets; noeviction
// refuses writes instead, as the in-cluster Redis does, and the gateway then treats Redis as
// down (tenancy.onRedisDown). Pulumi names it (a suffix), so a new engine major's group, of
// another family, is created before the old one is deleted.
func noEviction(ctx *pulumi.Context, name string, cfg RedisConfig, parent pulumi.ResourceOption) (*elasticache.ParameterGroup, error) {
	return elasticache.NewParameterGroup(ctx, name, &elasticache.ParameterGroupArgs{
		Family:      pulumi.String(cfg.ParameterGroupFamily()),
		Description: pulumi.String("The tenants' limits Redis: never evict a counter"),
		Parameters: elasticache.ParameterGroupParameterArray{&elasticache.ParameterGroupParameterArgs{
			Name: pulumi.String("maxmemory-policy"), Value: pulumi.String("noeviction"),
		}},
	}, parent)
}

// ElastiCache declares the tenants' limits Redis in this cluster's VPC and private subnets,
// admitting only its nodes, on the component's provider.
func (e *EKS) ElastiCache(ctx *pulumi.Context, name string, cfg RedisConfig) (*ElastiCache, error) {
	return NewElastiCache(ctx, name, ElastiCacheArgs{
		Config: cfg, VpcID: e.VpcID, SubnetIDs: e.PrivateSubnetIDs, NodeSecurityGroupID: e.NodeSecurityGroupID,
	}, pulumi.Providers(e.provider))
}
