package webui

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"
)

// OIDCConfig signs users in through an OpenID Connect identity provider (Google, Okta, Entra ID,
// Keycloak, ...). Off while IssuerURL is empty. The client secret is a Pulumi secret of its own
// (Args.OIDCClientSecret; the stack's webuiOidcClientSecret).
type OIDCConfig struct {
	// IssuerURL is the provider's issuer (https://accounts.google.com,
	// https://login.microsoftonline.com/<tenant>/v2.0, https://<keycloak>/realms/<realm>), or its
	// discovery document's URL (…/.well-known/openid-configuration). Empty turns OIDC off.
	IssuerURL string `json:"issuerUrl" pulumi:"issuerUrl,optional"`
	// ClientID is the client (application) id registered with the provider.
	ClientID string `json:"clientId" pulumi:"clientId,optional"`
	// ProviderName labels the sign-in button ("Continue with <name>").
	ProviderName string `json:"providerName" pulumi:"providerName,optional"`
	// Scopes are requested at sign-in; openid and email are required.
	Scopes string `json:"scopes" pulumi:"scopes,optional"`
	// AllowedDomains are the email domains that may sign in (empty: any the provider vouches for).
	AllowedDomains []string `json:"allowedDomains" pulumi:"allowedDomains,optional"`
	// RolesClaim is the token claim whose values map to Open WebUI's roles (e.g. "roles",
	// "groups"); empty leaves roles to Open WebUI (new users get defaultUserRole).
	RolesClaim string `json:"rolesClaim" pulumi:"rolesClaim,optional"`
	// AdminRoles are the claim values that make an admin (with RolesClaim).
	AdminRoles []string `json:"adminRoles" pulumi:"adminRoles,optional"`
	// UserRoles are the claim values that make a user (with RolesClaim). A token whose claim
	// holds none of these or AdminRoles is refused; a token without the claim keeps
	// defaultUserRole, which must then be pending (Config.Validate).
	UserRoles []string `json:"userRoles" pulumi:"userRoles,optional"`
	// LocalLogin keeps the email and password form (the first admin's account; a way in when
	// the provider is down).
	LocalLogin bool `json:"localLogin" pulumi:"localLogin,optional"`
	// MergeAccountsByEmail lets a provider sign-in take over the local account with the same
	// email. Open WebUI calls it unsafe: only where the provider verifies every email.
	MergeAccountsByEmail bool `json:"mergeAccountsByEmail" pulumi:"mergeAccountsByEmail,optional"`
}

// DefaultOIDC is OIDC's defaults (off).
func DefaultOIDC() OIDCConfig {
	return OIDCConfig{ProviderName: "SSO", Scopes: "openid email profile", LocalLogin: true}
}

// Enabled says the UI signs users in through the provider.
func (o OIDCConfig) Enabled() bool { return o.IssuerURL != "" }

// discoveryPath is where an issuer publishes its configuration (OpenID Connect Discovery 1.0).
const discoveryPath = "/.well-known/openid-configuration"

// DiscoveryURL is OPENID_PROVIDER_URL: Open WebUI wants the discovery document, not the issuer.
func (o OIDCConfig) DiscoveryURL() string {
	if strings.HasSuffix(o.IssuerURL, discoveryPath) {
		return o.IssuerURL
	}
	return strings.TrimSuffix(o.IssuerURL, "/") + discoveryPath
}

// CheckClientSecret refuses OIDC without its client secret, and a client secret without OIDC (it
// would do nothing). key names the secret input (the stack's webuiOidcClientSecret, the
// component's oidcClientSecret), path the OIDC settings ("webui.oidc").
func (o OIDCConfig) CheckClientSecret(path, key string, has bool) error {
	switch {
	case o.Enabled() && !has:
		return fmt.Errorf("%s: is not set, but %s.issuerUrl turns single sign-on on; set the client secret the provider issued "+
			"(in a stack: `pulumi config set --secret %s <secret>`)", key, path, key)
	case !o.Enabled() && has:
		return fmt.Errorf("%s: is set, but %s.issuerUrl is empty, so single sign-on is off; set the issuer or remove the secret", key, path)
	}
	return nil
}

// CallbackPath is Open WebUI's redirect URI's path: register <public URL><CallbackPath> with
// the provider.
const CallbackPath = "/oauth/oidc/callback"

