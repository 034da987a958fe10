package gke

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NodeRoles are the project roles of the node service account, and nothing
// more: nodes only ship logs and metrics, report their metadata and pull
// images. Workloads that call Google APIs get their own identity through
// Workload Identity, never the node's.
var NodeRoles = []string{
	// GKE's documented minimum for a node service account ("Grant the
	// minimum required role for GKE"): it bundles logging.logWriter,
	// monitoring.metricWriter, monitoring.viewer,
	// stackdriver.resourceMetadata.writer and the autoscaling metrics
	// writer, and follows GKE when it needs more.
	"roles/container.defaultNodeServiceAccount",
	// Pull private images from the project's Artifact Registry (a custom
	// vLLM build, a mirrored gateway image); public images need nothing.
	"roles/artifactregistry.reader",
}

// baseName names the project-wide objects of one cluster (service account,
// VPC, subnet, router, NAT). Service account ids and networks are unique per
// project, while cluster names are unique only per location, so the name
// carries a short hash of project, location and cluster name; it fits a
// service account id (6-30 characters, [a-z][-a-z0-9]*[a-z0-9]).
func baseName(project, location, cluster string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s/%s", project, location, cluster)
	suffix := fmt.Sprintf("%06x", h.Sum32()&0xffffff)
	prefix := cluster
	if len(prefix) > 30-len(suffix)-1 {
		prefix = prefix[:30-len(suffix)-1]
	}
	return strings.TrimRight(prefix, "-") + "-" + suffix
}

// nodeIdentity is the dedicated service account every node of the platform
// runs as, instead of the Compute Engine default service account (Editor on
// the project in many organisations).
type nodeIdentity struct {
	Email pulumi.StringOutput
	// Grants are the role bindings; pools depend on them so nodes never
	// boot without permission to write logs or pull images.
	Grants []pulumi.Resource
}

func newNodeIdentity(ctx *pulumi.Context, name, project, base, cluster string, opts ...pulumi.ResourceOption) (*nodeIdentity, error) {
	account, err := serviceaccount.NewAccount(ctx, name+"-nodes", &serviceaccount.AccountArgs{
		Project:     pulumi.String(project),
		AccountId:   pulumi.String(base),
		DisplayName: pulumi.String("GKE nodes of " + cluster),
		Description: pulumi.String("Node service account of the llm-platform GKE cluster " + cluster + ": logs, metrics, image pulls only."),
	}, opts...)
	if err != nil {
		return nil, err
	}
	// The email of a user-managed service account is fixed by its id; built
	// here it is known at preview, and it still depends on the account.
	email := pulumi.Sprintf("%s@%s.iam.gserviceaccount.com", account.AccountId, project)
	id := &nodeIdentity{Email: email}
	for _, role := range NodeRoles {
		grant, err := projects.NewIAMMember(ctx, name+"-nodes-"+strings.TrimPrefix(role, "roles/"), &projects.IAMMemberArgs{
			Project: pulumi.String(project),
			Role:    pulumi.String(role),
			Member:  pulumi.Sprintf("serviceAccount:%s", email),
		}, opts...)
		if err != nil {
			return nil, err
		}
		id.Grants = append(id.Grants, grant)
	}
	return id, nil
}
