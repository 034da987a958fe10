package gke_test

import (
	"errors"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

func memorystore(t *testing.T, cfg gke.RedisConfig) (*pulumimock.Mocks, *gke.Memorystore) {
	t.Helper()
	return memorystoreIn(t, cfg, "")
}

// memorystoreIn declares the instance for a cluster in zone (empty: a regional cluster).
func memorystoreIn(t *testing.T, cfg gke.RedisConfig, zone string) (*pulumimock.Mocks, *gke.Memorystore) {
	t.Helper()
	var r *gke.Memorystore
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		r, err = gke.NewMemorystore(ctx, "limits-redis", gke.MemorystoreArgs{
			Config: cfg, Project: "acme-ml", Region: "us-central1", Zone: zone, Network: pulumi.String(vpcNetwork),
		})
		return err
	})
	require.NoError(t, err)
	return m, r
}

// TestMemorystoreIsPrivateAuthenticatedAndTLS: the instance as the provider receives it, and
// what the gateway gets from it.
func TestMemorystoreIsPrivateAuthenticatedAndTLS(t *testing.T) {
	m, r := memorystore(t, gke.DefaultRedis())
	res := m.Find(t, "gcp:redis/instance:Instance", "limits-redis")
	in := pulumimock.Plain(res.Inputs)
	for key, want := range map[string]any{
		"project": "acme-ml", "region": "us-central1", "tier": "BASIC", "memorySizeGb": float64(1), "redisVersion": "REDIS_7_2",
		"authorizedNetwork": vpcNetwork, "connectMode": "DIRECT_PEERING",
		"authEnabled": true, "transitEncryptionMode": "SERVER_AUTHENTICATION",
	} {
		assert.Equal(t, want, in[key], key)
	}
	api := m.Find(t, "gcp:projects/service:Service", "limits-redis-redis")
	assert.Equal(t, "redis.googleapis.com", pulumimock.Plain(api.Inputs)["service"])
	assert.Contains(t, res.DependsOn, api.URN, "the API is on before the instance")
	assert.Empty(t, m.ByType("gcp:servicenetworking/connection:Connection"), "direct peering: no private services access")

	address, _ := pulumimock.Await(t, r.Address)
	assert.Equal(t, pulumimock.MockMemorystoreHost+":6378", address, "the TLS port")
	password, secret := pulumimock.Await(t, r.Password)
	assert.True(t, secret, "the AUTH string stays secret")
	assert.Equal(t, pulumimock.MockMemorystoreAuth, password)
	ca, secret := pulumimock.Await(t, r.CACert)
	assert.False(t, secret, "a CA certificate is public: it goes into the gateway's ConfigMap")
	assert.Equal(t, pulumimock.MockMemorystoreCA, ca)
}

// TestMemorystoreKeepsTheCounters: the counters survive a restart (an hourly RDB snapshot
// Memorystore restores itself) and are never evicted (noeviction: a full instance refuses
// writes, which the gateway treats as Redis down, instead of dropping budget keys, which all
// have a TTL and so are volatile-lru's candidates).
func TestMemorystoreKeepsTheCounters(t *testing.T) {
	for _, tier := range []string{gke.RedisBasic, gke.RedisStandardHA} {
		cfg := gke.DefaultRedis()
		cfg.Tier = tier
		m, _ := memorystore(t, cfg)
		in := pulumimock.Plain(m.Find(t, "gcp:redis/instance:Instance", "limits-redis").Inputs)
		assert.Equal(t, map[string]any{"persistenceMode": "RDB", "rdbSnapshotPeriod": "ONE_HOUR"}, in["persistenceConfig"], tier)
		assert.Equal(t, map[string]any{"maxmemory-policy": "noeviction"}, in["redisConfigs"], tier)
	}
}

// TestMemorystoreZone: a zonal cluster's instance is in its zone (the gateway's pods are
// there); a regional cluster's is where Memorystore puts it.
func TestMemorystoreZone(t *testing.T) {
	m, _ := memorystoreIn(t, gke.DefaultRedis(), "us-central1-b")
	in := pulumimock.Plain(m.Find(t, "gcp:redis/instance:Instance", "limits-redis").Inputs)
	assert.Equal(t, "us-central1-b", in["locationId"])

	m, _ = memorystore(t, gke.DefaultRedis())
	in = pulumimock.Plain(m.Find(t, "gcp:redis/instance:Instance", "limits-redis").Inputs)
	assert.NotContains(t, in, "locationId", "regional: left to Memorystore")
	assert.NotContains(t, in, "alternativeLocationId")
}

func TestMemorystoreStandardHA(t *testing.T) {
	cfg := gke.DefaultRedis()
	cfg.Tier, cfg.MemorySizeGB, cfg.Version = gke.RedisStandardHA, 5, "REDIS_7_0"
	m, _ := memorystore(t, cfg)
	in := pulumimock.Plain(m.Find(t, "gcp:redis/instance:Instance", "limits-redis").Inputs)
	assert.Equal(t, "STANDARD_HA", in["tier"])
	assert.Equal(t, float64(5), in["memorySizeGb"])
	assert.Equal(t, "REDIS_7_0", in["redisVersion"])
}

func TestRedisConfigValidate(t *testing.T) {
	require.Empty(t, gke.DefaultRedis().Validate("gke.redis"))
	for _, v := range []string{"REDIS_7_0", "REDIS_7_2"} {
		r := gke.DefaultRedis()
		r.Version = v
		assert.Empty(t, r.Validate("gke.redis"), v)
	}
	for name, tc := range map[string]struct {
		edit func(*gke.RedisConfig)
		want string
	}{
		"tier":        {func(r *gke.RedisConfig) { r.Tier = "STANDARD" }, "gke.redis.tier"},
		"no memory":   {func(r *gke.RedisConfig) { r.MemorySizeGB = 0 }, "gke.redis.memorySizeGb"},
		"too big":     {func(r *gke.RedisConfig) { r.MemorySizeGB = 301 }, "gke.redis.memorySizeGb"},
		"old version": {func(r *gke.RedisConfig) { r.Version = "REDIS_6_X" }, "gke.redis.version"},
		"valkey":      {func(r *gke.RedisConfig) { r.Version = "VALKEY_8_0" }, "gke.redis.version"},
		// Memorystore for Redis has no 7.1 nor 7.3 and later: only REDIS_7_0 and REDIS_7_2.
		"no 7.1": {func(r *gke.RedisConfig) { r.Version = "REDIS_7_1" }, "gke.redis.version"},
		"no 7.4": {func(r *gke.RedisConfig) { r.Version = "REDIS_7_4" }, "gke.redis.version"},
	} {
		t.Run(name, func(t *testing.T) {
			r := gke.DefaultRedis()
			tc.edit(&r)
			assert.Contains(t, errors.Join(r.Validate("gke.redis")...).Error(), tc.want)
		})
	}
}
