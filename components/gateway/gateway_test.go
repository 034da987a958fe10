package gateway_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/crdschema"
	"github.com/llm-platform/llm-platform/internal/promcheck"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/testca"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

var routes = []nginx.Route{
	{Name: "qwen3-0.6b", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000"},
	{Name: "gemma-3-27b-it", Upstream: "gemma-3-27b-it.llm.svc.cluster.local:8000"},
}

func deploy(t *testing.T, rs []nginx.Route, keys pulumi.StringInput) (*pulumimock.Mocks, *gateway.Gateway) {
	t.Helper()
	return deployWith(t, spec.Defaults().Gateway, rs, keys)
}

func deployWith(t *testing.T, cfg spec.GatewayConfig, rs []nginx.Route, keys pulumi.StringInput) (*pulumimock.Mocks, *gateway.Gateway) {
	t.Helper()
	var g *gateway.Gateway
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		g, err = gateway.New(ctx, "gateway", gateway.Args{
			Name: gateway.DefaultName, Config: cfg, Namespace: "llm", Routes: rs, APIKeys: keys,
		})
		return err
	})
	require.NoError(t, err)
	return m, g
}

func TestGatewayWorkload(t *testing.T) {
	m, g := deploy(t, routes, nil)
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	require.Contains(t, cm.Data, nginx.ConfigFile)
	require.Contains(t, cm.Data, nginx.LuaFile)
	conf := cm.Data[nginx.ConfigFile]
	assert.Contains(t, conf, "qwen3-0-6b.llm.svc.cluster.local:8000", "one upstream per model")
	assert.Contains(t, conf, "gemma-3-27b-it.llm.svc.cluster.local:8000")
	assert.Contains(t, conf, "proxy_buffering off")
	assert.Contains(t, conf, "client_max_body_size 16777216", "maxBodySize 16Mi in bytes")
	assert.NotContains(t, conf, "\nload_module ", "OpenResty has the Lua module built in")

	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	assert.Equal(t, int32(2), *dep.Spec.Replicas, "2 replicas by default")
	assert.Equal(t, nginx.Checksum(cm.Data), dep.Spec.Template.Annotations[gateway.ChecksumAnnotation])
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, spec.Defaults().Gateway.Image, c.Image)
	assert.Equal(t, nginx.ProductionCommand("/etc/llm-gateway"), c.Command)
	assert.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, c.Resources.Requests.Cpu().IsZero())
	assert.False(t, c.Resources.Limits.Memory().IsZero())
	// The ConfigMap is a directory mount (no subPath): updates reach the pod.
	for _, vm := range c.VolumeMounts {
		assert.Empty(t, vm.SubPath)
	}
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "config", MountPath: "/etc/llm-gateway", ReadOnly: true})
	for _, e := range c.Env {
		assert.NotEqual(t, "GATEWAY_API_KEYS", e.Name, "no keys configured")
	}

	svc := pulumimock.Decode[corev1.Service](t, m, "kubernetes:core/v1:Service", "gateway")
	assert.Equal(t, "llm-gateway", svc.Name)
	assert.Equal(t, int32(gateway.Port), svc.Spec.Ports[0].Port)
	assert.Equal(t, dep.Spec.Selector.MatchLabels, svc.Spec.Selector)
	budget := pulumimock.Decode[policyv1.PodDisruptionBudget](t, m, "kubernetes:policy/v1:PodDisruptionBudget", "gateway")
	assert.Nil(t, budget.Spec.MinAvailable)
	assert.Equal(t, 1, budget.Spec.MaxUnavailable.IntValue(), "one pod at a time, whatever the autoscaler chose")
	assert.Equal(t, dep.Spec.Selector.MatchLabels, budget.Spec.Selector.MatchLabels)
	assert.Equal(t, "http://llm-gateway.llm.svc.cluster.local/v1", g.PlainURL)
}

