package gke_test

import (
	"regexp"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	k8scluster "github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const (
	bucketIAMType = "gcp:storage/bucketIAMMember:BucketIAMMember"
	saIAMType     = "gcp:serviceaccount/iAMMember:IAMMember"
)

func readers() []gke.ObjectReader {
	return []gke.ObjectReader{
		{Name: "llama", Namespace: "llm", ServiceAccount: "llama", Objects: []gke.GCSLocation{
			{Bucket: "acme-models", Prefix: "llama/3-8b"}, // weights.uri
			{Bucket: "acme-adapters", Prefix: "sql"},      // an adapter
		}},
		{Name: "whole", Namespace: "llm", ServiceAccount: "whole", Objects: []gke.GCSLocation{{Bucket: "acme-whole"}}},
	}
}

type bucketMember struct {
	Bucket    string `json:"bucket"`
	Role      string `json:"role"`
	Member    string `json:"member"`
	Condition *struct {
		Title      string `json:"title"`
		Expression string `json:"expression"`
	} `json:"condition"`
}

// request is what IAM evaluates a Cloud Storage condition against: the resource's type and
// name, and for a list call the prefix it asks for.
type request struct {
	resourceType, name, listPrefix string
}

// object and list are requests for an object and for listing a bucket under a prefix.
func object(bucket, name string) request {
	return request{"storage.googleapis.com/Object", "projects/_/buckets/" + bucket + "/objects/" + name, ""}
}

func list(bucket, prefix string) request {
	return request{"storage.googleapis.com/Bucket", "projects/_/buckets/" + bucket, prefix}
}

