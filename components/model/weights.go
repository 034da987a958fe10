package model

// Weights from object storage. With spec.weights.uri set, vLLM streams the safetensors straight
// from the bucket into GPU memory with the Run:ai Model Streamer instead of downloading them
// from Hugging Face into the cache claim first.
//
// Checked in vLLM's source (vllm-project/vllm):
//   - vllm/model_executor/model_loader/runai_streamer_loader.py: RunaiModelStreamerLoader, the
//     `--load-format runai_streamer` loader, takes a local directory or an object-store path
//     (is_runai_obj_uri) and lists its *.safetensors with the streamer.
//   - vllm/transformers_utils/runai_utils.py: SUPPORTED_SCHEMES are s3://, gs:// and az://;
//     ObjectStorageModel pulls the config and tokenizer files (*.json, *.model, *.py) of such a
//     path into a local directory.
//   - vllm/config/model.py, ModelConfig.maybe_pull_model_tokenizer_for_runai: when the model
//     argument is an object-store URI it becomes model_weights and the model is served from the
//     pulled directory, so the served name must come from --served-model-name (always set here).
//   - vllm/envs.py: VLLM_CACHE_ROOT (default ~/.cache/vllm) roots vLLM's caches;
//     vllm/compilation/backends.py keeps the torch.compile artefacts under
//     VLLM_CACHE_ROOT/torch_compile_cache/<hash of config and code>.
//
// Credentials come from the pod: the streamer's S3 backend uses the AWS SDK's default chain
// (EKS Pod Identity's container credentials), its GCS backend the metadata server (GKE
// Workload Identity); run-ai/runai-model-streamer docs/src/usage.md.

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Object-store URI schemes the model may stream from.
const (
	SchemeS3 = "s3"
	SchemeGS = "gs"
)

// compileCache roots vLLM's caches (torch.compile artefacts among them) on the per-replica
// claim, next to HF_HOME, so a restarted replica skips the compilation it already did.
const compileCache = CacheMount + "/vllm"

// ObjectURI is a parsed s3:// or gs:// location.
type ObjectURI struct {
	Scheme string // SchemeS3 or SchemeGS
	Bucket string
	// Prefix is the object-name prefix without leading or trailing slash; empty for the whole
	// bucket.
	Prefix string
}

// String is the URI in its canonical form (no trailing slash).
func (u ObjectURI) String() string {
	if u.Prefix == "" {
		return u.Scheme + "://" + u.Bucket
	}
	return u.Scheme + "://" + u.Bucket + "/" + u.Prefix
}

// IsObjectURI reports whether source names object storage (s3:// or gs://) rather than a
// Hugging Face repository.
func IsObjectURI(source string) bool {
	return strings.HasPrefix(source, SchemeS3+"://") || strings.HasPrefix(source, SchemeGS+"://")
}

