package gke

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/servicenetworking"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/sql"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/genkey"
)

// CloudSQLType is the Cloud SQL component's type token.
const CloudSQLType = "llm-platform:index:CloudSQL"

// PostgresConfig sizes the Cloud SQL for PostgreSQL instance a stack creates for Open WebUI
// (webui.database.kind managed on gke). The JSON names are the stack config's gke.postgres keys.
type PostgresConfig struct {
	// Tier is the machine: db-custom-<vCPUs>-<memory MiB> (Enterprise edition).
	Tier string `json:"tier" pulumi:"tier"`
	// Version is the PostgreSQL major version (Cloud SQL's POSTGRES_<n>); pgvector is on 15 and
	// later.
	Version string `json:"version" pulumi:"version"`
	// DiskSizeGB is the SSD's initial size; Cloud SQL grows it when nearly full.
	DiskSizeGB int `json:"diskSizeGb" pulumi:"diskSizeGb"`
	// HighAvailability keeps a standby in a second zone of the region (REGIONAL): twice the price.
	HighAvailability bool `json:"highAvailability" pulumi:"highAvailability"`
	// BackupRetentionDays is how many daily backups are kept; point-in-time recovery reaches back
	// min(7, this) days (its write-ahead log is kept that long).
	BackupRetentionDays int `json:"backupRetentionDays" pulumi:"backupRetentionDays"`
	// DeletionProtection refuses to delete the instance (Pulumi's and Cloud SQL's own switch):
	// turn it off, run `pulumi up`, then delete.
	DeletionProtection bool `json:"deletionProtection" pulumi:"deletionProtection"`
}

// DefaultPostgres is the smallest dedicated-core instance, zonal, backed up for a week.
func DefaultPostgres() PostgresConfig {
	return PostgresConfig{Tier: "db-custom-1-3840", Version: "POSTGRES_17", DiskSizeGB: 20, BackupRetentionDays: 7, DeletionProtection: true}
}

var (
	customTier      = regexp.MustCompile(`^db-custom-[0-9]+-[0-9]+$`)
	postgresVersion = regexp.MustCompile(`^POSTGRES_(1[5-9]|[2-9][0-9])$`)
)

// Validate checks the settings under path ("gke.postgres").
func (p PostgresConfig) Validate(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	// Shared-core tiers (db-f1-micro, db-g1-small) carry no SLA and too little memory for
	// pgvector's index builds.
	// Only custom tiers: db-perf-optimized-* needs the Enterprise Plus edition, and the
	// instance is declared Enterprise (Cloud SQL refuses that pairing at apply time).
	if !customTier.MatchString(p.Tier) {
		add("tier", "%q is not a dedicated-core tier; use db-custom-<vCPUs>-<MiB>, e.g. \"db-custom-1-3840\" or \"db-custom-2-7680\"", p.Tier)
	}
	if !postgresVersion.MatchString(p.Version) {
		add("version", "%q is not a Cloud SQL PostgreSQL version with pgvector; use POSTGRES_15 or later, e.g. \"POSTGRES_17\"", p.Version)
	}
	if p.DiskSizeGB < 10 {
		add("diskSizeGb", "is %d; Cloud SQL's smallest disk is 10 GB", p.DiskSizeGB)
	}
	if p.BackupRetentionDays < 1 || p.BackupRetentionDays > 365 {
		add("backupRetentionDays", "is %d; keep 1 to 365 daily backups", p.BackupRetentionDays)
	}
	return errs
}

// CloudSQLArgs are the instance's inputs.
type CloudSQLArgs struct {
	// Config sizes the instance (plain: it shapes the plan).
	Config PostgresConfig `pulumi:"config"`
	// Project and Region hold the instance (the cluster's).
	Project string `pulumi:"project"`
	Region  string `pulumi:"region"`
	// Network is the VPC the cluster's nodes and pods live in (projects/<p>/global/networks/<n>):
	// the instance gets a private address there, and no public one.
	Network pulumi.StringInput `pulumi:"network"`
	// Database and User are the database and the login the instance gets for Open WebUI.
	Database string `pulumi:"database"`
	User     string `pulumi:"user"`
}

// CloudSQL is the instance with its database and user.
type CloudSQL struct {
	pulumi.ResourceState
	// Host is the instance's private IP address.
	Host pulumi.StringOutput `pulumi:"host"`
	// Password is User's password as applied (secret): generated once, then kept.
	Password pulumi.StringOutput `pulumi:"password"`
}

// privateServicesPrefix sizes the range reserved for Google's services in the VPC: 4096
// addresses, room for this instance and others (Cloud SQL takes a /24 per region).
const privateServicesPrefix = 20

