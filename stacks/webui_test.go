package stacks

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// Open WebUI for a team, through the whole program: the cloud's database wired to the UI, the
// secrets that the config needs checked before anything is declared.

const teamWebUI = `{"storageClass":"shared-rwx","database":{"kind":"managed"}}`

func webUIEnv(t *testing.T, m *pulumimock.Mocks) map[string]corev1.EnvVar {
	t.Helper()
	return envByName(pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSetType, "webui").Spec.Template.Spec.Containers[0])
}

func credential(t *testing.T, m *pulumimock.Mocks, key string) string {
	t.Helper()
	return pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "webui-credentials").StringData[key]
}

// TestWebUIOnCloudSQL: on GKE the stack creates Cloud SQL in the cluster's VPC, and Open WebUI's
// URL (in a Secret only) points at its private address with the password its user has; TLS is
// required on both sides.
func TestWebUIOnCloudSQL(t *testing.T) {
	config := gkeConfig(`{"name":"llm-gke"}`)
	config["webui"] = teamWebUI
	m, _ := runCloud(t, config)
	instance := inputsOf(m.Find(t, "gcp:sql/databaseInstance:DatabaseInstance", webUIDatabaseName))
	ip := instance["settings"].(map[string]any)["ipConfiguration"].(map[string]any)
	cluster := inputsOf(m.ByType(gkeClusterType)[0])
	assert.Equal(t, cluster["network"], ip["privateNetwork"], "the instance's private address is in the cluster's VPC")

	password := inputsOf(m.Find(t, "gcp:sql/user:User", webUIDatabaseName))["password"].(string)
	url := "postgresql://openwebui:" + password + "@" + pulumimock.MockSQLAddress + ":5432/openwebui"
	assert.Equal(t, url, credential(t, m, "database-url"))
	env := webUIEnv(t, m)
	assert.Equal(t, "require", env["PGSSLMODE"].Value)
	assert.Equal(t, "pgvector", env["VECTOR_DB"].Value)
	assert.NotNil(t, env["DATABASE_URL"].ValueFrom.SecretKeyRef)
	pulumimock.AssertSecretEverywhere(t, m, password)
	assert.False(t, m.Has(statefulSetType, "webui-postgres"), "no in-cluster server beside Cloud SQL")
}

// TestWebUIOnRDS: on EKS, RDS in the created VPC's private subnets admits the cluster security
// group (the nodes'), and Open WebUI's URL points at its endpoint.
func TestWebUIOnRDS(t *testing.T) {
	config := eksConfig(`{"name":"llm-eks"}`)
	config["webui"] = teamWebUI
	m, _ := runCloud(t, config)
	subnets := inputsOf(m.Find(t, "aws:rds/subnetGroup:SubnetGroup", webUIDatabaseName))["subnetIds"]
	assert.Equal(t, []any{"eks-private-0-id", "eks-private-1-id"}, subnets, "the cluster's private subnets")
	sg := inputsOf(m.Find(t, "aws:ec2/securityGroup:SecurityGroup", webUIDatabaseName))
	assert.Equal(t, []any{pulumimock.MockClusterSecurityGroup}, sg["ingress"].([]any)[0].(map[string]any)["securityGroups"])
	assert.Equal(t, "eks-id", sg["vpcId"])

	rds := m.Find(t, "aws:rds/instance:Instance", webUIDatabaseName)
	assert.Contains(t, rds.Provider, "pulumi:providers:aws::eks", "on the EKS component's provider (the stack's region)")
	password := inputsOf(rds)["password"].(string)
	assert.Equal(t, "postgresql://openwebui:"+password+"@"+pulumimock.MockRDSAddress+":5432/openwebui", credential(t, m, "database-url"))
	assert.Equal(t, "require", webUIEnv(t, m)["PGSSLMODE"].Value)
	pulumimock.AssertSecretEverywhere(t, m, password)
}

// TestWebUISingleSignOn: OIDC's client secret reaches the pods only through a Secret, and the
// redirect URI is the edge's host over https.
func TestWebUISingleSignOn(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"models":                oneGPUModel,
		"edge":                  `{"hosts":["chat.example.com"],"tls":{"credentialName":"chat-tls"}}`,
		"webui":                 `{"oidc":{"issuerUrl":"https://accounts.google.com","clientId":"123.apps.googleusercontent.com","allowedDomains":["example.com"]}}`,
		"webuiOidcClientSecret": "GOCSPX-client-secret",
	}, "webuiOidcClientSecret")
	require.NoError(t, err)
	env := envByName(pulumimock.Decode[appsv1.Deployment](t, m, deployment, "webui").Spec.Template.Spec.Containers[0])
	assert.Equal(t, "https://chat.example.com/oauth/oidc/callback", env["OPENID_REDIRECT_URI"].Value)
	assert.Equal(t, "https://accounts.google.com/.well-known/openid-configuration", env["OPENID_PROVIDER_URL"].Value)
	assert.Equal(t, "example.com", env["OAUTH_ALLOWED_DOMAINS"].Value)
	assert.Equal(t, "True", env["ENABLE_LOGIN_FORM"].Value, "the local login stays by default")
	assert.Equal(t, "open-webui-credentials", env["OAUTH_CLIENT_SECRET"].ValueFrom.SecretKeyRef.Name)
	pulumimock.AssertOnlyInSecrets(t, m, "GOCSPX-client-secret")
}

