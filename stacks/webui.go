package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// webUIDatabaseName is the Pulumi name of the cloud's PostgreSQL instance for Open WebUI.
const webUIDatabaseName = "webui-database"

// managedDatabase creates Open WebUI's PostgreSQL on the stack's cloud when webui.database.kind
// is managed (Cloud SQL in the GKE cluster's VPC, RDS in the EKS cluster's private subnets) and
// returns its URL (secret); zero otherwise. The URL is built from the password the instance
// keeps, so it stays right across runs.
func managedDatabase(ctx *pulumi.Context, cfg spec.Config, g *gke.GKE, e *eks.EKS) (pulumi.StringOutput, error) {
	if !cfg.WebUI.Enabled || cfg.WebUI.Database.Kind != webui.DatabaseManaged {
		return pulumi.StringOutput{}, nil
	}
	var host, password pulumi.StringOutput
	switch {
	case g != nil:
		db, err := gke.NewCloudSQL(ctx, webUIDatabaseName, gke.CloudSQLArgs{
			Config: cfg.GKE.Postgres, Project: cfg.GKE.Project, Region: cfg.GKE.Region, Network: g.Network,
			Database: webui.PostgresDatabase, User: webui.PostgresRole,
		})
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		host, password = db.Host, db.Password
	case e != nil:
		db, err := e.RDS(ctx, webUIDatabaseName, cfg.EKS.Postgres, webui.PostgresDatabase, webui.PostgresRole)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		host, password = db.Host, db.Password
	default:
		return pulumi.StringOutput{}, nil
	}
	return webui.PostgresURL(host, webui.PostgresPort, webui.PostgresRole, password, webui.PostgresDatabase), nil
}

// webUIArgs maps the stack's config onto Open WebUI's Args.
func webUIArgs(cfg spec.Config, secrets spec.Secrets, cloud CloudAddOns, gw *gateway.Gateway, defaultModel string) webui.Args {
	args := webui.Args{
		Name:         webui.DefaultName,
		Config:       cfg.WebUI,
		Namespace:    cfg.Namespace,
		GatewayURL:   pulumi.String(gw.PlainURL),
		DefaultModel: pulumi.String(defaultModel),
	}
	if gw.ClientKeySecret != nil {
		// Open WebUI is a tenant of its own (tenancy.tenants may name "open-webui").
		args.GatewayKeySecret, args.GatewayKeyKey = gw.ClientKeySecret.Metadata.Name().Elem(), gateway.ClientKeyKey
	}
	if secrets.HasWebUIKey {
		args.SecretKey = secrets.WebUISecretKey
	}
	if secrets.HasWebUIAdminPassword {
		args.AdminPassword = secrets.WebUIAdminPassword
	}
	switch cfg.WebUI.Database.Kind {
	case webui.DatabaseManaged:
		// The clouds' instances refuse unencrypted connections (Cloud SQL ENCRYPTED_ONLY, RDS
		// rds.force_ssl): the pods ask for TLS too.
		args.DatabaseURL, args.DatabaseTLS = cloud.WebUIDatabaseURL, true
	case webui.DatabaseExternal:
		args.DatabaseURL = secrets.WebUIDatabaseURL
	}
	if secrets.HasWebUIOIDCClientSecret {
		args.OIDCClientSecret = secrets.WebUIOIDCClientSecret
	}
	if cfg.Edge.Enabled {
		args.PublicURL = cfg.Edge.PublicURL()
	}
	return args
}