// TestModelChangeRollsThePods: any change of the model list changes the
// pod template's checksum, so the Deployment rolls.
func TestModelChangeRollsThePods(t *testing.T) {
	checksum := func(rs []nginx.Route) string {
		m, _ := deploy(t, rs, nil)
		dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
		return dep.Spec.Template.Annotations[gateway.ChecksumAnnotation]
	}
	before := checksum(routes)
	assert.Equal(t, before, checksum(routes), "stable for the same models")
	assert.NotEqual(t, before, checksum(routes[:1]), "a removed model rolls the gateway")
	assert.NotEqual(t, before, checksum([]nginx.Route{routes[1], routes[0]}), "a new default model rolls the gateway")
}

// TestAPIKeysComeFromASecret: the keys (default, tenants', and the generated client key) and the
// limits' Redis password are one Secret's files, mounted read-only; nothing secret is in the
// environment, the ConfigMap or anywhere but Secrets.
func TestAPIKeysComeFromASecret(t *testing.T) {
	const keys = "sk-first-111,sk-second-222"
	var g *gateway.Gateway
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		g, err = gateway.New(ctx, "gateway", gateway.Args{
			Name: gateway.DefaultName, Config: spec.Defaults().Gateway, Namespace: "llm", Routes: routes,
			APIKeys:      pulumi.ToSecret(pulumi.String(keys)).(pulumi.StringOutput),
			TenantKeys:   pulumi.ToSecret(pulumi.String(`{"team-a":["sk-team-a-333"]}`)).(pulumi.StringOutput),
			ClientTenant: "open-webui",
			Tenants:      []nginx.Tenant{{Name: "team-a", Limits: []nginx.Limit{{Kind: nginx.LimitRequests, Period: nginx.PeriodMinute, Amount: 60}}}},
			Limits:       &gateway.Limits{Address: pulumi.String("llm-redis.llm.svc.cluster.local:6379"), Password: pulumi.ToSecret(pulumi.String("redis-pw-444")).(pulumi.StringOutput)},
		})
		return err
	})
	require.NoError(t, err)
	require.NotNil(t, g.KeysSecret)
	secret := m.Find(t, "kubernetes:core/v1:Secret", "gateway-keys")
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(secret.Inputs))
	data := pulumimock.Plain(secret.Inputs)["stringData"].(map[string]any)
	var file map[string][]string
	require.NoError(t, json.Unmarshal([]byte(data[gateway.KeysFileKey].(string)), &file))
	client := pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "gateway-client-key").StringData[gateway.ClientKeyKey]
	assert.Len(t, client, 64, "a generated key for in-cluster clients")
	assert.Equal(t, map[string][]string{"default": {"sk-first-111", "sk-second-222"}, "team-a": {"sk-team-a-333"}, "open-webui": {client}}, file)
	assert.Equal(t, "redis-pw-444", data[gateway.RedisPasswordKey])

	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	c := dep.Spec.Template.Spec.Containers[0]
	assert.Empty(t, c.Env, "no key in the environment")
	var mounted bool
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "llm-gateway-keys" {
			mounted = true
			assert.Empty(t, v.Secret.Items, "the whole Secret as a directory (no subPath): rotations reach the pods")
		}
	}
	assert.True(t, mounted)
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "keys", MountPath: "/etc/llm-gateway-keys", ReadOnly: true})
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	assert.Contains(t, cm.Data[nginx.TenantsFile], `"/etc/llm-gateway-keys/keys.json"`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `"/etc/llm-gateway-keys/redis-password"`)
	for _, s := range []string{"sk-first-111", "sk-second-222", "sk-team-a-333", "redis-pw-444", client} {
		pulumimock.AssertOnlyInSecrets(t, m, s)
	}
}

