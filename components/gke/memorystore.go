package gke

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/redis"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MemorystoreType is the Memorystore component's type token.
const MemorystoreType = "llm-platform:index:Memorystore"

// Memorystore tiers (RedisConfig.Tier).
const (
	RedisBasic      = "BASIC"       // one node: the data is gone while it is down or replaced
	RedisStandardHA = "STANDARD_HA" // a replica in another zone, failed over to automatically
)

// RedisConfig sizes the Memorystore for Redis instance a stack creates for the tenants' limits
// (tenancy.redis.kind managed on gke). The JSON names are the stack config's gke.redis keys.
type RedisConfig struct {
	// Tier is BASIC (one node) or STANDARD_HA (a replica in a second zone, automatic failover):
	// about twice the price.
	Tier string `json:"tier" pulumi:"tier"`
	// MemorySizeGB is the instance's memory (1 to 300 GB); the limits' counters need little.
	MemorySizeGB int `json:"memorySizeGb" pulumi:"memorySizeGb"`
	// Version is Memorystore's Redis 7 version: REDIS_7_0 or REDIS_7_2, the two it offers.
	Version string `json:"version" pulumi:"version"`
}

// DefaultRedis is the smallest instance, one node: the gateway keeps enforcing each pod's share
// while it is down (tenancy.onRedisDown fail-open).
func DefaultRedis() RedisConfig {
	return RedisConfig{Tier: RedisBasic, MemorySizeGB: 1, Version: "REDIS_7_2"}
}

// redisVersions are the Memorystore for Redis 7 versions (the gateway's limits are tested
// against Redis 7); Memorystore offers no other 7.x.
var redisVersions = []string{"REDIS_7_0", "REDIS_7_2"}

// Validate checks the settings under path ("gke.redis").
func (r RedisConfig) Validate(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	if !slices.Contains([]string{RedisBasic, RedisStandardHA}, r.Tier) {
		add("tier", "%q: use %s (one node) or %s (a replica in a second zone)", r.Tier, RedisBasic, RedisStandardHA)
	}
	if r.MemorySizeGB < 1 || r.MemorySizeGB > 300 {
		add("memorySizeGb", "is %d; Memorystore for Redis takes 1 to 300 GB", r.MemorySizeGB)
	}
	if !slices.Contains(redisVersions, r.Version) {
		// Redis 7: what the gateway's limits are tested against (Debian's redis-server).
		add("version", "%q is not a Memorystore Redis 7 version; use \"REDIS_7_2\" or \"REDIS_7_0\"", r.Version)
	}
	return errs
}

// MemorystoreArgs are the instance's inputs.
type MemorystoreArgs struct {
	// Config sizes the instance (plain: it shapes the plan).
	Config RedisConfig `pulumi:"config"`
	// Project and Region hold the instance (the cluster's).
	Project string `pulumi:"project"`
	Region  string `pulumi:"region"`
	// Zone is a zonal cluster's zone (gke.zone), where the instance's primary is put so the
	// gateway reaches it without crossing zones; empty for a regional cluster (Memorystore picks).
	Zone string `pulumi:"zone,optional"`
	// Network is the cluster's VPC (projects/<p>/global/networks/<n>): the instance's only
	// network, peered to it directly.
	Network pulumi.StringInput `pulumi:"network"`
}

// Memorystore is the instance as its clients reach it.
type Memorystore struct {
	pulumi.ResourceState
	// Address is host:port: the instance's private IP and its TLS port (6378).
	Address pulumi.StringOutput `pulumi:"address"`
	// Password is the AUTH string Memorystore generated (secret).
	Password pulumi.StringOutput `pulumi:"password"`
	// CACert is the PEM of the instance's server CAs (more than one while Google rotates
	// them); the server's certificate names its IP.
	CACert pulumi.StringOutput `pulumi:"caCert"`
}