// Validate checks the OIDC settings under path ("webui.oidc"). The client secret is a secret of
// its own; CheckSecrets judges it.
func (o OIDCConfig) Validate(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	if !o.Enabled() {
		if o.ClientID != "" || o.RolesClaim != "" || len(o.AllowedDomains) > 0 {
			add("issuerUrl", "is empty, so single sign-on is off and the other %s settings do nothing; set the provider's issuer URL or remove them", path)
		}
		return errs
	}
	if u, err := url.Parse(o.IssuerURL); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
		add("issuerUrl", "%q is not an https issuer URL; use the provider's issuer, e.g. \"https://accounts.google.com\"", o.IssuerURL)
	}
	if strings.TrimSpace(o.ClientID) == "" {
		add("clientId", "is empty; use the client id the provider issued for Open WebUI")
	}
	if scopes := strings.Fields(o.Scopes); !slices.Contains(scopes, "openid") || !slices.Contains(scopes, "email") {
		add("scopes", "%q lacks openid or email, which Open WebUI needs; e.g. \"openid email profile\"", o.Scopes)
	}
	for i, d := range o.AllowedDomains {
		if errs := validation.IsDNS1123Subdomain(strings.ToLower(d)); len(errs) > 0 {
			add(fmt.Sprintf("allowedDomains[%d]", i), "%q is not an email domain, e.g. \"example.com\"", d)
		}
	}
	return append(errs, o.validateRoles(path)...)
}

func (o OIDCConfig) validateRoles(path string) []error {
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, key, fmt.Sprintf(format, a...)))
	}
	if o.RolesClaim == "" {
		if len(o.AdminRoles) > 0 || len(o.UserRoles) > 0 {
			add("rolesClaim", "is empty, so adminRoles and userRoles do nothing; name the claim that carries them (e.g. \"roles\" or \"groups\")")
		}
		return errs
	}
	if len(o.AdminRoles) == 0 {
		add("adminRoles", "is empty; list the %s values that make an admin (e.g. [\"llm-admins\"])", o.RolesClaim)
	}
	if len(o.UserRoles) == 0 {
		add("userRoles", "is empty, so nobody but admins could sign in; list the %s values that make a user (e.g. [\"llm-users\"])", o.RolesClaim)
	}
	for key, roles := range map[string][]string{"adminRoles": o.AdminRoles, "userRoles": o.UserRoles} {
		for i, r := range roles {
			// Open WebUI splits these lists on commas (OAUTH_ROLES_SEPARATOR).
			if strings.TrimSpace(r) == "" || strings.Contains(r, ",") {
				add(fmt.Sprintf("%s[%d]", key, i), "%q is empty or has a comma; name one role per entry", r)
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// oidcEnv is Open WebUI's OIDC environment (names as in its env-configuration reference at
// v0.11.0; all are persistent config, which ENABLE_PERSISTENT_CONFIG=False keeps in step with
// the stack). The client secret comes from the Secret secretName.
func oidcEnv(o OIDCConfig, publicURL string, secretName pulumi.StringInput) corev1.EnvVarArray {
	if !o.Enabled() {
		return nil
	}
	vars := corev1.EnvVarArray{
		plainEnv("WEBUI_URL", publicURL),
		plainEnv("ENABLE_OAUTH_SIGNUP", "True"), // new users arrive through the provider
		plainEnv("OPENID_PROVIDER_URL", o.DiscoveryURL()),
		plainEnv("OPENID_REDIRECT_URI", strings.TrimSuffix(publicURL, "/")+CallbackPath),
		plainEnv("OAUTH_CLIENT_ID", o.ClientID),
		secretEnv("OAUTH_CLIENT_SECRET", secretName, oidcSecretKey),
		plainEnv("OAUTH_PROVIDER_NAME", o.ProviderName),
		plainEnv("OAUTH_SCOPES", o.Scopes),
		plainEnv("OAUTH_ALLOWED_DOMAINS", allowedDomains(o.AllowedDomains)),
		plainEnv("OAUTH_MERGE_ACCOUNTS_BY_EMAIL", pyBool(o.MergeAccountsByEmail)),
		plainEnv("ENABLE_LOGIN_FORM", pyBool(o.LocalLogin)),
		plainEnv("ENABLE_OAUTH_ROLE_MANAGEMENT", pyBool(o.RolesClaim != "")),
	}
	if o.RolesClaim != "" {
		allowed := slices.Concat(o.UserRoles, o.AdminRoles)
		vars = append(vars,
			plainEnv("OAUTH_ROLES_CLAIM", o.RolesClaim),
			plainEnv("OAUTH_ADMIN_ROLES", strings.Join(o.AdminRoles, ",")),
			plainEnv("OAUTH_ALLOWED_ROLES", strings.Join(allowed, ",")),
		)
	}
	return vars
}

// allowedDomains is OAUTH_ALLOWED_DOMAINS: comma-separated, "*" for any.
func allowedDomains(domains []string) string {
	if len(domains) == 0 {
		return "*"
	}
	return strings.Join(domains, ",")
}
