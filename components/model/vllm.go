// What the vLLM container is told: the arguments of `vllm serve` and its environment.

package model

import (
	"strconv"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// vllmArgs are the arguments of `vllm serve`, free-form extraArgs last so
// they can add anything the typed keys do not cover.
func vllmArgs(s Spec) []string {
	a := []string{modelArg(s),
		"--served-model-name", s.ModelName,
		"--host", "0.0.0.0",
		"--port", strconv.Itoa(Port),
		"--dtype", s.Dtype,
	}
	if s.GPURequestCount > 0 {
		a = append(a, "--tensor-parallel-size", strconv.Itoa(s.GPURequestCount))
		if s.GPUMemoryUtilization > 0 {
			a = append(a, "--gpu-memory-utilization", strconv.FormatFloat(s.GPUMemoryUtilization, 'f', -1, 64))
		}
	}
	if s.MaxModelLen > 0 {
		a = append(a, "--max-model-len", strconv.Itoa(s.MaxModelLen))
	}
	if s.TrustRemoteCode {
		a = append(a, "--trust-remote-code")
	}
	a = append(a, loadArgs(s)...)
	a = append(a, loraArgs(s)...)
	a = append(a, Drain(s).shutdownArgs()...)
	return append(a, s.ExtraArgs...)
}

func env(args Args) corev1.EnvVarArray {
	vars := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("HF_HOME"), Value: pulumi.String(hfHome)},
		// The compile cache on the claim too: a restart skips compiling again.
		&corev1.EnvVarArgs{Name: pulumi.String("VLLM_CACHE_ROOT"), Value: pulumi.String(compileCache)},
		// vLLM >= 0.20 reads the user name at start; containers without a
		// passwd entry for their uid need it set.
		&corev1.EnvVarArgs{Name: pulumi.String("USER"), Value: pulumi.String("vllm")},
		&corev1.EnvVarArgs{Name: pulumi.String("VLLM_NO_USAGE_STATS"), Value: pulumi.String("1")},
	}
	vars = append(vars, objectStoreEnv(args)...)
	if args.HFTokenSecret != nil {
		vars = append(vars, &corev1.EnvVarArgs{
			Name: pulumi.String("HF_TOKEN"),
			ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
				Name: args.HFTokenSecret,
				Key:  pulumi.String(HFTokenKey),
			}},
		})
	}
	return vars
}