// TestLimitsRedisOverTLS: the package's Limits reach the router: the key prefix, and TLS with
// its CA as a file of the ConfigMap beside the config that trusts it. A CA that is not PEM is
// refused by input name before anything is declared.
func TestLimitsRedisOverTLS(t *testing.T) {
	ca := "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
	declare := func(tls *gateway.RedisTLS) (*pulumimock.Mocks, error) {
		return pulumimock.Run(t, func(ctx *pulumi.Context) error {
			_, err := gateway.New(ctx, "gateway", gateway.Args{
				Name: gateway.DefaultName, Config: spec.Defaults().Gateway, Namespace: "llm", Routes: routes,
				Tenants: []nginx.Tenant{{Name: "a", Limits: []nginx.Limit{{Kind: nginx.LimitTokens, Period: nginx.PeriodDay, Amount: 5}}}},
				Limits:  &gateway.Limits{Address: pulumi.String("10.1.2.3:6378"), KeyPrefix: "llm:acme:", TLS: tls},
			})
			return err
		})
	}
	_, err := declare(&gateway.RedisTLS{CACert: pulumi.String(ca), ServerName: "redis.internal"})
	require.ErrorContains(t, err, "limits.tls.caCert: is not PEM of one or more certificates")

	ca = testca.New(t, "test CA").PEM
	m, err := declare(&gateway.RedisTLS{CACert: pulumi.String(ca), ServerName: "redis.internal"})
	require.NoError(t, err)
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	assert.Equal(t, ca, cm.Data[nginx.RedisCAFile])
	assert.Contains(t, cm.Data[nginx.ConfigFile], "lua_ssl_trusted_certificate /etc/llm-gateway/"+nginx.RedisCAFile+";")
	assert.Contains(t, cm.Data[nginx.LimitsFile], `tls = true, server_name = "redis.internal",`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `local PODS = "llm:acme:gw:pods"`)
}

// TestLimitsRedisFromOutputs: a managed Redis's address and CA are another resource's outputs,
// unknown at plan time. The router's files carry the real ones (never the stand-in), the pods'
// checksum is the rendered files', and the files equal those of the same values given plainly.
func TestLimitsRedisFromOutputs(t *testing.T) {
	ca := testca.New(t, "memorystore CA").PEM
	declare := func(address, caCert pulumi.StringInput) *pulumimock.Mocks {
		m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
			_, err := gateway.New(ctx, "gateway", gateway.Args{
				Name: gateway.DefaultName, Config: spec.Defaults().Gateway, Namespace: "llm", Routes: routes,
				Tenants: []nginx.Tenant{{Name: "a", Limits: []nginx.Limit{{Kind: nginx.LimitTokens, Period: nginx.PeriodDay, Amount: 5}}}},
				Limits:  &gateway.Limits{Address: address, TLS: &gateway.RedisTLS{CACert: caCert}},
			})
			return err
		})
		require.NoError(t, err)
		return m
	}
	m := declare(pulumi.String("10.20.0.11:6378").ToStringOutput(), pulumi.String(ca).ToStringOutput())
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	assert.Equal(t, ca, cm.Data[nginx.RedisCAFile])
	assert.Contains(t, cm.Data[nginx.LimitsFile], `local HOST, PORT = "10.20.0.11", 6378`)
	assert.Contains(t, cm.Data[nginx.LimitsFile], `tls = true, server_name = "10.20.0.11",`, "Memorystore's certificate names its IP")
	for name, body := range cm.Data {
		assert.NotContains(t, body, ".invalid", name)
	}
	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	assert.Equal(t, nginx.Checksum(cm.Data), dep.Spec.Template.Annotations[gateway.ChecksumAnnotation], "a new address or CA rolls the pods")

	plain := pulumimock.Decode[corev1.ConfigMap](t, declare(pulumi.String("10.20.0.11:6378"), pulumi.String(ca)), "kubernetes:core/v1:ConfigMap", "gateway")
	assert.Equal(t, plain.Data, cm.Data)
}

// TestLimitsNeedRedis: a tenant with a limit and no Redis to count it in is refused.
func TestLimitsNeedRedis(t *testing.T) {
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := gateway.New(ctx, "gateway", gateway.Args{
			Name: gateway.DefaultName, Config: spec.Defaults().Gateway, Namespace: "llm", Routes: routes,
			Tenants: []nginx.Tenant{{Name: "a", Limits: []nginx.Limit{{Kind: nginx.LimitTokens, Period: nginx.PeriodDay, Amount: 5}}}},
		})
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "limits")

	// A Go caller's Limits without an address: an error naming it, not a panic at apply time.
	_, err = pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := gateway.New(ctx, "gateway", gateway.Args{
			Name: gateway.DefaultName, Config: spec.Defaults().Gateway, Namespace: "llm", Routes: routes,
			Tenants: []nginx.Tenant{{Name: "a", Limits: []nginx.Limit{{Kind: nginx.LimitTokens, Period: nginx.PeriodDay, Amount: 5}}}},
			Limits:  &gateway.Limits{KeyPrefix: "llm:"},
		})
		return err
	})
	require.ErrorContains(t, err, "limits.address: is required")
}

