package stacks

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/tenants"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/testca"
)

const tenancyConfig = `{"tenants":[
  {"name":"team-a","models":["qwen3-8b"],"limits":{"requestsPerMinute":600,"tokensPerMinute":100000},"budgets":[{"tokens":5000000,"period":"month"}]},
  {"name":"open-webui","limits":{"requestsPerMinute":300}}],
 "prices":{"qwen3-8b":{"prompt":0.1,"completion":0.4}}}`

// TestTenancyDeclared: tenants with keys (secret config) become the gateway's keys file (only in
// its Secret), their policies its rendered Lua; a limit brings the in-cluster Redis that only
// the gateway and Open WebUI reach, whose password reaches the gateway as a file.
func TestTenancyDeclared(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"models": twoModels, "tenancy": tenancyConfig,
		"gatewayApiKeys": `["sk-default-1"]`, "gatewayTenantKeys": `{"team-a":["sk-team-a-1","sk-team-a-2"]}`,
	}, "gatewayApiKeys", "gatewayTenantKeys")
	require.NoError(t, err)
	keys := pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "gateway-keys")
	var file map[string][]string
	require.NoError(t, json.Unmarshal([]byte(keys.StringData[gateway.KeysFileKey]), &file))
	assert.Equal(t, []string{"sk-team-a-1", "sk-team-a-2"}, file["team-a"])
	assert.Equal(t, []string{"sk-default-1"}, file["default"])
	assert.Len(t, file["open-webui"], 1, "Open WebUI is a tenant of its own")
	for _, k := range []string{"sk-default-1", "sk-team-a-1", "sk-team-a-2", file["open-webui"][0]} {
		pulumimock.AssertOnlyInSecrets(t, m, k)
	}
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	// The in-cluster Redis is the stack's own: the keys it had before key prefixes.
	assert.Contains(t, cm.Data[nginx.TenantsFile], `key = "llm:rl:team-a:requests:minute:*"`)
	assert.Contains(t, cm.Data[nginx.TenantsFile], `key = "llm:rl:open-webui:requests:minute:*"`)
	assert.Contains(t, cm.Data[nginx.TenantsFile], `key = "llm:rl:team-a:tokens:month:*"`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `local PODS = "llm:gw:pods"`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `local HOST, PORT = "llm-redis.llm.svc.cluster.local", 6379`)

	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, "kubernetes:apps/v1:StatefulSet", "redis")
	assert.Equal(t, "llm-redis", sts.Name)
	policy := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "redis")
	var from []string
	for _, p := range policy.Spec.Ingress[0].From {
		from = append(from, p.PodSelector.MatchLabels["app.kubernetes.io/name"])
	}
	assert.ElementsMatch(t, []string{"llm-gateway", "open-webui"}, from)
	password := pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "redis").StringData["password"]
	assert.Equal(t, password, keys.StringData[gateway.RedisPasswordKey])
	pulumimock.AssertOnlyInSecrets(t, m, password)
}

// TestTenancyKeyPrefix: an external Redis may be shared by stacks, so their keys start with the
// stack's own prefix; stacks that should share their tenants' limits name one
// tenancy.redis.keyPrefix (and "llm:" keeps the keys of before the prefixes).
func TestTenancyKeyPrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"":            tenants.StackKeyPrefix(pulumimock.Project, pulumimock.Stack),
		"llm:shared:": "llm:shared:",
		"llm:":        "llm:",
	} {
		redis := `{"kind":"external","address":"redis.example:6379","keyPrefix":` + strconv.Quote(prefix) + `}`
		m, _, err := run(t, map[string]string{"models": twoModels, "webui": `{"enabled":false}`,
			"tenancy":           `{"tenants":[{"name":"team-a","limits":{"requestsPerMinute":60}}],"redis":` + redis + `}`,
			"gatewayTenantKeys": `{"team-a":["k1"]}`, "gatewayRedisPassword": "pw"}, "gatewayTenantKeys", "gatewayRedisPassword")
		require.NoError(t, err)
		cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
		assert.Contains(t, cm.Data[nginx.TenantsFile], `key = "`+want+`rl:team-a:requests:minute:*"`, "keyPrefix %q", prefix)
		assert.Contains(t, cm.Data[nginx.LimitsFile], `local PODS = "`+want+`gw:pods"`, "keyPrefix %q", prefix)
	}
	assert.Equal(t, "llm:"+pulumimock.Project+"/"+pulumimock.Stack+":", tenants.StackKeyPrefix(pulumimock.Project, pulumimock.Stack))
}

