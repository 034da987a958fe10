package eks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/genkey"
)

// RDSType is the RDS component's type token.
const RDSType = "llm-platform:index:RDS"

// PostgresConfig sizes the RDS for PostgreSQL instance a stack creates for Open WebUI
// (webui.database.kind managed on eks). The JSON names are the stack config's eks.postgres keys.
type PostgresConfig struct {
	// InstanceClass is the instance type (db.t4g.medium: 2 vCPUs, 4 GiB, burstable).
	InstanceClass string `json:"instanceClass" pulumi:"instanceClass"`
	// EngineVersion is the PostgreSQL major version (RDS picks its default minor and upgrades it
	// in the maintenance window); pgvector is on 15 and later.
	EngineVersion string `json:"engineVersion" pulumi:"engineVersion"`
	// AllocatedStorageGB is the gp3 volume's size (20 GB at least).
	AllocatedStorageGB int `json:"allocatedStorageGb" pulumi:"allocatedStorageGb"`
	// MultiAZ keeps a synchronous standby in a second zone: twice the price.
	MultiAZ bool `json:"multiAz" pulumi:"multiAz"`
	// BackupRetentionDays is how long automated backups (and point-in-time recovery) reach back.
	BackupRetentionDays int `json:"backupRetentionDays" pulumi:"backupRetentionDays"`
	// DeletionProtection refuses to delete the instance: turn it off, run `pulumi up`, then delete.
	DeletionProtection bool `json:"deletionProtection" pulumi:"deletionProtection"`
}

// DefaultPostgres is a small burstable instance in one zone, backed up for a week.
func DefaultPostgres() PostgresConfig {
	return PostgresConfig{InstanceClass: "db.t4g.medium", EngineVersion: "17", AllocatedStorageGB: 20, BackupRetentionDays: 7, DeletionProtection: true}
}

var majorVersion = regexp.MustCompile(`^(1[5-9]|[2-9][0-9])$`)

// Validate checks the settings under path ("eks.postgres").
func (p PostgresConfig) Validate(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	if !strings.HasPrefix(p.InstanceClass, "db.") || strings.Count(p.InstanceClass, ".") != 2 {
		add("instanceClass", "%q is not an RDS instance class; use e.g. \"db.t4g.medium\" or \"db.m7g.large\"", p.InstanceClass)
	}
	if !majorVersion.MatchString(p.EngineVersion) {
		add("engineVersion", "%q is not a PostgreSQL major version with pgvector on RDS; use 15 or later, e.g. \"17\"", p.EngineVersion)
	}
	if p.AllocatedStorageGB < 20 || p.AllocatedStorageGB > 65536 {
		add("allocatedStorageGb", "is %d; gp3 takes 20 to 65536 GB", p.AllocatedStorageGB)
	}
	if p.BackupRetentionDays < 1 || p.BackupRetentionDays > 35 {
		add("backupRetentionDays", "is %d; RDS keeps automated backups 1 to 35 days (0 would turn them off)", p.BackupRetentionDays)
	}
	return errs
}

// RDSArgs are the instance's inputs.
type RDSArgs struct {
	// Config sizes the instance (plain: it shapes the plan).
	Config PostgresConfig `pulumi:"config"`
	// VpcID is the cluster's VPC; SubnetIDs its private subnets (two zones at least), where the
	// instance lives, unreachable from outside the VPC.
	VpcID     pulumi.StringInput      `pulumi:"vpcId"`
	SubnetIDs pulumi.StringArrayInput `pulumi:"subnetIds"`
	// NodeSecurityGroupID is the security group every node carries (the EKS cluster security
	// group): the only source the instance admits, on 5432. Pods use their node's.
	NodeSecurityGroupID pulumi.StringInput `pulumi:"nodeSecurityGroupId"`
	// Database and User are the database and the master login the instance gets for Open WebUI.
	Database string `pulumi:"database"`
	User     string `pulumi:"user"`
}

// RDS is the instance.
type RDS struct {
	pulumi.ResourceState
	// Host is the instance's DNS name (it resolves to a private address).
	Host pulumi.StringOutput `pulumi:"host"`
	// Password is User's password as applied (secret): generated once, then kept.
	Password pulumi.StringOutput `pulumi:"password"`
}

