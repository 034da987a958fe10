package model

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/configcheck"
)

// Dtypes are the --dtype values vLLM accepts.
var Dtypes = []string{"auto", "half", "float16", "bfloat16", "float", "float32"}

// managedFlags are the vLLM flags the component sets itself, with the key that sets each
// ("": none, the component decides): setting them again in extraArgs would silently fight the
// typed keys.
var managedFlags = map[string]string{
	"--port": "", "--host": "", "--served-model-name": "modelName",
	"--tensor-parallel-size": "gpuRequestCount", "--gpu-memory-utilization": "gpuMemoryUtilization",
	"--max-model-len": "maxModelLen", "--dtype": "dtype", "--trust-remote-code": "trustRemoteCode",
	"--model": "huggingfaceId", "--api-key": "",
	"--enable-lora": "loras", "--lora-modules": "loras", "--max-loras": "maxLoras",
	"--max-lora-rank": "maxLoraRank", "--shutdown-timeout": "drainSeconds",
}

// Validate checks one model's settings and returns every problem at once, each error starting
// with path (where the caller keeps the model: "spec." in the component package, "models[0]."
// in the stack config) and the setting's key. It is the one place these rules live: model.New
// and the stack config both call it. Rules that span models (unique names) or other
// components (Prometheus for autoscaling, the cloud of object storage) are the stack's.
func (s Spec) Validate(path string) []error {
	p := &configcheck.Problems{Prefix: path}
	s.validateResources(p)
	s.validateServing(p)
	s.validateAutoscaling(p)
	s.validateWeights(p)
	s.validateAdapters(p)
	s.validateDrain(p)
	return p.Errs
}

// validateResources: the pod's sizes.
func (s Spec) validateResources(p *configcheck.Problems) {
	if s.GPURequestCount < 0 {
		p.Add("gpuRequestCount", "is %d; use 0 for a CPU-only model or the number of GPUs (tensor-parallel size)", s.GPURequestCount)
	}
	if s.Replicas < 1 {
		p.Add("replicas", "is %d; use 1 or more", s.Replicas)
	}
	p.Quantity("pvcSize", s.PVCSize, "1Gi")
	p.Quantity("cpu", s.CPU, "100m")
	p.Quantity("memory", s.Memory, "512Mi")
	p.Quantity("shmSize", s.ShmSize, "64Mi")
}

// validateServing: vLLM's own settings.
func (s Spec) validateServing(p *configcheck.Problems) {
	if s.MaxModelLen < 0 {
		p.Add("maxModelLen", "is %d; use 0 for the model's own limit or a positive token count", s.MaxModelLen)
	}
	// The gateway routes by this name (a Lua table key, a metrics label); an empty one is the
	// caller's to name (the stack's modelName rule, the package's required input).
	if msg := nginx.ServedNameProblem(s.ModelName); s.ModelName != "" && msg != "" {
		p.Add("modelName", "%q %s; clients send it as \"model\"", s.ModelName, msg)
	}
	// 0 is unset (vLLM's own default, 0.9), as the component's optional input leaves it.
	if u := s.GPUMemoryUtilization; u < 0 || u > 1 {
		p.Add("gpuMemoryUtilization", "is %v; use a fraction in (0, 1], e.g. 0.9, or 0 for vLLM's default", u)
	}
	p.OneOf("dtype", s.Dtype, Dtypes)
	if s.StartupTimeoutSeconds < 60 {
		p.Add("startupTimeoutSeconds", "is %d; use at least 60 (first starts download the weights)", s.StartupTimeoutSeconds)
	}
	for j, arg := range s.ExtraArgs {
		flag, _, _ := strings.Cut(arg, "=")
		// vLLM's parser reads --max_loras as --max-loras.
		flag = strings.ReplaceAll(flag, "_", "-")
		if key, managed := managedFlags[flag]; managed {
			fix := "remove it: the platform sets it"
			if key != "" {
				fix = "set " + key + " instead"
			}
			p.Add(fmt.Sprintf("extraArgs[%d]", j), "%q is managed by the platform; %s", arg, fix)
		}
	}
}

