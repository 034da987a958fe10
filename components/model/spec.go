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
}

// MemoryLimit is the model container's memory limit: its memory request plus
// /dev/shm, because a memory-backed emptyDir is charged to the pod's memory.
func (m Spec) MemoryLimit() resource.Quantity {
	q := resource.MustParse(m.Memory)
	q.Add(resource.MustParse(m.ShmSize))
	return q
}