// NewRDS creates an RDS for PostgreSQL instance in the cluster's private subnets, admitting only
// the nodes, encrypted at rest, TLS required (rds.force_ssl), with automated backups and
// deletion protection. The master user is Open WebUI's (rds_superuser, so Open WebUI may create
// the vector extension). Declare it with EKS.RDS, which puts it on the component's provider
// (the stack's region and identity).
func NewRDS(ctx *pulumi.Context, name string, args RDSArgs, opts ...pulumi.ResourceOption) (*RDS, error) {
	r := &RDS{}
	if err := ctx.RegisterComponentResource(RDSType, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	cfg := args.Config
	sg, err := nodesOnly{
		VpcID: args.VpcID, NodeSecurityGroupID: args.NodeSecurityGroupID, Port: 5432,
		Group: "Open WebUI's PostgreSQL: the cluster's nodes only", Rule: "PostgreSQL from the EKS nodes",
	}.declare(ctx, name, parent)
	if err != nil {
		return nil, err
	}
	subnets, err := rds.NewSubnetGroup(ctx, name, &rds.SubnetGroupArgs{
		SubnetIds: args.SubnetIDs, Description: pulumi.String("Open WebUI's PostgreSQL: the cluster's private subnets"),
	}, parent)
	if err != nil {
		return nil, err
	}
	params, err := rds.NewParameterGroup(ctx, name, &rds.ParameterGroupArgs{
		Family:      pulumi.String("postgres" + cfg.EngineVersion),
		Description: pulumi.String("Open WebUI's PostgreSQL: TLS only"),
		// The server refuses unencrypted connections (the pods also ask for TLS: PGSSLMODE).
		Parameters: rds.ParameterGroupParameterArray{&rds.ParameterGroupParameterArgs{
			Name: pulumi.String("rds.force_ssl"), Value: pulumi.String("1"),
		}},
	}, parent)
	if err != nil {
		return nil, err
	}
	generated, err := genkey.Hex()
	if err != nil {
		return nil, err
	}
	instance, err := rds.NewInstance(ctx, name, &rds.InstanceArgs{
		Engine:                  pulumi.String("postgres"),
		EngineVersion:           pulumi.String(cfg.EngineVersion),
		InstanceClass:           pulumi.String(cfg.InstanceClass),
		AllocatedStorage:        pulumi.Int(cfg.AllocatedStorageGB),
		StorageType:             pulumi.String("gp3"),
		StorageEncrypted:        pulumi.Bool(true),
		DbName:                  pulumi.String(args.Database),
		Username:                pulumi.String(args.User),
		Password:                pulumi.ToSecret(pulumi.String(generated)).(pulumi.StringOutput),
		DbSubnetGroupName:       subnets.Name,
		VpcSecurityGroupIds:     pulumi.StringArray{sg.ID()},
		ParameterGroupName:      params.Name,
		PubliclyAccessible:      pulumi.Bool(false),
		MultiAz:                 pulumi.Bool(cfg.MultiAZ),
		BackupRetentionPeriod:   pulumi.Int(cfg.BackupRetentionDays),
		DeletionProtection:      pulumi.Bool(cfg.DeletionProtection),
		AutoMinorVersionUpgrade: pulumi.Bool(true),
		CopyTagsToSnapshot:      pulumi.Bool(true),
		// A last snapshot when the instance is deleted after all.
		SkipFinalSnapshot:       pulumi.Bool(false),
		FinalSnapshotIdentifier: pulumi.String(name + "-final"),
	}, parent,
		// A new password is generated on every run; only the first is applied, and Open
		// WebUI's URL is built from the output, the one applied.
		pulumi.IgnoreChanges([]string{"password"}))
	if err != nil {
		return nil, err
	}
	r.Host = instance.Address
	r.Password = pulumi.ToSecret(instance.Password.Elem()).(pulumi.StringOutput)
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"host": r.Host, "password": r.Password})
}

// RDS declares Open WebUI's RDS instance in this cluster's VPC and private subnets, admitting
// only its nodes, on the component's provider.
func (e *EKS) RDS(ctx *pulumi.Context, name string, cfg PostgresConfig, database, user string) (*RDS, error) {
	return NewRDS(ctx, name, RDSArgs{
		Config: cfg, VpcID: e.VpcID, SubnetIDs: e.PrivateSubnetIDs, NodeSecurityGroupID: e.NodeSecurityGroupID,
		Database: database, User: user,
	}, pulumi.Providers(e.provider))
}
