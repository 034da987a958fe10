package observability_test

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/observability"
)

// grafanaUID is the character set Grafana accepts in a UID (util.IsValidShortUID).
var grafanaUID = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)

// namespaces are valid namespace names of every length 1-63: random ones (a fixed seed, so a
// failure reproduces) and the awkward ones (all one letter, dashes where the UID cuts).
func namespaces(t *testing.T) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(30, 63))
	const first, middle = "abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789-"
	var out []string
	for n := 1; n <= validation.DNS1123LabelMaxLength; n++ {
		out = append(out, strings.Repeat("a", n), dashed(n))
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				set := middle
				if i == 0 || i == n-1 {
					set = first
				}
				b[i] = set[rng.IntN(len(set))]
			}
			out = append(out, string(b))
		}
	}
	var valid []string
	for _, ns := range out {
		if len(validation.IsDNS1123Label(ns)) == 0 {
			valid = append(valid, ns)
		}
	}
	require.Greater(t, len(valid), 63*20, "most generated names are valid namespaces")
	return valid
}

// dashed is "a-a-a…" of length n (ending in a letter), so every cut lands next to a dash.
func dashed(n int) string {
	b := []byte(strings.Repeat("a-", n)[:n])
	b[n-1] = 'b'
	return string(b)
}

// TestDashboardUIDsFitGrafana: for every valid namespace (lengths 1-63) both dashboards get a
// UID Grafana accepts, the same on every call, different from every other namespace's and
// dashboard's; the UIDs of namespaces short enough are the ones earlier releases used.
func TestDashboardUIDsFitGrafana(t *testing.T) {
	owner := map[string]string{}
	lengths := map[int]bool{}
	for _, ns := range namespaces(t) {
		lengths[len(ns)] = true
		for _, d := range []string{observability.OverviewDashboard, observability.ModelDashboard, observability.UsageDashboard} {
			uid := observability.DashboardUID(d, ns)
			require.LessOrEqual(t, len(uid), observability.MaxUIDLength, "%s for %q: %q", d, ns, uid)
			require.Regexp(t, grafanaUID, uid)
			require.Equal(t, uid, observability.DashboardUID(d, ns), "stable")
			assert.True(t, strings.HasPrefix(uid, d+"-"), "%q names its dashboard", uid)
			if len(d)+1+len(ns) <= observability.MaxUIDLength {
				assert.Equal(t, d+"-"+ns, uid, "a short namespace keeps the UID it always had")
			}
			key := d + "/" + ns
			if prev, dup := owner[uid]; dup && prev != key {
				t.Fatalf("%s and %s share the UID %q", prev, key, uid)
			}
			owner[uid] = key
		}
	}
	assert.Len(t, lengths, 63, "every namespace length")
	// Pinned: the hash is part of the UID users bookmark; it must not change between releases.
	long := strings.Repeat("n", 63)
	assert.Equal(t, "llm-platform-overview-nnnnnnnnn_73dcf996", observability.DashboardUID(observability.OverviewDashboard, long))
	assert.Equal(t, "llm-platform-model-nnnnnnnnnnnn_73dcf996", observability.DashboardUID(observability.ModelDashboard, long))
	assert.Equal(t, "llm-platform-usage-nnnnnnnnnnnn_73dcf996", observability.DashboardUID(observability.UsageDashboard, long))
	// A dash where the namespace is cut is dropped, not doubled before the hash.
	assert.NotContains(t, observability.DashboardUID(observability.OverviewDashboard, "abcdefg-hijklmnopqrstuvwxyz"), "-_")
}

// TestDashboardsCarryTheirUID: the dashboards Grafana loads carry those UIDs, for a namespace of
// the longest valid length too.
func TestDashboardsCarryTheirUID(t *testing.T) {
	for _, ns := range []string{"llm", strings.Repeat("x", validation.DNS1123LabelMaxLength)} {
		ds, err := observability.Dashboards(ns, "llm-gateway-metrics")
		require.NoError(t, err)
		require.Len(t, ds, 3)
		for _, d := range ds {
			require.NotNil(t, d.Model.Uid)
			assert.Equal(t, observability.DashboardUID(d.Name, ns), *d.Model.Uid)
			assert.LessOrEqual(t, len(*d.Model.Uid), observability.MaxUIDLength)
		}
	}
}
