package model

// LoRA adapters served on a base model. Checked in vLLM's source (vllm-project/vllm, the
// v0.26-v0.31 line):
//   - vllm/config/lora.py: LoRAConfig.max_lora_rank is MaxLoRARanks, Literal[1, 8, 16, 32, 64,
//     128, 256, 320, 512] (default 16); max_loras is an int >= 1 (default 1), the adapters one
//     batch may mix.
//   - vllm/entrypoints/openai/cli_args.py: --lora-modules takes one or more items, each
//     'name=path' or a JSON object with the fields of LoRAModulePath (name, path,
//     base_model_name); an item with a comma is always parsed as JSON.
//   - vllm/entrypoints/openai/models/serving.py: the static adapters are loaded at start
//     (init_static_loras; one that fails to load fails the server), and /v1/models lists each
//     with parent = its base_model_name when that is a served base model name.
//   - vllm/lora/utils.py, get_adapter_absolute_path: a path is a local directory or else a
//     Hugging Face repository, downloaded with huggingface_hub.snapshot_download (into HF_HOME,
//     the cache claim here). Object-store URIs are not understood there, so s3:// and gs://
//     adapters are copied onto the claim first by an init container (fetchLoRAsContainer).

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LoRARanks are the --max-lora-rank values vLLM accepts (MaxLoRARanks in vllm/config/lora.py).
var LoRARanks = []int{1, 8, 16, 32, 64, 128, 256, 320, 512}

// loraDir holds the adapters copied from object storage, on the per-replica claim.
const loraDir = CacheMount + "/loras"

// hfRepoID is a Hugging Face repository id, "org/name" (the Hub's rule: letters, digits, '-',
// '_' and '.', at most 96 characters, no "--" or "..").
var hfRepoID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckAdapterSource says what is wrong with an adapter source, or nil: it must be a Hugging
// Face repository id ("org/name") or an s3://bucket/prefix or gs://bucket/prefix URI, the only
// object stores the image's Run:ai streamer libraries read (the pod's cloud identity is
// granted read on exactly that prefix).
func CheckAdapterSource(source string) error {
	if scheme, rest, ok := strings.Cut(source, "://"); ok {
		if scheme != SchemeS3 && scheme != SchemeGS {
			return fmt.Errorf("%q uses the scheme %s://, which is not supported; use a Hugging Face id like \"org/adapter\", or an s3://bucket/prefix or gs://bucket/prefix URI", source, scheme)
		}
		bucket, _, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return fmt.Errorf("%q names no bucket; write it like \"%s://my-bucket/adapters/sql\"", source, scheme)
		}
		// The bucket and prefix rules of weights.uri: the read grant is written from them.
		u, err := ParseObjectURI(source)
		if err != nil {
			return err
		}
		if u.Prefix == "" {
			return fmt.Errorf("%q names a whole bucket; point it at the adapter's folder (the one with adapter_config.json), like \"%s://%s/adapters/sql\"", source, scheme, bucket)
		}
		return nil
	}
	if len(source) > 96 || !hfRepoID.MatchString(source) || strings.Contains(source, "--") || strings.Contains(source, "..") {
		return fmt.Errorf("%q is neither a Hugging Face id (\"org/adapter\") nor an s3:// or gs:// URI", source)
	}
	return nil
}

// loraPath is where vLLM loads an adapter from: a Hugging Face id as it is (vLLM downloads it
// into HF_HOME), an object-store adapter from its copy on the claim. The directory is named
// after the source, so renaming an adapter does not copy it again under a new name.
func loraPath(source string) string {
	if !IsObjectURI(source) {
		return source
	}
	sum := sha256.Sum256([]byte(source))
	return loraDir + "/" + hex.EncodeToString(sum[:8])
}

// loraModule is one --lora-modules item (LoRAModulePath's fields).
type loraModule struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// BaseModelName makes /v1/models list the adapter with parent = the served model name.
	BaseModelName string `json:"base_model_name"`
}

// loraArgs are the `vllm serve` arguments for the model's adapters; none without adapters.
func loraArgs(s Spec) []string {
	if len(s.LoRAs) == 0 {
		return nil
	}
	a := []string{"--enable-lora", "--lora-modules"}
	for _, l := range s.LoRAs {
		// JSON (always with commas), so a name or path containing '=' stays intact.
		item, err := json.Marshal(loraModule{Name: l.Name, Path: loraPath(l.Source), BaseModelName: s.ModelName})
		if err != nil {
			panic(err) // three strings always marshal
		}
		a = append(a, string(item))
	}
	if s.MaxLoras > 0 {
		a = append(a, "--max-loras", strconv.Itoa(s.MaxLoras))
	}
	if s.MaxLoraRank > 0 {
		a = append(a, "--max-lora-rank", strconv.Itoa(s.MaxLoraRank))
	}
	return a
}

// fetchLoRAsScript copies adapters from object storage onto the claim (see the file).
//
//go:embed fetch_loras.py
var fetchLoRAsScript string

// fetchLoRAsContainer copies the model's s3:// and gs:// adapters onto the cache claim before
// vLLM starts, with the Run:ai Model Streamer's own pull_files (runai_model_streamer, which the
// GPU image ships for `--load-format runai_streamer`; vLLM's runai_utils.py uses the same
// function). Credentials are the pod's cloud identity: boto3's default chain on EKS, Google's
// application default credentials (the metadata server) on GKE. Every start copies again, so
// a changed adapter in the bucket is picked up by a restart; adapters are small. Nil when no
// adapter lives in object storage.
func fetchLoRAsContainer(args Args) *corev1.ContainerArgs {
	cmd := []string{"python3", "-c", fetchLoRAsScript}
	for _, l := range args.Spec.LoRAs {
		if IsObjectURI(l.Source) {
			cmd = append(cmd, l.Source, loraPath(l.Source))
		}
	}
	if len(cmd) == 3 {
		return nil
	}
	// Two sources with the same URI share one copy.
	cmd = append(cmd[:3], dedupPairs(cmd[3:])...)
	return &corev1.ContainerArgs{
		Name: pulumi.String("fetch-loras"),
		// The GPU image: validation keeps object-store adapters off CPU models, whose image
		// has no streamer libraries.
		Image:   args.Image,
		Command: pulumi.ToStringArray(cmd),
		// The storage client's settings (the region on EKS); the credentials come from the
		// pod's ServiceAccount, as for the weights.
		Env:             objectStoreEnv(args),
		SecurityContext: &corev1.SecurityContextArgs{AllowPrivilegeEscalation: pulumi.Bool(false)},
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.StringMap{"cpu": pulumi.String("500m"), "memory": pulumi.String("1Gi")},
			Limits:   pulumi.StringMap{"memory": pulumi.String("2Gi")},
		},
		VolumeMounts: corev1.VolumeMountArray{
			&corev1.VolumeMountArgs{Name: pulumi.String("cache"), MountPath: pulumi.String(CacheMount)},
		},
	}
}

// dedupPairs drops repeated (source, path) pairs.
func dedupPairs(pairs []string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if !slices.Contains(out, pairs[i]) {
			out = append(out, pairs[i], pairs[i+1])
		}
	}
	return out
}

// LoRARanksText lists LoRARanks for messages ("1, 8, 16, ...").
func LoRARanksText() string {
	parts := make([]string, len(LoRARanks))
	for i, r := range LoRARanks {
		parts[i] = strconv.Itoa(r)
	}
	return strings.Join(parts, ", ")
}
