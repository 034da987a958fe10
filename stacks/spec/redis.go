package spec

import (
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/tenants"
)

// validateManagedRedis checks the rules of tenancy.redis.kind managed that span components: the
// instance is the cloud's (Memorystore on gke, ElastiCache on eks), sized by gke.redis /
// eks.redis, which are refused where they would size nothing.
func validateManagedRedis(p *problems, cfg *Config) {
	managed := cfg.Tenancy.HasLimits() && cfg.Tenancy.Redis.Kind == tenants.RedisManaged
	const kind = "tenancy.redis.kind"
	checkCloudInstance(p, "gke.redis", kind, cfg.GKE.Redis, gke.DefaultRedis(), managed && cfg.Cloud == CloudGKE, cfg.GKE.Redis.Validate)
	checkCloudInstance(p, "eks.redis", kind, cfg.EKS.Redis, eks.DefaultRedis(), managed && cfg.Cloud == CloudEKS, cfg.EKS.Redis.Validate)
	if !managed {
		// Without limits, tenancy.redis is refused as a whole (validateUnused).
		return
	}
	switch {
	case cfg.Render.Dir != "":
		p.add(kind, "is managed, but render.dir renders manifests without creating cloud resources, so there is no instance to count in; "+
			"use in-cluster, or external with the server's address (and the secret gatewayRedisPassword)")
	case cfg.Cloud == CloudExisting:
		p.add(kind, "is managed, which creates Memorystore (cloud gke) or ElastiCache (cloud eks), but cloud is existing; use in-cluster "+
			"(a Redis the platform runs) or external (your server's address, its password in the secret gatewayRedisPassword)")
	case cfg.Cloud == CloudEKS && !cfg.EKS.Cluster.Create && cfg.EKS.Redis.Replicas > 0 && len(cfg.EKS.Cluster.SubnetIDs) < 2:
		p.add("eks.cluster.subnetIds", "has %d subnet(s), but eks.redis.replicas %d puts ElastiCache's replicas in other Availability Zones "+
			"(Multi-AZ failover); list private subnets of two zones, or set eks.redis.replicas: 0", len(cfg.EKS.Cluster.SubnetIDs), cfg.EKS.Redis.Replicas)
	}
	// An adopted GKE cluster is fine: Memorystore peers its own range to the cluster's VPC
	// (direct peering), so no private services access connection is needed.
}
