package observability_test

// The control loops, run by their own engine: `promtool test rules` evaluates the platform's
// alerting rules and, as recording rules, every KEDA trigger query of the ScaledObjects the
// autoscaling component declares, over the input series of testdata/*.test.yml (steady traffic,
// a growing queue, a model at zero on purpose, a cold start, idle, failures), and compares the
// alerts that fire and the values KEDA would read with the expectations written there.
//
// KEDA itself does not run here. What it does with a trigger's value is written as recording
// rules next to each query (kedaRules), from KEDA v2.20.2's sources:
//   - pkg/scalers/prometheus_scaler.go: an empty result reads 0 (ignoreNullValues, default
//     true); the trigger is active while its value is above activationThreshold; negative
//     values reach the HPA as 0 (scaler.go, quantityFromFloat64).
//   - pkg/scaling/scale_handler.go: the ScaledObject is active while any trigger is.
//   - pkg/scaling/executor/scale_scaledobjects.go: inactive with minReplicaCount 0, it goes to
//     zero once lastActiveTime + cooldownPeriod has passed; active at zero, it gets one replica.
//   - the HPA KEDA creates (AverageValue targets): ceil(value / threshold) replicas per trigger,
//     the largest wins, between max(minReplicaCount, 1) and maxReplicaCount. Its 10% tolerance
//     and stabilization windows are left out: keda_replicas is where the loop settles.
// Rules of one group are evaluated in order at the same instant, so each builds on the last.

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// The platform the test files describe: namespace llm, one model that scales to zero and one
// that always runs.
const (
	loopNamespace  = "llm"
	loopGatewayJob = "llm-gateway-metrics"
)

func loopTargets() []autoscaling.Target {
	return []autoscaling.Target{
		{Name: "qwen3-8b", ServedName: "qwen3-8b", Scaling: model.Autoscaling{
			Enabled: true, MinReplicas: 0, MaxReplicas: 4, TargetQueuePerReplica: 5, IdleMinutes: 20, CooldownSeconds: 240,
		}},
		{Name: "gemma-3-27b-it", ServedName: "gemma-3-27b-it", Scaling: model.Autoscaling{
			Enabled: true, MinReplicas: 1, MaxReplicas: 2, TargetQueuePerReplica: 3, IdleMinutes: 30, CooldownSeconds: 300,
		}},
	}
}

func loopObservability() observability.Args {
	args := testArgs()
	args.Namespace = loopNamespace
	args.GatewayJob = loopGatewayJob
	args.Config.Thresholds.TTFTP95SecondsByModel = nil
	args.Models = []observability.ModelRef{
		{ServedName: "qwen3-8b", KubeName: "qwen3-8b", ColdStartMinutes: 25},
		{ServedName: "gemma-3-27b-it", KubeName: "gemma-3-27b-it"},
	}
	return args
}

// declared deploys the observability and autoscaling components under mocks and reads back
// the PrometheusRule and the ScaledObjects they declared: the objects the cluster would get.
func declared(t *testing.T) ([]monv1.RuleGroup, map[string]autoscaling.ScaledObjectSpec) {
	t.Helper()
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		if _, err := observability.New(ctx, "obs", loopObservability()); err != nil {
			return err
		}
		_, err := autoscaling.New(ctx, "autoscaling", autoscaling.Args{
			Namespace: loopNamespace, Targets: loopTargets(), PrometheusURL: "http://prometheus-operated.monitoring.svc:9090",
		})
		return err
	})
	require.NoError(t, err)
	rule := pulumimock.Decode[monv1.PrometheusRule](t, m, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "obs-alerts")
	objects := map[string]autoscaling.ScaledObjectSpec{}
	for _, tg := range loopTargets() {
		var so pulumimock.CustomResource[autoscaling.ScaledObjectSpec]
		require.NoError(t, pulumimock.DecodeInto(m.Find(t, "kubernetes:keda.sh/v1alpha1:ScaledObject", tg.Name).Inputs, &so))
		objects[tg.Name] = so.Spec
	}
	return rule.Spec.Groups, objects
}

// kedaRules stand in for KEDA: each trigger's query recorded as keda_trigger_value, and what
// KEDA and its HPA make of it (see the top of this file).
func kedaRules(objects map[string]autoscaling.ScaledObjectSpec) monv1.RuleGroup {
	g := monv1.RuleGroup{Name: "keda"}
	record := func(name, expr string, labels map[string]string) {
		g.Rules = append(g.Rules, monv1.Rule{Record: name, Expr: intstr.FromString(expr), Labels: labels})
	}
	for _, name := range slices.Sorted(maps.Keys(objects)) {
		so := objects[name]
		sel := fmt.Sprintf(`{scaledobject=%q}`, name)
		for _, tr := range so.Triggers {
			labels := map[string]string{"scaledobject": name, "trigger": tr.Name}
			one := fmt.Sprintf(`{scaledobject=%q,trigger=%q}`, name, tr.Name)
			record("keda_trigger_value", "("+tr.Metadata["query"]+") or vector(0)", labels)
			record("keda_trigger_active", fmt.Sprintf("keda_trigger_value%s > bool %s", one, tr.Metadata["activationThreshold"]), labels)
			record("keda_trigger_replicas", fmt.Sprintf("ceil(clamp_min(keda_trigger_value%s, 0) / %s)", one, tr.Metadata["threshold"]), labels)
		}
		labels := map[string]string{"scaledobject": name}
		record("keda_scaledobject_active", fmt.Sprintf("max by (scaledobject) (keda_trigger_active%s)", sel), labels)
		hpa := fmt.Sprintf("clamp(max by (scaledobject) (keda_trigger_replicas%s), %d, %d)", sel, max(so.MinReplicaCount, 1), so.MaxReplicaCount)
		if so.MinReplicaCount == 0 {
			// Zero only when no poll within cooldownPeriod found it active.
			hpa = fmt.Sprintf("%s * on (scaledobject) max_over_time(keda_scaledobject_active%s[%ds])", hpa, sel, so.CooldownPeriod)
		}
		record("keda_replicas", hpa, labels)
	}
	return g
}

