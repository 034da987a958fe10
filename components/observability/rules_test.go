package observability_test

import (
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/promcheck"
)

// noReadyReplicaRules are the rules of the no-ready-replica alert.
func noReadyReplicaRules(args observability.Args) []monv1.Rule {
	var out []monv1.Rule
	for _, g := range observability.RuleSpec(args).Groups {
		for _, r := range g.Rules {
			if r.Alert == observability.AlertModelNoReadyReplica {
				out = append(out, r)
			}
		}
	}
	return out
}

// statefulSetsOf reads, from a no-ready-replica expression as Prometheus parses it, the
// StatefulSets each side selects, and checks its shape: "no ready replica" and, matched on
// namespace and StatefulSet, "wants at least one".
func statefulSetsOf(t *testing.T, expr string, candidates ...string) (ready, wanted []string) {
	t.Helper()
	e, err := promcheck.Parser.ParseExpr(expr)
	require.NoError(t, err, expr)
	and, ok := e.(*parser.BinaryExpr)
	require.True(t, ok, expr)
	require.Equal(t, parser.ItemType(parser.LAND), and.Op, "ready == 0 and wanted > 0: %s", expr)
	require.NotNil(t, and.VectorMatching)
	assert.True(t, and.VectorMatching.On)
	assert.ElementsMatch(t, []string{"namespace", "statefulset"}, and.VectorMatching.MatchingLabels)

	side := func(n parser.Expr, metric string, op parser.ItemType) []string {
		cmp, ok := n.(*parser.BinaryExpr)
		require.True(t, ok, expr)
		assert.Equal(t, op, cmp.Op, expr)
		assert.Equal(t, "0", cmp.RHS.String(), expr)
		vs, ok := cmp.LHS.(*parser.VectorSelector)
		require.True(t, ok, expr)
		assert.Equal(t, metric, vs.Name)
		var selected []string
		for _, c := range candidates {
			lbls := labels.FromStrings("__name__", metric, "namespace", "llm", "statefulset", c)
			matches := true
			for _, m := range vs.LabelMatchers {
				matches = matches && m.Matches(lbls.Get(m.Name))
			}
			if matches {
				selected = append(selected, c)
			}
		}
		return selected
	}
	return side(and.LHS, observability.KSMStatefulSetReady, parser.EQLC), side(and.RHS, observability.KSMStatefulSetReplicas, parser.GTR)
}

// TestNoReadyReplicaSparesModelsAtZero: a model that scales to zero has no ready replica on
// purpose; the alert fires only while its StatefulSet wants replicas, and then only after a
// start from zero should have finished. Other models keep the plain threshold.
func TestNoReadyReplicaSparesModelsAtZero(t *testing.T) {
	args := testArgs()
	args.Models = append(args.Models,
		observability.ModelRef{ServedName: "burst", KubeName: "burst", ColdStartMinutes: 25},
		observability.ModelRef{ServedName: "quick", KubeName: "quick", ColdStartMinutes: 5})
	rules := noReadyReplicaRules(args)
	require.Len(t, rules, 3, "one per model that scales to zero, one for the rest")

	all := []string{"qwen3-0-6b", "odd-name-with-quotes", "burst", "quick"}
	byModel := map[string]monv1.Rule{}
	for _, r := range rules {
		expr := r.Expr.String()
		require.NoError(t, checkExpr(expr), expr)
		ready, wanted := statefulSetsOf(t, expr, all...)
		assert.Equal(t, ready, wanted, "both sides select the same StatefulSets")
		switch model := r.Labels["model"]; model {
		case "":
			assert.Equal(t, []string{"qwen3-0-6b", "odd-name-with-quotes"}, ready)
			byModel["always"] = r
		default:
			assert.Equal(t, []string{model}, ready)
			byModel[model] = r
		}
		assert.Equal(t, "critical", r.Labels["severity"])
	}
	require.Len(t, byModel, 3)
	assert.Equal(t, "15m", string(*byModel["always"].For), "thresholds.noReplicaMinutes")
	assert.Equal(t, "25m", string(*byModel["burst"].For), "its cold-start budget")
	assert.Equal(t, "15m", string(*byModel["quick"].For), "never less than thresholds.noReplicaMinutes")
	assert.Contains(t, byModel["burst"].Annotations["description"], "scales to zero")

	t.Run("every model scales to zero", func(t *testing.T) {
		args := testArgs()
		for i := range args.Models {
			args.Models[i].ColdStartMinutes = 20
		}
		rules := noReadyReplicaRules(args)
		require.Len(t, rules, 2, "no rule with an empty StatefulSet list")
		for _, r := range rules {
			assert.NotEmpty(t, r.Labels["model"])
		}
	})
}
