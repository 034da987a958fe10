package model_test

import (
	"testing"

	corev1sdk "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1sdk "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const (
	statefulSet = "kubernetes:apps/v1:StatefulSet"
	service     = "kubernetes:core/v1:Service"
	pdb         = "kubernetes:policy/v1:PodDisruptionBudget"
	gpuImage    = "vllm/vllm-openai:v-test"
	cpuImage    = "vllm-cpu:v-test"
	hfToken     = "hf_do_not_leak_this_987"
)

var gpuNodes = map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"}

// specs parses model entries exactly as a stack config would.
func specs(t testing.TB, models string) []spec.ModelSpec {
	t.Helper()
	cfg, err := spec.Parse(map[string]string{"models": models})
	require.NoError(t, err)
	require.NoError(t, spec.Validate(&cfg))
	return cfg.Models
}

// deploy declares each model as stacks.Program does, optionally with an HF
// token Secret, and returns the recorder and the components.
func deploy(t testing.TB, models []spec.ModelSpec, withToken bool) (*pulumimock.Mocks, []*model.Model) {
	t.Helper()
	var out []*model.Model
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var secret *corev1sdk.Secret
		if withToken {
			var err error
			secret, err = corev1sdk.NewSecret(ctx, "hf-token", &corev1sdk.SecretArgs{
				Metadata:   &metav1sdk.ObjectMetaArgs{Name: pulumi.String("hf-token")},
				StringData: pulumi.StringMap{model.HFTokenKey: pulumi.ToSecret(pulumi.String(hfToken)).(pulumi.StringOutput)},
			})
			if err != nil {
				return err
			}
		}
		for _, s := range models {
			args := model.Args{
				Spec: s, Image: pulumi.String(gpuImage), CPUImage: pulumi.String(cpuImage), Namespace: "llm",
				NodeSelector: pulumi.ToStringMap(gpuNodes),
			}
			if secret != nil {
				args.HFTokenSecret = secret.Metadata.Name().Elem()
			}
			mod, err := model.New(ctx, spec.KubeName(s), args)
			if err != nil {
				return err
			}
			out = append(out, mod)
		}
		return nil
	})
	require.NoError(t, err)
	return m, out
}

func container(t *testing.T, sts appsv1.StatefulSet) corev1.Container {
	t.Helper()
	require.Len(t, sts.Spec.Template.Spec.Containers, 1)
	return sts.Spec.Template.Spec.Containers[0]
}

func argValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("%s not in %v", flag, args)
	return ""
}

