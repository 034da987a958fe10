package webui

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Config configures Open WebUI. Every field is plain Go: they become the container's
// environment, the claim's size and which objects exist, fixed at plan time. The JSON names are
// the stack config's `webui` keys.
type Config struct {
	Enabled         bool   `json:"enabled" pulumi:"enabled"`
	Image           string `json:"image" pulumi:"image"`
	StorageSize     string `json:"storageSize" pulumi:"storageSize"`
	StorageClass    string `json:"storageClass" pulumi:"storageClass,optional"`
	EnableSignup    bool   `json:"enableSignup" pulumi:"enableSignup"`
	DefaultUserRole string `json:"defaultUserRole" pulumi:"defaultUserRole"`
	TimeoutSeconds  int    `json:"timeoutSeconds" pulumi:"timeoutSeconds"`
	// AdminEmail and AdminName are the first account, created at Open WebUI's first start
	// with the password from the webuiAdminPassword secret (generated when unset). With
	// sign-up off nobody could create it otherwise.
	AdminEmail string `json:"adminEmail" pulumi:"adminEmail"`
	AdminName  string `json:"adminName" pulumi:"adminName"`
	// Replicas is how many Open WebUI pods serve; unset means 2 with PostgreSQL and 1 with
	// SQLite, which cannot be shared by more than one.
	Replicas *int `json:"replicas" pulumi:"replicas,optional"`
	// Database is where Open WebUI keeps users, chats, settings and vectors.
	Database DatabaseConfig `json:"database" pulumi:"database,optional"`
	// OIDC signs users in with the company's identity provider.
	OIDC OIDCConfig `json:"oidc" pulumi:"oidc,optional"`
}

// Roles a new sign-up may get (defaultUserRole).
var userRoles = []string{"pending", "user"}

// ReplicaCount is the number of pods: Replicas, or its default for the database.
func (c Config) ReplicaCount() int {
	switch {
	case c.Replicas != nil:
		return *c.Replicas
	case c.Database.PostgreSQL():
		return 2
	}
	return 1
}

// SharedData says the pods share one ReadWriteMany data volume: more than one replica (each
// reads the files the others' users uploaded).
func (c Config) SharedData() bool { return c.ReplicaCount() > 1 }

// Validate checks the settings, each problem prefixed with its key path under path ("webui").
func (c Config) Validate(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	if strings.TrimSpace(c.Image) == "" {
		add("image", "is empty; name the Open WebUI image, e.g. %q", "ghcr.io/open-webui/open-webui:v0.11.0")
	}
	if msg := quantityAtLeast(c.StorageSize, "1Gi"); msg != "" {
		add("storageSize", "%q %s", c.StorageSize, msg)
	}
	if !slices.Contains(userRoles, c.DefaultUserRole) {
		add("defaultUserRole", "%q is not allowed; use one of %s", c.DefaultUserRole, strings.Join(userRoles, ", "))
	} else if c.OIDC.RolesClaim != "" && c.DefaultUserRole != "pending" {
		// Open WebUI starts every provider sign-in at DEFAULT_USER_ROLE and maps the claim only
		// when the token carries it: identity providers leave the claim out for someone with no
		// role or group (Entra's roles, Keycloak's and Okta's groups), who would get this role.
		add("defaultUserRole", "is %q while oidc.rolesClaim maps roles: a token without the %q claim keeps the default role, "+
			"so anyone the provider accepts would be a %s; set it to \"pending\" (an admin approves them)", c.DefaultUserRole, c.OIDC.RolesClaim, c.DefaultUserRole)
	}
	if c.TimeoutSeconds < 1 {
		add("timeoutSeconds", "is %d; use a positive number of seconds (the UI's requests at the edge)", c.TimeoutSeconds)
	}
	if local, domain, ok := strings.Cut(c.AdminEmail, "@"); !ok || local == "" || domain == "" || strings.ContainsAny(c.AdminEmail, " \t\n") {
		add("adminEmail", "%q is not an email address; it is the first admin's login, e.g. \"admin@example.com\"", c.AdminEmail)
	}
	if strings.TrimSpace(c.AdminName) == "" {
		add("adminName", "is empty; it is the first admin's display name, e.g. \"Admin\"")
	}
	errs = append(errs, c.validateReplicas(path)...)
	errs = append(errs, c.Database.Validate(path+".database")...)
	return append(errs, c.OIDC.Validate(path+".oidc")...)
}

func (c Config) validateReplicas(path string) []error {
	n := c.ReplicaCount()
	switch {
	case n < 1:
		return []error{fmt.Errorf("%s.replicas: is %d; use 1 or more (leave it unset for 2 with PostgreSQL, 1 with SQLite)", path, n)}
	case n > 1 && !c.Database.PostgreSQL():
		return []error{fmt.Errorf("%s.replicas: is %d, but %s.database.kind is %q: SQLite lives in one file on one ReadWriteOnce volume, "+
			"and replicas sharing it fail with \"database is locked\"; set %s.database.kind to managed, in-cluster or external (PostgreSQL), or %s.replicas: 1",
			path, n, path, c.Database.Kind, path, path)}
	case n > 1 && c.StorageClass == "":
		return []error{fmt.Errorf("%s.storageClass: is empty, but %d replicas (%s.replicas) share one ReadWriteMany volume for the files users upload, "+
			"which the clouds' default (block storage) classes cannot provide; set it to a ReadWriteMany class (GKE: \"standard-rwx\" with the "+
			"Filestore CSI driver; EKS: an EFS CSI driver class; elsewhere: an NFS class), or set %s.replicas: 1", path, n, path, path)}
	}
	return nil
}

// quantityAtLeast is "" when value is a Kubernetes quantity of at least min, else why not.
func quantityAtLeast(value, min string) string {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return "is not a Kubernetes quantity; write it like \"10Gi\""
	}
	if q.Cmp(resource.MustParse(min)) < 0 {
		return "is too small; use at least " + min
	}
	return ""
}
