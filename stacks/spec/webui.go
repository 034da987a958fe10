package spec

import (
	"fmt"
	"reflect"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/webui"
)

// validateWebUI checks Open WebUI's settings (the component's own rules, webui.Config.Validate)
// and the rules that span components: a managed database is the cloud's (Cloud SQL, RDS),
// sized by gke.postgres / eks.postgres, and single sign-on needs the public address the edge
// serves.
func validateWebUI(p *problems, cfg *Config) {
	if !cfg.WebUI.Enabled {
		return
	}
	*p = append(*p, cfg.WebUI.Validate("webui")...)
	managed := cfg.WebUI.Database.Kind == webui.DatabaseManaged
	const kind = "webui.database.kind"
	checkCloudInstance(p, "gke.postgres", kind, cfg.GKE.Postgres, gke.DefaultPostgres(), managed && cfg.Cloud == CloudGKE, cfg.GKE.Postgres.Validate)
	checkCloudInstance(p, "eks.postgres", kind, cfg.EKS.Postgres, eks.DefaultPostgres(), managed && cfg.Cloud == CloudEKS, cfg.EKS.Postgres.Validate)
	if managed {
		switch {
		case cfg.Render.Dir != "":
			p.add("webui.database.kind", "is managed, but render.dir renders manifests without creating cloud resources, so there is no "+
				"instance to connect to; use in-cluster, or external with the URL in the secret webuiDatabaseUrl")
		case cfg.Cloud == CloudExisting:
			p.add("webui.database.kind", "is managed, which creates Cloud SQL (cloud gke) or RDS (cloud eks), but cloud is existing; "+
				"use in-cluster (a PostgreSQL the platform runs) or external (your server's URL in the secret webuiDatabaseUrl)")
		case cfg.Cloud == CloudGKE && !cfg.GKE.Cluster.Create:
			// Private services access is one peering per VPC: an adopted VPC may have it already,
			// and a second connection would replace its ranges.
			p.add("webui.database.kind", "is managed, but gke.cluster.create is false: the Cloud SQL instance needs a private services "+
				"access range in the cluster's VPC, which an adopted VPC may already have (another connection would replace its ranges); "+
				"create the instance yourself and use kind external with its URL in the secret webuiDatabaseUrl")
		case cfg.Cloud == CloudEKS && !cfg.EKS.Cluster.Create && len(cfg.EKS.Cluster.SubnetIDs) < 2:
			p.add("eks.cluster.subnetIds", "has %d subnet(s), but webui.database.kind managed puts RDS in them, which needs subnets in two "+
				"Availability Zones; list private subnets of two zones", len(cfg.EKS.Cluster.SubnetIDs))
		}
	}
	if cfg.WebUI.OIDC.Enabled() && (!cfg.Edge.Enabled || cfg.Edge.PublicURL() == "") {
		p.add("webui.oidc.issuerUrl", "turns single sign-on on, which needs Open WebUI's public address (the provider sends users back "+
			"to <address>%s): set edge.hosts to the UI's DNS name (and edge.tls.credentialName for https), with edge.enabled: true", webui.CallbackPath)
	}
}

// checkCloudInstance validates a cloud's instance settings when the stack creates the instance
// (kind, the key that asks for it, is managed on this cloud), and refuses them changed when it
// does not: they would do nothing.
func checkCloudInstance[T any](p *problems, path, kind string, got, def T, used bool, validate func(string) []error) {
	switch {
	case used:
		*p = append(*p, validate(path)...)
	case !reflect.DeepEqual(got, def):
		p.add(path, "is set, but it sizes the instance created only with %s managed on this cloud; remove it or set %s: managed", kind, kind)
	}
}

// checkWebUISecrets checks the UI's secrets against its config: the database URL (a secret:
// judged, never repeated) only with kind external, the OIDC client secret only with OIDC.
func checkWebUISecrets(cfg Config, s Secrets, databaseURL string) []error {
	if !cfg.WebUI.Enabled {
		return nil
	}
	var errs []error
	external := cfg.WebUI.Database.Kind == webui.DatabaseExternal
	switch {
	case external && !s.HasWebUIDatabaseURL:
		errs = append(errs, fmt.Errorf("%s: is not set, but webui.database.kind is external; set the server's URL with "+
			"`pulumi config set --secret %s postgresql://<user>:<password>@<host>:5432/<database>`", keyWebUIDatabaseURL, keyWebUIDatabaseURL))
	case !external && s.HasWebUIDatabaseURL:
		errs = append(errs, fmt.Errorf("%s: is set, but webui.database.kind is %q, which does not read it; set webui.database.kind: external or remove it (`pulumi config rm %s`)",
			keyWebUIDatabaseURL, cfg.WebUI.Database.Kind, keyWebUIDatabaseURL))
	case external:
		if msg := webui.CheckDatabaseURL(databaseURL); msg != "" {
			errs = append(errs, fmt.Errorf("%s: %s", keyWebUIDatabaseURL, msg))
		}
	}
	if err := cfg.WebUI.OIDC.CheckClientSecret("webui.oidc", keyWebUIOIDCClientSecret, s.HasWebUIOIDCClientSecret); err != nil {
		errs = append(errs, err)
	}
	return errs
}
