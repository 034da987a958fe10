package eks_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const asgTagType = "aws:autoscaling/tag:Tag"

// policyDocument is an IAM policy as AWS reads it.
type policyDocument struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  []string
		Condition map[string]map[string]string
	}
}

// asgTag is an aws:autoscaling/Tag's inputs.
type asgTag struct {
	AutoscalingGroupName string `json:"autoscalingGroupName"`
	Tag                  struct {
		Key               string `json:"key"`
		Value             string `json:"value"`
		PropagateAtLaunch bool   `json:"propagateAtLaunch"`
	} `json:"tag"`
}

func deployCA(t *testing.T, cfg spec.EKSConfig, args eks.Args) (*mockAWS, *eks.EKS) {
	t.Helper()
	m := newMockAWS()
	args.Config = cfg
	e, err := deployArgs(t, args, m)
	require.NoError(t, err)
	return m, e
}

// TestClusterAutoscalerIdentity: the Cluster Autoscaler gets a role that EKS Pod Identity hands
// to its service account, with the AWS README's auto-discovery policy narrowed as it
// recommends: reads anywhere, size changes and terminations only on this cluster's groups.
func TestClusterAutoscalerIdentity(t *testing.T) {
	for name, cfg := range map[string]spec.EKSConfig{"create": config(), "adopt": adopt()} {
		t.Run(name, func(t *testing.T) {
			cluster := map[string]string{"create": "llm-platform", "adopt": "shared"}[name]
			m, e := deployCA(t, cfg, eks.Args{ClusterAutoscaler: true})
			require.NotNil(t, e.ClusterAutoscaler)

			var trust trustPolicy
			in := pulumimock.Plain(m.Find(t, roleType, "eks-cluster-autoscaler").Inputs)
			require.NoError(t, json.Unmarshal([]byte(in["assumeRolePolicy"].(string)), &trust))
			require.Len(t, trust.Statement, 1)
			assert.Equal(t, "pods.eks.amazonaws.com", trust.Statement[0].Principal.Service, "EKS Pod Identity assumes it")
			assert.ElementsMatch(t, []string{"sts:AssumeRole", "sts:TagSession"}, trust.Statement[0].Action)
			assert.Equal(t, []string{"arn:aws:iam::111122223333:policy/eks-cluster-autoscaler"}, policiesOf(t, m, "eks-cluster-autoscaler"),
				"its own policy and nothing else")

			var doc policyDocument
			policy := pulumimock.Plain(m.Find(t, policyType, "eks-cluster-autoscaler").Inputs)
			require.NoError(t, json.Unmarshal([]byte(policy["policy"].(string)), &doc))
			assert.Equal(t, "2012-10-17", doc.Version)
			require.Len(t, doc.Statement, 2)
			read, scale := doc.Statement[0], doc.Statement[1]

			// cluster-autoscaler/cloudprovider/aws/README.md at cluster-autoscaler-1.35.0.
			assert.ElementsMatch(t, []string{
				"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
				"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
				"ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
				"ec2:GetInstanceTypesFromInstanceRequirements", "eks:DescribeNodegroup",
			}, read.Action)
			for _, a := range read.Action {
				_, verb, _ := strings.Cut(a, ":")
				assert.True(t, strings.HasPrefix(verb, "Describe") || strings.HasPrefix(verb, "Get"), "%s only reads", a)
			}
			assert.Equal(t, "Allow", read.Effect)
			assert.Equal(t, []string{"*"}, read.Resource)
			assert.Empty(t, read.Condition)

			assert.Equal(t, "Allow", scale.Effect)
			assert.ElementsMatch(t, []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}, scale.Action)
			assert.Equal(t, map[string]map[string]string{
				"Null": {"aws:ResourceTag/k8s.io/cluster-autoscaler/" + cluster: "false"},
			}, scale.Condition, "only groups tagged for this cluster (the tag EKS puts on its managed node groups)")

			r := m.Find(t, podIdentityType, "eks-cluster-autoscaler")
			assert.Equal(t, map[string]any{
				"clusterName": cluster, "namespace": "kube-system",
				"serviceAccount": "cluster-autoscaler", "roleArn": account + "eks-cluster-autoscaler",
			}, pulumimock.Plain(r.Inputs))
			assert.Contains(t, r.DependsOn, m.Find(t, attachmentType, "eks-cluster-autoscaler").URN, "the role has its policy first")
			assert.Equal(t, eks.ClusterAutoscalerNamespace, e.ClusterAutoscaler.Namespace)
			assert.Equal(t, eks.ClusterAutoscalerServiceAccount, e.ClusterAutoscaler.ServiceAccount)
			arn, _ := pulumimock.Await(t, e.ClusterAutoscaler.RoleARN)
			assert.Equal(t, account+"eks-cluster-autoscaler", arn)
			require.Len(t, e.ClusterAutoscaler.Ready, 1)
			urn, _ := pulumimock.Await(t, e.ClusterAutoscaler.Ready[0].URN())
			assert.Equal(t, r.URN, fmt.Sprint(urn), "the chart waits for the association")
		})
	}

	t.Run("the pod identity agent comes first", func(t *testing.T) {
		cfg := config()
		cfg.EBSCSIDriver, cfg.LoadBalancerController = on(false), on(false)
		m, _ := deployCA(t, cfg, eks.Args{ClusterAutoscaler: true})
		agent := m.Find(t, addonType, "eks-pod-identity-agent")
		assert.Contains(t, m.Find(t, podIdentityType, "eks-cluster-autoscaler").DependsOn, agent.URN)
	})
}