// The stream limit reaches nginx, and the connection settings derive from it: 3 connections
// per stream (client, upstream, and a client past the limit waiting for its 503), the keepalive
// pool of each model Service, 256 headroom; 256 more descriptors for files.
func TestGatewayCapacitySettings(t *testing.T) {
	m, _ := deploy(t, routes, nil)
	conf := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway").Data[nginx.ConfigFile]
	assert.Equal(t, 4000, spec.Defaults().Gateway.MaxStreamsPerPod)
	assert.Contains(t, conf, "worker_processes 2;")
	assert.Contains(t, conf, "worker_connections 12512;", "4000*3 + 2 Services*128 + 256")
	assert.Contains(t, conf, "worker_rlimit_nofile 12768;")
	assert.Contains(t, conf, "limit_conn gw_streams 4000;")
	assert.Contains(t, conf, "error_page 503 = @gw_overloaded;")

	cfg := spec.Defaults().Gateway
	cfg.MaxStreamsPerPod = 100
	m, _ = deployWith(t, cfg, routes[:1], nil)
	conf = pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway").Data[nginx.ConfigFile]
	wc, nofile := nginx.ConnectionBudget(100, 1)
	assert.Equal(t, 684, wc)
	assert.Contains(t, conf, "worker_connections 684;")
	assert.Contains(t, conf, "worker_rlimit_nofile 940;")
	assert.Equal(t, 940, nofile)
	assert.Contains(t, conf, "limit_conn gw_streams 100;")
}

func TestGatewayAutoscaler(t *testing.T) {
	m, _ := deploy(t, routes, nil)
	hpa := pulumimock.Decode[autoscalingv2.HorizontalPodAutoscaler](t, m, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway")
	assert.Equal(t, "llm-gateway", hpa.Name)
	assert.Equal(t, "llm", hpa.Namespace)
	assert.Equal(t, autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "llm-gateway"}, hpa.Spec.ScaleTargetRef)
	require.NotNil(t, hpa.Spec.MinReplicas)
	assert.Equal(t, int32(2), *hpa.Spec.MinReplicas, "min = gateway.replicas")
	assert.Equal(t, int32(6), hpa.Spec.MaxReplicas, "max = gateway.maxReplicas")
	require.Len(t, hpa.Spec.Metrics, 1)
	metric := hpa.Spec.Metrics[0]
	assert.Equal(t, autoscalingv2.ResourceMetricSourceType, metric.Type)
	require.NotNil(t, metric.Resource)
	assert.Equal(t, corev1.ResourceCPU, metric.Resource.Name)
	assert.Equal(t, autoscalingv2.UtilizationMetricType, metric.Resource.Target.Type)
	require.NotNil(t, metric.Resource.Target.AverageUtilization)
	assert.Equal(t, int32(gateway.CPUTargetUtilization), *metric.Resource.Target.AverageUtilization)
	require.NotNil(t, hpa.Spec.Behavior)
	require.NotNil(t, hpa.Spec.Behavior.ScaleDown)
	assert.Equal(t, []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}},
		hpa.Spec.Behavior.ScaleDown.Policies, "pods drain for minutes: remove them one at a time")

	// The autoscaler owns spec.replicas once it exists: Pulumi must not reset it on every up.
	dep := m.Find(t, "kubernetes:apps/v1:Deployment", "gateway")
	assert.Contains(t, dep.IgnoreChanges, "spec.replicas")
	// The CPU utilisation the autoscaler reads is relative to the request: 80% of 500m is
	// 0.4 cores, 1,300-2,700 streams at 30 tokens/s (5-10 µs per event measured).
	d := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	res := d.Spec.Template.Spec.Containers[0].Resources
	assert.Equal(t, gateway.CPURequest, res.Requests.Cpu().String())
	assert.Equal(t, gateway.MemoryRequest, res.Requests.Memory().String())
	assert.Equal(t, 80, gateway.CPUTargetUtilization)
	assert.True(t, res.Limits.Cpu().IsZero(), "no CPU limit: the two workers may burst")
	assert.Equal(t, "466Mi", res.Limits.Memory().String(), "gateway.MemoryLimit: 16Mi + 2 workers x 48Mi at rest + 14Mi shared + 4000 streams x 52Ki + 8 bodies x (16Mi + 1Mi buffer)")
}