// NewCloudSQL creates a Cloud SQL for PostgreSQL instance reachable only from the VPC
// (private services access: a reserved range peered to Google's service network), TLS required,
// daily backups with point-in-time recovery, deletion protection; and Open WebUI's database and
// user (a member of cloudsqlsuperuser, so Open WebUI may create the vector extension).
func NewCloudSQL(ctx *pulumi.Context, name string, args CloudSQLArgs, opts ...pulumi.ResourceOption) (*CloudSQL, error) {
	c := &CloudSQL{}
	if err := ctx.RegisterComponentResource(CloudSQLType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	peering, err := privateServicesAccess(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	instance, err := sql.NewDatabaseInstance(ctx, name, &sql.DatabaseInstanceArgs{
		Project:            pulumi.String(args.Project),
		Region:             pulumi.String(args.Region),
		DatabaseVersion:    pulumi.String(args.Config.Version),
		DeletionProtection: pulumi.Bool(args.Config.DeletionProtection),
		Settings:           instanceSettings(args),
	}, parent, pulumi.DependsOn(peering))
	if err != nil {
		return nil, err
	}
	if _, err := sql.NewDatabase(ctx, name, &sql.DatabaseArgs{
		Project: pulumi.String(args.Project), Instance: instance.Name, Name: pulumi.String(args.Database),
	}, parent); err != nil {
		return nil, err
	}
	generated, err := genkey.Hex()
	if err != nil {
		return nil, err
	}
	user, err := sql.NewUser(ctx, name, &sql.UserArgs{
		Project:  pulumi.String(args.Project),
		Instance: instance.Name,
		Name:     pulumi.String(args.User),
		Password: pulumi.ToSecret(pulumi.String(generated)).(pulumi.StringOutput),
		// A new password is generated on every run; only the first is applied.
		// Open WebUI's URL is built from the output, the one applied.
	}, parent, pulumi.IgnoreChanges([]string{"password"}))
	if err != nil {
		return nil, err
	}
	c.Host = instance.PrivateIpAddress
	c.Password = pulumi.ToSecret(user.Password.Elem()).(pulumi.StringOutput)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"host": c.Host, "password": c.Password})
}

func instanceSettings(args CloudSQLArgs) *sql.DatabaseInstanceSettingsArgs {
	cfg := args.Config
	availability := "ZONAL"
	if cfg.HighAvailability {
		availability = "REGIONAL"
	}
	return &sql.DatabaseInstanceSettingsArgs{
		Tier:             pulumi.String(cfg.Tier),
		Edition:          pulumi.String("ENTERPRISE"),
		AvailabilityType: pulumi.String(availability),
		DiskType:         pulumi.String("PD_SSD"),
		DiskSize:         pulumi.Int(cfg.DiskSizeGB),
		DiskAutoresize:   pulumi.Bool(true),
		// Cloud SQL's own guard, besides Pulumi's: the API refuses the delete.
		DeletionProtectionEnabled: pulumi.Bool(cfg.DeletionProtection),
		IpConfiguration: &sql.DatabaseInstanceSettingsIpConfigurationArgs{
			Ipv4Enabled:    pulumi.Bool(false),
			PrivateNetwork: args.Network,
			// Every connection encrypted, no client certificate asked for (the pods set
			// PGSSLMODE=require). The API pairs ENCRYPTED_ONLY with requireSsl false;
			// requireSsl true means TRUSTED_CLIENT_CERTIFICATE_REQUIRED.
			SslMode:    pulumi.String("ENCRYPTED_ONLY"),
			RequireSsl: pulumi.Bool(false),
		},
		BackupConfiguration: &sql.DatabaseInstanceSettingsBackupConfigurationArgs{
			Enabled:                     pulumi.Bool(true),
			PointInTimeRecoveryEnabled:  pulumi.Bool(true),
			TransactionLogRetentionDays: pulumi.Int(min(cfg.BackupRetentionDays, 7)),
			BackupRetentionSettings: &sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs{
				RetainedBackups: pulumi.Int(cfg.BackupRetentionDays),
				RetentionUnit:   pulumi.String("COUNT"),
			},
		},
		UserLabels: pulumi.StringMap{"app": pulumi.String("open-webui"), "managed-by": pulumi.String("llm-platform")},
	}
}

// privateServicesAccess enables the APIs and reserves a range in the VPC for Google's services,
// peered to their network: the instance's private address comes from it. The connection is
// abandoned, not deleted, on destroy: Google refuses to delete it while the (deleted) instance's
// producer resources linger, for days.
func privateServicesAccess(ctx *pulumi.Context, name string, args CloudSQLArgs, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var deps []pulumi.Resource
	for _, api := range []string{"sqladmin.googleapis.com", "servicenetworking.googleapis.com"} {
		svc, err := projects.NewService(ctx, name+"-"+strings.Split(api, ".")[0], &projects.ServiceArgs{
			Project: pulumi.String(args.Project), Service: pulumi.String(api),
			// Other things in the project may use them.
			DisableOnDestroy: pulumi.Bool(false),
		}, parent)
		if err != nil {
			return nil, err
		}
		deps = append(deps, svc)
	}
	rng, err := compute.NewGlobalAddress(ctx, name+"-services-range", &compute.GlobalAddressArgs{
		Project:      pulumi.String(args.Project),
		Network:      args.Network,
		Purpose:      pulumi.String("VPC_PEERING"),
		AddressType:  pulumi.String("INTERNAL"),
		PrefixLength: pulumi.Int(privateServicesPrefix),
		Description:  pulumi.String("llm-platform: private services access (Cloud SQL for Open WebUI)"),
	}, parent, pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	conn, err := servicenetworking.NewConnection(ctx, name+"-peering", &servicenetworking.ConnectionArgs{
		Network:               args.Network,
		Service:               pulumi.String("servicenetworking.googleapis.com"),
		ReservedPeeringRanges: pulumi.StringArray{rng.Name},
		DeletionPolicy:        pulumi.String("ABANDON"),
	}, parent, pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{conn}, nil
}