// validateAutoscaling: the replica range when autoscaling is on, and no range while it is off
// (the model would keep its fixed replicas and nothing would say why). The GPU pool's room for
// maxReplicas is the stack's capacity check.
func (s Spec) validateAutoscaling(p *configcheck.Problems) {
	a := s.Autoscaling
	if !a.Enabled {
		if a != (Autoscaling{}) && a != DefaultAutoscaling() {
			p.Add("autoscaling", "sets minReplicas %d, maxReplicas %d (or the other autoscaling settings) but autoscaling is off, so the model keeps %s %d; "+
				"set %s: true, or remove the bounds", a.MinReplicas, a.MaxReplicas, p.At("replicas"), s.Replicas, p.At("autoscaling.enabled"))
		}
		return
	}
	if a.MinReplicas < 0 {
		p.Add("autoscaling.minReplicas", "is %d; use 0 (scale to zero when idle) or more", a.MinReplicas)
	}
	if a.MaxReplicas < 1 {
		p.Add("autoscaling.maxReplicas", "is %d; use 1 or more", a.MaxReplicas)
	} else if a.MinReplicas > a.MaxReplicas {
		p.Add("autoscaling.minReplicas", "is %d, above %s %d; set it to %d at most",
			a.MinReplicas, p.At("autoscaling.maxReplicas"), a.MaxReplicas, a.MaxReplicas)
	}
	if a.TargetQueuePerReplica < 1 {
		p.Add("autoscaling.targetQueuePerReplica", "is %d; use 1 or more waiting requests per replica", a.TargetQueuePerReplica)
	}
	if a.IdleMinutes < 1 {
		p.Add("autoscaling.idleMinutes", "is %d; use 1 or more minutes without requests before scaling to zero", a.IdleMinutes)
	}
	if a.CooldownSeconds < 0 {
		p.Add("autoscaling.cooldownSeconds", "is %d; use 0 or more seconds", a.CooldownSeconds)
	}
}

// DefaultAutoscaling is a model's autoscaling block when it does not set one (off).
func DefaultAutoscaling() Autoscaling {
	return Autoscaling{MinReplicas: 1, MaxReplicas: 2, TargetQueuePerReplica: 4, IdleMinutes: 30, CooldownSeconds: 300}
}

// validateDrain: drainSeconds, where 0 means DefaultDrainSeconds (Drain): an unset optional
// input is 0, and there is no "no drain", as a stopping pod must keep serving until the gateway
// has dropped it (MinDrainSeconds). The stack config gives 0 the same meaning.
func (s Spec) validateDrain(p *configcheck.Problems) {
	if d := s.DrainSeconds; d != 0 && (d < MinDrainSeconds || d > MaxDrainSeconds) {
		p.Add("drainSeconds", "is %d; use %d to %d seconds, or 0 for the default %d (lets generations of a few minutes finish when a replica stops)",
			d, MinDrainSeconds, MaxDrainSeconds, DefaultDrainSeconds)
	}
}

// validateAdapters: the model's LoRA adapters and their knobs. Names are unique within the
// model here; across models it is the stack's rule.
func (s Spec) validateAdapters(p *configcheck.Problems) {
	owner := map[string]string{s.ModelName: p.At("modelName")}
	for j, l := range s.LoRAs {
		key := fmt.Sprintf("loras[%d]", j)
		if validAdapterName(p, key+".name", l.Name) {
			if prev, dup := owner[l.Name]; dup {
				p.Add(key+".name", "%q clashes with %s; model and adapter names must be unique across all models (clients pick one by name); rename one", l.Name, prev)
			} else {
				owner[l.Name] = p.At(key + ".name")
			}
		}
		validAdapterSource(p, key+".source", l.Source, s.GPURequestCount)
	}
	s.validateAdapterKnobs(p)
}

func validAdapterName(p *configcheck.Problems, key, name string) bool {
	switch {
	case strings.TrimSpace(name) == "":
		p.Add(key, "is required; it is the name clients send as \"model\" to use the adapter, e.g. \"sql-lora\"")
	case strings.IndexFunc(name, unicode.IsSpace) >= 0 || strings.IndexFunc(name, unicode.IsControl) >= 0:
		p.Add(key, "%q has spaces or control characters; clients send it as \"model\", so use a plain name like \"sql-lora\"", name)
	case !utf8.ValidString(name) || len(name) > nginx.MaxServedNameBytes:
		p.Add(key, "must be valid UTF-8 of at most %d bytes (the gateway's limit for a served name)", nginx.MaxServedNameBytes)
	default:
		return true
	}
	return false
}