func TestGatewayWithoutAutoscaler(t *testing.T) {
	cfg := spec.Defaults().Gateway
	cfg.MaxReplicas = cfg.Replicas
	m, _ := deployWith(t, cfg, routes, nil)
	assert.False(t, m.Has("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway"), "maxReplicas = replicas: no autoscaler")
	dep := m.Find(t, "kubernetes:apps/v1:Deployment", "gateway")
	assert.NotContains(t, dep.IgnoreChanges, "spec.replicas", "without an autoscaler Pulumi owns the replica count")
	assert.True(t, m.Has("kubernetes:policy/v1:PodDisruptionBudget", "gateway"))

	// One replica that may scale to three: an autoscaler, no disruption budget (min 1 pod).
	cfg = spec.Defaults().Gateway
	cfg.Replicas, cfg.MaxReplicas = 1, 3
	m, _ = deployWith(t, cfg, routes, nil)
	hpa := pulumimock.Decode[autoscalingv2.HorizontalPodAutoscaler](t, m, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway")
	assert.Equal(t, int32(1), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(3), hpa.Spec.MaxReplicas)
	assert.False(t, m.Has("kubernetes:policy/v1:PodDisruptionBudget", "gateway"))
}

// TestGatewayDrain: a stopping pod keeps serving while its endpoint removal propagates, then
// nginx quits gracefully (finishing every stream), within a grace period that covers both.
func TestGatewayDrain(t *testing.T) {
	assert.Equal(t, 915, gateway.TerminationGracePeriodSeconds(900), "10 s preStop + 900 s longest generation + 5 s margin")
	assert.Equal(t, 16, gateway.TerminationGracePeriodSeconds(1))
	for _, timeout := range []int{1, 60, 900, 3600} {
		assert.GreaterOrEqual(t, gateway.TerminationGracePeriodSeconds(timeout), timeout+gateway.PreStopSleepSeconds)
	}

	m, _ := deploy(t, routes, nil)
	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	pod := dep.Spec.Template.Spec
	require.NotNil(t, pod.TerminationGracePeriodSeconds)
	assert.Equal(t, int64(915), *pod.TerminationGracePeriodSeconds, "gateway.timeoutSeconds 900 + preStop + margin")
	c := pod.Containers[0]
	require.NotNil(t, c.Lifecycle)
	require.NotNil(t, c.Lifecycle.PreStop)
	require.NotNil(t, c.Lifecycle.PreStop.Exec)
	cmd := c.Lifecycle.PreStop.Exec.Command
	assert.Equal(t, gateway.PreStopCommand(), cmd)
	require.Len(t, cmd, 3)
	assert.Equal(t, []string{"/bin/sh", "-c"}, cmd[:2])
	script := cmd[2]
	assert.Equal(t, "sleep 10; '/usr/local/openresty/bin/openresty' '-p' '/tmp/' '-c' '/etc/llm-gateway/nginx.conf' "+
		"'-e' '/dev/stderr' '-s' 'quit'; while [ -e '/tmp/nginx.pid' ]; do sleep 1; done", script)
	// The quit finds the running master: same prefix (pid file) and config as the container's command.
	assert.Equal(t, []string{"-p", "/tmp/", "-c", "/etc/llm-gateway/nginx.conf"}, c.Command[1:5])
	if sh, err := exec.LookPath("sh"); err == nil {
		out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput()
		assert.NoError(t, err, "preStop script syntax: %s", out)
	}
}

var routedRoutes = []nginx.Route{
	{Name: "qwen3-0.6b", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000", Endpoints: "qwen3-0-6b-headless.llm.svc.cluster.local:8000"},
	{Name: "gemma-3-27b-it", Upstream: "gemma-3-27b-it.llm.svc.cluster.local:8000"},
}

// TestReplicaRoutingConfig: routes with Endpoints put the balancer's Lua modules in the
// ConfigMap and pass GATEWAY_NAMESERVERS through; the pods leave it unset (nameservers from
// /etc/resolv.conf), and a routing change rolls them.
func TestReplicaRoutingConfig(t *testing.T) {
	m, _ := deploy(t, routedRoutes, nil)
	cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	for _, f := range []string{nginx.ConfigFile, nginx.LuaFile, nginx.DNSFile, nginx.EndpointsFile, nginx.LoadFile, nginx.PrefixFile, nginx.BalancerFile} {
		assert.NotEmpty(t, cm.Data[f], "ConfigMap holds %s", f)
	}
	conf := cm.Data[nginx.ConfigFile]
	assert.Contains(t, conf, "\nenv "+nginx.NameserversEnv+";\n", "nginx passes the nameserver override through")
	assert.Contains(t, conf, "balancer_by_lua_block")
	assert.Contains(t, conf, "proxy_next_upstream error timeout;")
	assert.NotRegexp(t, `proxy_next_upstream[^;]*non_idempotent`, conf, "a POST is never resent once it reached a replica")
	lua := cm.Data[nginx.LuaFile]
	assert.Contains(t, lua, `endpoints = "qwen3-0-6b-headless.llm.svc.cluster.local"`)
	assert.Contains(t, lua, `endpoints_host = "qwen3-0-6b-headless.llm.svc.cluster.local:8000"`)
	assert.Contains(t, cm.Data[nginx.BalancerFile], `local STRATEGY = "prefix"`, "prefix is the default")
	assert.Contains(t, cm.Data[nginx.BalancerFile], "var.http_x_session_id")

	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	c := dep.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		assert.NotEqual(t, nginx.NameserversEnv, e.Name, "production resolves through the pod's /etc/resolv.conf")
	}
	assert.NotEqual(t, corev1.DNSNone, dep.Spec.Template.Spec.DNSPolicy, "the pod keeps the cluster DNS in /etc/resolv.conf")
	// The shared memory of the prefix index counts in the memory limit.
	mPlain, _ := deploy(t, routes, nil)
	plainDep := pulumimock.Decode[appsv1.Deployment](t, mPlain, "kubernetes:apps/v1:Deployment", "gateway")
	grown := c.Resources.Limits.Memory().DeepCopy()
	grown.Sub(*plainDep.Spec.Template.Spec.Containers[0].Resources.Limits.Memory())
	assert.Equal(t, spec.Defaults().Gateway.Routing.IndexBytes()+5<<20, grown.Value())

	cfg := spec.Defaults().Gateway
	cfg.Routing.Strategy = nginx.StrategyLeastLoad
	m2, _ := deployWith(t, cfg, routedRoutes, nil)
	dep2 := pulumimock.Decode[appsv1.Deployment](t, m2, "kubernetes:apps/v1:Deployment", "gateway")
	assert.NotEqual(t, dep.Spec.Template.Annotations[gateway.ChecksumAnnotation], dep2.Spec.Template.Annotations[gateway.ChecksumAnnotation],
		"a routing change rolls the gateway")
	cm2 := pulumimock.Decode[corev1.ConfigMap](t, m2, "kubernetes:core/v1:ConfigMap", "gateway")
	assert.Contains(t, cm2.Data[nginx.BalancerFile], `local STRATEGY = "least-load"`)

	// Without Endpoints nothing of it is switched on.
	cmPlain := pulumimock.Decode[corev1.ConfigMap](t, mPlain, "kubernetes:core/v1:ConfigMap", "gateway")
	assert.NotContains(t, cmPlain.Data[nginx.ConfigFile], "balancer_by_lua")
	assert.NotContains(t, cmPlain.Data[nginx.ConfigFile], nginx.NameserversEnv)
}

// TestHoldSeconds: a model that scales to zero holds requests for gateway.coldStartTimeout, or
// else its startup budget, never past MaxColdStartTimeout.
func TestHoldSeconds(t *testing.T) {
	var cfg gateway.Config
	assert.Equal(t, 2100, cfg.HoldSeconds(35*time.Minute))
	assert.Equal(t, int(gateway.MaxColdStartTimeout.Seconds()), cfg.HoldSeconds(5*time.Hour), "a huge startupTimeoutSeconds is clamped")
	cfg.ColdStartTimeout = "90s"
	assert.Equal(t, 90, cfg.HoldSeconds(35*time.Minute))
}

// TestColdStartTimeoutAppliesToHoldingRoutes: config.coldStartTimeout replaces the hold of
// the routes that hold requests, and only theirs; a bad value is refused by key.
func TestColdStartTimeoutAppliesToHoldingRoutes(t *testing.T) {
	rs := []nginx.Route{
		{Name: "cold", Upstream: "cold.llm.svc.cluster.local:8000", Endpoints: "cold-headless.llm.svc.cluster.local:8000", HoldSeconds: 4500},
		{Name: "warm", Upstream: "warm.llm.svc.cluster.local:8000", Endpoints: "warm-headless.llm.svc.cluster.local:8000"},
	}
	cfg := spec.Defaults().Gateway
	cfg.ColdStartTimeout = "10m"
	m, _ := deployWith(t, cfg, rs, nil)
	lua := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway").Data[nginx.LuaFile]
	assert.Equal(t, 1, strings.Count(lua, "hold = 600,"), "the holding route waits 10m")
	assert.NotContains(t, lua, "hold = 4500", "instead of its own hold")

	cfg.ColdStartTimeout = "forever"
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := gateway.New(ctx, "gateway", gateway.Args{Name: gateway.DefaultName, Config: cfg, Namespace: "llm", Routes: rs})
		return err
	})
	assert.ErrorContains(t, err, "config.coldStartTimeout")
}

