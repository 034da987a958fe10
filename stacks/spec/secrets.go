package spec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Secret config keys. They are read only through the config package's
// secret getters, so their values are Pulumi secrets from the first moment.
const (
	keyHFToken        = "hfToken"
	keyGatewayAPIKeys = "gatewayApiKeys"
	keyWebUISecretKey = "webuiSecretKey"
	keyWebUIAdmin     = "webuiAdminPassword"
	// keyWebUIDatabaseURL is Open WebUI's PostgreSQL URL with webui.database.kind external.
	keyWebUIDatabaseURL = "webuiDatabaseUrl"
	// keyWebUIOIDCClientSecret is the identity provider's client secret with webui.oidc.
	keyWebUIOIDCClientSecret = "webuiOidcClientSecret"
)

// secretKeys are every secret config key; all are optional and default to empty.
var secretKeys = []string{keyHFToken, keyGatewayAPIKeys, keyWebUISecretKey, keyWebUIAdmin, keyWebUIDatabaseURL, keyWebUIOIDCClientSecret}

// Secrets are the stack's sensitive values. Each output is a Pulumi secret;
// the plain fields say only whether a value is present and how many keys
// there are, never the values.
type Secrets struct {
	HFToken        pulumi.StringOutput
	HasHFToken     bool
	GatewayAPIKeys pulumi.StringOutput // comma-separated
	NumAPIKeys     int
	WebUISecretKey pulumi.StringOutput
	HasWebUIKey    bool
	// WebUIAdminPassword is the first admin's password; without it one is generated.
	WebUIAdminPassword    pulumi.StringOutput
	HasWebUIAdminPassword bool
	// WebUIDatabaseURL is Open WebUI's PostgreSQL URL (webui.database.kind external).
	WebUIDatabaseURL    pulumi.StringOutput
	HasWebUIDatabaseURL bool
	// WebUIOIDCClientSecret is the identity provider's client secret (webui.oidc).
	WebUIOIDCClientSecret    pulumi.StringOutput
	HasWebUIOIDCClientSecret bool
}

func loadSecrets(ctx *pulumi.Context) (Secrets, error) {
	var s Secrets
	var errs []error
	for _, key := range secretKeys {
		if present(ctx, key) && !ctx.IsConfigSecret(ctx.Project()+":"+key) {
			errs = append(errs, fmt.Errorf("%s: is stored in plain text; remove it and set it again with `pulumi config set --secret %s ...`", key, key))
		}
	}
	// Pulumi.yaml defaults the optional secrets to empty: empty means unset.
	if tok, err := config.TrySecret(ctx, keyHFToken); err == nil && present(ctx, keyHFToken) {
		s.HFToken, s.HasHFToken = tok, true
	}
	if key, err := config.TrySecret(ctx, keyWebUISecretKey); err == nil && present(ctx, keyWebUISecretKey) {
		s.WebUISecretKey, s.HasWebUIKey = key, true
	}
	if pw, err := config.TrySecret(ctx, keyWebUIAdmin); err == nil && present(ctx, keyWebUIAdmin) {
		s.WebUIAdminPassword, s.HasWebUIAdminPassword = pw, true
	}
	if u, err := config.TrySecret(ctx, keyWebUIDatabaseURL); err == nil && present(ctx, keyWebUIDatabaseURL) {
		s.WebUIDatabaseURL, s.HasWebUIDatabaseURL = u, true
	}
	if cs, err := config.TrySecret(ctx, keyWebUIOIDCClientSecret); err == nil && present(ctx, keyWebUIOIDCClientSecret) {
		s.WebUIOIDCClientSecret, s.HasWebUIOIDCClientSecret = cs, true
	}
	var keys []string
	if _, err := config.TrySecretObject(ctx, keyGatewayAPIKeys, &keys); err == nil {
		for i, k := range keys {
			if k == "" || strings.ContainsAny(k, ", \t\r\n") {
				errs = append(errs, fmt.Errorf("%s[%d]: a key must be non-empty and contain no commas or whitespace; generate one with `openssl rand -hex 32`", keyGatewayAPIKeys, i))
			}
		}
		s.NumAPIKeys = len(keys)
		s.GatewayAPIKeys = pulumi.ToSecret(pulumi.String(strings.Join(keys, ","))).(pulumi.StringOutput)
	} else if !errors.Is(err, config.ErrMissingVar) {
		errs = append(errs, fmt.Errorf("%s: must be a JSON list of strings, set with `pulumi config set --secret %s '[\"<key>\"]'`", keyGatewayAPIKeys, keyGatewayAPIKeys))
	}
	return s, errors.Join(errs...)
}

// present reports whether a config key is set to something non-empty,
// without reading a secret through a non-secret getter.
func present(ctx *pulumi.Context, key string) bool {
	v, ok := ctx.GetConfig(ctx.Project() + ":" + key)
	return ok && v != "" && v != "[]"
}
