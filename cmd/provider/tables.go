package main

import (
	"reflect"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/stacks"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// notExposed are Args fields the package leaves out, by "<Args type>.<Field>", with why.
var notExposed = map[string]string{
	// Resource references to the models' Kubernetes Services (the gateway's pods start after
	// them). A schema would have to name the Kubernetes package's Service type; from another
	// language, order the gateway after the models with dependsOn instead.
	"Args.Upstreams": "resources the gateway waits for; use dependsOn on the models",
}

// secretFields are inputs and outputs the schema marks secret, by "<package path>.<type>.<Field>".
var secretFields = map[string]struct{}{
	"components/gateway.Args.APIKeys":           {},
	"components/webui.Args.SecretKey":           {},
	"components/webui.Args.AdminPassword":       {},
	"components/webui.WebUI.AdminPassword":      {},
	"components/webui.Args.DatabaseURL":         {},
	"components/webui.Args.RedisURL":            {},
	"components/webui.Args.OIDCClientSecret":    {},
	"stacks.PlatformArgs.WebUIDatabaseURL":      {},
	"stacks.PlatformArgs.WebUIOIDCClientSecret": {},
}

// descriptions describe what has no doc comment of its own (a field documented together with
// the one before it, a config type whose keys Pulumi.yaml documents), by
// "<package path>.<type>[.<Field>]". A doc comment in the Go code is better; this table only
// fills the gaps.
var descriptions = map[string]string{
	"components/model.Args.CPUImage":                   "The vLLM image for CPU models (spec.gpuRequestCount 0).",
	"components/model.Spec.HuggingfaceID":              "The Hugging Face repository id vLLM serves (e.g. Qwen/Qwen3-0.6B); required unless weights.uri is set.",
	"components/model.Spec.ModelName":                  "The name clients send as \"model\" (dots are fine; object names are derived from the component's name or `name`).",
	"components/model.Spec.GPURequestCount":            "GPUs per replica (nvidia.com/gpu), also the tensor-parallel size; 0 serves the model on CPU with cpuImage.",
	"components/model.Spec.Replicas":                   "Pods serving the model; each has its own Hugging Face cache claim.",
	"components/model.Spec.PVCSize":                    "Size of each replica's Hugging Face cache claim (a Kubernetes quantity, e.g. 50Gi).",
	"components/model.Spec.MaxModelLen":                "vLLM --max-model-len; 0 keeps the model's own.",
	"components/model.Spec.GPUMemoryUtilization":       "vLLM --gpu-memory-utilization (0-1) for GPU models.",
	"components/model.Spec.Dtype":                      "vLLM --dtype (auto, bfloat16, float16, ...).",
	"components/model.Spec.ExtraArgs":                  "Arguments appended to `vllm serve`, for what the typed fields do not cover.",
	"components/model.Spec.TrustRemoteCode":            "Pass --trust-remote-code (runs the repository's own Python code; off unless the model needs it).",
	"components/model.Spec.StorageClass":               "StorageClass of the cache claims; empty uses the cluster's default.",
	"components/model.Spec.CPU":                        "CPU request of each replica (a Kubernetes quantity, e.g. 4).",
	"components/model.Spec.Memory":                     "Memory request of each replica (e.g. 16Gi); the limit adds shmSize.",
	"components/model.Spec.ShmSize":                    "Size of the memory-backed /dev/shm (tensor parallelism exchanges tensors through it); added to the memory limit.",
	"components/model.Spec.StartupTimeoutSeconds":      "Seconds the startup probe allows for the first start (the weights download).",
	"components/gateway.Config.Image":                  "The OpenResty image the router runs (a pinned tag).",
	"components/gateway.Config.Replicas":               "Gateway pods (the autoscaler's minimum).",
	"components/gateway.Config.MaxBodySize":            "Largest request body (a Kubernetes quantity, e.g. 16Mi); bodies are kept in memory.",
	"components/gateway.Config.TimeoutSeconds":         "Upstream read/send timeout and graceful drain, in seconds; long generations need minutes.",
	"components/webui.Args.GatewayKeyKey":              "The key in gatewayKeySecret holding the API key Open WebUI presents to the gateway.",
	"components/webui.Config.Enabled":                  "Whether the stack deploys Open WebUI (the component itself always does).",
	"components/webui.Config.Image":                    "The Open WebUI image (a pinned tag).",
	"components/webui.Config.StorageSize":              "Size of the data claim (Open WebUI's SQLite database and uploads).",
	"components/webui.Config.StorageClass":             "StorageClass of the data claim; empty uses the cluster's default.",
	"components/webui.Config.EnableSignup":             "Allow sign-up (off: the admin creates accounts).",
	"components/webui.Config.DefaultUserRole":          "Role of new sign-ups: pending or user.",
	"components/webui.Config.TimeoutSeconds":           "Timeout of UI requests at the edge, in seconds.",
	"components/webui.Config.AdminName":                "Display name of the first (admin) account.",
	"components/edge.Args.Config":                      "What the edge exposes and how (plain: it decides which objects exist).",
	"components/edge.Args.Namespace":                   "The application namespace the edge routes into and fences (one edge per namespace).",
	"components/edge.Args.IngressNamespace":            "Namespace of the Istio ingress gateway pods (for the NetworkPolicies).",
	"components/edge.Args.Gateway":                     "The LLM gateway's Service and pods: /v1 routes there.",
	"components/edge.Args.ModelPort":                   "The model pods' port (vLLM's, 8000), for the NetworkPolicies.",
	"components/edge.Config.Enabled":                   "Whether the stack deploys the edge (the component itself always does).",
	"components/edge.Config.Hosts":                     "Host names the Istio Gateway serves (\"*\" for any).",
	"components/edge.Config.TLS":                       "HTTPS settings; without a credential the edge serves plain HTTP.",
	"components/edge.Config.StrictMTLS":                "STRICT mutual TLS (PeerAuthentication) in the application namespace.",
	"components/edge.Config.NetworkPolicies":           "NetworkPolicies: models accept only the gateway, the gateway only the ingress and Open WebUI, Open WebUI only the ingress.",
	"components/edge.TLSConfig":                        "HTTPS at the Istio ingress gateway.",
	"components/edge.TLSConfig.CredentialName":         "A kubernetes.io/tls Secret in the ingress namespace; set, the edge serves HTTPS and redirects HTTP to it.",
	"components/edge.Edge.WebUIURL":                    "The public URL of Open WebUI (empty without the UI).",
	"components/addons.IstioConfig":                    "Istio (base, istiod, the ingress gateway) from its pinned Helm charts.",
	"components/addons.IstioConfig.Enabled":            "Install Istio.",
	"components/addons.IstioConfig.GatewayReplicas":    "Ingress gateway replicas (the autoscaler's minimum when the metrics API is there).",
	"components/addons.IstioConfig.ServiceAnnotations": "Annotations of the ingress gateway's Service (load balancer settings).",
	"components/addons.ArgoCDConfig":                   "Argo CD from its pinned Helm chart, with optional GitOps Applications.",
	"components/addons.ArgoCDConfig.Enabled":           "Install Argo CD.",
	"components/addons.ArgoCDConfig.HA":                "Replicated components and redis-ha (needs 3+ nodes for its anti-affinity).",
	"components/addons.ArgoCDConfig.Insecure":          "Serve plain HTTP behind the mesh.",
	"components/addons.ArgoCDConfig.Apps":              "Paths of Git repositories handed to Argo CD as auto-synced Applications.",
	"components/addons.ArgoCDApp.Name":                 "The Application's name.",
	"components/addons.ArgoCDApp.RepoURL":              "The Git repository's URL.",
	"components/addons.ArgoCDApp.Path":                 "The path in the repository.",
	"components/addons.ArgoCDApp.TargetRevision":       "The revision to sync (default HEAD).",
	"components/addons.ArgoCDApp.Namespace":            "The namespace the Application deploys into (default the application namespace).",

	// Doc comments that speak Go (nil, field names) get a language-neutral wording here.
	"components/edge.Args.IngressAddress":       "The ingress load balancer's address (empty while unknown); it names the platform when every host is a wildcard.",
	"components/edge.Args.IngressSelector":      "Labels selecting the Istio ingress gateway pods the Gateway binds to.",
	"components/edge.Args.Models":               "Labels selecting every model pod (for the NetworkPolicies).",
	"components/edge.Args.WebUI":                "Open WebUI's Service and pods; unset without the UI (no \"/\" route then).",
	"components/edge.Edge.APIBaseURL":           "The public OpenAI base URL.",
	"components/gateway.Args.APIKeys":           "The accepted API keys, comma-separated (secret); unset turns authentication off.",
	"components/gateway.Config.MaxReplicas":     "The CPU autoscaler's ceiling; replicas is its floor, and equal turns autoscaling off.",
	"components/model.Args.Image":               "The vLLM image for GPU models.",
	"components/model.Args.HFTokenSecret":       "Name of a Secret holding the Hugging Face token under the key \"token\"; unset when there is none.",
	"components/model.Args.NodeSelector":        "Node labels GPU models must run on (the GPU nodes).",
	"components/webui.Args.AdminPassword":       "Password of the first account (config.adminEmail), which Open WebUI creates at its first start; unset, one is generated once and kept in state.",
	"components/webui.Args.SecretKey":           "Signs sessions; unset, a random key is generated once and kept in state (later changes are ignored, so it stays stable).",
	"components/webui.Args.GatewayKeySecret":    "When the gateway checks API keys: the Secret holding the key Open WebUI presents (under gatewayKeyKey).",
	"components/webui.Config.AdminEmail":        "Email of the first (admin) account, which Open WebUI creates at its first start with the admin password (generated when unset); with sign-up off nobody could create it otherwise.",
	"components/addons.IstioConfig.ServiceType": "Type of the ingress gateway's Service: auto (LoadBalancer on gke and eks, NodePort on an existing cluster, where kind and bare metal have no load balancer), LoadBalancer, NodePort or ClusterIP.",

	// The observability thresholds documented together with the field before them.
	"components/observability.Thresholds.TTFTP95SecondsByModel": "Per served model name: a TTFT p95 limit (seconds) that replaces ttftP95Seconds for that model.",
	"components/observability.Thresholds.QueueMinutes":          "How long the waiting requests must stay above queueDepth before the queue alert fires.",
}

// typeNames name the schema types whose default name (package + type) reads badly.
var typeNames = map[reflect.Type]string{
	reflect.TypeFor[nginx.Route]():           "GatewayRoute",
	reflect.TypeFor[stacks.PlatformAddOns](): "PlatformAddOns",
	reflect.TypeFor[spec.VLLMConfig]():       "VLLMConfig",
}

// elementDefaults are the defaults of list entries, for the Platform's schema: a model entry's.
var elementDefaults = map[reflect.Type]reflect.Value{
	reflect.TypeFor[model.Spec](): reflect.ValueOf(spec.DefaultModel()),
}
