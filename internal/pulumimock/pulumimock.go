// Package pulumimock runs Pulumi programs under the SDK's mocks (pulumi.WithMocks), records
// what they declare, and lets tests read it as real Kubernetes API objects.
//
// Every registered resource is recorded with its type token, name, parent,
// provider and inputs. Kubernetes resources decode strictly into their
// k8s.io/api types, so a test reads dep.Spec.Template.Spec.Containers[0].Args
// instead of walking property maps, and a misspelled field fails the test.
package pulumimock

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Project and Stack are the Pulumi project and stack names the program runs under.
const (
	Project = "llm-platform"
	Stack   = "test"
)

// Resource is one resource the program registered.
type Resource struct {
	Type     string
	Name     string
	URN      string
	Parent   string // parent URN ("" for the stack's direct children)
	Provider string // provider reference "urn::id" ("" for the default provider)
	Custom   bool
	Inputs   resource.PropertyMap
	// DependsOn lists the URNs of explicit and implicit dependencies.
	DependsOn []string
	// IgnoreChanges are the property paths the resource ignores on update.
	IgnoreChanges []string
	// AliasTypes are the former type tokens the resource is aliased to.
	AliasTypes []string
	// ReadID is set for resources read (not created) by the program.
	ReadID string
	// CreateTimeout and UpdateTimeout are the custom timeouts, if any.
	CreateTimeout, UpdateTimeout string
}

// CustomResource is a custom resource (Istio, Argo CD) as declared, with
// its spec decoded into the component's typed struct S.
type CustomResource[S any] struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       S                 `json:"spec"`
}

// Mocks records registrations and answers invokes from CallResults.
type Mocks struct {
	mu        sync.Mutex
	resources []Resource
	// CallResults maps an invoke token (e.g. "aws:index/getAvailabilityZones:getAvailabilityZones")
	// to its result. An invoke without an entry fails the program.
	CallResults map[string]resource.PropertyMap
	calls       []pulumi.MockCallArgs
}

// NewResource implements pulumi.MockResourceMonitor: it records the
// resource and echoes its inputs back as its state.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{
		Type:     args.TypeToken,
		Name:     args.Name,
		Provider: args.Provider,
		Custom:   args.Custom,
		Inputs:   args.Inputs,
	}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		for _, a := range rpc.GetAliases() {
			if t := a.GetSpec().GetType(); t != "" {
				r.AliasTypes = append(r.AliasTypes, t)
			}
		}
		r.CreateTimeout = rpc.GetCustomTimeouts().GetCreate()
		r.UpdateTimeout = rpc.GetCustomTimeouts().GetUpdate()
		r.DependsOn = append(r.DependsOn, rpc.GetDependencies()...)
		for _, deps := range rpc.GetPropertyDependencies() {
			r.DependsOn = append(r.DependsOn, deps.GetUrns()...)
		}
	}
	if rpc := args.ReadRPC; rpc != nil {
		r.Parent, r.ReadID = rpc.GetParent(), args.ID
	}
	r.URN = urn(r.Parent, r.Type, r.Name)
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	return args.Name + "-id", mockState(args), nil
}

// urn is the resource's URN as the engine forms it (the SDK's resource.NewURN): its type
// qualified by its parent's, unless the parent is the stack.
func urn(parent, typ, name string) string {
	var parentType tokens.Type
	if parent != "" {
		if u := resource.URN(parent); u.QualifiedType() != resource.RootStackType {
			parentType = u.QualifiedType()
		}
	}
	return string(resource.NewURN(Stack, Project, parentType, tokens.Type(typ), name))
}

// Call implements pulumi.MockResourceMonitor for invokes.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, args)
	if out, ok := m.CallResults[args.Token]; ok {
		return out, nil
	}
	return nil, fmt.Errorf("unmocked invoke %s", args.Token)
}

// CallArgs returns the invokes the program made, with their arguments, in order.
func (m *Mocks) CallArgs() []pulumi.MockCallArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]pulumi.MockCallArgs(nil), m.calls...)
}

// Calls returns the invoke tokens the program made, in order.
func (m *Mocks) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.calls))
	for i, c := range m.calls {
		out[i] = c.Token
	}
	return out
}

// Option configures Run.
type Option func(*options)