// holdingRoutes: a model scaled to zero (its requests are held) and one that is up.
var holdingRoutes = []nginx.Route{
	{Name: "cold", Upstream: "cold.llm.svc.cluster.local:8000", Endpoints: "cold-headless.llm.svc.cluster.local:8000", HoldSeconds: 600},
	{Name: "warm", Upstream: "warm.llm.svc.cluster.local:8000", Endpoints: "warm-headless.llm.svc.cluster.local:8000"},
}

const prometheusURL = "http://prometheus-operated.monitoring.svc.cluster.local:9090"

func deployKEDA(t *testing.T, cfg spec.GatewayConfig, rs []nginx.Route) *pulumimock.Mocks {
	t.Helper()
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := gateway.New(ctx, "gateway", gateway.Args{Name: gateway.DefaultName, Config: cfg, Namespace: "llm", Routes: rs,
			KEDA: &gateway.KEDA{PrometheusURL: prometheusURL}})
		return err
	})
	require.NoError(t, err)
	return m
}

// TestGatewayScalesOnHeldRequests: with a model scaled to zero, the gateway's autoscaler is a
// KEDA ScaledObject (valid against KEDA's CRD) on CPU, as the HPA was, and on the requests the
// pods hold: a held request uses no CPU. It takes over the HPA the stack had before.
func TestGatewayScalesOnHeldRequests(t *testing.T) {
	m := deployKEDA(t, spec.Defaults().Gateway, holdingRoutes)
	assert.False(t, m.Has("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway"), "one autoscaler per Deployment")
	r := m.Find(t, "kubernetes:keda.sh/v1alpha1:ScaledObject", "gateway")
	crds, err := crdschema.KEDA()
	require.NoError(t, err)
	assert.Empty(t, crds.Validate(pulumimock.Plain(r.Inputs)), "against KEDA's CRD")
	var so pulumimock.CustomResource[autoscaling.ScaledObjectSpec]
	require.NoError(t, pulumimock.DecodeInto(r.Inputs, &so), "strictly decoded")
	assert.Equal(t, "llm-gateway", so.Metadata.Name)
	assert.Equal(t, "true", so.Metadata.Annotations["scaledobject.keda.sh/transfer-hpa-ownership"])
	s := so.Spec
	assert.Equal(t, autoscaling.ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: "llm-gateway"}, s.ScaleTargetRef)
	assert.Equal(t, []int{2, 6}, []int{s.MinReplicaCount, s.MaxReplicaCount}, "gateway.replicas to gateway.maxReplicas")
	hpa := s.Advanced.HorizontalPodAutoscalerConfig
	assert.Equal(t, "llm-gateway", hpa.Name, "the HPA of the same name is taken over")
	assert.Equal(t, []autoscaling.ScalingPolicy{{Type: "Pods", Value: 1, PeriodSeconds: 60}}, hpa.Behavior.ScaleDown.Policies,
		"pods drain for minutes: removed one at a time, as before")
	require.Len(t, s.Triggers, 2)
	cpu, held := s.Triggers[0], s.Triggers[1]
	assert.Equal(t, autoscaling.Trigger{Type: "cpu", Name: "cpu", MetricType: "Utilization",
		Metadata: map[string]string{"value": "80"}}, cpu)
	assert.Equal(t, gateway.TriggerHeld, held.Name)
	assert.Equal(t, "prometheus", held.Type)
	assert.Equal(t, "AverageValue", held.MetricType, "per pod")
	assert.Equal(t, prometheusURL, held.Metadata["serverAddress"])
	assert.Equal(t, "200", held.Metadata["threshold"], "half of the 400 one model may hold in a pod (0.1 x 4000 streams)")
	assert.Equal(t, `sum(llm_gateway_requests_held{namespace="llm"})`, held.Metadata["query"])
	assert.NoError(t, promcheck.Check(held.Metadata["query"], observability.SeriesNames(), observability.RemovedVLLMMetrics))
	assert.Empty(t, gateway.AutoscalerWarning(gateway.Args{Config: spec.Defaults().Gateway, Routes: holdingRoutes, KEDA: &gateway.KEDA{PrometheusURL: prometheusURL}}))

	// No model scaled to zero: nothing is ever held, the CPU autoscaler stays.
	m = deployKEDA(t, spec.Defaults().Gateway, routes)
	assert.True(t, m.Has("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway"))
	assert.Empty(t, m.ByType("kubernetes:keda.sh/v1alpha1:ScaledObject"))
}