var (
	s3Bucket  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	gcsBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]$`)
)

// ParseObjectURI parses an s3://bucket/prefix or gs://bucket/prefix URI and checks the
// bucket name against the cloud's naming rules and the prefix for characters that would
// change the meaning of the access policy written from it (wildcards, quotes).
func ParseObjectURI(uri string) (ObjectURI, error) {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != SchemeS3 && scheme != SchemeGS) {
		return ObjectURI{}, fmt.Errorf("%q is not an s3:// or gs:// URI; write it like \"s3://my-bucket/models/llama\" or \"gs://my-bucket/models/llama\"", uri)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	u := ObjectURI{Scheme: scheme, Bucket: bucket, Prefix: strings.TrimSuffix(prefix, "/")}
	if err := checkBucket(scheme, bucket); err != nil {
		return ObjectURI{}, fmt.Errorf("%q: %w", uri, err)
	}
	if u.Prefix != "" {
		for _, seg := range strings.Split(u.Prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return ObjectURI{}, fmt.Errorf("%q: the path has an empty, \".\" or \"..\" segment; write the prefix like \"models/llama\"", uri)
			}
		}
		if i := strings.IndexFunc(u.Prefix, func(r rune) bool {
			return r < 0x20 || r == 0x7f || strings.ContainsRune("*?\"'\\ ", r)
		}); i >= 0 {
			return ObjectURI{}, fmt.Errorf("%q: the path may not contain %q (wildcards, quotes, spaces and control characters would change the access policy written from it)", uri, u.Prefix[i])
		}
	}
	return u, nil
}

func checkBucket(scheme, bucket string) error {
	if _, err := netip.ParseAddr(bucket); err == nil {
		return fmt.Errorf("bucket %q is an IP address, not a bucket name", bucket)
	}
	switch scheme {
	case SchemeS3:
		// Amazon S3 general purpose bucket naming rules. Dots are allowed by S3 but break
		// TLS with the virtual-hosted addressing the streamer uses (the bucket becomes a DNS
		// label under s3.<region>.amazonaws.com, which the wildcard certificate does not
		// cover).
		switch {
		case !s3Bucket.MatchString(bucket):
			return fmt.Errorf("bucket %q is not a valid S3 bucket name: use 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit (no dots: the streamer's HTTPS requests need a name without them)", bucket)
		case strings.HasPrefix(bucket, "xn--") || strings.HasPrefix(bucket, "sthree-") || strings.HasPrefix(bucket, "amzn-s3-demo-"):
			return fmt.Errorf("bucket %q starts with a prefix S3 reserves (xn--, sthree-, amzn-s3-demo-)", bucket)
		case strings.HasSuffix(bucket, "-s3alias") || strings.HasSuffix(bucket, "--ol-s3") || strings.HasSuffix(bucket, "--x-s3") || strings.HasSuffix(bucket, "--table-s3"):
			return fmt.Errorf("bucket %q ends with a suffix S3 reserves for access points and directory buckets; name the bucket itself", bucket)
		}
	case SchemeGS:
		// Cloud Storage bucket naming rules: 3-63 characters, or up to 222 with dots when
		// every dot-separated part has at most 63.
		switch {
		case !gcsBucket.MatchString(bucket):
			return fmt.Errorf("bucket %q is not a valid Cloud Storage bucket name: use 3-63 lowercase letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit", bucket)
		case !strings.Contains(bucket, ".") && len(bucket) > 63:
			return fmt.Errorf("bucket %q is longer than 63 characters", bucket)
		case strings.HasPrefix(bucket, "goog") || strings.Contains(bucket, "google"):
			return fmt.Errorf("bucket %q uses \"goog\" or \"google\", which Cloud Storage reserves", bucket)
		}
		for _, part := range strings.Split(bucket, ".") {
			if part == "" || len(part) > 63 {
				return fmt.Errorf("bucket %q has a dot-separated part that is empty or longer than 63 characters", bucket)
			}
		}
	}
	return nil
}

// ObjectSources are the object-storage locations the model reads: weights.uri and every
// s3:// or gs:// adapter source, in config order, without duplicates. Its pods need read
// access to exactly these.
func (m Spec) ObjectSources() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if IsObjectURI(s) && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(m.Weights.URI)
	for _, l := range m.LoRAs {
		add(l.Source)
	}
	return out
}

// StreamsWeights says whether vLLM streams the weights from object storage.
func (m Spec) StreamsWeights() bool { return m.Weights.URI != "" }

// modelArg is `vllm serve`'s positional argument: the weights' URI, or the Hugging Face id.
func modelArg(s Spec) string {
	if s.StreamsWeights() {
		return s.Weights.URI
	}
	return s.HuggingfaceID
}

// loadArgs select the Run:ai Model Streamer loader for object-store weights
// (runai_streamer_loader.py, see above); nothing for Hugging Face downloads.
func loadArgs(s Spec) []string {
	if !s.StreamsWeights() {
		return nil
	}
	return []string{"--load-format", "runai_streamer"}
}

// ObjectStoreAccess is how a model's pods read object storage.
type ObjectStoreAccess struct {
	// ServiceAccount is the Kubernetes ServiceAccount (in the model's namespace) the pods run as,
	// which the cloud lets read the model's buckets or prefixes (EKS Pod Identity, GKE Workload
	// Identity). The caller declares it. Plain: it is part of the pod template.
	ServiceAccount string `pulumi:"serviceAccount"`
	// Env are settings the storage client needs besides credentials, e.g. AWS_REGION (the
	// bucket's region) on AWS. Plain, like ServiceAccount.
	Env map[string]string `pulumi:"env,optional"`
}

// serviceAccount is the pods' ServiceAccount: the object-store reader's (the caller's, or the
// one spec.weights.serviceAccount names), or (nil) the namespace's default.
func serviceAccount(args Args) pulumi.StringPtrInput {
	if args.ObjectStore != nil && args.ObjectStore.ServiceAccount != "" {
		return pulumi.String(args.ObjectStore.ServiceAccount)
	}
	if sa := args.Spec.Weights.ServiceAccount; sa != "" {
		return pulumi.String(sa)
	}
	return nil
}

// objectStoreEnv are the storage client's settings, sorted by name (a stable pod template).
func objectStoreEnv(args Args) corev1.EnvVarArray {
	if args.ObjectStore == nil {
		return nil
	}
	var vars corev1.EnvVarArray
	for _, k := range slices.Sorted(maps.Keys(args.ObjectStore.Env)) {
		vars = append(vars, &corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(args.ObjectStore.Env[k])})
	}
	return vars
}