func TestOneGPUModel(t *testing.T) {
	m, mods := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","maxModelLen":8192}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	c := container(t, sts)

	assert.Equal(t, gpuImage, c.Image)
	assert.Equal(t, []string{"vllm", "serve"}, c.Command)
	assert.Equal(t, "Qwen/Qwen3-8B", c.Args[0], "the model id is vllm serve's positional argument")
	assert.Equal(t, "qwen3-8b", argValue(t, c.Args, "--served-model-name"))
	assert.Equal(t, "8000", argValue(t, c.Args, "--port"))
	assert.Equal(t, "1", argValue(t, c.Args, "--tensor-parallel-size"))
	assert.Equal(t, "0.9", argValue(t, c.Args, "--gpu-memory-utilization"))
	assert.Equal(t, "8192", argValue(t, c.Args, "--max-model-len"))
	assert.Equal(t, "auto", argValue(t, c.Args, "--dtype"))
	assert.NotContains(t, c.Args, "--trust-remote-code", "remote code only when asked")

	// GPU scheduling: requests = limits for GPUs; CPU and memory requested
	// so the pod is never BestEffort; memory limit counts /dev/shm.
	gpu := corev1.ResourceName(model.GPUResource)
	assert.Equal(t, "1", c.Resources.Requests.Name(gpu, resource.DecimalSI).String())
	assert.Equal(t, "1", c.Resources.Limits.Name(gpu, resource.DecimalSI).String())
	assert.Equal(t, "4", c.Resources.Requests.Cpu().String())
	assert.Equal(t, "16Gi", c.Resources.Requests.Memory().String())
	assert.Equal(t, "20Gi", c.Resources.Limits.Memory().String(), "16Gi + 4Gi shm")
	pod := sts.Spec.Template.Spec
	assert.Equal(t, gpuNodes, pod.NodeSelector)
	assert.Contains(t, pod.Tolerations, corev1.Toleration{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})

	// Cache claim per replica, mounted at HF_HOME.
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	claim := sts.Spec.VolumeClaimTemplates[0]
	assert.Equal(t, "cache", claim.Name)
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, claim.Spec.AccessModes)
	assert.Equal(t, "50Gi", claim.Spec.Resources.Requests.Storage().String())
	assert.Nil(t, claim.Spec.StorageClassName, "cluster default class unless configured")
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: model.CacheMount})
	assert.Contains(t, c.Env, corev1.EnvVar{Name: "HF_HOME", Value: model.CacheMount + "/huggingface"})

	// /dev/shm: memory-backed with a size limit.
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "shm", MountPath: "/dev/shm"})
	require.Len(t, pod.Volumes, 1)
	shm := pod.Volumes[0]
	require.NotNil(t, shm.EmptyDir)
	assert.Equal(t, corev1.StorageMediumMemory, shm.EmptyDir.Medium)
	assert.Equal(t, "4Gi", shm.EmptyDir.SizeLimit.String())

	// Probes: all on /health; the startup probe allows an hour of download.
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		require.NotNil(t, p, name)
		require.NotNil(t, p.HTTPGet, name)
		assert.Equal(t, "/health", p.HTTPGet.Path, name)
		assert.Equal(t, "http", p.HTTPGet.Port.String(), name)
	}
	assert.GreaterOrEqual(t, int(c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold), 30*60)
	assert.Equal(t, int32(3600), c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold)

	// Rollouts never surge (StatefulSet rolling update replaces in place),
	// termination leaves time to drain streams.
	assert.Equal(t, appsv1.RollingUpdateStatefulSetStrategyType, sts.Spec.UpdateStrategy.Type)
	assert.GreaterOrEqual(t, *pod.TerminationGracePeriodSeconds, int64(120))
	assert.Equal(t, "true", sts.Spec.Template.Annotations["prometheus.io/scrape"])
	assert.Equal(t, "8000", sts.Spec.Template.Annotations["prometheus.io/port"])
	assert.Equal(t, "/metrics", sts.Spec.Template.Annotations["prometheus.io/path"])

	assert.False(t, m.Has(pdb, "qwen3-8b"), "no disruption budget for a single replica")

	// pulumi up waits for the model to serve, as long as the startup probe
	// allows (1h) plus a margin; the Service does not wait for endpoints
	// and the StatefulSet does not wait for the Service (that deadlocks).
	r := m.Find(t, statefulSet, "qwen3-8b")
	assert.Equal(t, "1h15m0s", r.CreateTimeout)
	assert.Equal(t, "1h15m0s", r.UpdateTimeout)
	svcRes := m.Find(t, service, "qwen3-8b")
	assert.NotContains(t, r.DependsOn, svcRes.URN)
	assert.Equal(t, "true", pulumimock.Decode[corev1.Service](t, m, service, "qwen3-8b").Annotations["pulumi.com/skipAwait"])
	require.NotNil(t, mods[0].Service, "the gateway waits for the Service to exist")
	assertService(t, m, "qwen3-8b", sts)
	assert.Equal(t, "qwen3-8b", mods[0].ServedName)
	assert.Equal(t, "qwen3-8b.llm.svc.cluster.local:8000", mods[0].Upstream)
	assert.Equal(t, "qwen3-8b-headless.llm.svc.cluster.local:8000", mods[0].Endpoints)
	require.NotNil(t, mods[0].Headless)
}

