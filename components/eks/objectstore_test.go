package eks_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	k8scluster "github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const rolePolicyType = "aws:iam/rolePolicy:RolePolicy"

// s3Policy is an IAM policy document as AWS reads it (Resource and the condition values may be
// a string or a list; the component writes lists).
type s3Policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  []string
		Condition map[string]map[string][]string
	}
}

// allows evaluates the policy for one S3 request the way IAM does for these statements: an
// Allow whose action matches, whose resource pattern (* spans any characters, / included)
// matches the ARN, and whose StringLike s3:prefix condition, if any, matches the request's
// prefix. (No Deny statements exist to consider; the test checks that too.)
func (p s3Policy) allows(action, arn, prefix string) bool {
	glob := func(pattern, s string) bool {
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
		return regexp.MustCompile(re).MatchString(s)
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" || !slices.Contains(st.Action, action) {
			continue
		}
		if !slices.ContainsFunc(st.Resource, func(r string) bool { return glob(r, arn) }) {
			continue
		}
		if like, ok := st.Condition["StringLike"]["s3:prefix"]; ok && !slices.ContainsFunc(like, func(l string) bool { return glob(l, prefix) }) {
			continue
		}
		return true
	}
	return false
}

func readers() []eks.ObjectReader {
	return []eks.ObjectReader{
		{Name: "llama", Namespace: "llm", ServiceAccount: "llama", Objects: []eks.S3Location{
			{Bucket: "acme-models", Prefix: "llama/3-8b"}, // weights.uri
			{Bucket: "acme-adapters", Prefix: "sql"},      // an adapter
		}},
		{Name: "whole", Namespace: "llm", ServiceAccount: "whole", Objects: []eks.S3Location{{Bucket: "acme-whole"}}},
	}
}

func readerPolicy(t *testing.T, m *mockAWS, name string) s3Policy {
	t.Helper()
	r := m.Find(t, rolePolicyType, name)
	in := pulumimock.Plain(r.Inputs)
	assert.Equal(t, name, in["role"], "the policy is inline on the reader's own role")
	var doc s3Policy
	require.NoError(t, json.Unmarshal([]byte(in["policy"].(string)), &doc))
	assert.Equal(t, "2012-10-17", doc.Version)
	for _, st := range doc.Statement {
		assert.Equal(t, "Allow", st.Effect)
		for _, a := range st.Action {
			assert.Contains(t, []string{"s3:GetObject", "s3:ListBucket"}, a, "read actions only")
		}
		for _, res := range st.Resource {
			assert.True(t, strings.HasPrefix(res, "arn:aws:s3:::acme-"), "only the configured buckets: %s", res)
		}
	}
	return doc
}

