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

const vpcNetwork = "projects/acme-ml/global/networks/llm-platform-abc123"

func cloudSQL(t *testing.T, cfg gke.PostgresConfig) (*pulumimock.Mocks, *gke.CloudSQL) {
	t.Helper()
	var c *gke.CloudSQL
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		c, err = gke.NewCloudSQL(ctx, "webui-database", gke.CloudSQLArgs{
			Config: cfg, Project: "acme-ml", Region: "us-central1", Network: pulumi.String(vpcNetwork),
			Database: "openwebui", User: "openwebui",
		})
		return err
	})
	require.NoError(t, err)
	return m, c
}

// TestCloudSQLIsPrivateBackedUpProtectedAndTLSOnly: the instance's settings as the provider
// receives them.
func TestCloudSQLIsPrivateBackedUpProtectedAndTLSOnly(t *testing.T) {
	m, c := cloudSQL(t, gke.DefaultPostgres())
	in := pulumimock.Plain(m.Find(t, "gcp:sql/databaseInstance:DatabaseInstance", "webui-database").Inputs)
	assert.Equal(t, "POSTGRES_17", in["databaseVersion"])
	assert.Equal(t, true, in["deletionProtection"], "Pulumi refuses to delete it")
	settings := in["settings"].(map[string]any)
	assert.Equal(t, true, settings["deletionProtectionEnabled"], "and so does Cloud SQL")
	assert.Equal(t, "db-custom-1-3840", settings["tier"])
	assert.Equal(t, "ZONAL", settings["availabilityType"])
	ip := settings["ipConfiguration"].(map[string]any)
	assert.Equal(t, false, ip["ipv4Enabled"], "no public address")
	assert.Equal(t, vpcNetwork, ip["privateNetwork"], "a private address in the cluster's VPC")
	assert.Equal(t, "ENCRYPTED_ONLY", ip["sslMode"], "unencrypted connections are refused")
	backup := settings["backupConfiguration"].(map[string]any)
	assert.Equal(t, true, backup["enabled"])
	assert.Equal(t, true, backup["pointInTimeRecoveryEnabled"])
	assert.Equal(t, float64(7), backup["transactionLogRetentionDays"])
	assert.Equal(t, map[string]any{"retainedBackups": float64(7), "retentionUnit": "COUNT"}, backup["backupRetentionSettings"])

	// Private services access: a range reserved in the VPC, peered to Google's services, before
	// the instance.
	rng := pulumimock.Plain(m.Find(t, "gcp:compute/globalAddress:GlobalAddress", "webui-database-services-range").Inputs)
	assert.Equal(t, map[string]any{"purpose": "VPC_PEERING", "addressType": "INTERNAL", "prefixLength": float64(20), "network": vpcNetwork},
		pick(rng, "purpose", "addressType", "prefixLength", "network"))
	peering := m.Find(t, "gcp:servicenetworking/connection:Connection", "webui-database-peering")
	conn := pulumimock.Plain(peering.Inputs)
	assert.Equal(t, "servicenetworking.googleapis.com", conn["service"])
	assert.Equal(t, vpcNetwork, conn["network"])
	assert.Len(t, conn["reservedPeeringRanges"], 1)
	assert.Contains(t, m.Find(t, "gcp:sql/databaseInstance:DatabaseInstance", "webui-database").DependsOn, peering.URN,
		"the instance waits for the peering (its private IP comes from the range)")

	user := m.Find(t, "gcp:sql/user:User", "webui-database")
	assert.Equal(t, []string{"password"}, pulumimock.SecretPaths(user.Inputs))
	assert.Equal(t, []string{"password"}, user.IgnoreChanges, "generated once, then kept")
	generated := pulumimock.Plain(user.Inputs)["password"].(string)
	assert.Len(t, generated, 64)
	password, secret := pulumimock.Await(t, c.Password)
	assert.True(t, secret)
	assert.Equal(t, generated, password, "the output is the password the user has")
	host, _ := pulumimock.Await(t, c.Host)
	assert.Equal(t, pulumimock.MockSQLAddress, host)
	assert.Equal(t, "openwebui", pulumimock.Plain(m.Find(t, "gcp:sql/database:Database", "webui-database").Inputs)["name"])
}

// TestCloudSQLHighAvailability: a standby in a second zone; backups kept longer than PITR's
// seven-day log.
func TestCloudSQLHighAvailability(t *testing.T) {
	cfg := gke.DefaultPostgres()
	cfg.HighAvailability, cfg.BackupRetentionDays = true, 30
	m, _ := cloudSQL(t, cfg)
	settings := pulumimock.Plain(m.Find(t, "gcp:sql/databaseInstance:DatabaseInstance", "webui-database").Inputs)["settings"].(map[string]any)
	assert.Equal(t, "REGIONAL", settings["availabilityType"])
	backup := settings["backupConfiguration"].(map[string]any)
	assert.Equal(t, float64(7), backup["transactionLogRetentionDays"], "Cloud SQL keeps at most 7 days of log")
	assert.Equal(t, float64(30), backup["backupRetentionSettings"].(map[string]any)["retainedBackups"])
}

func TestPostgresConfigValidate(t *testing.T) {
	require.Empty(t, gke.DefaultPostgres().Validate("gke.postgres"))
	for name, tc := range map[string]struct {
		edit func(*gke.PostgresConfig)
		want string
	}{
		"shared core": {func(p *gke.PostgresConfig) { p.Tier = "db-f1-micro" }, "gke.postgres.tier"},
		// Enterprise Plus only; the instance is declared Enterprise.
		"enterprise plus tier": {func(p *gke.PostgresConfig) { p.Tier = "db-perf-optimized-N-2" }, "gke.postgres.tier"},
		"old version":          {func(p *gke.PostgresConfig) { p.Version = "POSTGRES_13" }, "gke.postgres.version"},
		"mysql":                {func(p *gke.PostgresConfig) { p.Version = "MYSQL_8_0" }, "gke.postgres.version"},
		"tiny disk":            {func(p *gke.PostgresConfig) { p.DiskSizeGB = 5 }, "gke.postgres.diskSizeGb"},
		"no backups":           {func(p *gke.PostgresConfig) { p.BackupRetentionDays = 0 }, "gke.postgres.backupRetentionDays"},
	} {
		t.Run(name, func(t *testing.T) {
			p := gke.DefaultPostgres()
			tc.edit(&p)
			assert.Contains(t, errors.Join(p.Validate("gke.postgres")...).Error(), tc.want)
		})
	}
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
