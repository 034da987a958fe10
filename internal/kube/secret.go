package kube

import (
	"encoding/base64"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/genkey"
)

// KeptSecret declares an Opaque Secret holding value under key, as a Pulumi secret. With no
// value a random one is generated (genkey): generated anew on every run, but only the first is
// ever applied (ignoreChanges), so it stays stable; setting a value later replaces it. Read the
// value that was applied with StoredValue.
func KeptSecret(ctx *pulumi.Context, name string, meta *metav1.ObjectMetaArgs, key string, value pulumi.StringInput, opts ...pulumi.ResourceOption) (*corev1.Secret, error) {
	opts = append([]pulumi.ResourceOption{}, opts...)
	if value == nil {
		generated, err := genkey.Hex()
		if err != nil {
			return nil, err
		}
		value = pulumi.String(generated)
		// The provider turns stringData into data, so both are ignored.
		opts = append(opts, pulumi.IgnoreChanges([]string{"stringData", "data"}))
	}
	return corev1.NewSecret(ctx, name, &corev1.SecretArgs{
		Metadata:   meta,
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{key: pulumi.ToSecret(value).(pulumi.StringOutput)},
	}, opts...)
}

// StoredValue reads key back from a Secret's state, as a Pulumi secret: for a generated value,
// the one that was applied. It reads data (what the cluster holds, which the provider reports
// after applying) before stringData: on a later run stringData reports the program's new,
// ignored value, and everything built from it would change on every run. Under mocks, which
// echo the inputs, only stringData is there.
func StoredValue(s *corev1.Secret, key string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.All(s.StringData, s.Data).ApplyT(func(v []any) (string, error) {
		if encoded, ok := v[1].(map[string]string)[key]; ok {
			raw, err := base64.StdEncoding.DecodeString(encoded)
			return string(raw), err
		}
		return v[0].(map[string]string)[key], nil
	})).(pulumi.StringOutput)
}
