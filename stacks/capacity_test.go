package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/stacks/spec"
)

// oneGPUModel uses the default sizing of a 1-GPU model: 4 CPU, 16Gi.
const oneGPUModel = `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`

// capacityErrors runs the whole program and returns its error, asserting that a refused
// config declared nothing.
func capacityErrors(t *testing.T, config map[string]string) error {
	t.Helper()
	m, _, err := run(t, config)
	if err != nil {
		assert.Empty(t, m.Resources(), "nothing is declared for a config that does not fit")
	}
	return err
}

// TestCapacityRefusesTheOldEKSDefaults: m6i.large system nodes cannot hold the platform's
// pods, and a g6.xlarge (4 vCPUs, 16 GiB) cannot hold a default 1-GPU model (4 CPU, 16Gi
// requests). The errors name the keys and a size that fits.
func TestCapacityRefusesTheOldEKSDefaults(t *testing.T) {
	err := capacityErrors(t, map[string]string{
		"cloud":  "eks",
		"eks":    `{"region":"us-west-2","cluster":{"systemInstanceType":"m6i.large"},"gpuNodeGroup":{"instanceTypes":["g6.xlarge"]}}`,
		"models": oneGPUModel,
	})
	require.Error(t, err)
	var ce *spec.ConfigError
	require.ErrorAs(t, err, &ce)
	msg := err.Error()
	assert.Contains(t, msg, `eks.gpuNodeGroup.instanceTypes: one replica of models[0] (qwen3-8b) requests 4.1 CPU, 16.1Gi memory, 1 GPU (with its Istio sidecar), but a g6.xlarge node has only 3.52 CPU`)
	assert.Contains(t, msg, `use "g6.2xlarge", or lower models[0].cpu to 3420m and models[0].memory to`)
	assert.Contains(t, msg, "eks.cluster.systemNodeCount: is 2, but the platform's own pods need 3 m6i.large nodes")
	assert.Contains(t, msg, "set eks.cluster.systemNodeCount to 3 or use a bigger eks.cluster.systemInstanceType")
}

