package model

import (
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Spec is one served model: what vLLM serves and the pod it runs in. Every field is plain
// Go, known at plan time: it shapes the workload's arguments, resources and replica count.
// The JSON names are the stack config's model entry keys; the first five are the original
// tutorial's values.yaml model entry, spelled the same so it pastes in.
type Spec struct {
	HuggingfaceID   string `json:"huggingfaceId" pulumi:"huggingfaceId,optional"` // required unless weights.uri is set
	ModelName       string `json:"modelName" pulumi:"modelName"`
	GPURequestCount int    `json:"gpuRequestCount" pulumi:"gpuRequestCount"`
	Replicas        int    `json:"replicas" pulumi:"replicas"`
	PVCSize         string `json:"pvcSize" pulumi:"pvcSize"`

	MaxModelLen           int      `json:"maxModelLen" pulumi:"maxModelLen,optional"`
	GPUMemoryUtilization  float64  `json:"gpuMemoryUtilization" pulumi:"gpuMemoryUtilization,optional"`
	Dtype                 string   `json:"dtype" pulumi:"dtype"`
	ExtraArgs             []string `json:"extraArgs" pulumi:"extraArgs,optional"`
	TrustRemoteCode       bool     `json:"trustRemoteCode" pulumi:"trustRemoteCode,optional"`
	StorageClass          string   `json:"storageClass" pulumi:"storageClass,optional"`
	CPU                   string   `json:"cpu" pulumi:"cpu"`
	Memory                string   `json:"memory" pulumi:"memory"`
	ShmSize               string   `json:"shmSize" pulumi:"shmSize"`
	StartupTimeoutSeconds int      `json:"startupTimeoutSeconds" pulumi:"startupTimeoutSeconds"`
	// Autoscaling hands the replica count to KEDA (components/autoscaling): Replicas is then
	// not used, the StatefulSet starts at MinReplicas and Pulumi leaves spec.replicas alone.
	Autoscaling Autoscaling `json:"autoscaling" pulumi:"autoscaling,optional"`

	// LoRAs are adapters served on this base model (vLLM --enable-lora): clients send an
	// adapter's Name as "model" and the gateway routes it to this model's replicas.
	LoRAs []LoRA `json:"loras" pulumi:"loras,optional"`
	// MaxLoras is how many adapters one batch may mix (vLLM --max-loras); 0: vLLM's default.
	MaxLoras int `json:"maxLoras" pulumi:"maxLoras,optional"`
	// MaxLoraRank is the largest adapter rank served (vLLM --max-lora-rank); 0: vLLM's default.
	MaxLoraRank int `json:"maxLoraRank" pulumi:"maxLoraRank,optional"`
	// Weights, when its URI is set, streams the weights from object storage (s3:// or gs://)
	// with the Run:ai Model Streamer instead of downloading them from Hugging Face.
	Weights Weights `json:"weights" pulumi:"weights,optional"`
	// DrainSeconds is how long a stopping replica may finish its running generations: the pod
	// leaves the gateway's endpoints first, then vLLM shuts down gracefully within it.
	// 0: the default.
	DrainSeconds int `json:"drainSeconds" pulumi:"drainSeconds,optional"`
}

// LoRA is one adapter on a base model.
type LoRA struct {
	// Name is the served name clients send as "model"; unique across all models and adapters.
	Name string `json:"name" pulumi:"name"`
	// Source is a Hugging Face id or an s3:// or gs:// URI of the adapter's files.
	Source string `json:"source" pulumi:"source"`
}

// Weights says where a model's weights come from when not from Hugging Face.
type Weights struct {
	// URI is an s3:// or gs:// prefix holding the model's safetensors and config files.
	URI string `json:"uri" pulumi:"uri,optional"`
	// ServiceAccount names an existing Kubernetes ServiceAccount in the model's namespace that
	// may read the model's object-storage sources (weights and s3:// or gs:// adapters), set up
	// by you (IRSA, EKS Pod Identity, GKE Workload Identity): for clusters the platform does not
	// manage (cloud existing, the component package). On gke and eks the platform creates the
	// account and its grants; leave it empty there.
	ServiceAccount string `json:"serviceAccount" pulumi:"serviceAccount,optional"`
}

// AdapterNames are the served names of the model's LoRA adapters, in config order.
func (m Spec) AdapterNames() []string {
	names := make([]string, len(m.LoRAs))
	for i, l := range m.LoRAs {
		names[i] = l.Name
	}
	return names
}

// ScalesToZero says whether the model may run no replica at all (autoscaling with
// minReplicas 0): the gateway then holds its requests while it starts.
func (m Spec) ScalesToZero() bool {
	return m.Autoscaling.Enabled && m.Autoscaling.MinReplicas == 0
}

// StartupBudget is how long a new replica may take to serve: vLLM's own startup (weights,
// compile) plus scheduling, node boot, image pull and volume provisioning.
func (m Spec) StartupBudget() time.Duration {
	return time.Duration(m.StartupTimeoutSeconds)*time.Second + ProvisionMargin
}

// ProvisionMargin is the startup budget's allowance for scheduling, a node from zero, image
// pulls and volume provisioning, on top of startupTimeoutSeconds.
const ProvisionMargin = 15 * time.Minute

// Autoscaling is a model's demand-driven replica range.
type Autoscaling struct {
	// Enabled lets KEDA set the replica count (replicas is then unused).
	Enabled bool `json:"enabled" pulumi:"enabled,optional"`
	// MinReplicas may be 0: the model holds no GPU while idle, and the gateway wakes it.
	MinReplicas int `json:"minReplicas" pulumi:"minReplicas,optional"`
	// MaxReplicas is the most replicas KEDA may run; the GPU pool must hold them all.
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
