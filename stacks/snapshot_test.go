package stacks

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

var updateSnapshots = flag.Bool("update", false, "rewrite stacks/testdata/snapshots from the program as it is")

// snapshotConfigs are the stack files and the richer configs the tests use: together they reach
// every component and every option that changes what is declared.
func snapshotConfigs(t *testing.T) map[string]map[string]string {
	stack := func(name string) map[string]string {
		return pulumimock.StackConfig(t, "../Pulumi."+name+".yaml")
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	return map[string]map[string]string{
		"dev": stack("dev"),
		"gke": stack("gke"),
		"eks": stack("eks"),
		"gke-team-webui": with(gkeConfig(`{"name":"llm-gke"}`), "webui", teamWebUI,
			"observability", `{"enabled":true}`),
		"eks-autoscaled-rds": with(autoscaledEKS(`{"region":"us-west-2","cluster":{"name":"llm-eks","systemNodeCount":3}}`), "webui", teamWebUI),
		"tenancy-oidc-edge": {
			"models": twoModels, "tenancy": tenancyConfig,
			"gatewayApiKeys": `["sk-default-1"]`, "gatewayTenantKeys": `{"team-a":["sk-team-a-1"]}`,
			"edge":                  `{"hosts":["chat.example.com"],"tls":{"credentialName":"chat-tls"}}`,
			"webui":                 `{"oidc":{"issuerUrl":"https://accounts.google.com","clientId":"123.apps.googleusercontent.com","allowedDomains":["example.com"]}}`,
			"webuiOidcClientSecret": "GOCSPX-client-secret",
		},
	}
}

// snapshotSecrets are the config keys the snapshot configs hold as secrets.
var snapshotSecrets = []string{"gatewayApiKeys", "gatewayTenantKeys", "webuiOidcClientSecret"}

// snapshotResource is one declared resource as the snapshot keeps it: secrets masked, the
// dependency list sorted and without repeats (its order is the SDK's, not the program's).
type snapshotResource struct {
	URN           string   `json:"urn"`
	Parent        string   `json:"parent,omitempty"`
	Provider      string   `json:"provider,omitempty"`
	Custom        bool     `json:"custom,omitempty"`
	ReadID        string   `json:"readId,omitempty"`
	Inputs        any      `json:"inputs"`
	DependsOn     []string `json:"dependsOn,omitempty"`
	IgnoreChanges []string `json:"ignoreChanges,omitempty"`
	AliasTypes    []string `json:"aliasTypes,omitempty"`
	Timeouts      []string `json:"timeouts,omitempty"`
}

func snapshotOf(m *pulumimock.Mocks) []snapshotResource {
	var out []snapshotResource
	for _, r := range m.Resources() {
		deps := slices.Clone(r.DependsOn)
		slices.Sort(deps)
		s := snapshotResource{
			URN: r.URN, Parent: r.Parent, Provider: r.Provider, Custom: r.Custom, ReadID: r.ReadID,
			Inputs: pulumimock.Redacted(r.Inputs), DependsOn: slices.Compact(deps),
			IgnoreChanges: r.IgnoreChanges, AliasTypes: r.AliasTypes,
		}
		if r.CreateTimeout != "" || r.UpdateTimeout != "" {
			s.Timeouts = []string{r.CreateTimeout, r.UpdateTimeout}
		}
		out = append(out, s)
	}
	return out
}

// TestDeclaredResourcesSnapshot pins every resource the program declares for each snapshot
// config, inputs included, so that a refactor proves it declares exactly what it did. A change
// meant to alter what is declared rewrites the files with
//
//	go test ./stacks -run TestDeclaredResourcesSnapshot -update
//
// and the diff of the (gunzipped) files is the review of what changed.
func TestDeclaredResourcesSnapshot(t *testing.T) {
	for name, config := range snapshotConfigs(t) {
		t.Run(name, func(t *testing.T) {
			m, _, err := run(t, config, snapshotSecrets...)
			require.NoError(t, err)
			matchSnapshot(t, name, m)
		})
	}
}

// matchSnapshot compares what m recorded with testdata/snapshots/<name>.json.gz (or, with
// -update, rewrites the file).
func matchSnapshot(t *testing.T, name string, m *pulumimock.Mocks) {
	t.Helper()
	got, err := json.MarshalIndent(snapshotOf(m), "", " ")
	require.NoError(t, err)
	path := filepath.Join("testdata", "snapshots", name+".json.gz")
	if *updateSnapshots {
		writeGzip(t, path, got)
		return
	}
	if want := readGzip(t, path); !bytes.Equal(want, got) {
		diffPath := filepath.Join(t.TempDir(), name+".json")
		require.NoError(t, os.WriteFile(diffPath, got, 0o644))
		t.Fatalf("%s declares something else than %s: compare it with %s (gunzip -c), "+
			"or, when the change is meant, rerun with -update", name, path, diffPath)
	}
}

func writeGzip(t *testing.T, path string, data []byte) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(append(data, '\n'))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func readGzip(t *testing.T, path string) []byte {
	f, err := os.Open(path)
	require.NoError(t, err, "no snapshot yet: run with -update")
	defer f.Close()
	r, err := gzip.NewReader(f)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return bytes.TrimSuffix(data, []byte("\n"))
}
