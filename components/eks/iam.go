package eks

import (
	"encoding/json"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const awsManaged = "arn:aws:iam::aws:policy/"

type iamRole struct {
	role        *iam.Role
	attachments []pulumi.Resource
}

// role is an IAM role that service may assume, with AWS-managed policies.
func role(ctx *pulumi.Context, name, service string, policies []string, child []pulumi.ResourceOption) (*iamRole, error) {
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": service},
			"Action":    []string{"sts:AssumeRole", "sts:TagSession"},
		}},
	})
	r, err := iam.NewRole(ctx, name, &iam.RoleArgs{AssumeRolePolicy: pulumi.String(trust)}, child...)
	if err != nil {
		return nil, err
	}
	out := &iamRole{role: r}
	for _, p := range policies {
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-"+p, &iam.RolePolicyAttachmentArgs{
			Role: r.Name, PolicyArn: pulumi.String(awsManaged + p),
		}, child...)
		if err != nil {
			return nil, err
		}
		out.attachments = append(out.attachments, a)
	}
	return out, nil
}

// podIdentity is a role that EKS Pod Identity hands to the service account namespace/account,
// carrying policy (a policy of this stack's own). deps (the pod identity agent, the nodes)
// come before the association. It has the shape of LBControllerIdentity and
// ClusterAutoscalerIdentity, which convert from it.
func podIdentity(ctx *pulumi.Context, name string, cluster pulumi.StringOutput, namespace, account string, policy *iam.PolicyArgs,
	deps []pulumi.Resource, child []pulumi.ResourceOption) (*boundRole, error) {
	r, err := role(ctx, name, "pods.eks.amazonaws.com", nil, child)
	if err != nil {
		return nil, err
	}
	p, err := iam.NewPolicy(ctx, name, policy, child...)
	if err != nil {
		return nil, err
	}
	attachment, err := iam.NewRolePolicyAttachment(ctx, name, &iam.RolePolicyAttachmentArgs{
		Role: r.role.Name, PolicyArn: p.Arn,
	}, child...)
	if err != nil {
		return nil, err
	}
	assoc, err := eks.NewPodIdentityAssociation(ctx, name, &eks.PodIdentityAssociationArgs{
		ClusterName:    cluster,
		Namespace:      pulumi.String(namespace),
		ServiceAccount: pulumi.String(account),
		RoleArn:        r.role.Arn,
	}, append(child, pulumi.DependsOn(append(slices.Clone(deps), attachment)))...)
	if err != nil {
		return nil, err
	}
	return &boundRole{Namespace: namespace, ServiceAccount: account, RoleARN: r.role.Arn, Ready: []pulumi.Resource{assoc}}, nil
}

// boundRole is a role EKS Pod Identity hands to a service account. Ready must exist before
// the account's pods start: EKS injects pod identity credentials only into pods created
// after their association.
type boundRole struct {
	Namespace      string
	ServiceAccount string
	RoleARN        pulumi.StringOutput
	Ready          []pulumi.Resource
}
