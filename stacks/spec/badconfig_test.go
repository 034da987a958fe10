package spec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const oneModel = `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b"}]`

// TestBadConfig: every bad config fails with an error naming its key path,
// both from Parse+Validate and from the whole program, which then declares
// nothing at all.
func TestBadConfig(t *testing.T) {
	gke := `{"project":"p","region":"us-central1"}`
	cases := []struct {
		name string
		raw  map[string]string
		key  string // the key path the error must name
	}{
		{"unknown cloud", map[string]string{"cloud": "azure", "models": oneModel}, "cloud: \"azure\" is not allowed"},
		{"missing gke project", map[string]string{"cloud": "gke", "gke": `{"region":"us-central1"}`, "models": oneModel}, "gke.project: is required"},
		{"missing gke region", map[string]string{"cloud": "gke", "gke": `{"project":"p"}`, "models": oneModel}, "gke.region: is required"},
		{"gke zone outside region", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","zone":"europe-west4-a"}`, "models": oneModel}, "gke.zone:"},
		{"bad gke accelerator", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"r","gpuPool":{"acceleratorType":"nvidia-gtx-1080"}}`, "models": oneModel}, "gke.gpuPool.acceleratorType:"},
		{"bad gke driver", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"r","gpuPool":{"driverVersion":"NEWEST"}}`, "models": oneModel}, "gke.gpuPool.driverVersion:"},
		{"gke max below min", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"r","gpuPool":{"minNodes":3,"maxNodes":1}}`, "models": oneModel}, "gke.gpuPool.maxNodes:"},
		{"model does not fit gke node", map[string]string{"cloud": "gke", "gke": gke, "models": `[{"huggingfaceId":"a/b","modelName":"big","gpuRequestCount":4}]`}, "models[0].gpuRequestCount: is 4 but a GPU node has 1"},
		{"gke extended release channel", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","cluster":{"releaseChannel":"EXTENDED"}}`, "models": oneModel}, "gke.cluster.releaseChannel: \"EXTENDED\" is not supported by the pinned pulumi-gcp v7.38.0, whose provider accepts only UNSPECIFIED, RAPID, REGULAR and STABLE"},
		{"gke unknown release channel", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","cluster":{"releaseChannel":"NIGHTLY"}}`, "models": oneModel}, "gke.cluster.releaseChannel: \"NIGHTLY\" is not allowed; use one of RAPID, REGULAR, STABLE"},
		{"gke cluster name not a GKE name", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","cluster":{"name":"LLM_Platform"}}`, "models": oneModel}, "gke.cluster.name: \"LLM_Platform\" is not a GKE cluster name"},
		{"gke cluster name too long", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","cluster":{"name":"llm-platform-with-a-name-longer-than-forty"}}`, "models": oneModel}, "gke.cluster.name: \"llm-platform-with-a-name-longer-than-forty\" is not a GKE cluster name"},
		{"gke node location outside the region", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","gpuPool":{"nodeLocations":["us-central1-a","europe-west4-b"]}}`, "models": oneModel}, "gke.gpuPool.nodeLocations[1]: \"europe-west4-b\" is not in region \"us-central1\""},
		{"gke node location twice", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","gpuPool":{"nodeLocations":["us-central1-a","us-central1-a"]}}`, "models": oneModel}, "gke.gpuPool.nodeLocations[1]: \"us-central1-a\" is already gke.gpuPool.nodeLocations[0]"},
		{"eks label the platform manages", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"labels":{"nvidia.com/gpu.present":"false"}}}`, "models": oneModel}, "eks.gpuNodeGroup.labels: sets \"nvidia.com/gpu.present\""},
		{"eks subnets for a created cluster", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"subnetIds":["subnet-1"]}}`, "models": oneModel}, "eks.cluster.subnetIds: is only for adopted clusters"},
		{"missing eks region", map[string]string{"cloud": "eks", "models": oneModel}, "eks.region: is required"},
		{"bad eks capacity type", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"capacityType":"RESERVED"}}`, "models": oneModel}, "eks.gpuNodeGroup.capacityType:"},
		{"eks desired above max", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"minSize":0,"desiredSize":5,"maxSize":2}}`, "models": oneModel}, "eks.gpuNodeGroup.desiredSize: is 5"},
		{"eks one zone", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"availabilityZones":["us-west-2a"]}}`, "models": oneModel}, "eks.cluster.availabilityZones:"},
		{"eks vpc block not a /16", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"vpcCidr":"10.0.0.0/8"}}`, "models": oneModel}, "eks.cluster.vpcCidr: \"10.0.0.0/8\" is a /8; use a /16"},
		{"eks vpc block not IPv4", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"vpcCidr":"fd00:10::/16"}}`, "models": oneModel}, "eks.cluster.vpcCidr: \"fd00:10::/16\" is not an IPv4 CIDR block"},
		{"eks vpc block with host bits", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"vpcCidr":"10.0.5.0/16"}}`, "models": oneModel}, "eks.cluster.vpcCidr: \"10.0.5.0/16\" has host bits set; use its network address \"10.0.0.0/16\""},
		{"eks vpc block not a CIDR", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"vpcCidr":"10.0.0.0"}}`, "models": oneModel}, "eks.cluster.vpcCidr: \"10.0.0.0\" is not an IPv4 CIDR block"},
		{"eks public access not a CIDR", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"publicAccessCidrs":["203.0.113.0/24","office"]}}`, "models": oneModel}, "eks.cluster.publicAccessCidrs[1]: \"office\" is not an IPv4 CIDR block"},
		{"eks public access with host bits", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"publicAccessCidrs":["203.0.113.7/24"]}}`, "models": oneModel}, "eks.cluster.publicAccessCidrs[0]: \"203.0.113.7/24\" has host bits set; use \"203.0.113.0/24\""},
		{"eks public access empty", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"publicAccessCidrs":[]}}`, "models": oneModel}, "eks.cluster.publicAccessCidrs: is empty"},
		{"eks version not a minor version", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"version":"v1.36.2"}}`, "models": oneModel}, "eks.cluster.version: \"v1.36.2\" is not a Kubernetes minor version"},
		{"eks adopt without subnets", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"create":false,"name":"shared"}}`, "models": oneModel}, "eks.cluster.subnetIds: is required when adopting a cluster"},
		{"eks add-on switch not a bool", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","loadBalancerController":"yes"}`, "models": oneModel}, "eks.loadBalancerController: expected true or false"},
		{"empty model list", map[string]string{"models": `[]`}, "models: at least one model is required"},
		{"no models key", map[string]string{}, "models: at least one model is required"},
		{"missing huggingfaceId", map[string]string{"models": `[{"modelName":"x"}]`}, "models[0].huggingfaceId: is required"},
		// Open WebUI for a team (components/webui's rules, and those spanning components).
		{"webui replicas on SQLite", map[string]string{"models": oneModel, "webui": `{"replicas":2,"storageClass":"nfs"}`}, "webui.replicas: is 2, but webui.database.kind is \"sqlite\""},
		{"webui shared uploads without a class", map[string]string{"models": oneModel, "webui": `{"database":{"kind":"in-cluster"}}`}, "webui.storageClass: is empty, but 2 replicas"},
		{"webui database not known", map[string]string{"models": oneModel, "webui": `{"database":{"kind":"mysql"}}`}, "webui.database.kind: \"mysql\" is not allowed"},
		{"webui managed on an existing cluster", map[string]string{"models": oneModel, "webui": `{"database":{"kind":"managed"},"storageClass":"nfs"}`}, "webui.database.kind: is managed, which creates Cloud SQL"},
		{"webui managed on an adopted gke cluster", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","cluster":{"create":false}}`, "models": oneModel, "webui": `{"database":{"kind":"managed"},"storageClass":"nfs"}`}, "webui.database.kind: is managed, but gke.cluster.create is false"},
		{"webui managed on an adopted eks cluster in one subnet", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"create":false,"name":"shared","subnetIds":["subnet-1"]}}`, "models": oneModel, "webui": `{"database":{"kind":"managed"},"storageClass":"efs"}`}, "eks.cluster.subnetIds: has 1 subnet(s), but webui.database.kind managed"},
		{"webui managed in render mode", map[string]string{"cloud": "gke", "gke": gke, "render": `{"dir":"/tmp/out"}`, "models": oneModel, "webui": `{"database":{"kind":"managed"},"storageClass":"nfs"}`}, "webui.database.kind: is managed, but render.dir"},
		{"cloud sql sized but unused", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","postgres":{"tier":"db-custom-2-7680"}}`, "models": oneModel}, "gke.postgres: is set, but it sizes the instance created only with webui.database.kind managed"},
		{"cloud sql shared core", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","postgres":{"tier":"db-f1-micro","version":"POSTGRES_17","diskSizeGb":20,"backupRetentionDays":7,"deletionProtection":true}}`, "models": oneModel, "webui": `{"database":{"kind":"managed"},"storageClass":"nfs"}`}, "gke.postgres.tier: \"db-f1-micro\" is not a dedicated-core tier"},
		{"rds engine too old", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","postgres":{"instanceClass":"db.t4g.medium","engineVersion":"13","allocatedStorageGb":20,"backupRetentionDays":7,"deletionProtection":true}}`, "models": oneModel, "webui": `{"database":{"kind":"managed"},"storageClass":"efs"}`}, "eks.postgres.engineVersion: \"13\""},
		{"webui oidc without a public address", map[string]string{"models": oneModel, "webui": `{"oidc":{"issuerUrl":"https://accounts.google.com","clientId":"id"}}`}, "webui.oidc.issuerUrl: turns single sign-on on, which needs Open WebUI's public address"},
		{"webui oidc not https", map[string]string{"models": oneModel, "edge": `{"hosts":["chat.example.com"]}`, "webui": `{"oidc":{"issuerUrl":"http://idp.example.com","clientId":"id"}}`}, "webui.oidc.issuerUrl: \"http://idp.example.com\" is not an https issuer URL"},
		// Weights from object storage (stacks/spec/weights.go).
		{"weights uri not object storage", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"hf://Qwen/Qwen3-8B"}}]`}, "models[0].weights.uri: \"hf://Qwen/Qwen3-8B\" is not an s3:// or gs:// URI"},
		{"weights uri over https", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"https://acme.s3.amazonaws.com/m"}}]`}, "models[0].weights.uri: \"https://acme.s3.amazonaws.com/m\" is not an s3:// or gs:// URI"},
		{"weights on azure", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"az://models/m"}}]`}, "models[0].weights.uri: \"az://models/m\" is not an s3:// or gs:// URI"},
		{"weights bucket not an S3 name", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"s3://Acme_Models/m"}}]`}, "models[0].weights.uri: \"s3://Acme_Models/m\": bucket \"Acme_Models\" is not a valid S3 bucket name"},
		{"weights bucket not a GCS name", map[string]string{"cloud": "gke", "gke": gke, "models": `[{"modelName":"m","weights":{"uri":"gs://google-models/m"}}]`}, "models[0].weights.uri: \"gs://google-models/m\": bucket \"google-models\" uses \"goog\" or \"google\""},
		{"weights prefix with a wildcard", map[string]string{"cloud": "gke", "gke": gke, "models": `[{"modelName":"m","weights":{"uri":"gs://acme-models/llama*"}}]`}, "models[0].weights.uri: \"gs://acme-models/llama*\": the path may not contain '*'"},
		{"s3 weights on gke", map[string]string{"cloud": "gke", "gke": gke, "models": `[{"modelName":"m","weights":{"uri":"s3://acme-models/m"}}]`}, "models[0].weights.uri: \"s3://acme-models/m\" is in Amazon S3, but on cloud gke"},
		{"gs weights on eks", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"gs://acme-models/m"}}]`}, "models[0].weights.uri: \"gs://acme-models/m\" is in Cloud Storage, but on cloud eks"},
		{"s3 adapter on gke", map[string]string{"cloud": "gke", "gke": gke, "models": `[{"huggingfaceId":"a/b","modelName":"m","loras":[{"name":"sql","source":"s3://acme-adapters/sql"}]}]`}, "models[0].loras[0].source: \"s3://acme-adapters/sql\" is in Amazon S3, but on cloud gke"},
		{"weights on an existing cluster without an account", map[string]string{"models": `[{"modelName":"m","weights":{"uri":"s3://acme-models/m"}}]`}, "models[0].weights.uri: on cloud \"existing\" the platform cannot grant the model read access to object storage"},
		{"weights account on eks", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"s3://acme-models/m","serviceAccount":"mine"}}]`}, "models[0].weights.serviceAccount: is only for cloud \"existing\""},
		{"weights account without object sources", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","weights":{"serviceAccount":"mine"}}]`}, "models[0].weights.serviceAccount: is set but the model reads no s3:// or gs:// source"},
		{"weights account not a name", map[string]string{"models": `[{"modelName":"m","weights":{"uri":"s3://acme-models/m","serviceAccount":"My Reader"}}]`}, "models[0].weights.serviceAccount: \"My Reader\" is not a ServiceAccount name"},
		{"load format with streamed weights", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": `[{"modelName":"m","weights":{"uri":"s3://acme-models/m"},"extraArgs":["--load-format=safetensors"]}]`}, "models[0].extraArgs[0]: \"--load-format=safetensors\" conflicts with models[0].weights.uri"},
		{"missing modelName", map[string]string{"models": `[{"huggingfaceId":"a/b"}]`}, "models[0].modelName: is required"},
		{"duplicate modelName", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m"},{"huggingfaceId":"a/c","modelName":"m"}]`}, "models[1].modelName: \"m\" is already used by models[0]"},
		{"modelName with no usable characters", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"..."}]`}, "models[0].modelName:"},
		{"modelName starting with a digit", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"7b-chat"}]`}, "models[0].modelName:"},
		{"names that sanitise alike", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"qwen3-0.6b"},{"huggingfaceId":"a/c","modelName":"qwen3_0_6b"}]`}, "models[1].modelName: \"qwen3_0_6b\" and models[0].modelName \"qwen3-0.6b\" both become the Kubernetes name \"qwen3-0-6b\""},
		{"modelName taking another's headless Service name", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"qwen"},{"huggingfaceId":"a/c","modelName":"qwen-headless"}]`}, "models[1].modelName: \"qwen-headless\" becomes the Kubernetes name \"qwen-headless\", which is the headless Service of models[0] (\"qwen\")"},
		{"negative gpuRequestCount", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuRequestCount":-1}]`}, "models[0].gpuRequestCount: is -1"},
		{"zero replicas", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","replicas":0}]`}, "models[0].replicas: is 0"},
		{"autoscaling min above max", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"minReplicas":3,"maxReplicas":2}}]`}, "models[0].autoscaling.minReplicas: is 3, above models[0].autoscaling.maxReplicas 2; set it to 2 at most"},
		{"autoscaling max zero", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":0}}]`}, "models[0].autoscaling.maxReplicas: is 0; use 1 or more"},
		{"autoscaling negative min", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"minReplicas":-1}}]`}, "models[0].autoscaling.minReplicas: is -1"},
		{"autoscaling zero queue target", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"targetQueuePerReplica":0}}]`}, "models[0].autoscaling.targetQueuePerReplica: is 0"},
		{"autoscaling zero idle minutes", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"idleMinutes":0}}]`}, "models[0].autoscaling.idleMinutes: is 0"},
		{"autoscaling negative cooldown", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"cooldownSeconds":-5}}]`}, "models[0].autoscaling.cooldownSeconds: is -5"},
		{"autoscaling without Prometheus", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true}}]`}, "models[0].autoscaling.enabled: needs the models' and the gateway's metrics in Prometheus: set observability.enabled: true, or platform.keda.prometheusURL"},
		{"autoscaling misspelt key", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","autoscaling":{"enabled":true,"maxReplica":4}}]`}, "models[0].autoscaling.maxReplica: unknown key"},
		{"bad pvcSize", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","pvcSize":"forty gigs"}]`}, "models[0].pvcSize: \"forty gigs\" is not a Kubernetes quantity"},
		{"bad memory", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","memory":"lots"}]`}, "models[0].memory:"},
		{"gpu memory utilization above 1", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuMemoryUtilization":1.5}]`}, "models[0].gpuMemoryUtilization: is 1.5"},
		{"bad dtype", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","dtype":"int3"}]`}, "models[0].dtype:"},
		{"managed flag in extraArgs", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","extraArgs":["--enforce-eager","--tensor-parallel-size=4"]}]`}, "models[0].extraArgs[1]: \"--tensor-parallel-size=4\" is managed by the platform; set gpuRequestCount instead"},
		{"malformed JSON", map[string]string{"models": `[{"huggingfaceId":"a/b",`}, "models: malformed JSON"},
		{"models not a list", map[string]string{"models": `{"huggingfaceId":"a/b"}`}, "models: expected a list"},
		{"wrong type in a model", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m"},{"huggingfaceId":"a/c","modelName":"n","gpuRequestCount":"two"}]`}, "models[1].gpuRequestCount: expected a whole number, got a JSON string"},
		{"wrong type nested", map[string]string{"gke": `{"gpuPool":{"spot":"yes"}}`, "models": oneModel}, "gke.gpuPool.spot: expected true or false"},
		{"misspelt model key", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuRequestcount":2}]`}, "models[0].gpuRequestcount: unknown key"},
		{"misspelt nested key", map[string]string{"platform": `{"istio":{"enable":false}}`, "models": oneModel}, "platform.istio.enable: unknown key"},
		{"trailing data", map[string]string{"gateway": `{"replicas":2} {}`, "models": oneModel}, "gateway: trailing data"},
		{"bad namespace", map[string]string{"namespace": "LLM_Apps", "models": oneModel}, "namespace: \"LLM_Apps\" is not a valid namespace name"},
		{"zero gateway replicas", map[string]string{"gateway": `{"replicas":0}`, "models": oneModel}, "gateway.replicas: is 0"},
		{"tiny gateway body limit", map[string]string{"gateway": `{"maxBodySize":"10Ki"}`, "models": oneModel}, "gateway.maxBodySize: \"10Ki\" is too small"},
		{"gateway maxReplicas below replicas", map[string]string{"gateway": `{"replicas":4,"maxReplicas":3}`, "models": oneModel}, "gateway.maxReplicas: is 3, below gateway.replicas 4"},
		{"zero gateway stream limit", map[string]string{"gateway": `{"maxStreamsPerPod":0}`, "models": oneModel}, "gateway.maxStreamsPerPod: is 0"},
		{"gateway stream limit above the port range", map[string]string{"gateway": `{"maxStreamsPerPod":50000}`, "models": oneModel}, "gateway.maxStreamsPerPod: is 50000"},
		{"unknown routing strategy", map[string]string{"gateway": `{"routing":{"strategy":"random"}}`, "models": oneModel}, "gateway.routing.strategy: \"random\" is not allowed; use one of prefix, least-load, round-robin"},
		{"empty routing strategy", map[string]string{"gateway": `{"routing":{"strategy":""}}`, "models": oneModel}, "gateway.routing.strategy: \"\" is not allowed"},
		{"session header with a space", map[string]string{"gateway": `{"routing":{"sessionHeader":"x session"}}`, "models": oneModel}, "gateway.routing.sessionHeader: \"x session\" is not a header name"},
		{"session header with an underscore", map[string]string{"gateway": `{"routing":{"sessionHeader":"x_session"}}`, "models": oneModel}, "gateway.routing.sessionHeader:"},
		{"cold start timeout not a duration", map[string]string{"gateway": `{"coldStartTimeout":"ten minutes"}`, "models": oneModel}, "gateway.coldStartTimeout: \"ten minutes\" is not a duration"},
		{"cold start timeout too long", map[string]string{"gateway": `{"coldStartTimeout":"5h"}`, "models": oneModel}, "gateway.coldStartTimeout: is 5h0m0s; use 1s to 2h0m0s"},
		{"hold share above half", map[string]string{"gateway": `{"holdShare":0.9}`, "models": oneModel}, "gateway.holdShare: is 0.9; use a share of maxStreamsPerPod in (0, 0.5]"},
		{"no hold share", map[string]string{"gateway": `{"holdShare":0}`, "models": oneModel}, "gateway.holdShare: is 0;"},
		{"zero block size", map[string]string{"gateway": `{"routing":{"blockSize":0}}`, "models": oneModel}, "gateway.routing.blockSize: is 0"},
		{"negative routing weight", map[string]string{"gateway": `{"routing":{"weights":{"queue":-1}}}`, "models": oneModel}, "gateway.routing.weights.queue: is -1; use 0 to 1000"},
		{"routing weight with round-robin", map[string]string{"gateway": `{"routing":{"strategy":"round-robin","weights":{"prefix":2}}}`, "models": oneModel}, "gateway.routing.weights.prefix: does nothing with strategy round-robin"},
		{"every routing weight 0", map[string]string{"gateway": `{"routing":{"strategy":"least-load","weights":{"queue":0,"running":0,"kvCache":0}}}`, "models": oneModel}, "gateway.routing.weights: every weight is 0"},
		{"negative block size", map[string]string{"gateway": `{"routing":{"blockSize":-256}}`, "models": oneModel}, "gateway.routing.blockSize: is -256"},
		{"block size not a multiple of 4", map[string]string{"gateway": `{"routing":{"blockSize":130}}`, "models": oneModel}, "gateway.routing.blockSize: is 130; use a multiple of 4"},
		{"zero min prefix blocks", map[string]string{"gateway": `{"routing":{"minPrefixBlocks":0}}`, "models": oneModel}, "gateway.routing.minPrefixBlocks: is 0"},
		{"zero max prefix blocks", map[string]string{"gateway": `{"routing":{"maxPrefixBlocks":0}}`, "models": oneModel}, "gateway.routing.maxPrefixBlocks: is 0"},
		{"min prefix above max", map[string]string{"gateway": `{"routing":{"minPrefixBlocks":10,"maxPrefixBlocks":4}}`, "models": oneModel}, "gateway.routing.minPrefixBlocks: is 10, above gateway.routing.maxPrefixBlocks 4"},
		{"load factor below 1", map[string]string{"gateway": `{"routing":{"loadFactor":0.5}}`, "models": oneModel}, "gateway.routing.loadFactor: is 0.5"},
		{"zero index", map[string]string{"gateway": `{"routing":{"indexEntries":0}}`, "models": oneModel}, "gateway.routing.indexEntries: is 0"},
		{"misspelt routing key", map[string]string{"gateway": `{"routing":{"stratgy":"prefix"}}`, "models": oneModel}, "gateway.routing.stratgy: unknown key"},
		{"routing block size not a number", map[string]string{"gateway": `{"routing":{"blockSize":"256"}}`, "models": oneModel}, "gateway.routing.blockSize: expected a whole number"},
		{"admin as default role", map[string]string{"webui": `{"defaultUserRole":"admin"}`, "models": oneModel}, "webui.defaultUserRole: \"admin\" is not allowed"},
		{"argo app without repo", map[string]string{"platform": `{"argocd":{"apps":[{"name":"llm","path":"manifests"}]}}`, "models": oneModel}, "platform.argocd.apps[0].repoURL: is required"},
		{"edge without hosts", map[string]string{"edge": `{"hosts":[]}`, "models": oneModel}, "edge.hosts: is empty"},
		{"bad ingress service type", map[string]string{"platform": `{"istio":{"serviceType":"External"}}`, "models": oneModel}, "platform.istio.serviceType: \"External\" is not allowed"},
		{"edge without istio", map[string]string{"platform": `{"istio":{"enabled":false}}`, "models": oneModel}, "edge.enabled: needs Istio, but platform.istio.enabled is false; set platform.istio.enabled: true, or platform.istio.preinstalled: true"},
		{"istio installed and preinstalled", map[string]string{"platform": `{"istio":{"preinstalled":true}}`, "models": oneModel}, "platform.istio.preinstalled: is true while platform.istio.enabled installs Istio too"},
		{"argo ha on two zonal gke nodes", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","zone":"us-central1-a","cluster":{"systemNodeCount":2}}`, "platform": `{"argocd":{"ha":true}}`, "models": oneModel}, "platform.argocd.ha: needs 3 schedulable nodes (redis-ha's required anti-affinity) but gke.cluster.systemNodeCount gives 2"},
		{"argo ha on two eks nodes", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "platform": `{"argocd":{"ha":true}}`, "models": oneModel}, "set eks.cluster.systemNodeCount: 3 or platform.argocd.ha: false"},
		{"webui admin without an address", map[string]string{"webui": `{"adminEmail":"admin"}`, "models": oneModel}, "webui.adminEmail: \"admin\" is not an email address"},
	}
	// LoRA adapters and drain (issue #17): each model entry with its lifecycle keys.
	lora := func(entries string) map[string]string { return map[string]string{"models": entries} }
	cases = append(cases, []struct {
		name string
		raw  map[string]string
		key  string
	}{
		{"adapter named like another model", lora(`[{"huggingfaceId":"a/b","modelName":"x"},{"huggingfaceId":"a/c","modelName":"y","loras":[{"name":"x","source":"org/x-lora"}]}]`),
			`models[1].loras[0].name: "x" clashes with models[0].modelName`},
		{"adapter named like its own base", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"x","source":"org/x-lora"}]}]`),
			`models[0].loras[0].name: "x" clashes with models[0].modelName`},
		{"adapter named like a later model", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"y","source":"org/y-lora"}]},{"huggingfaceId":"a/c","modelName":"y"}]`),
			`models[0].loras[0].name: "y" clashes with models[1].modelName`},
		{"two adapters with one name", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"sql","source":"org/sql"}]},{"huggingfaceId":"a/c","modelName":"y","loras":[{"name":"sql","source":"org/sql2"}]}]`),
			`models[1].loras[0].name: "sql" clashes with models[0].loras[0].name`},
		{"adapter without a name", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"source":"org/x-lora"}]}]`),
			`models[0].loras[0].name: is required`},
		{"adapter name with a space", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"my lora","source":"org/x-lora"}]}]`),
			`models[0].loras[0].name: "my lora" has spaces`},
		{"adapter without a source", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l"}]}]`),
			`models[0].loras[0].source: is required`},
		{"adapter over http", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l","source":"http://example.com/lora"}]}]`),
			`models[0].loras[0].source: "http://example.com/lora" uses the scheme http://, which is not supported`},
		{"adapter from a file", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l","source":"file:///models/lora"}]}]`),
			`models[0].loras[0].source: "file:///models/lora" uses the scheme file://`},
		{"adapter with an empty bucket", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l","source":"s3:///adapters/sql"}]}]`),
			`models[0].loras[0].source: "s3:///adapters/sql" names no bucket`},
		{"adapter as a whole bucket", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l","source":"gs://my-bucket"}]}]`),
			`models[0].loras[0].source: "gs://my-bucket" names a whole bucket`},
		{"adapter source not a hub id", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l","source":"just-a-name"}]}]`),
			`models[0].loras[0].source: "just-a-name" is neither a Hugging Face id`},
		{"object-store adapter on a CPU model", lora(`[{"huggingfaceId":"a/b","modelName":"x","gpuRequestCount":0,"loras":[{"name":"l","source":"s3://bucket/sql"}]}]`),
			`models[0].loras[0].source: "s3://bucket/sql" is in object storage, which only the GPU image can copy from`},
		{"rank not a power of two", lora(`[{"huggingfaceId":"a/b","modelName":"x","maxLoraRank":12,"loras":[{"name":"l","source":"org/l"}]}]`),
			`models[0].maxLoraRank: is 12, which vLLM does not accept; use one of 1, 8, 16, 32, 64, 128, 256, 320, 512`},
		{"rank above vLLM's largest", lora(`[{"huggingfaceId":"a/b","modelName":"x","maxLoraRank":1024,"loras":[{"name":"l","source":"org/l"}]}]`),
			`models[0].maxLoraRank: is 1024`},
		{"negative maxLoras", lora(`[{"huggingfaceId":"a/b","modelName":"x","maxLoras":-1,"loras":[{"name":"l","source":"org/l"}]}]`),
			`models[0].maxLoras: is -1`},
		{"maxLoras without adapters", lora(`[{"huggingfaceId":"a/b","modelName":"x","maxLoras":4}]`),
			`models[0].maxLoras: is 4 but the model has no loras`},
		{"maxLoraRank without adapters", lora(`[{"huggingfaceId":"a/b","modelName":"x","maxLoraRank":64}]`),
			`models[0].maxLoraRank: is 64 but the model has no loras`},
		{"misspelt adapter key", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"l","src":"org/l"}]}]`),
			`models[0].loras[0].src: unknown key`},
		{"adapter flag in extraArgs", lora(`[{"huggingfaceId":"a/b","modelName":"x","extraArgs":["--max_loras=4"]}]`),
			`models[0].extraArgs[0]: "--max_loras=4" is managed by the platform; set maxLoras instead`},
		{"shutdown flag in extraArgs", lora(`[{"huggingfaceId":"a/b","modelName":"x","extraArgs":["--shutdown-timeout","60"]}]`),
			`models[0].extraArgs[0]: "--shutdown-timeout" is managed by the platform; set drainSeconds instead`},
		{"drain too short", lora(`[{"huggingfaceId":"a/b","modelName":"x","drainSeconds":5}]`),
			`models[0].drainSeconds: is 5; use 70 to 3600 seconds`},
		{"drain shorter than the gateway takes to drop the pod", lora(`[{"huggingfaceId":"a/b","modelName":"x","drainSeconds":60}]`),
			`models[0].drainSeconds: is 60; use 70 to 3600 seconds`},
		{"adapter name too long", lora(`[{"huggingfaceId":"a/b","modelName":"x","loras":[{"name":"` + strings.Repeat("l", 513) + `","source":"a/l"}]}]`),
			`models[0].loras[0].name: must be valid UTF-8 of at most 512 bytes`},
		{"weights streamed on a CPU model", lora(`[{"huggingfaceId":"a/b","modelName":"x","gpuRequestCount":0,"weights":{"uri":"s3://bkt/m","serviceAccount":"reader"}}]`),
			`models[0].weights.uri: streams with the Run:ai Model Streamer, which only the GPU image has`},
		{"load format spelt with underscores", lora(`[{"huggingfaceId":"a/b","modelName":"x","weights":{"uri":"s3://bkt/m","serviceAccount":"reader"},"extraArgs":["--load_format=auto"]}]`),
			`models[0].extraArgs[0]: "--load_format=auto" conflicts with models[0].weights.uri`},
		{"drain of a day", lora(`[{"huggingfaceId":"a/b","modelName":"x","drainSeconds":86400}]`),
			`models[0].drainSeconds: is 86400`},
	}...)
	obs := func(settings string) map[string]string {
		return map[string]string{"observability": settings, "models": oneModel}
	}
	cases = append(cases, []struct {
		name string
		raw  map[string]string
		key  string
	}{
		{"observability namespace not a name", obs(`{"enabled":true,"namespace":"Mon_itoring"}`), `observability.namespace: "Mon_itoring" is not a valid namespace name`},
		{"observability in the app namespace", obs(`{"enabled":true,"namespace":"llm"}`), `observability.namespace: "llm" is the application namespace`},
		{"installed stack without its release label", obs(`{"enabled":true,"monitorLabels":{"team":"ml"}}`), `observability.monitorLabels.release: is "", but the installed Prometheus`},
		{"monitor label value", obs(`{"enabled":true,"install":false,"monitorLabels":{"prometheus":"not ok!"}}`), `observability.monitorLabels.prometheus: "not ok!" is not a valid label value`},
		{"no dashboard label", obs(`{"enabled":true,"dashboardLabels":{}}`), `observability.dashboardLabels: is empty`},
		{"two dashboard labels for the installed sidecar", obs(`{"enabled":true,"dashboardLabels":{"a":"1","b":"2"}}`), `observability.dashboardLabels: has 2 labels`},
		{"scrape interval", obs(`{"enabled":true,"scrapeInterval":"fast"}`), `observability.scrapeInterval: "fast" is not a Prometheus duration`},
		{"ttft threshold for no model", obs(`{"enabled":true,"thresholds":{"ttftP95SecondsByModel":{"gpt-4":3}}}`), `observability.thresholds.ttftP95SecondsByModel["gpt-4"]: names no model`},
		{"negative ttft threshold", obs(`{"enabled":true,"thresholds":{"ttftP95Seconds":-1}}`), `observability.thresholds.ttftP95Seconds: is -1`},
		{"5xx ratio above 1", obs(`{"enabled":true,"thresholds":{"gateway5xxRatio":5}}`), `observability.thresholds.gateway5xxRatio: is 5`},
		{"kv cache above 1", obs(`{"enabled":true,"thresholds":{"kvCacheUsage":1.5}}`), `observability.thresholds.kvCacheUsage: is 1.5`},
		{"queue minutes zero", obs(`{"enabled":true,"thresholds":{"queueMinutes":0}}`), `observability.thresholds.queueMinutes: is 0`},
		{"misspelt observability key", obs(`{"enabled":true,"tresholds":{}}`), `observability.tresholds: unknown key; did you mean "thresholds"?`},
		{"observability switch not a bool", obs(`{"enabled":"yes"}`), `observability.enabled: expected true or false`},
		{"control plane scrape on gke", map[string]string{"cloud": "gke", "gke": gke, "models": oneModel, "observability": `{"enabled":true,"scrapeControlPlane":true}`},
			`observability.scrapeControlPlane: is true, but gke runs a managed control plane`},
		{"control plane scrape on eks", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": oneModel, "observability": `{"enabled":true,"scrapeControlPlane":true}`},
			`observability.scrapeControlPlane: is true, but eks runs a managed control plane`},
		{"kube-proxy scrape on a created gke cluster", map[string]string{"cloud": "gke", "gke": gke, "models": oneModel, "observability": `{"enabled":true,"scrapeKubeProxy":true}`},
			`observability.scrapeKubeProxy: is true, but the GKE cluster this stack creates runs Dataplane V2, which has no kube-proxy`},
		{"cluster scrapes without the installed stack", obs(`{"enabled":true,"install":false,"scrapeKubeProxy":false}`),
			`observability.scrapeKubeProxy: is set, but only the installed kube-prometheus-stack (observability.install: true) has this scrape`},
		{"cluster scrape switch not a bool", obs(`{"enabled":true,"scrapeControlPlane":"no"}`), `observability.scrapeControlPlane: expected true or false`},
		// Tenants (components/tenants' rules).
		{"tenant allows an unknown model", tenancy(`{"tenants":[{"name":"a","models":["gpt-4"]}]}`), `tenancy.tenants[0].models[0]: "gpt-4" is not a served model or adapter`},
		{"tenant limit below 1", tenancy(`{"tenants":[{"name":"a","limits":{"requestsPerMinute":0}}]}`), `tenancy.tenants[0].limits.requestsPerMinute: is 0; a limit is at least 1`},
		{"tenant per-model limit below 1", tenancy(`{"tenants":[{"name":"a","limits":{"models":{"qwen3-0.6b":{"tokensPerMinute":-5}}}}]}`), `tenancy.tenants[0].limits.models["qwen3-0.6b"].tokensPerMinute: is -5`},
		{"budget without a period", tenancy(`{"tenants":[{"name":"a","budgets":[{"tokens":1000}]}]}`), `tenancy.tenants[0].budgets[0].period: "": a budget needs its period, day or month`},
		{"tenant name not a label", tenancy(`{"tenants":[{"name":"Team A"}]}`), `tenancy.tenants[0].name: "Team A" is not a DNS-1123 label`},
		{"tenant twice", tenancy(`{"tenants":[{"name":"a"},{"name":"a"}]}`), `tenancy.tenants[1].name: "a" is declared twice`},
		{"unknown redis-down policy", tenancy(`{"onRedisDown":"maybe"}`), `tenancy.onRedisDown: "maybe": use fail-open`},
		{"external redis without address", tenancy(`{"redis":{"kind":"external"}}`), `tenancy.redis.address: is required with kind external`},
		{"redis TLS on the in-cluster Redis", tenancy(`{"redis":{"kind":"in-cluster","tls":{"enabled":true}}}`), `tenancy.redis.tls: is only read with kind external: the in-cluster Redis has no TLS listener`},
		{"redis TLS CA not PEM", tenancy(`{"redis":{"kind":"external","address":"redis.example:6379","tls":{"enabled":true,"caCert":"abc"}}}`), `tenancy.redis.tls.caCert: is not PEM of one or more certificates`},
		{"redis TLS name neither a name nor an IP", tenancy(`{"redis":{"kind":"external","address":"10.0.0.3:6378","tls":{"enabled":true,"serverName":"Redis One"}}}`),
			`tenancy.redis.tls.serverName: "Redis One" is neither a DNS name nor an IP address`},
		{"redis key prefix without its colon", tenancy(`{"redis":{"kind":"external","address":"r:6379","keyPrefix":"llm-prod"}}`), `tenancy.redis.keyPrefix: "llm-prod" must end with ":"`},
		// A managed Redis (Memorystore, ElastiCache): the cloud's, created by the stack.
		{"managed redis on an existing cluster", tenancy(limitedManaged(``)),
			`tenancy.redis.kind: is managed, which creates Memorystore (cloud gke) or ElastiCache (cloud eks), but cloud is existing`},
		{"managed redis in render mode", map[string]string{"cloud": "gke", "gke": gke, "render": `{"dir":"/tmp/out"}`, "models": oneModel, "tenancy": limitedManaged(``)},
			`tenancy.redis.kind: is managed, but render.dir renders manifests without creating cloud resources`},
		{"managed redis with an address", map[string]string{"cloud": "gke", "gke": gke, "models": oneModel, "tenancy": limitedManaged(`,"address":"10.0.0.3:6378"`)},
			`tenancy.redis.address: is only read with kind external: with kind managed the stack creates the instance and gives the gateway its address; remove it`},
		{"managed redis with TLS settings", map[string]string{"cloud": "gke", "gke": gke, "models": oneModel, "tenancy": limitedManaged(`,"tls":{"enabled":true}`)},
			`tenancy.redis.tls: is only read with kind external: the managed instance always speaks TLS`},
		{"memorystore tier", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","redis":{"tier":"STANDARD"}}`, "models": oneModel, "tenancy": limitedManaged(``)},
			`gke.redis.tier: "STANDARD": use BASIC (one node) or STANDARD_HA`},
		{"memorystore sized but unused", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","redis":{"memorySizeGb":5}}`, "models": oneModel},
			`gke.redis: is set, but it sizes the instance created only with tenancy.redis.kind managed on this cloud; remove it or set tenancy.redis.kind: managed`},
		{"elasticache node type", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","redis":{"nodeType":"db.t4g.small"}}`, "models": oneModel, "tenancy": limitedManaged(``)},
			`eks.redis.nodeType: "db.t4g.small" is not an ElastiCache node type`},
		{"elasticache sized but unused", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","redis":{"replicas":1}}`, "models": oneModel},
			`eks.redis: is set, but it sizes the instance created only with tenancy.redis.kind managed on this cloud`},
		{"elasticache replicas on an adopted eks cluster in one subnet", map[string]string{"cloud": "eks",
			"eks": `{"region":"us-west-2","cluster":{"create":false,"name":"shared","subnetIds":["subnet-1"]},"redis":{"replicas":1}}`, "models": oneModel, "tenancy": limitedManaged(``)},
			`eks.cluster.subnetIds: has 1 subnet(s), but eks.redis.replicas 1 puts ElastiCache's replicas in other Availability Zones`},
		{"redis TLS settings with TLS off", tenancy(`{"redis":{"kind":"external","address":"redis.example:6379","tls":{"serverName":"redis.example"}}}`),
			`tenancy.redis.tls.enabled: is false, so caCert and serverName do nothing`},
		{"redis key prefix with a space", tenancy(`{"redis":{"kind":"in-cluster","keyPrefix":"llm prod:"}}`), `tenancy.redis.keyPrefix: "llm prod:" has ' '; use letters, digits and . _ - : / only`},
		{"price for an unknown model", tenancy(`{"prices":{"gpt-4":{"prompt":1}}}`), `tenancy.prices["gpt-4"]: "gpt-4" is not a served model`},
	}...)
	// Settings that would do nothing because another setting is off (issue #32).
	cases = append(cases, []struct {
		name string
		raw  map[string]string
		key  string
	}{
		{"autoscaling bounds without enabled", lora(`[{"huggingfaceId":"a/b","modelName":"x","autoscaling":{"minReplicas":0,"maxReplicas":4}}]`),
			`models[0].autoscaling: sets minReplicas 0, maxReplicas 4 (or the other autoscaling settings) but autoscaling is off, so the model keeps models[0].replicas 1; set models[0].autoscaling.enabled: true, or remove the bounds`},
		{"edge tls without the edge", map[string]string{"models": oneModel, "edge": `{"enabled":false,"tls":{"credentialName":"llm-tls"}}`},
			`edge.tls: is set, but edge.enabled is false, so nothing reads it; set edge.enabled: true, or remove it`},
		{"webui settings without the UI", map[string]string{"models": oneModel, "webui": `{"enabled":false,"enableSignup":true}`},
			`webui.enableSignup: is set, but webui.enabled is false`},
		{"thresholds without observability", obs(`{"thresholds":{"queueDepth":3}}`),
			`observability.thresholds: is set, but observability.enabled is false`},
		{"gke settings on eks", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2"}`, "gke": `{"project":"p"}`, "models": oneModel},
			`gke.project: is set, but cloud is eks, so nothing reads it; set cloud: gke, or remove it`},
		{"eks settings on an existing cluster", map[string]string{"eks": `{"region":"us-west-2"}`, "models": oneModel},
			`eks.region: is set, but cloud is existing`},
		{"kubeconfig on gke", map[string]string{"cloud": "gke", "gke": gke, "existing": `{"context":"kind-llm"}`, "models": oneModel},
			`existing.context: is set, but cloud is gke`},
		{"cold start timeout without a model at zero", map[string]string{"models": oneModel, "gateway": `{"coldStartTimeout":"10m"}`},
			`gateway.coldStartTimeout: is set, but no model scales to zero`},
		{"hold share without a model at zero", map[string]string{"models": oneModel, "gateway": `{"holdShare":0.2}`},
			`gateway.holdShare: is set, but no model scales to zero`},
		{"KEDA's Prometheus without autoscaling", map[string]string{"models": oneModel, "platform": `{"keda":{"prometheusURL":"http://prom:9090"}}`},
			`platform.keda.prometheusURL: is set, but no model has autoscaling.enabled`},
		{"limits' Redis without limits", tenancy(`{"redis":{"kind":"external","address":"redis:6379"}}`),
			`tenancy.redis: is set, but no tenant has limits or budgets`},
		{"session header with round-robin", map[string]string{"models": oneModel, "gateway": `{"routing":{"strategy":"round-robin","sessionHeader":"x-conversation"}}`},
			`gateway.routing.sessionHeader: does nothing with strategy round-robin`},
		{"load factor with round-robin", map[string]string{"models": oneModel, "gateway": `{"routing":{"strategy":"round-robin","loadFactor":3}}`},
			`gateway.routing.loadFactor: does nothing with strategy round-robin`},
		{"no stream slot to hold requests", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"x","autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}}]`,
			"observability": `{"enabled":true}`, "gateway": `{"maxStreamsPerPod":1}`},
			`gateway.maxStreamsPerPod: is 1, which leaves no slot to hold requests for the models that scale to zero; use 2 or more`},
		{"redis-down policy without limits", tenancy(`{"onRedisDown":"fail-closed"}`),
			`tenancy.onRedisDown: is set, but no tenant has limits or budgets`},
	}...)
	require.GreaterOrEqual(t, len(cases), 20)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := spec.Parse(tc.raw)
			if err == nil {
				err = spec.Validate(&cfg)
			}
			require.Error(t, err)
			var ce *spec.ConfigError
			require.ErrorAs(t, err, &ce, "errors come as one ConfigError")
			assert.Contains(t, err.Error(), tc.key)

			m, err := pulumimock.Run(t, stacks.Run, pulumimock.WithConfig(tc.raw))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
			assert.Empty(t, m.Resources(), "nothing is declared for a bad config")
		})
	}
}

// TestBadAdapterBucketIsReportedOnce: the adapter checks and the object-storage checks both
// read an s3:// adapter source; a bad bucket is one problem, not two.
func TestBadAdapterBucketIsReportedOnce(t *testing.T) {
	cfg, err := spec.Parse(map[string]string{
		"cloud": "eks", "eks": `{"region":"us-east-1"}`,
		"models": `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"q","loras":[{"name":"l","source":"s3://Bad_Bucket/adapters/l"}]}]`,
	})
	require.NoError(t, err)
	err = spec.Validate(&cfg)
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), "models[0].loras[0].source:"), err.Error())
	assert.Contains(t, err.Error(), `bucket "Bad_Bucket" is not a valid S3 bucket name`)
}

func tenancy(v string) map[string]string { return map[string]string{"models": oneModel, "tenancy": v} }

// limitedManaged is a tenancy with a limited tenant counted in a managed Redis; redis adds keys
// to tenancy.redis (",<key>: <value>").
func limitedManaged(redis string) string {
	return `{"tenants":[{"name":"default","limits":{"requestsPerMinute":60}}],"redis":{"kind":"managed"` + redis + `}}`
}