// NewMemorystore creates a Memorystore for Redis instance in the cluster's VPC, with AUTH and
// in-transit encryption (TLS, server authentication). It connects by direct peering: the
// instance's range is peered to the VPC by Memorystore itself, so it needs no private services
// access connection (Cloud SQL's, one per VPC, stays Cloud SQL's), and the cluster's
// VPC-native pods reach it.
func NewMemorystore(ctx *pulumi.Context, name string, args MemorystoreArgs, opts ...pulumi.ResourceOption) (*Memorystore, error) {
	m := &Memorystore{}
	if err := ctx.RegisterComponentResource(MemorystoreType, name, m, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(m)
	api, err := projects.NewService(ctx, name+"-redis", &projects.ServiceArgs{
		Project: pulumi.String(args.Project), Service: pulumi.String("redis.googleapis.com"),
		// Other things in the project may use it.
		DisableOnDestroy: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, err
	}
	cfg := args.Config
	instance, err := redis.NewInstance(ctx, name, &redis.InstanceArgs{
		Project:           pulumi.String(args.Project),
		Region:            pulumi.String(args.Region),
		Tier:              pulumi.String(cfg.Tier),
		MemorySizeGb:      pulumi.Int(cfg.MemorySizeGB),
		RedisVersion:      pulumi.String(cfg.Version),
		AuthorizedNetwork: args.Network,
		ConnectMode:       pulumi.String("DIRECT_PEERING"),
		AuthEnabled:       pulumi.Bool(true),
		// TLS on 6378; clients verify the server against serverCaCerts.
		TransitEncryptionMode: pulumi.String("SERVER_AUTHENTICATION"),
		// An RDB snapshot every hour, from which Memorystore restores the data itself when a
		// BASIC node restarts (failure, maintenance) or both STANDARD_HA nodes fail: without it
		// every tenant would start a fresh day's and month's token budget.
		PersistenceConfig: &redis.InstancePersistenceConfigArgs{
			PersistenceMode:   pulumi.String("RDB"),
			RdbSnapshotPeriod: pulumi.String(redisSnapshotPeriod),
		},
		// Memorystore's default, volatile-lru, would evict the counters (every one has a TTL)
		// when memory runs out, silently resetting budgets; refuse writes instead, as the
		// in-cluster Redis does: the gateway then treats Redis as down (tenancy.onRedisDown).
		RedisConfigs: pulumi.StringMap{"maxmemory-policy": pulumi.String("noeviction")},
		DisplayName:  pulumi.String("llm-platform: tenants' limits"),
		Labels:       pulumi.StringMap{"app": pulumi.String("llm-gateway"), "managed-by": pulumi.String("llm-platform")},
		LocationId:   optionalString(args.Zone),
	}, parent, pulumi.DependsOn([]pulumi.Resource{api}))
	if err != nil {
		return nil, err
	}
	m.Address = pulumi.Sprintf("%s:%d", instance.Host, instance.Port)
	m.Password = pulumi.ToSecret(instance.AuthString).(pulumi.StringOutput)
	m.CACert = instance.ServerCaCerts.ApplyT(caBundle).(pulumi.StringOutput)
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{"address": m.Address, "password": m.Password, "caCert": m.CACert})
}

// redisSnapshotPeriod is how often Memorystore snapshots the instance (RDB persistence), the
// shortest period it offers: at most an hour of counting is lost when it restores one.
const redisSnapshotPeriod = "ONE_HOUR"

// optionalString is s, or nil (unset) when s is empty.
func optionalString(s string) pulumi.StringPtrInput {
	if s == "" {
		return nil
	}
	return pulumi.String(s)
}

// caBundle joins the instance's server CA certificates into one PEM bundle.
func caBundle(certs []redis.InstanceServerCaCert) string {
	var b strings.Builder
	for _, c := range certs {
		if c.Cert != nil {
			b.WriteString(strings.TrimSpace(*c.Cert) + "\n")
		}
	}
	return b.String()
}