// TestTenancyExternalRedisOverTLS: an external Redis with in-transit encryption (Memorystore's
// private IP with its server CA, or ElastiCache's name with the public CAs): the gateway
// verifies its certificate, the CA is a file of the gateway's ConfigMap, and the password stays
// in the keys Secret.
func TestTenancyExternalRedisOverTLS(t *testing.T) {
	ca := testca.New(t, "test CA").PEM
	for _, tc := range []struct {
		name, redis, wantCA, wantName string
	}{
		{"memorystore", `{"kind":"external","address":"10.12.0.3:6378","tls":{"enabled":true,"caCert":` + strconv.Quote(ca) + `}}`,
			"/etc/llm-gateway/" + nginx.RedisCAFile, "10.12.0.3"},
		{"elasticache", `{"kind":"external","address":"master.llm.abc123.use1.cache.amazonaws.com:6379","tls":{"enabled":true}}`,
			nginx.SystemCAFile, "master.llm.abc123.use1.cache.amazonaws.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, err := run(t, map[string]string{"models": twoModels, "webui": `{"enabled":false}`,
				"tenancy":           `{"tenants":[{"name":"team-a","limits":{"requestsPerMinute":60}}],"redis":` + tc.redis + `}`,
				"gatewayTenantKeys": `{"team-a":["k1"]}`, "gatewayRedisPassword": "redis-pw-1"}, "gatewayTenantKeys", "gatewayRedisPassword")
			require.NoError(t, err)
			cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
			assert.Contains(t, cm.Data[nginx.ConfigFile], "lua_ssl_trusted_certificate "+tc.wantCA+";")
			assert.Contains(t, cm.Data[nginx.LimitsFile], `tls = true, server_name = "`+tc.wantName+`",`)
			if tc.wantCA == nginx.SystemCAFile {
				assert.NotContains(t, cm.Data, nginx.RedisCAFile)
			} else {
				assert.Equal(t, ca, cm.Data[nginx.RedisCAFile])
			}
			pulumimock.AssertOnlyInSecrets(t, m, "redis-pw-1")
		})
	}
}

// TestTenancyWithoutLimitsDeclaresNoRedis: allow-lists alone need no shared counters.
func TestTenancyWithoutLimitsDeclaresNoRedis(t *testing.T) {
	m, _, err := run(t, map[string]string{"models": twoModels, "webui": `{"enabled":false}`,
		"tenancy": `{"tenants":[{"name":"team-a","models":["qwen3-8b"]}]}`, "gatewayTenantKeys": `{"team-a":["k1"]}`}, "gatewayTenantKeys")
	require.NoError(t, err)
	for _, r := range m.ByType("kubernetes:apps/v1:StatefulSet") {
		assert.NotEqual(t, "redis", r.Name, "no Redis without limits")
	}
}