func assertService(t *testing.T, m *pulumimock.Mocks, name string, sts appsv1.StatefulSet) {
	t.Helper()
	svc := pulumimock.Decode[corev1.Service](t, m, service, name)
	assert.Equal(t, name, svc.Name)
	assert.Equal(t, "llm", svc.Namespace)
	assert.Equal(t, corev1.ServiceTypeClusterIP, svc.Spec.Type)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, int32(model.Port), svc.Spec.Ports[0].Port)
	assert.Equal(t, sts.Spec.Selector.MatchLabels, svc.Spec.Selector, "the Service selects the model's pods")
	for k, v := range svc.Spec.Selector {
		assert.Equal(t, v, sts.Spec.Template.Labels[k])
	}
	assert.Equal(t, svc.Name, sts.Spec.ServiceName)
	assert.Equal(t, "llm-platform", sts.Labels["app.kubernetes.io/part-of"])
	assert.Equal(t, "pulumi", sts.Labels["app.kubernetes.io/managed-by"])
	assertHeadless(t, m, name, svc, sts)
}

// assertHeadless: beside the ClusterIP Service, a headless one whose DNS A records are the
// model's ready pods, on the same port under the same name, for the gateway's balancer.
func assertHeadless(t *testing.T, m *pulumimock.Mocks, name string, svc corev1.Service, sts appsv1.StatefulSet) {
	t.Helper()
	hl := pulumimock.Decode[corev1.Service](t, m, service, name+"-headless")
	assert.Equal(t, model.HeadlessName(name), hl.Name)
	assert.Equal(t, name+"-headless", hl.Name)
	assert.Equal(t, "llm", hl.Namespace)
	assert.Equal(t, corev1.ClusterIPNone, hl.Spec.ClusterIP, "headless: no cluster IP, DNS answers the pod addresses")
	assert.False(t, hl.Spec.PublishNotReadyAddresses, "only ready pods are listed")
	assert.Equal(t, sts.Spec.Template.Labels, mergeSubset(sts.Spec.Template.Labels, hl.Spec.Selector))
	assert.Equal(t, sts.Spec.Selector.MatchLabels, hl.Spec.Selector, "the headless Service selects exactly the workload's pods")
	assert.Equal(t, svc.Spec.Selector, hl.Spec.Selector)
	require.Len(t, hl.Spec.Ports, 1)
	assert.Equal(t, svc.Spec.Ports[0].Name, hl.Spec.Ports[0].Name)
	assert.Equal(t, "http", hl.Spec.Ports[0].Name)
	assert.Equal(t, int32(model.Port), hl.Spec.Ports[0].Port)
	assert.Equal(t, svc.Spec.Ports[0].TargetPort, hl.Spec.Ports[0].TargetPort)
	require.NotNil(t, hl.Spec.Ports[0].AppProtocol)
	assert.Equal(t, "http", *hl.Spec.Ports[0].AppProtocol, "Istio must see HTTP to keep routing by Host")
	assert.Equal(t, "true", hl.Annotations["pulumi.com/skipAwait"], "a model with no ready pod must not stall `pulumi up`")
	assert.Equal(t, svc.Labels, hl.Labels)
}

// mergeSubset returns labels with every key of sel set to sel's value: equal to labels
// exactly when sel is a subset of labels.
func mergeSubset(labels, sel map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range sel {
		out[k] = v
	}
	return out
}

