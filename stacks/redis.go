package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/tenants"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// managedRedisName is the Pulumi name of the cloud's Redis instance for the tenants' limits.
const managedRedisName = "limits-redis"

// ManagedRedis is the Redis instance the cloud created for the tenants' limits, as the gateway
// reaches it.
type ManagedRedis struct {
	// Address is host:port; Password is the instance's own (secret).
	Address, Password pulumi.StringOutput
	// CACert is the PEM of the CAs its certificate chains to; nil for the public CAs.
	CACert pulumi.StringInput
}

// managedRedis creates the tenants' limits Redis on the stack's cloud when tenancy.redis.kind
// is managed and some tenant has limits (Memorystore in the GKE cluster's VPC, ElastiCache in
// the EKS cluster's private subnets); nil otherwise.
func managedRedis(ctx *pulumi.Context, cfg spec.Config, g *gke.GKE, e *eks.EKS) (*ManagedRedis, error) {
	if t := cfg.Tenancy; !t.HasLimits() || t.Redis.Kind != tenants.RedisManaged {
		return nil, nil
	}
	switch {
	case g != nil:
		r, err := gke.NewMemorystore(ctx, managedRedisName, gke.MemorystoreArgs{
			Config: cfg.GKE.Redis, Project: cfg.GKE.Project, Region: cfg.GKE.Region, Zone: cfg.GKE.Zone,
			Network: g.Network,
		})
		if err != nil {
			return nil, err
		}
		return &ManagedRedis{Address: r.Address, Password: r.Password, CACert: r.CACert}, nil
	case e != nil:
		r, err := e.ElastiCache(ctx, managedRedisName, cfg.EKS.Redis)
		if err != nil {
			return nil, err
		}
		// ElastiCache's certificates chain to Amazon's public CAs, and name the endpoint.
		return &ManagedRedis{Address: r.Address, Password: r.Password}, nil
	}
	return nil, nil
}