// TestTenantKeysRefused: a key shared by two tenants (or with gatewayApiKeys), a tenant without
// keys and keys for a reserved tenant are refused by key path, never quoting the key, before
// anything is declared.
func TestTenantKeysRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   string
	}{
		{"shared by two tenants", map[string]string{"gatewayTenantKeys": `{"a":["k1"],"b":["k2","k1"]}`}, "gatewayTenantKeys.b[1]: the same key as gatewayTenantKeys.a[0]"},
		{"shared with the default tenant", map[string]string{"gatewayApiKeys": `["k1"]`, "gatewayTenantKeys": `{"a":["k1"]}`}, "gatewayTenantKeys.a[0]: the same key as gatewayApiKeys[0]"},
		{"tenant without keys", map[string]string{"tenancy": `{"tenants":[{"name":"b"}]}`, "gatewayTenantKeys": `{"a":["k1"]}`}, `tenancy.tenants[0]: tenant "b" has no keys`},
		{"keys for a reserved tenant", map[string]string{"gatewayTenantKeys": `{"open-webui":["k1"]}`}, `gatewayTenantKeys.open-webui: "open-webui" is reserved`},
		{"undeclared tenant name not a label", map[string]string{"gatewayTenantKeys": `{"Team \\\"A":["k1"]}`}, `gatewayTenantKeys."Team \\\"A": the tenant name is not a DNS-1123 label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.config["models"] = twoModels
			m, _, err := run(t, tc.config, "gatewayApiKeys", "gatewayTenantKeys")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "k1\"", "keys are never quoted")
			assert.Empty(t, m.Resources(), "nothing declared")
		})
	}
}

// managedTenancy counts team-a's limits in the Redis the cloud creates.
const managedTenancy = `{"tenants":[{"name":"team-a","limits":{"requestsPerMinute":60}}],"redis":{"kind":"managed"}}`

func runManagedRedis(t *testing.T, config map[string]string) (*pulumimock.Mocks, corev1.ConfigMap, corev1.Secret) {
	t.Helper()
	config["tenancy"], config["gatewayTenantKeys"] = managedTenancy, `{"team-a":["k1"]}`
	m, _, err := run(t, config, "gatewayTenantKeys")
	require.NoError(t, err)
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	assert.Equal(t, nginx.Checksum(cm.Data), dep.Spec.Template.Annotations[gateway.ChecksumAnnotation],
		"the pods roll when the instance's address or CA changes")
	assert.Contains(t, cm.Data[nginx.LimitsFile], `local PODS = "llm:gw:pods"`, "the instance is the stack's own")
	assert.False(t, m.Has("kubernetes:apps/v1:StatefulSet", "redis"), "no in-cluster Redis beside the managed one")
	return m, cm, pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "gateway-keys")
}

// TestTenancyOnMemorystore: on GKE the stack creates Memorystore in the cluster's VPC, with AUTH
// and TLS; the gateway counts there, verifying the instance's IP against its server CA (a file
// of its ConfigMap), and its AUTH string reaches the gateway only as a secret.
func TestTenancyOnMemorystore(t *testing.T) {
	m, cm, keys := runManagedRedis(t, gkeConfig(`{"name":"llm-gke"}`))
	instance := inputsOf(m.Find(t, "gcp:redis/instance:Instance", managedRedisName))
	assert.Equal(t, inputsOf(m.ByType(gkeClusterType)[0])["network"], instance["authorizedNetwork"], "in the cluster's VPC")
	assert.Equal(t, true, instance["authEnabled"])
	assert.Equal(t, "SERVER_AUTHENTICATION", instance["transitEncryptionMode"])
	assert.Equal(t, "BASIC", instance["tier"], "gke.redis's defaults")
	assert.NotContains(t, instance, "locationId", "a regional cluster: Memorystore picks the zone")

	assert.Contains(t, cm.Data[nginx.LimitsFile], `local HOST, PORT = "`+pulumimock.MockMemorystoreHost+`", 6378`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `tls = true, server_name = "`+pulumimock.MockMemorystoreHost+`",`)
	assert.Contains(t, cm.Data[nginx.ConfigFile], "lua_ssl_trusted_certificate /etc/llm-gateway/"+nginx.RedisCAFile+";")
	assert.Equal(t, pulumimock.MockMemorystoreCA, cm.Data[nginx.RedisCAFile])
	assert.Equal(t, pulumimock.MockMemorystoreAuth, keys.StringData[gateway.RedisPasswordKey])
	pulumimock.AssertOnlyInSecrets(t, m, pulumimock.MockMemorystoreAuth)
	pulumimock.AssertSecretEverywhere(t, m, pulumimock.MockMemorystoreAuth)
}

// TestTenancyOnMemorystoreZonal: a zonal cluster's instance is in the cluster's zone, where the
// gateway's pods run.
func TestTenancyOnMemorystoreZonal(t *testing.T) {
	config := gkeConfig(`{"name":"llm-gke"}`)
	config["gke"] = `{"project":"acme-ml","region":"us-central1","zone":"us-central1-c","cluster":{"name":"llm-gke","systemNodeCount":2}}`
	m, _, _ := runManagedRedis(t, config)
	assert.Equal(t, "us-central1-c", inputsOf(m.Find(t, "gcp:redis/instance:Instance", managedRedisName))["locationId"])
}

// TestTenancyOnElastiCache: on EKS the stack creates ElastiCache in the cluster's private
// subnets, admitting the nodes only; the gateway verifies its endpoint's name against the
// public CAs, with the generated auth token as its password (a secret everywhere).
func TestTenancyOnElastiCache(t *testing.T) {
	m, cm, keys := runManagedRedis(t, eksConfig(`{"name":"llm-eks"}`))
	group := m.Find(t, "aws:elasticache/replicationGroup:ReplicationGroup", managedRedisName)
	assert.Contains(t, group.Provider, "pulumi:providers:aws::eks", "on the EKS component's provider (the stack's region)")
	in := inputsOf(group)
	assert.Equal(t, true, in["transitEncryptionEnabled"])
	assert.Equal(t, true, in["atRestEncryptionEnabled"])
	params := m.Find(t, "aws:elasticache/parameterGroup:ParameterGroup", managedRedisName)
	assert.Contains(t, params.Provider, "pulumi:providers:aws::eks", "the parameter group in the group's region")
	assert.Equal(t, "valkey8", inputsOf(params)["family"], "eks.redis's default engine, 8.0")
	assert.Contains(t, group.DependsOn, params.URN)
	subnets := inputsOf(m.Find(t, "aws:elasticache/subnetGroup:SubnetGroup", managedRedisName))["subnetIds"]
	assert.Equal(t, []any{"eks-private-0-id", "eks-private-1-id"}, subnets, "the cluster's private subnets")
	sg := inputsOf(m.Find(t, "aws:ec2/securityGroup:SecurityGroup", managedRedisName))
	assert.Equal(t, []any{pulumimock.MockClusterSecurityGroup}, sg["ingress"].([]any)[0].(map[string]any)["securityGroups"])

	endpoint := pulumimock.MockElastiCacheEndpoint
	assert.Contains(t, cm.Data[nginx.LimitsFile], `local HOST, PORT = "`+endpoint+`", 6379`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `tls = true, server_name = "`+endpoint+`",`)
	assert.Contains(t, cm.Data[nginx.ConfigFile], "lua_ssl_trusted_certificate "+nginx.SystemCAFile+";")
	assert.NotContains(t, cm.Data, nginx.RedisCAFile)
	token := pulumimock.MockElastiCacheAuthToken // as applied: the group ignores changes to it
	assert.Equal(t, token, keys.StringData[gateway.RedisPasswordKey])
	pulumimock.AssertSecretEverywhere(t, m, token)
}
