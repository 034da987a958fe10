package model

import "k8s.io/apimachinery/pkg/api/resource"

// Spec is one served model: what vLLM serves and the pod it runs in. Every field is plain
// Go, known at plan time: it shapes the workload's arguments, resources and replica count.
// The JSON names are the stack config's model entry keys; the first five are the original
// tutorial's values.yaml model entry, spelled the same so it pastes in.
type Spec struct {
	HuggingfaceID   string `json:"huggingfaceId" pulumi:"huggingfaceId"`
	ModelName       string `json:"modelName" pulumi:"modelName"`
	GPURequestCount int    `json:"gpuRequestCount" pulumi:"gpuRequestCount"`
	Replicas        int    `json:"replicas" pulumi:"replicas"`
	PVCSize         string `json:"pvcSize" pulumi:"pvcSize"`

	MaxModelLen          int      `json:"maxModelLen" pulumi:"maxModelLen,optional"`
	GPUMemoryUtilization float64  `json:"gpuMemoryUtilization" pulumi:"gpuMemoryUtilization,optional"`
	Dtype                string   `json:"dtype" pulumi:"dtype"`
	ExtraArgs            []string `json:"extraArgs" pulumi:"extraArgs,optional"`
	TrustRemoteCode      bool     `json:"trustRemoteCode" pulumi:"trustRemoteCode,optional"`
	StorageClass         string   `json:"storageClass" pulumi:"storageClass,optional"`
	CPU                  string   `json:"cpu" pulumi:"cpu"`
	Memory               string   `json:"memory" pulumi:"memory"`
	ShmSize              string   `json:"shmSize" pulumi:"shmSize"`
	StartupTimeoutSecs   int      `json:"startupTimeoutSeconds" pulumi:"startupTimeoutSeconds"`
	// Autoscaling hands the replica count to KEDA (components/autoscaling): Replicas is then
	// not used, the StatefulSet starts at MinReplicas and Pulumi leaves spec.replicas alone.
	Autoscaling Autoscaling `json:"autoscaling" pulumi:"autoscaling,optional"`
}

// Autoscaling is a model's demand-driven replica range.
type Autoscaling struct {
	Enabled bool `json:"enabled" pulumi:"enabled,optional"`
	// MinReplicas may be 0: the model holds no GPU while idle, and the gateway wakes it.
	MinReplicas int `json:"minReplicas" pulumi:"minReplicas,optional"`
	MaxReplicas int `json:"maxReplicas" pulumi:"maxReplicas,optional"`
	// TargetQueuePerReplica is the number of requests waiting in vLLM's queue, per replica,
	// above which another replica is added.
	TargetQueuePerReplica int `json:"targetQueuePerReplica" pulumi:"targetQueuePerReplica,optional"`
	// IdleMinutes without any request before the model scales to zero (MinReplicas 0).
	IdleMinutes int `json:"idleMinutes" pulumi:"idleMinutes,optional"`
	// CooldownSeconds a lower replica count must hold before replicas are removed.
	CooldownSeconds int `json:"cooldownSeconds" pulumi:"cooldownSeconds,optional"`
}

// InitialReplicas is the StatefulSet's declared replica count: Replicas, or with autoscaling
// the minimum (KEDA takes it from there).
func (m Spec) InitialReplicas() int {
	if m.Autoscaling.Enabled {
		return m.Autoscaling.MinReplicas
	}
	return m.Replicas
}

// PeakReplicas is the most replicas the model may run: what its GPUs must fit.
func (m Spec) PeakReplicas() int {
	if m.Autoscaling.Enabled {
		return m.Autoscaling.MaxReplicas
	}
	return m.Replicas
}

// MemoryLimit is the model container's memory limit: its memory request plus
// /dev/shm, because a memory-backed emptyDir is charged to the pod's memory.
func (m Spec) MemoryLimit() resource.Quantity {
	q := resource.MustParse(m.Memory)
	q.Add(resource.MustParse(m.ShmSize))
	return q
}
