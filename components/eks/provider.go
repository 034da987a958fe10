package eks

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
)

// providerArgs is the component's AWS provider: the stack's region, and the
// stack's aws:* identity and tag settings an explicit provider does not
// inherit from the default one.
func providerArgs(region string, s AWSSettings) *aws.ProviderArgs {
	args := &aws.ProviderArgs{Region: pulumi.String(region)}
	if s.Profile != "" {
		args.Profile = pulumi.String(s.Profile)
	}
	if r := s.AssumeRole; r != nil {
		args.AssumeRole = &aws.ProviderAssumeRoleArgs{
			RoleArn:     pulumi.String(r.RoleARN),
			ExternalId:  optional(r.ExternalID),
			SessionName: optional(r.SessionName),
			Duration:    optional(r.Duration),
		}
	}
	if len(s.DefaultTags) > 0 {
		args.DefaultTags = &aws.ProviderDefaultTagsArgs{Tags: pulumi.ToStringMap(s.DefaultTags)}
	}
	if len(s.SharedCredentialsFiles) > 0 {
		args.SharedCredentialsFiles = pulumi.ToStringArray(s.SharedCredentialsFiles)
	}
	if len(s.SharedConfigFiles) > 0 {
		args.SharedConfigFiles = pulumi.ToStringArray(s.SharedConfigFiles)
	}
	return args
}

func optional(s string) pulumi.StringPtrInput {
	if s == "" {
		return nil
	}
	return pulumi.String(s)
}

// kubeconfig reaches the cluster with a token that `aws eks get-token` mints as the identity
// Pulumi deploys with; it is secret.
func kubeconfig(cp *controlPlane, region string, s AWSSettings) pulumi.StringOutput {
	exec := getTokenArgs(region, s)
	return pulumi.ToSecret(pulumi.All(cp.name, cp.endpoint, cp.caData).ApplyT(func(v []any) string {
		return kube.Kubeconfig(v[0].(string), v[1].(string), v[2].(string), kube.ExecAuth{
			Command: "aws",
			Args:    exec(v[0].(string)),
		})
	})).(pulumi.StringOutput)
}

// getTokenArgs are the `aws` CLI arguments that mint a cluster token as the
// identity Pulumi deploys with: the same profile and, when the stack
// assumes a role, that role (the cluster's creator and admin).
func getTokenArgs(region string, s AWSSettings) func(cluster string) []string {
	return func(cluster string) []string {
		args := []string{"eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json"}
		if s.Profile != "" {
			args = append(args, "--profile", s.Profile)
		}
		if s.AssumeRole != nil {
			args = append(args, "--role-arn", s.AssumeRole.RoleARN)
		}
		return args
	}
}