// TestGPUGroupScaleFromZeroTags: the GPU node group's Auto Scaling group carries what its nodes
// offer (their GPUs, and exactly the labels and taint the node group gives them), so that the
// autoscaler sees a pending model pod would fit a node of an empty group.
func TestGPUGroupScaleFromZeroTags(t *testing.T) {
	cfg := config()
	cfg.GPUNodeGroup.GPUsPerNode = 4
	cfg.GPUNodeGroup.InstanceTypes = []string{"g6.12xlarge"}
	cfg.GPUNodeGroup.Labels = map[string]string{"team": "ml"}
	for name, args := range map[string]eks.Args{
		"with the cluster autoscaler": {ClusterAutoscaler: true},
		"for the cluster's own":       {ScaleFromZero: true},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := deployCA(t, cfg, args)
			_, group := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")

			want := map[string]string{"k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "4"}
			for k, v := range group.Labels {
				want["k8s.io/cluster-autoscaler/node-template/label/"+k] = v
			}
			effects := map[string]string{"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
			for _, taint := range group.Taints {
				want["k8s.io/cluster-autoscaler/node-template/taint/"+taint.Key] = taint.Value + ":" + effects[taint.Effect]
			}
			assert.Len(t, want, 5, "the GPU resource, nvidia.com/gpu.present, the accelerator, team and the GPU taint")
			assert.Equal(t, "nvidia-l4", want["k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator"], "g6.12xlarge: four L4s")
			assert.Equal(t, "true", want["k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present"])
			assert.Equal(t, "true:NoSchedule", want["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"])

			got := map[string]string{}
			for _, r := range m.ByType(asgTagType) {
				tag := pulumimock.View[asgTag](t, r)
				assert.Equal(t, "eks-gpu-asg", tag.AutoscalingGroupName, "the node group's own Auto Scaling group")
				assert.False(t, tag.Tag.PropagateAtLaunch, "they describe the group; instances need none")
				got[tag.Tag.Key] = tag.Tag.Value
			}
			assert.Equal(t, want, got)
			// EKS tags managed node groups for auto-discovery itself.
			assert.NotContains(t, got, "k8s.io/cluster-autoscaler/enabled")
		})
	}
	t.Run("only the tags for the cluster's own autoscaler", func(t *testing.T) {
		m, e := deployCA(t, adopt(), eks.Args{ScaleFromZero: true})
		assert.Nil(t, e.ClusterAutoscaler)
		assert.False(t, m.Has(roleType, "eks-cluster-autoscaler"))
		assert.Empty(t, m.ByType(podIdentityType))
	})
	t.Run("nothing without autoscaling", func(t *testing.T) {
		m, e := deploy(t, config())
		assert.Nil(t, e.ClusterAutoscaler)
		assert.Empty(t, m.ByType(asgTagType))
		assert.False(t, m.Has(roleType, "eks-cluster-autoscaler"))
		assert.False(t, m.Has(policyType, "eks-cluster-autoscaler"))
	})
}

// TestScaleFromZeroKeepsGPUNodesInOneZone: the autoscaler brings an empty group back only in
// its first zone, and a model's cache volume is zonal, so a stack that scales from zero puts
// its GPU node group in one subnet; otherwise the group spans both.
func TestScaleFromZeroKeepsGPUNodesInOneZone(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  spec.EKSConfig
		args eks.Args
		want []string
	}{
		"created, no autoscaling":     {config(), eks.Args{}, []string{"subnet-eks-private-0", "subnet-eks-private-1"}},
		"created, scale from zero":    {config(), eks.Args{ClusterAutoscaler: true, ScaleFromZero: true, OneGPUZone: true}, []string{"subnet-eks-private-0"}},
		"created, autoscaling from 1": {config(), eks.Args{ClusterAutoscaler: true, ScaleFromZero: true}, []string{"subnet-eks-private-0", "subnet-eks-private-1"}},
		"adopted, scale from zero":    {adopt(), eks.Args{ScaleFromZero: true, OneGPUZone: true}, []string{"subnet-private-1"}},
		"adopted, no autoscaling":     {adopt(), eks.Args{}, []string{"subnet-private-1", "subnet-private-2"}},
	} {
		t.Run(name, func(t *testing.T) {
			m, _ := deployCA(t, tc.cfg, tc.args)
			_, ng := decode[nodeGroup](t, m, nodeGroupType, "eks-gpu")
			assert.Equal(t, tc.want, ng.SubnetIDs)
		})
	}
}