func validAdapterSource(p *configcheck.Problems, key, source string, gpus int) {
	switch err := CheckAdapterSource(source); {
	case source == "":
		p.Add(key, "is required; use a Hugging Face id (\"org/adapter\") or an s3://bucket/prefix or gs://bucket/prefix URI")
	case err != nil:
		p.Add(key, "%v", err)
	case IsObjectURI(source) && gpus == 0:
		p.Add(key, "%q is in object storage, which only the GPU image can copy from (the CPU image has no Run:ai streamer libraries); use a Hugging Face id for a CPU model", source)
	}
}

// validateAdapterKnobs: maxLoras and maxLoraRank, which do nothing without adapters (vLLM runs
// without --enable-lora then).
func (s Spec) validateAdapterKnobs(p *configcheck.Problems) {
	if len(s.LoRAs) == 0 {
		for _, k := range []struct {
			key string
			v   int
		}{{"maxLoras", s.MaxLoras}, {"maxLoraRank", s.MaxLoraRank}} {
			if k.v != 0 {
				p.Add(k.key, "is %d but the model has no loras; add the adapters under %s or remove %s", k.v, p.At("loras"), k.key)
			}
		}
		return
	}
	if s.MaxLoras < 0 {
		p.Add("maxLoras", "is %d; use 0 (vLLM's default, 1) or the number of adapters one batch may mix", s.MaxLoras)
	}
	if s.MaxLoraRank != 0 && !slices.Contains(LoRARanks, s.MaxLoraRank) {
		p.Add("maxLoraRank", "is %d, which vLLM does not accept; use one of %s (0: vLLM's default, 16), at least your adapters' largest rank",
			s.MaxLoraRank, LoRARanksText())
	}
}

// validateWeights: where the weights come from (a Hugging Face id, or an s3:// or gs:// URI the
// GPU image streams), and the ServiceAccount that reads object storage. Which cloud can grant
// that access is the stack's rule.
func (s Spec) validateWeights(p *configcheck.Problems) {
	uri := s.Weights.URI
	// Streamed weights (weights.uri) come with their config and tokenizer: no repository.
	if uri == "" && strings.TrimSpace(s.HuggingfaceID) == "" {
		p.Add("huggingfaceId", "is required; use the Hugging Face repository id, e.g. \"Qwen/Qwen3-0.6B\" (or stream the weights from weights.uri)")
	}
	if uri != "" {
		if s.GPURequestCount == 0 {
			// The CPU image has no Run:ai streamer libraries (docker/Dockerfile.cpu installs
			// vllm[audio] only), as for object-store adapters.
			p.Add("weights.uri", "streams with the Run:ai Model Streamer, which only the GPU image has (the CPU image lacks its libraries); use huggingfaceId for a CPU model")
		}
		if _, err := ParseObjectURI(uri); err != nil {
			p.Add("weights.uri", "%v", err)
		}
		for j, arg := range s.ExtraArgs {
			if flag, _, _ := strings.Cut(arg, "="); strings.ReplaceAll(flag, "_", "-") == "--load-format" {
				p.Add(fmt.Sprintf("extraArgs[%d]", j), "%q conflicts with %s, which streams the weights with --load-format runai_streamer; remove it", arg, p.At("weights.uri"))
			}
		}
	}
	switch sa := s.Weights.ServiceAccount; {
	case sa == "":
	case !s.ReadsObjectStorage():
		p.Add("weights.serviceAccount", "is set but the model reads no s3:// or gs:// source; remove it, or set %s", p.At("weights.uri"))
	default:
		if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
			p.Add("weights.serviceAccount", "%q is not a ServiceAccount name (%s)", sa, strings.Join(errs, "; "))
		}
	}
}

// ReadsObjectStorage says whether the model reads an s3:// or gs:// source (its weights or an
// adapter).
func (s Spec) ReadsObjectStorage() bool {
	if s.Weights.URI != "" {
		return true
	}
	for _, l := range s.LoRAs {
		if IsObjectURI(l.Source) {
			return true
		}
	}
	return false
}