// TestGPUMemoryUtilizationUnsetIsVLLMsDefault: the component's optional gpuMemoryUtilization
// left out (0) is accepted and leaves the flag to vLLM's own default, rather than passing 0 (a
// pod that cannot start) or refusing an input the schema calls optional.
func TestGPUMemoryUtilizationUnsetIsVLLMsDefault(t *testing.T) {
	s := specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`)
	s[0].GPUMemoryUtilization = 0
	m, _ := deploy(t, s, false)
	c := container(t, pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b"))
	assert.Equal(t, "1", argValue(t, c.Args, "--tensor-parallel-size"))
	assert.NotContains(t, c.Args, "--gpu-memory-utilization")
}

func TestTensorParallelModelWithExtraArgs(t *testing.T) {
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"google/gemma-3-27b-it","modelName":"gemma-3-27b-it","gpuRequestCount":2,
		"dtype":"bfloat16","trustRemoteCode":true,"storageClass":"premium-rwo","extraArgs":["--enable-prefix-caching","--max-num-seqs=64"]}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "gemma-3-27b-it")
	c := container(t, sts)
	assert.Equal(t, "2", argValue(t, c.Args, "--tensor-parallel-size"))
	assert.Equal(t, "bfloat16", argValue(t, c.Args, "--dtype"))
	assert.Contains(t, c.Args, "--trust-remote-code")
	assert.Equal(t, []string{"--enable-prefix-caching", "--max-num-seqs=64"}, c.Args[len(c.Args)-2:], "extraArgs come last")
	gpu := corev1.ResourceName(model.GPUResource)
	assert.Equal(t, "2", c.Resources.Requests.Name(gpu, resource.DecimalSI).String())
	assert.Equal(t, "2", c.Resources.Limits.Name(gpu, resource.DecimalSI).String())
	assert.Equal(t, "8", c.Resources.Requests.Cpu().String())
	assert.Equal(t, "32Gi", c.Resources.Requests.Memory().String())
	assert.Equal(t, "40Gi", c.Resources.Limits.Memory().String(), "32Gi + 8Gi shm")
	assert.Equal(t, "8Gi", sts.Spec.Template.Spec.Volumes[0].EmptyDir.SizeLimit.String())
	assert.Equal(t, "premium-rwo", *sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName)
}

func TestReplicatedModelGetsOneClaimPerReplica(t *testing.T) {
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","replicas":2}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	assert.Equal(t, int32(2), *sts.Spec.Replicas)
	// No shared ReadWriteOnce claim: the cache comes from a claim template
	// (one claim per pod) and no pod volume references a claim.
	assert.Empty(t, m.ByType("kubernetes:core/v1:PersistentVolumeClaim"))
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	for _, v := range sts.Spec.Template.Spec.Volumes {
		assert.Nil(t, v.PersistentVolumeClaim, "volume %s would be shared by both replicas", v.Name)
	}
	assert.Equal(t, appsv1.ParallelPodManagement, sts.Spec.PodManagementPolicy)

	budget := pulumimock.Decode[policyv1.PodDisruptionBudget](t, m, pdb, "qwen3-8b")
	assert.Equal(t, 1, budget.Spec.MaxUnavailable.IntValue())
	assert.Equal(t, sts.Spec.Selector.MatchLabels, budget.Spec.Selector.MatchLabels)
}

// TestAutoscaledModel: KEDA owns the replica count. The StatefulSet starts at the minimum (0:
// no GPU until the first request) and Pulumi ignores its replicas afterwards, so an `up` after
// KEDA scaled changes nothing; a disruption budget exists because it may run several replicas.
func TestAutoscaledModel(t *testing.T) {
	cfg, err := spec.Parse(map[string]string{
		"models": `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","replicas":5,
			"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":3}}]`,
		"observability": `{"enabled":true}`, // the triggers read Prometheus
	})
	require.NoError(t, err)
	require.NoError(t, spec.Validate(&cfg))
	m, _ := deploy(t, cfg.Models, false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	assert.Equal(t, int32(0), *sts.Spec.Replicas, "starts at autoscaling.minReplicas, not replicas")
	assert.Equal(t, []string{"spec.replicas"}, m.Find(t, statefulSet, "qwen3-8b").IgnoreChanges)
	budget := pulumimock.Decode[policyv1.PodDisruptionBudget](t, m, pdb, "qwen3-8b")
	assert.Equal(t, 1, budget.Spec.MaxUnavailable.IntValue())

	// Without autoscaling, Pulumi owns the count.
	m, _ = deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","replicas":1}]`), false)
	assert.Empty(t, m.Find(t, statefulSet, "qwen3-8b").IgnoreChanges)
	assert.False(t, m.Has(pdb, "qwen3-8b"), "one replica: no budget")
}