// TestGatewayWarnsWhenHeldRequestsCannotScaleIt: held requests that cannot add pods are said so.
func TestGatewayWarnsWhenHeldRequestsCannotScaleIt(t *testing.T) {
	cfg := spec.Defaults().Gateway
	keda := &gateway.KEDA{PrometheusURL: prometheusURL}
	assert.Contains(t, gateway.AutoscalerWarning(gateway.Args{Config: cfg, Routes: holdingRoutes}), "without KEDA")
	fixed := cfg
	fixed.MaxReplicas = fixed.Replicas
	assert.Contains(t, gateway.AutoscalerWarning(gateway.Args{Config: fixed, Routes: holdingRoutes, KEDA: keda}), "gateway.maxReplicas")
	assert.Empty(t, gateway.AutoscalerWarning(gateway.Args{Config: fixed, Routes: routes}), "nothing is held")
}

// TestHoldShare: config.holdShare bounds each pod's held requests (rendered into the balancer),
// defaults to 0.1 for library users, and a value outside (0, 0.5] is refused by key.
func TestHoldShare(t *testing.T) {
	cfg := spec.Defaults().Gateway
	assert.Equal(t, gateway.DefaultHoldShare, cfg.HoldShare)
	m, _ := deployWith(t, cfg, holdingRoutes, nil)
	bal := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway").Data[nginx.BalancerFile]
	assert.Contains(t, bal, "local HOLD_PER_MODEL, HOLD_TOTAL = 400, 2000", "0.1 x 4000 per model, half of 4000 in all")
	cfg.HoldShare = 0
	m, _ = deployWith(t, cfg, holdingRoutes, nil)
	bal = pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway").Data[nginx.BalancerFile]
	assert.Contains(t, bal, "local HOLD_PER_MODEL, HOLD_TOTAL = 400, 2000", "0 is the default")
	cfg.HoldShare = 0.6
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := gateway.New(ctx, "gateway", gateway.Args{Name: gateway.DefaultName, Config: cfg, Namespace: "llm", Routes: holdingRoutes})
		return err
	})
	assert.ErrorContains(t, err, "config.holdShare")
}
