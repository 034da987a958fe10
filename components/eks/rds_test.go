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

func rdsInstance(t *testing.T, cfg eks.PostgresConfig) (*pulumimock.Mocks, *eks.RDS) {
	t.Helper()
	var r *eks.RDS
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		r, err = eks.NewRDS(ctx, "webui-database", eks.RDSArgs{
			Config: cfg, VpcID: pulumi.String("vpc-0abc"),
			SubnetIDs:           pulumi.ToStringArray([]string{"subnet-0priv1", "subnet-0priv2"}),
			NodeSecurityGroupID: pulumi.String("sg-0cluster"),
			Database:            "openwebui", User: "openwebui",
		})
		return err
	})
	require.NoError(t, err)
	return m, r
}

// TestRDSIsPrivateEncryptedBackedUpProtectedAndTLSOnly: the instance and its network as the
// provider receives them.
func TestRDSIsPrivateEncryptedBackedUpProtectedAndTLSOnly(t *testing.T) {
	m, r := rdsInstance(t, eks.DefaultPostgres())
	res := m.Find(t, "aws:rds/instance:Instance", "webui-database")
	in := pulumimock.Plain(res.Inputs)
	for key, want := range map[string]any{
		"engine": "postgres", "engineVersion": "17", "instanceClass": "db.t4g.medium",
		"storageEncrypted": true, "publiclyAccessible": false, "deletionProtection": true,
		"backupRetentionPeriod": float64(7), "multiAz": false, "storageType": "gp3",
		"skipFinalSnapshot": false, "dbName": "openwebui", "username": "openwebui",
	} {
		assert.Equal(t, want, in[key], key)
	}
	// Its subnets, security group and parameter group are the ones declared beside it.
	for _, dep := range []string{"aws:rds/subnetGroup:SubnetGroup", "aws:ec2/securityGroup:SecurityGroup", "aws:rds/parameterGroup:ParameterGroup"} {
		assert.Contains(t, res.DependsOn, m.Find(t, dep, "webui-database").URN, dep)
	}
	assert.Equal(t, []any{"subnet-0priv1", "subnet-0priv2"}, pulumimock.Plain(m.Find(t, "aws:rds/subnetGroup:SubnetGroup", "webui-database").Inputs)["subnetIds"])

	sg := pulumimock.Plain(m.Find(t, "aws:ec2/securityGroup:SecurityGroup", "webui-database").Inputs)
	assert.Equal(t, "vpc-0abc", sg["vpcId"])
	assert.Equal(t, []any{map[string]any{
		"description": "PostgreSQL from the EKS nodes", "protocol": "tcp", "fromPort": float64(5432), "toPort": float64(5432),
		"securityGroups": []any{"sg-0cluster"},
	}}, sg["ingress"], "the nodes' security group, on 5432, and nothing else")
	assert.Nil(t, sg["egress"])

	params := pulumimock.Plain(m.Find(t, "aws:rds/parameterGroup:ParameterGroup", "webui-database").Inputs)
	assert.Equal(t, "postgres17", params["family"])
	assert.Equal(t, []any{map[string]any{"name": "rds.force_ssl", "value": "1"}}, params["parameters"], "TLS only")

	assert.Equal(t, []string{"password"}, pulumimock.SecretPaths(res.Inputs))
	assert.Equal(t, []string{"password"}, res.IgnoreChanges, "generated once, then kept")
	password, secret := pulumimock.Await(t, r.Password)
	assert.True(t, secret)
	assert.Equal(t, in["password"], password)
	host, _ := pulumimock.Await(t, r.Host)
	assert.Equal(t, pulumimock.MockRDSAddress, host)
}

func TestRDSMultiAZ(t *testing.T) {
	cfg := eks.DefaultPostgres()
	cfg.MultiAZ, cfg.EngineVersion = true, "16"
	m, _ := rdsInstance(t, cfg)
	assert.Equal(t, true, pulumimock.Plain(m.Find(t, "aws:rds/instance:Instance", "webui-database").Inputs)["multiAz"])
	assert.Equal(t, "postgres16", pulumimock.Plain(m.Find(t, "aws:rds/parameterGroup:ParameterGroup", "webui-database").Inputs)["family"],
		"the parameter group's family follows the engine")
}

func TestRDSConfigValidate(t *testing.T) {
	require.Empty(t, eks.DefaultPostgres().Validate("eks.postgres"))
	for name, tc := range map[string]struct {
		edit func(*eks.PostgresConfig)
		want string
	}{
		"not a class": {func(p *eks.PostgresConfig) { p.InstanceClass = "t4g.medium" }, "eks.postgres.instanceClass"},
		"old engine":  {func(p *eks.PostgresConfig) { p.EngineVersion = "14" }, "eks.postgres.engineVersion"},
		"minor":       {func(p *eks.PostgresConfig) { p.EngineVersion = "17.2" }, "eks.postgres.engineVersion"},
		"tiny disk":   {func(p *eks.PostgresConfig) { p.AllocatedStorageGB = 10 }, "eks.postgres.allocatedStorageGb"},
		"no backups":  {func(p *eks.PostgresConfig) { p.BackupRetentionDays = 0 }, "eks.postgres.backupRetentionDays"},
	} {
		t.Run(name, func(t *testing.T) {
			p := eks.DefaultPostgres()
			tc.edit(&p)
			assert.Contains(t, errors.Join(p.Validate("eks.postgres")...).Error(), tc.want)
		})
	}
}
