package gateway

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// Keys of the keys Secret (files under keysDir) and of the client key's Secret.
const (
	// KeysFileKey is the API keys file: {"<tenant>": ["<key>", ...]}.
	KeysFileKey = "keys.json"
	// RedisPasswordKey is the limits' Redis password.
	RedisPasswordKey = "redis-password"
	// DefaultTenant names the keys of Args.APIKeys.
	DefaultTenant = "default"
)

// Limits is where the tenants' limits are counted.
type Limits struct {
	// Address is host:port of the Redis-compatible server; it may be another resource's output
	// (a managed Redis's endpoint): the router's files are then rendered once it is known.
	Address pulumi.StringInput `pulumi:"address"`
	// Password is its password (secret); nil for none.
	Password pulumi.StringInput `pulumi:"password,optional"`
	// FailClosed answers 503 while Redis is unreachable; false: each pod enforces its share.
	FailClosed bool `pulumi:"failClosed,optional"`
	// KeyPrefix starts every key the gateway keeps in Redis; gateways sharing one Redis count
	// together only when they share it. Letters, digits and . _ - : / (default "llm:").
	KeyPrefix string `pulumi:"keyPrefix,optional"`
	// TLS, when set, speaks TLS to Redis and verifies its certificate: a managed Redis with
	// in-transit encryption (ElastiCache with an auth token requires it).
	TLS *RedisTLS `pulumi:"tls,optional"`
}

// RedisTLS says which certificate the gateway accepts from Redis.
type RedisTLS struct {
	// CACert is the PEM of the CAs to trust (not secret: it goes into the ConfigMap); it may be
	// another resource's output (Memorystore's server CA). Empty: the public CAs of the
	// gateway's image.
	CACert pulumi.StringInput `pulumi:"caCert,optional"`
	// ServerName is the name the certificate must carry; empty: the host of Address (an IP
	// works for a certificate whose common name is that IP).
	ServerName string `pulumi:"serverName,optional"`
}

func (a Args) authenticates() bool { return a.APIKeys != nil || a.TenantKeys != nil }

// tenancy fills the tenants' part of the router's params.
func (a Args) tenancy(p *nginx.Params) error {
	p.Tenants, p.Prices = a.Tenants, a.Prices
	if a.authenticates() {
		p.KeysFile = keysDir + "/" + KeysFileKey
	}
	if !p.HasLimits() {
		return nil
	}
	if a.Limits == nil {
		return fmt.Errorf("a tenant has limits: the gateway needs the Redis to count them in")
	}
	// An address or CA that is another resource's output is not known yet: the files are
	// checked with a stand-in now and rendered with the real values later (renderFiles).
	address := known(a.Limits.Address, pendingRedis)
	p.Limits = nginx.Limits{Redis: address, FailClosed: a.Limits.FailClosed, KeyPrefix: a.Limits.KeyPrefix}
	if t := a.Limits.TLS; t != nil {
		ca := known(t.CACert, "")
		p.Limits.TLS = &nginx.RedisTLS{CACert: ca, ServerName: t.ServerName}
	}
	if a.Limits.Password != nil {
		p.Limits.PasswordFile = keysDir + "/" + RedisPasswordKey
	}
	return nil
}

// declareKeys declares the keys Secret (the keys file, and the Redis password) mounted read-only
// at keysDir, and the client key's Secret; nothing without keys. The keys never reach the
// environment, the ConfigMap or the logs.
func (g *Gateway) declareKeys(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string,
	parent pulumi.ResourceOption) (corev1.VolumeArray, corev1.VolumeMountArray, error) {
	data := pulumi.StringMap{}
	if args.Limits != nil && args.Limits.Password != nil {
		data[RedisPasswordKey] = pulumi.ToSecret(args.Limits.Password).(pulumi.StringOutput)
	}
	if args.authenticates() {
		var client pulumi.StringInput = pulumi.String("")
		if args.ClientTenant != "" {
			var err error
			g.ClientKeySecret, err = kube.KeptSecret(ctx, name+"-client-key", kube.Meta(objName+"-client-key", args.Namespace, labels), ClientKeyKey, nil, parent)
			if err != nil {
				return nil, nil, err
			}
			client = kube.StoredValue(g.ClientKeySecret, ClientKeyKey)
		}
		data[KeysFileKey] = pulumi.ToSecret(pulumi.All(args.APIKeys, args.TenantKeys, client).ApplyT(func(v []any) (string, error) {
			return keysFile(v[0], v[1], v[2].(string), args.ClientTenant)
		})).(pulumi.StringOutput)
	}
	if len(data) == 0 {
		return nil, nil, nil
	}
	var err error
	g.KeysSecret, err = corev1.NewSecret(ctx, name+"-keys", &corev1.SecretArgs{
		Metadata: kube.Meta(objName+"-keys", args.Namespace, labels), Type: pulumi.String("Opaque"), StringData: data,
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	volumes := corev1.VolumeArray{&corev1.VolumeArgs{Name: pulumi.String("keys"), Secret: &corev1.SecretVolumeSourceArgs{
		SecretName: g.KeysSecret.Metadata.Name().Elem(), DefaultMode: pulumi.Int(0o440),
	}}}
	// A directory, not subPath: a rotated key reaches the running pods (router rereads it).
	mounts := corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("keys"), MountPath: pulumi.String(keysDir), ReadOnly: pulumi.Bool(true)}}
	return volumes, mounts, nil
}

// keysFile is the JSON the router reads: the default keys (comma-separated), the tenants'
// (JSON), and the client tenant's generated key.
func keysFile(defaultKeys, tenantKeys any, clientKey, clientTenant string) (string, error) {
	out := map[string][]string{}
	if s, ok := defaultKeys.(string); ok && s != "" {
		out[DefaultTenant] = strings.Split(s, ",")
	}
	if s, ok := tenantKeys.(string); ok && s != "" {
		byTenant := map[string][]string{}
		if err := json.Unmarshal([]byte(s), &byTenant); err != nil {
			return "", fmt.Errorf("gateway: tenant keys are not a JSON object of tenant -> keys")
		}
		for t, k := range byTenant {
			out[t] = append(out[t], k...)
		}
	}
	if clientTenant != "" && clientKey != "" {
		out[clientTenant] = append(out[clientTenant], clientKey)
	}
	b, err := json.Marshal(out)
	return string(b), err
}