// conditionAllows evaluates an IAM condition with CEL itself: resource.name, resource.type and
// api.getAttribute("storage.googleapis.com/objectListPrefix", default), as Cloud Storage
// provides them.
func conditionAllows(t *testing.T, expression string, r request) bool {
	t.Helper()
	env, err := cel.NewEnv(
		cel.Variable("resource", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("api", cel.MapType(cel.StringType, cel.StringType)),
		cel.Function("getAttribute", cel.MemberOverload("api_get_attribute",
			[]*cel.Type{cel.MapType(cel.StringType, cel.StringType), cel.StringType, cel.StringType}, cel.StringType,
			cel.FunctionBinding(func(args ...ref.Val) ref.Val {
				if args[1].Value() == "storage.googleapis.com/objectListPrefix" && r.listPrefix != "" {
					return types.String(r.listPrefix)
				}
				return args[2]
			}))),
	)
	require.NoError(t, err)
	ast, iss := env.Compile(expression)
	require.NoError(t, iss.Err(), expression)
	prg, err := env.Program(ast)
	require.NoError(t, err)
	out, _, err := prg.Eval(map[string]any{
		"resource": map[string]string{"type": r.resourceType, "name": r.name},
		"api":      map[string]string{},
	})
	require.NoError(t, err)
	return out.Value().(bool)
}

// TestObjectReaderReadsExactlyItsPrefixes: each model that streams from Cloud Storage gets a
// Google service account of its own that only its Kubernetes ServiceAccount may act as, with
// object read and list on its buckets, conditioned to its prefixes, and bucket metadata read;
// no project role.
func TestObjectReaderReadsExactlyItsPrefixes(t *testing.T) {
	m := newMockGCP()
	var g *gke.GKE
	var c *k8scluster.Cluster
	require.NoError(t, pulumi.RunErr(func(ctx *pulumi.Context) error {
		var err error
		if g, err = gke.New(ctx, "gke", gke.Args{Config: config(), ObjectReaders: readers()}); err != nil {
			return err
		}
		c, err = g.Cluster(ctx, "cluster")
		return err
	}, pulumi.WithMocks(pulumimock.Project, "test", m)))

	account := pulumimock.Plain(m.Find(t, accountType, "gke-reader-llama").Inputs)
	id := account["accountId"].(string)
	assert.Regexp(t, regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`), id, "a service account id")
	assert.Equal(t, "acme-ml", account["project"])
	email := id + "@acme-ml.iam.gserviceaccount.com"
	other := pulumimock.Plain(m.Find(t, accountType, "gke-reader-whole").Inputs)["accountId"]
	assert.NotEqual(t, id, other, "one account per model")

	wi := pulumimock.Plain(m.Find(t, saIAMType, "gke-reader-llama-workload-identity").Inputs)
	assert.Equal(t, "roles/iam.workloadIdentityUser", wi["role"])
	assert.Equal(t, "serviceAccount:acme-ml.svc.id.goog[llm/llama]", wi["member"], "only the model's Kubernetes ServiceAccount")

	for _, r := range m.ByType(iamMemberType) {
		assert.NotContains(t, pulumimock.Plain(r.Inputs)["member"], "read-", "no project role for a reader")
	}

	members := map[string]bucketMember{}
	for _, r := range m.ByType(bucketIAMType) {
		b := pulumimock.View[bucketMember](t, r)
		if b.Member == "serviceAccount:"+email {
			members[b.Bucket+" "+b.Role] = b
		}
	}
	require.Len(t, members, 4, "two roles on each of its two buckets, nothing on other buckets: %v", members)
	for _, b := range []string{"acme-models", "acme-adapters"} {
		meta := members[b+" roles/storage.bucketViewer"]
		assert.Nil(t, meta.Condition, "bucket metadata (storage.buckets.get), which the streamer reads before listing")
		require.NotNil(t, members[b+" roles/storage.objectViewer"].Condition, "objects: its prefixes only")
	}
	models := members["acme-models roles/storage.objectViewer"].Condition.Expression
	adapters := members["acme-adapters roles/storage.objectViewer"].Condition.Expression
	for _, c := range []struct {
		expr    string
		r       request
		allowed bool
	}{
		{models, object("acme-models", "llama/3-8b/model-00001-of-00004.safetensors"), true},
		{models, object("acme-models", "llama/3-8b/config.json"), true},
		{models, list("acme-models", "llama/3-8b/"), true}, // what the streamer lists
		{adapters, object("acme-adapters", "sql/adapter_model.safetensors"), true},
		{adapters, list("acme-adapters", "sql/"), true},
		{models, object("acme-models", "llama/3-70b/model.safetensors"), false}, // a sibling model
		{models, object("acme-models", "llama/3-8b-secret/x"), false},           // a prefix that only starts the same
		{models, object("acme-models", "other"), false},
		{models, list("acme-models", ""), false}, // the whole bucket's listing
		{models, list("acme-models", "llama/"), false},
		{adapters, object("acme-adapters", "billing/adapter.safetensors"), false},
	} {
		assert.Equal(t, c.allowed, conditionAllows(t, c.expr, c.r), "%+v", c.r)
	}

	whole := pulumimock.Plain(m.Find(t, accountType, "gke-reader-whole").Inputs)["accountId"].(string)
	var wholeGrants int
	for _, r := range m.ByType(bucketIAMType) {
		b := pulumimock.View[bucketMember](t, r)
		if b.Member == "serviceAccount:"+whole+"@acme-ml.iam.gserviceaccount.com" {
			wholeGrants++
			assert.Equal(t, "acme-whole", b.Bucket)
			assert.Nil(t, b.Condition, "a bucket without prefix: all of it")
		}
	}
	assert.Equal(t, 2, wholeGrants)

	// What the application layer reads: the annotation naming the account, and the grants to
	// wait for.
	reader := c.ObjectReaders["llama"]
	annotated, _ := pulumimock.Await(t, reader.Annotations[gke.WorkloadIdentityAnnotation].ToStringOutput())
	assert.Equal(t, email, annotated)
	assert.Len(t, reader.Ready, 5, "workload identity binding and four bucket grants")
	assert.Empty(t, reader.Env)
}

// TestNoObjectReadersNoIdentity: without models that read Cloud Storage, no reader account or
// grant exists.
func TestNoObjectReadersNoIdentity(t *testing.T) {
	m, g := deploy(t, config())
	assert.Nil(t, g.ObjectReaders)
	assert.Empty(t, m.ByType(bucketIAMType))
	assert.Empty(t, m.ByType(saIAMType))
	assert.Len(t, m.ByType(accountType), 1, "the nodes' account only")
}