// TestObjectReaderReadsExactlyItsPrefixes: each model that streams from S3 gets a role of its
// own that EKS Pod Identity hands to its ServiceAccount, allowed to read the objects under its
// prefixes and list the bucket under them, and nothing else.
func TestObjectReaderReadsExactlyItsPrefixes(t *testing.T) {
	for name, cfg := range map[string]func() eks.Args{
		"create": func() eks.Args { return eks.Args{Config: config(), ObjectReaders: readers()} },
		"adopt":  func() eks.Args { return eks.Args{Config: adopt(), ObjectReaders: readers()} },
	} {
		t.Run(name, func(t *testing.T) {
			m := newMockAWS()
			var e *eks.EKS
			var c *k8scluster.Cluster
			require.NoError(t, pulumi.RunErr(func(ctx *pulumi.Context) error {
				var err error
				if e, err = eks.New(ctx, "eks", cfg()); err != nil {
					return err
				}
				c, err = e.Cluster(ctx, "cluster")
				return err
			}, pulumi.WithMocks(pulumimock.Project, "test", m)))

			var trust trustPolicy
			require.NoError(t, json.Unmarshal([]byte(pulumimock.Plain(m.Find(t, roleType, "eks-reader-llama").Inputs)["assumeRolePolicy"].(string)), &trust))
			require.Len(t, trust.Statement, 1)
			assert.Equal(t, "pods.eks.amazonaws.com", trust.Statement[0].Principal.Service, "EKS Pod Identity assumes it")
			assert.Empty(t, policiesOf(t, m, "eks-reader-llama"), "no managed policy: the inline one is all it may do")

			doc := readerPolicy(t, m, "eks-reader-llama")
			for _, c := range []struct {
				action, arn, prefix string
				allowed             bool
			}{
				{"s3:GetObject", "arn:aws:s3:::acme-models/llama/3-8b/model-00001-of-00004.safetensors", "", true},
				{"s3:GetObject", "arn:aws:s3:::acme-models/llama/3-8b/config.json", "", true},
				{"s3:GetObject", "arn:aws:s3:::acme-adapters/sql/adapter_model.safetensors", "", true},
				{"s3:ListBucket", "arn:aws:s3:::acme-models", "llama/3-8b/", true}, // what the streamer lists
				{"s3:ListBucket", "arn:aws:s3:::acme-adapters", "sql/", true},
				{"s3:GetObject", "arn:aws:s3:::acme-models/llama/3-70b/model.safetensors", "", false}, // a sibling model
				{"s3:GetObject", "arn:aws:s3:::acme-models/llama/3-8b-secret/x", "", false},           // a prefix that only starts the same
				{"s3:GetObject", "arn:aws:s3:::acme-models/other", "", false},
				{"s3:GetObject", "arn:aws:s3:::acme-adapters/billing/adapter.safetensors", "", false},
				{"s3:GetObject", "arn:aws:s3:::acme-whole/anything", "", false}, // another model's bucket
				{"s3:ListBucket", "arn:aws:s3:::acme-models", "", false},        // the whole bucket's listing
				{"s3:ListBucket", "arn:aws:s3:::acme-models", "llama/", false},
				{"s3:ListBucket", "arn:aws:s3:::acme-whole", "", false},
				{"s3:PutObject", "arn:aws:s3:::acme-models/llama/3-8b/model.safetensors", "", false},
				{"s3:DeleteObject", "arn:aws:s3:::acme-models/llama/3-8b/model.safetensors", "", false},
			} {
				assert.Equal(t, c.allowed, doc.allows(c.action, c.arn, c.prefix), "%s %s prefix=%q", c.action, c.arn, c.prefix)
			}

			whole := readerPolicy(t, m, "eks-reader-whole")
			assert.True(t, whole.allows("s3:GetObject", "arn:aws:s3:::acme-whole/any/object", ""), "a bucket without prefix: all of it")
			assert.True(t, whole.allows("s3:ListBucket", "arn:aws:s3:::acme-whole", ""))
			assert.False(t, whole.allows("s3:GetObject", "arn:aws:s3:::acme-models/llama/3-8b/config.json", ""))

			clusterName := map[string]string{"create": "llm-platform", "adopt": "shared"}[name]
			for _, r := range []string{"llama", "whole"} {
				res := m.Find(t, podIdentityType, "eks-reader-"+r)
				assert.Equal(t, map[string]any{
					"clusterName": clusterName, "namespace": "llm", "serviceAccount": r, "roleArn": account + "eks-reader-" + r,
				}, pulumimock.Plain(res.Inputs), "the role goes to the model's ServiceAccount in its namespace, only")
				assert.Contains(t, res.DependsOn, m.Find(t, rolePolicyType, "eks-reader-"+r).URN, "the role has its policy first")

				id := e.ObjectReaders[r]
				require.NotNil(t, id)
				assert.Equal(t, map[string]string{"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"}, id.Env)
				var ready []string
				for _, d := range id.Ready {
					urn, _ := pulumimock.Await(t, d.URN())
					ready = append(ready, fmt.Sprint(urn))
				}
				assert.Contains(t, ready, res.URN, "the model's pods wait for the association")
			}
			if name == "create" {
				assert.Contains(t, m.Find(t, podIdentityType, "eks-reader-llama").DependsOn, m.Find(t, addonType, "eks-pod-identity-agent").URN)
			}

			// What the application layer reads.
			assert.Equal(t, e.ObjectReaders["llama"].Env, c.ObjectReaders["llama"].Env)
			assert.Equal(t, e.ObjectReaders["llama"].Ready, c.ObjectReaders["llama"].Ready)
			assert.Empty(t, c.ObjectReaders["llama"].Annotations, "Pod Identity binds by namespace and name: no annotation")
		})
	}
}

// TestNoObjectReadersNoIdentity: without models that read S3, no reader role, policy or
// association exists, and the Pod Identity agent comes only for the add-ons that need it.
func TestNoObjectReadersNoIdentity(t *testing.T) {
	cfg := config()
	cfg.LoadBalancerController, cfg.EBSCSIDriver = on(false), on(false)
	m, e := deploy(t, cfg)
	assert.Nil(t, e.ObjectReaders)
	assert.Empty(t, m.ByType(rolePolicyType))
	assert.Empty(t, m.ByType(podIdentityType))
	assert.False(t, m.Has(addonType, "eks-pod-identity-agent"), "nothing needs Pod Identity")

	m = newMockAWS()
	_, err := deployArgs(t, eks.Args{Config: cfg, ObjectReaders: readers()[:1]}, m)
	require.NoError(t, err)
	assert.True(t, m.Has(addonType, "eks-pod-identity-agent"), "a model reading S3 needs the agent")
	assert.Len(t, m.ByType(podIdentityType), 1)
}

func TestObjectReaderPartition(t *testing.T) {
	cfg := config()
	cfg.Region = "cn-north-1"
	m := newMockAWS()
	_, err := deployArgs(t, eks.Args{Config: cfg, ObjectReaders: readers()[1:]}, m)
	require.NoError(t, err)
	var doc s3Policy
	require.NoError(t, json.Unmarshal([]byte(pulumimock.Plain(m.Find(t, rolePolicyType, "eks-reader-whole").Inputs)["policy"].(string)), &doc))
	assert.True(t, doc.allows("s3:GetObject", "arn:aws-cn:s3:::acme-whole/x", ""), "China regions use the aws-cn partition")
}