func TestDottedModelName(t *testing.T) {
	m, mods := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b"}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-0-6b")
	assert.Equal(t, "qwen3-0-6b", sts.Name, "Kubernetes names are sanitised")
	assert.Equal(t, "qwen3-0.6b", argValue(t, container(t, sts).Args, "--served-model-name"), "the served name keeps its dots")
	assertService(t, m, "qwen3-0-6b", sts)
	assert.Equal(t, "qwen3-0.6b", mods[0].ServedName)
	assert.Equal(t, "qwen3-0-6b.llm.svc.cluster.local:8000", mods[0].Upstream)
}

func TestCPUModel(t *testing.T) {
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-0-6b")
	c := container(t, sts)
	assert.Equal(t, cpuImage, c.Image)
	_, hasGPU := c.Resources.Requests[model.GPUResource]
	assert.False(t, hasGPU, "no GPU request")
	_, hasGPU = c.Resources.Limits[model.GPUResource]
	assert.False(t, hasGPU, "no GPU limit")
	assert.NotContains(t, c.Args, "--tensor-parallel-size")
	assert.Equal(t, "2", c.Resources.Requests.Cpu().String())
	assert.Equal(t, "8Gi", c.Resources.Requests.Memory().String())
	assert.Empty(t, sts.Spec.Template.Spec.NodeSelector, "CPU models run anywhere")
	assert.Empty(t, sts.Spec.Template.Spec.Tolerations)
}

func TestHFToken(t *testing.T) {
	models := specs(t, `[{"huggingfaceId":"a/one","modelName":"one"},{"huggingfaceId":"a/two","modelName":"two","gpuRequestCount":0}]`)
	t.Run("with token", func(t *testing.T) {
		m, _ := deploy(t, models, true)
		for _, name := range []string{"one", "two"} {
			c := container(t, pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, name))
			var found bool
			for _, e := range c.Env {
				if e.Name == "HF_TOKEN" {
					found = true
					assert.Empty(t, e.Value, "never a plain value")
					require.NotNil(t, e.ValueFrom)
					require.NotNil(t, e.ValueFrom.SecretKeyRef)
					assert.Equal(t, "hf-token", e.ValueFrom.SecretKeyRef.Name)
					assert.Equal(t, model.HFTokenKey, e.ValueFrom.SecretKeyRef.Key)
				}
			}
			assert.True(t, found, "%s gets HF_TOKEN", name)
		}
		pulumimock.AssertOnlyInSecrets(t, m, hfToken)
	})
	t.Run("without token", func(t *testing.T) {
		m, _ := deploy(t, models, false)
		c := container(t, pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "one"))
		for _, e := range c.Env {
			assert.NotEqual(t, "HF_TOKEN", e.Name)
		}
	})
}

func TestTutorialModelList(t *testing.T) {
	m, _ := deploy(t, specs(t, `[
		{"huggingfaceId":"google/gemma-3-27b-it","modelName":"gemma-3-27b-it","gpuRequestCount":2,"replicas":1,"pvcSize":"40Gi"},
		{"huggingfaceId":"Qwen/Qwen3-VL-30B-A3B-Instruct","modelName":"qwen3-vl-30b","gpuRequestCount":2,"replicas":1,"pvcSize":"45Gi"}]`), false)
	for name, want := range map[string]struct{ id, size string }{
		"gemma-3-27b-it": {"google/gemma-3-27b-it", "40Gi"},
		"qwen3-vl-30b":   {"Qwen/Qwen3-VL-30B-A3B-Instruct", "45Gi"},
	} {
		sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, name)
		c := container(t, sts)
		assert.Equal(t, want.id, c.Args[0])
		assert.Equal(t, name, argValue(t, c.Args, "--served-model-name"))
		assert.Equal(t, "2", argValue(t, c.Args, "--tensor-parallel-size"))
		assert.Equal(t, want.size, sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String())
		assertService(t, m, name, sts)
	}
	assert.Len(t, m.ByType(statefulSet), 2)
}

func TestEveryChildHasTheModelAsParent(t *testing.T) {
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"a/b","modelName":"m","replicas":3}]`), false)
	comp := m.Find(t, model.Type, "m")
	children := m.Children(comp)
	var types []string
	for _, c := range children {
		types = append(types, c.Type)
	}
	assert.ElementsMatch(t, []string{service, service, statefulSet, pdb}, types)
}