// TestCapacityAcceptsTheNewDefaults: the defaults alone (plus a region) hold a 1-GPU model
// and the whole platform, on both clouds.
func TestCapacityAcceptsTheNewDefaults(t *testing.T) {
	for _, config := range []map[string]string{
		{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": oneGPUModel},
		{"cloud": "gke", "gke": `{"project":"p","region":"us-central1"}`, "models": oneGPUModel},
	} {
		problems, warnings := capacityProblems(parsed(t, config))
		assert.Empty(t, problems, config["cloud"])
		assert.Empty(t, warnings, "every default type is in the table")
	}
}

// TestCapacityGPUPoolMaximum: all replicas together must fit the pool at its maximum size.
func TestCapacityGPUPoolMaximum(t *testing.T) {
	err := capacityErrors(t, map[string]string{
		"cloud":  "gke",
		"gke":    `{"project":"p","region":"us-central1","gpuPool":{"maxNodes":2}}`,
		"models": `[{"huggingfaceId":"a/b","modelName":"m","replicas":3}]`,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gke.gpuPool.maxNodes: is 2, but the GPU models need 3 g2-standard-8 nodes (3 x models[0] (m)); set gke.gpuPool.maxNodes to 3 or more")
}

// TestCapacityCountsAutoscaledModelsAtTheirPeak: KEDA may run maxReplicas of a model, so the
// GPU pool must hold that many, and the error names both keys.
func TestCapacityCountsAutoscaledModelsAtTheirPeak(t *testing.T) {
	err := capacityErrors(t, map[string]string{
		"cloud":         "gke",
		"gke":           `{"project":"p","region":"us-central1","gpuPool":{"maxNodes":2}}`,
		"models":        `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":3}}]`,
		"observability": `{"enabled":true}`,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gke.gpuPool.maxNodes: is 2, but the GPU models need 3 g2-standard-8 nodes (3 x models[0] (m) at models[0].autoscaling.maxReplicas); set gke.gpuPool.maxNodes to 3 or more")

	problems, _ := capacityProblems(parsed(t, map[string]string{
		"cloud":         "gke",
		"gke":           `{"project":"p","region":"us-central1","gpuPool":{"maxNodes":2}}`,
		"models":        `[{"huggingfaceId":"a/b","modelName":"m","replicas":5,"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}}]`,
		"observability": `{"enabled":true}`,
	}))
	assert.Empty(t, problems, "with autoscaling, replicas is not what runs")
}

// TestCapacityGKEMachineShapes: accelerator-optimized machines carry a fixed GPU set, and
// the Hyperdisk-only series refuse pd-ssd.
func TestCapacityGKEMachineShapes(t *testing.T) {
	for _, tc := range []struct{ pool, want string }{
		{`{"machineType":"g2-standard-24","acceleratorType":"nvidia-l4","acceleratorCount":1}`,
			`gke.gpuPool.acceleratorCount: is 1 but g2-standard-24 carries exactly 2 x nvidia-l4; set acceleratorCount 2`},
		{`{"machineType":"a2-ultragpu-2g","acceleratorType":"nvidia-l4","acceleratorCount":2}`,
			`gke.gpuPool.acceleratorType: is "nvidia-l4" but a2-ultragpu-2g carries nvidia-a100-80gb`},
		{`{"machineType":"g4-standard-48","acceleratorType":"nvidia-rtx-pro-6000","acceleratorCount":1}`,
			`gke.gpuPool.diskType: is "pd-ssd" but g4-standard-48 boots only from Hyperdisk; set diskType "hyperdisk-balanced"`},
		{`{"machineType":"e2-standard-8","acceleratorType":"nvidia-l4","acceleratorCount":1}`,
			`gke.gpuPool.machineType: "e2-standard-8" has no GPUs`},
		{`{"machineType":"n1-standard-8","acceleratorType":"nvidia-l4","acceleratorCount":3}`,
			`gke.gpuPool.acceleratorType: "nvidia-l4" cannot be attached to n1-standard-8`},
	} {
		err := capacityErrors(t, map[string]string{
			"cloud": "gke", "gke": `{"project":"p","region":"us-central1","gpuPool":` + tc.pool + `}`, "models": oneGPUModel,
		})
		require.Error(t, err, tc.pool)
		assert.Contains(t, err.Error(), tc.want)
	}
	// Right shapes pass: N1 with attached T4s, G4 on Hyperdisk.
	for _, pool := range []string{
		`{"machineType":"n1-standard-16","acceleratorType":"nvidia-tesla-t4","acceleratorCount":2}`,
		`{"machineType":"g4-standard-48","acceleratorType":"nvidia-rtx-pro-6000","acceleratorCount":1,"diskType":"hyperdisk-balanced"}`,
	} {
		problems, _ := capacityProblems(parsed(t, map[string]string{
			"cloud": "gke", "gke": `{"project":"p","region":"us-central1","gpuPool":` + pool + `}`, "models": oneGPUModel,
		}))
		assert.Empty(t, problems, pool)
	}
}

// TestCapacityUnknownTypeWarns: a type outside the table is not judged, only warned about.
func TestCapacityUnknownTypeWarns(t *testing.T) {
	problems, warnings := capacityProblems(parsed(t, map[string]string{
		"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"instanceTypes":["g7.mystery"]}}`, "models": oneGPUModel,
	}))
	assert.Empty(t, problems)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], `eks.gpuNodeGroup.instanceTypes: "g7.mystery" is not in the capacity table`)
}

// TestCapacitySystemPodTooBigForAnyNode: a CPU model too large for a system node names the
// type key and a type that holds it.
func TestCapacitySystemPodTooBigForAnyNode(t *testing.T) {
	err := capacityErrors(t, map[string]string{
		"cloud":  "gke",
		"gke":    `{"project":"p","region":"us-central1"}`,
		"models": `[{"huggingfaceId":"a/b","modelName":"cpu","gpuRequestCount":0,"cpu":"6","memory":"8Gi"}]`,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `gke.cluster.systemMachineType: a e2-standard-4 node has 3.52 CPU`)
	assert.Contains(t, err.Error(), `use a bigger type such as "e2-standard-8"`)
}

func parsed(t *testing.T, raw map[string]string) spec.Config {
	t.Helper()
	cfg, err := spec.Parse(raw)
	require.NoError(t, err)
	require.NoError(t, spec.Validate(&cfg))
	return cfg
}

// TestCapacityCountsOpenWebUIForATeam: every replica of Open WebUI, its Redis and the in-cluster
// PostgreSQL with room for its backup Job count against the system pool; a team that does not
// fit is refused with the pods named.
func TestCapacityCountsOpenWebUIForATeam(t *testing.T) {
	team := `{"replicas":8,"storageClass":"efs","database":{"kind":"in-cluster"}}`
	err := capacityErrors(t, map[string]string{
		"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": oneGPUModel, "webui": team,
	})
	require.Error(t, err)
	for _, pods := range []string{"8 x Open WebUI", "1 x Open WebUI's Redis", "1 x Open WebUI's PostgreSQL", "1 x Open WebUI's database backup"} {
		assert.Contains(t, err.Error(), pods)
	}
	assert.Contains(t, err.Error(), "eks.cluster.systemNodeCount: is 2")

	// With the tenants' limits counted in the in-cluster Redis, Open WebUI shares that one:
	// one Redis pod is counted, under its own name.
	err = capacityErrors(t, map[string]string{
		"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": oneGPUModel, "webui": team,
		"tenancy": `{"tenants":[{"name":"open-webui","limits":{"requestsPerMinute":300}}]}`,
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 x the limits' Redis")
	assert.NotContains(t, err.Error(), "Open WebUI's Redis")

	// The default team (two replicas on the cloud's database) fits the default pools.
	for _, config := range []map[string]string{
		{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": oneGPUModel, "webui": `{"storageClass":"efs","database":{"kind":"managed"}}`},
		{"cloud": "gke", "gke": `{"project":"p","region":"us-central1"}`, "models": oneGPUModel, "webui": `{"storageClass":"standard-rwx","database":{"kind":"managed"}}`},
	} {
		problems, _ := capacityProblems(parsed(t, config))
		assert.Empty(t, problems, config["cloud"])
	}
}
