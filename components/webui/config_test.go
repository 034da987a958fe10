package webui_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

func defaults() webui.Config { return spec.Defaults().WebUI }

// TestReplicaDefaults: two replicas with PostgreSQL, one with SQLite, unless set.
func TestReplicaDefaults(t *testing.T) {
	c := defaults()
	assert.Equal(t, 1, c.ReplicaCount(), "SQLite: one")
	c.Database.Kind = webui.DatabaseManaged
	assert.Equal(t, 2, c.ReplicaCount(), "PostgreSQL: two")
	three := 3
	c.Replicas = &three
	assert.Equal(t, 3, c.ReplicaCount())
}

// TestValidateNamesTheKey: every rule of the UI's settings, each refused by its key path with a
// fix; the defaults pass.
func TestValidateNamesTheKey(t *testing.T) {
	require.Empty(t, defaults().Validate("webui"), "the defaults are valid")
	two, zero := 2, 0
	cases := map[string]struct {
		edit func(*webui.Config)
		want string
	}{
		"replicas with SQLite": {func(c *webui.Config) { c.Replicas = &two; c.StorageClass = "nfs" },
			`webui.replicas: is 2, but webui.database.kind is "sqlite"`},
		"no replicas": {func(c *webui.Config) { c.Replicas = &zero }, "webui.replicas: is 0"},
		"shared uploads without a class": {func(c *webui.Config) { c.Database.Kind = webui.DatabaseManaged },
			"webui.storageClass: is empty, but 2 replicas"},
		"unknown kind":    {func(c *webui.Config) { c.Database.Kind = "mysql" }, `webui.database.kind: "mysql" is not allowed`},
		"unused sizing":   {func(c *webui.Config) { c.Database.InCluster.StorageSize = "50Gi" }, "webui.database.inCluster: is set, but webui.database.kind is \"sqlite\""},
		"bad schedule":    {func(c *webui.Config) { inCluster(c); c.Database.InCluster.Backup.Schedule = "daily" }, "webui.database.inCluster.backup.schedule"},
		"no dumps kept":   {func(c *webui.Config) { inCluster(c); c.Database.InCluster.Backup.Keep = 0 }, "webui.database.inCluster.backup.keep: is 0"},
		"tiny database":   {func(c *webui.Config) { inCluster(c); c.Database.InCluster.StorageSize = "100Mi" }, "webui.database.inCluster.storageSize"},
		"http issuer":     {func(c *webui.Config) { sso(c); c.OIDC.IssuerURL = "http://idp.example.com" }, "webui.oidc.issuerUrl: \"http://idp.example.com\" is not an https issuer URL"},
		"no client id":    {func(c *webui.Config) { sso(c); c.OIDC.ClientID = "" }, "webui.oidc.clientId: is empty"},
		"no email scope":  {func(c *webui.Config) { sso(c); c.OIDC.Scopes = "openid profile" }, "webui.oidc.scopes"},
		"bad domain":      {func(c *webui.Config) { sso(c); c.OIDC.AllowedDomains = []string{"example..com"} }, "webui.oidc.allowedDomains[0]"},
		"roles no claim":  {func(c *webui.Config) { sso(c); c.OIDC.AdminRoles = []string{"a"} }, "webui.oidc.rolesClaim: is empty, so adminRoles and userRoles do nothing"},
		"claim no admins": {func(c *webui.Config) { sso(c); c.OIDC.RolesClaim = "groups"; c.OIDC.UserRoles = []string{"u"} }, "webui.oidc.adminRoles: is empty"},
		"role with comma": {func(c *webui.Config) {
			sso(c)
			c.OIDC.RolesClaim, c.OIDC.AdminRoles, c.OIDC.UserRoles = "groups", []string{"a,b"}, []string{"u"}
		}, "webui.oidc.adminRoles[0]"},
		"oidc settings while off": {func(c *webui.Config) { c.OIDC.ClientID = "id" }, "webui.oidc.issuerUrl: is empty, so single sign-on is off"},
		"bad admin email":         {func(c *webui.Config) { c.AdminEmail = "admin" }, "webui.adminEmail"},
		"bad role":                {func(c *webui.Config) { c.DefaultUserRole = "admin" }, "webui.defaultUserRole"},
		"user role beside a roles claim": {func(c *webui.Config) {
			sso(c)
			c.OIDC.RolesClaim, c.OIDC.AdminRoles, c.OIDC.UserRoles = "groups", []string{"a"}, []string{"u"}
			c.DefaultUserRole = "user"
		}, "webui.defaultUserRole: is \"user\" while oidc.rolesClaim maps roles"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := defaults()
			tc.edit(&c)
			errs := c.Validate("webui")
			require.NotEmpty(t, errs)
			assert.Contains(t, errors.Join(errs...).Error(), tc.want)
		})
	}
}

func inCluster(c *webui.Config) { c.Database.Kind = webui.DatabaseInCluster; c.StorageClass = "nfs" }

func sso(c *webui.Config) {
	c.OIDC.IssuerURL, c.OIDC.ClientID = "https://accounts.google.com", "client-id"
}

// TestDatabaseURLCheck: what passes for a PostgreSQL URL, and that the message never repeats
// the URL (it holds a password).
func TestDatabaseURLCheck(t *testing.T) {
	assert.Empty(t, webui.CheckDatabaseURL("postgresql://u:p%40ss@db.example.com:5432/openwebui"))
	assert.Empty(t, webui.CheckDatabaseURL("postgres://u:p@10.0.0.5/openwebui"))
	for raw, want := range map[string]string{
		"sqlite:////app/backend/data/webui.db":       `"sqlite" URL, not PostgreSQL`,
		"mysql://root:hunter2@db:3306/webui":         `"mysql" URL`,
		"postgresql+asyncpg://u:hunter2@db/webui":    `"postgresql+asyncpg" URL`,
		"postgresql://u:hunter2@/webui":              "names no host",
		"postgresql://db.example.com:5432/webui":     "names no user",
		"postgresql://u:hunter2@db.example.com:5432": "names no database",
		"postgresql://u:hunter2@db:port/x":           "is not a URL",
	} {
		msg := webui.CheckDatabaseURL(raw)
		assert.Contains(t, msg, want, raw)
		assert.NotContains(t, msg, "hunter2", "the password is never repeated")
	}
}

// TestOIDCDiscoveryURL: Open WebUI wants the discovery document; an issuer gets its path added,
// a discovery URL is kept.
func TestOIDCDiscoveryURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://accounts.google.com":                                               "https://accounts.google.com/.well-known/openid-configuration",
		"https://kc.example.com/realms/corp/":                                       "https://kc.example.com/realms/corp/.well-known/openid-configuration",
		"https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration": "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration",
	} {
		assert.Equal(t, want, webui.OIDCConfig{IssuerURL: in}.DiscoveryURL(), in)
	}
}