// writeRules writes the declared alerting groups and the KEDA stand-in as one rule file.
func writeRules(t *testing.T, path string) {
	t.Helper()
	groups, objects := declared(t)
	file := struct {
		Groups []monv1.RuleGroup `json:"groups"`
	}{append(groups, kedaRules(objects))}
	raw, err := yaml.Marshal(toYAMLTree(t, file))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o644))
}

// requirePromtool finds Debian's promtool (package prometheus); without it the test skips on a
// laptop and fails in CI.
func requirePromtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err == nil {
		return bin
	}
	msg := "promtool is not installed (apt-get install prometheus; scripts/install-test-deps.sh does it)"
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal(msg + " (CI is set: refusing to skip)")
	}
	t.Skip(msg)
	return ""
}

// TestControlLoopsWithPromtool runs every testdata/*.test.yml with promtool against the rules
// the components declare.
func TestControlLoopsWithPromtool(t *testing.T) {
	promtool := requirePromtool(t)
	dir := t.TempDir()
	writeRules(t, filepath.Join(dir, "rules.yml"))
	files, err := filepath.Glob("testdata/*.test.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			// Beside the generated rules: rule_files are relative to the test file.
			copied := filepath.Join(dir, filepath.Base(f))
			require.NoError(t, os.WriteFile(copied, raw, 0o644))
			cmd := exec.Command(promtool, "test", "rules", filepath.Base(f))
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "promtool test rules %s:\n%s", f, out)
		})
	}
}

// promtoolTest is the part of promtool's test file format the coverage check reads.
type promtoolTest struct {
	RuleFiles  []string `yaml:"rule_files"`
	TestGroups []struct {
		Name       string `yaml:"name"`
		AlertTests []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		ExprTests []struct {
			Expr       string `yaml:"expr"`
			ExpSamples []struct {
				Labels string `yaml:"labels"`
			} `yaml:"exp_samples"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

// TestControlLoopTestsCoverEveryRuleAndTrigger: every alert the platform declares fires in some
// test and is checked quiet under steady traffic, and every trigger of every ScaledObject has
// its value checked, so a new alert or trigger cannot go untested.
func TestControlLoopTestsCoverEveryRuleAndTrigger(t *testing.T) {
	groups, objects := declared(t)
	files, err := filepath.Glob("testdata/*.test.yml")
	require.NoError(t, err)
	fired, quietInSteady := map[string]bool{}, map[string]bool{}
	var samples []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		var pt promtoolTest
		require.NoError(t, yaml.Unmarshal(raw, &pt), f)
		assert.Equal(t, []string{"rules.yml"}, pt.RuleFiles, "%s: the generated rules", f)
		for _, g := range pt.TestGroups {
			for _, a := range g.AlertTests {
				if len(a.ExpAlerts) > 0 {
					fired[a.Alertname] = true
				} else if strings.HasPrefix(filepath.Base(f), "steady") {
					quietInSteady[a.Alertname] = true
				}
			}
			for _, e := range g.ExprTests {
				for _, s := range e.ExpSamples {
					samples = append(samples, s.Labels)
				}
			}
		}
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			assert.True(t, fired[r.Alert], "no test makes %s fire", r.Alert)
			assert.True(t, quietInSteady[r.Alert], "steady.test.yml does not check %s stays quiet", r.Alert)
		}
	}
	for name, so := range objects {
		for _, tr := range so.Triggers {
			want := fmt.Sprintf(`keda_trigger_value{scaledobject=%q, trigger=%q}`, name, tr.Name)
			assert.True(t, slices.ContainsFunc(samples, func(s string) bool { return sameLabels(s, want) }),
				"no test checks %s", want)
		}
		want := fmt.Sprintf(`keda_replicas{scaledobject=%q}`, name)
		assert.True(t, slices.ContainsFunc(samples, func(s string) bool { return sameLabels(s, want) }), "no test checks %s", want)
	}
}

// sameLabels compares two series in PromQL's text form, whatever the spacing.
func sameLabels(a, b string) bool {
	norm := strings.NewReplacer(" ", "").Replace
	return norm(a) == norm(b)
}