// TestWebUISecretsAreCheckedFirst: the secrets the UI's config needs, refused by key before any
// resource is declared; a URL's text is never repeated.
func TestWebUISecretsAreCheckedFirst(t *testing.T) {
	base := map[string]string{"models": oneGPUModel, "edge": `{"hosts":["chat.example.com"]}`}
	cases := map[string]struct {
		config  map[string]string
		secrets []string
		want    string
	}{
		"oidc without a client secret": {map[string]string{"webui": `{"oidc":{"issuerUrl":"https://accounts.google.com","clientId":"id"}}`}, nil,
			"webuiOidcClientSecret: is not set, but webui.oidc.issuerUrl turns single sign-on on"},
		"a client secret without oidc": {map[string]string{"webuiOidcClientSecret": "x"}, []string{"webuiOidcClientSecret"},
			"webuiOidcClientSecret: is set, but webui.oidc.issuerUrl is empty"},
		"external without a URL": {map[string]string{"webui": `{"storageClass":"nfs","database":{"kind":"external"}}`}, nil,
			"webuiDatabaseUrl: is not set, but webui.database.kind is external"},
		"a URL that is not PostgreSQL": {map[string]string{"webui": `{"storageClass":"nfs","database":{"kind":"external"}}`, "webuiDatabaseUrl": "mysql://root:hunter2@db:3306/webui"},
			[]string{"webuiDatabaseUrl"}, `webuiDatabaseUrl: is a "mysql" URL, not PostgreSQL`},
		"a URL SQLite does not read": {map[string]string{"webuiDatabaseUrl": "postgresql://u:hunter2@db/webui"}, []string{"webuiDatabaseUrl"},
			`webuiDatabaseUrl: is set, but webui.database.kind is "sqlite"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			config := maps.Clone(base)
			maps.Copy(config, tc.config)
			m, _, err := run(t, config, tc.secrets...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2", "a URL's password is never repeated")
			assert.Empty(t, m.Resources(), "nothing is declared")
		})
	}
}

// TestWebUIExternalDatabase: a URL from the stack's secret reaches the pods only through the
// credentials Secret.
func TestWebUIExternalDatabase(t *testing.T) {
	const url = "postgresql://openwebui:ext-pw-77@pg.corp.internal:5432/openwebui"
	m, _, err := run(t, map[string]string{
		"models": oneGPUModel, "webui": `{"storageClass":"nfs","database":{"kind":"external"}}`, "webuiDatabaseUrl": url,
	}, "webuiDatabaseUrl")
	require.NoError(t, err)
	assert.Equal(t, url, credential(t, m, "database-url"))
	assert.NotContains(t, webUIEnv(t, m), "PGSSLMODE", "the external server's TLS is its own (documented)")
	pulumimock.AssertOnlyInSecrets(t, m, "ext-pw-77")
}

// TestWebUITeamTrafficIsFenced: with the in-cluster database and several replicas, the namespace's
// NetworkPolicies admit the database and Redis traffic and nothing more: PostgreSQL takes Open
// WebUI and its backup Job on 5432, Redis Open WebUI on 6379, Open WebUI still only the ingress
// gateway; the models and the gateway admit no one new.
func TestWebUITeamTrafficIsFenced(t *testing.T) {
	config := pulumimock.StackConfig(t, "../Pulumi.dev.yaml")
	config["webui"] = `{"storageClass":"nfs","database":{"kind":"in-cluster"}}`
	m, _, err := run(t, config)
	require.NoError(t, err)
	type rule struct {
		from  []map[string]string // pod selectors (nil entries: a namespace selector only)
		ports []int
	}
	policies := map[string]rule{}
	for _, r := range m.ByType(netpol) {
		p := pulumimock.View[networkingv1.NetworkPolicy](t, r)
		var got rule
		for _, in := range p.Spec.Ingress {
			for _, f := range in.From {
				var pods map[string]string
				if f.PodSelector != nil {
					pods = f.PodSelector.MatchLabels
				}
				got.from = append(got.from, pods)
			}
			for _, port := range in.Ports {
				got.ports = append(got.ports, port.Port.IntValue())
			}
		}
		policies[p.Name] = got
	}
	ui, backup := webui.Selector("open-webui"), webui.BackupSelector("open-webui")
	assert.Equal(t, rule{from: []map[string]string{ui, backup}, ports: []int{5432}}, policies["open-webui-postgres"])
	assert.Equal(t, rule{from: []map[string]string{ui}, ports: []int{6379}}, policies["open-webui-redis"])
	assert.Equal(t, []map[string]string{addons.IngressSelector}, policies["allow-webui"].from, "Open WebUI: the ingress gateway only")
	for name, p := range policies {
		if name == "allow-gateway" || name == "open-webui-postgres" || name == "open-webui-redis" {
			continue
		}
		assert.NotContains(t, p.from, ui, "%s admits Open WebUI", name)
	}
	assert.Len(t, policies, 5, "allow-models, allow-gateway, allow-webui and the two new ones: %v", policies)
}