type options struct {
	config     map[string]string
	secretKeys []string
	recorder   *Mocks
}

// WithConfig sets the stack config: keys without the project prefix, values as Pulumi hands
// them to programs (plain text for strings, JSON for objects and lists).
func WithConfig(config map[string]string) Option {
	return func(o *options) { o.config = config }
}

// WithSecretKeys marks config keys (without the project prefix) as secret.
func WithSecretKeys(keys ...string) Option {
	return func(o *options) { o.secretKeys = append(o.secretKeys, keys...) }
}

// WithRecorder records into m (e.g. one with CallResults for the program's invokes)
// instead of a fresh recorder.
func WithRecorder(m *Mocks) Option {
	return func(o *options) { o.recorder = m }
}

// Run runs program under mocks and returns the recorder and the program's error.
func Run(t testing.TB, program pulumi.RunFunc, opts ...Option) (*Mocks, error) {
	t.Helper()
	o := options{recorder: &Mocks{}}
	for _, opt := range opts {
		opt(&o)
	}
	m := o.recorder
	full := make(map[string]string, len(o.config))
	for k, v := range o.config {
		full[Project+":"+k] = v
	}
	var secret []string
	for _, k := range o.secretKeys {
		secret = append(secret, Project+":"+k)
	}
	// The CLI hands the program every config value in PULUMI_CONFIG too (the program checks
	// for unknown keys there); do the same. Setenv also refuses parallel tests, which would
	// share the variable.
	encoded, err := json.Marshal(full)
	if err != nil {
		return m, err
	}
	t.Setenv(pulumi.EnvConfig, string(encoded))
	err = pulumi.RunErr(program, pulumi.WithMocks(Project, Stack, m), func(info *pulumi.RunInfo) {
		info.Config, info.ConfigSecretKeys = full, secret
	})
	return m, err
}

// Resources returns every recorded resource, sorted by URN.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Resource(nil), m.resources...)
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// ByType returns the resources of one type token, sorted by URN.
func (m *Mocks) ByType(typ string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the one resource with this type and Pulumi name, or fails.
func (m *Mocks) Find(t testing.TB, typ, name string) Resource {
	t.Helper()
	var found []Resource
	for _, r := range m.ByType(typ) {
		if r.Name == name {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, r := range m.ByType(typ) {
			names = append(names, r.Name)
		}
		require.Failf(t, "resource not found", "want one %s named %q, found %d; %s has: %s", typ, name, len(found), typ, strings.Join(names, ", "))
	}
	return found[0]
}

// Has reports whether a resource with this type and name was registered.
func (m *Mocks) Has(typ, name string) bool {
	for _, r := range m.ByType(typ) {
		if r.Name == name {
			return true
		}
	}
	return false
}

// Children returns the resources whose parent is r.
func (m *Mocks) Children(r Resource) []Resource {
	var out []Resource
	for _, c := range m.Resources() {
		if c.Parent == r.URN {
			out = append(out, c)
		}
	}
	return out
}

// Await resolves an output after the program ran and reports its value and
// whether it is secret.
func Await(t testing.TB, o pulumi.Output) (value any, secret bool) {
	t.Helper()
	res, err := internals.UnsafeAwaitOutput(context.Background(), o)
	require.NoError(t, err)
	return res.Value, res.Secret
}

// StackConfig reads a Pulumi.<stack>.yaml file and returns its project
// config the way the engine hands it to programs: strings as they are,
// everything else as JSON. Keys come back without the project prefix.
// Encrypted (`secure:`) values are refused: stack files in this repository
// must not carry secrets.
func StackConfig(t testing.TB, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(data, &file), path)
	out := map[string]string{}
	for key, v := range file.Config {
		name, ok := strings.CutPrefix(key, Project+":")
		if !ok {
			continue // provider config such as gcp:project
		}
		if obj, isObj := v.(map[string]any); isObj {
			_, secure := obj["secure"]
			require.False(t, secure, "%s: %s holds an encrypted value; stack files in the repo must not", path, key)
		}
		if s, isString := v.(string); isString {
			out[name] = s
			continue
		}
		raw, err := json.Marshal(v)
		require.NoError(t, err, "%s: %s", path, key)
		out[name] = string(raw)
	}
	return out
}
