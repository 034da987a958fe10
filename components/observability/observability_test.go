package observability_test

import (
	"encoding/json"
	"testing"

	dashboardsdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// TestComponentAlone: the component as a library (no stack config): its objects decode
// strictly into the operator's types, carry the monitor labels, sit in the right namespaces,
// and two instances (two platforms) do not collide.
func TestComponentAlone(t *testing.T) {
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		for _, ns := range []string{"team-a", "team-b"} {
			args := testArgs()
			args.Namespace = ns
			if _, err := observability.New(ctx, "obs-"+ns, args); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, m.ByType(observability.Type), 2)

	pm := pulumimock.Decode[monv1.PodMonitor](t, m, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "obs-team-a-vllm")
	assert.Equal(t, "team-a", pm.Namespace)
	assert.Equal(t, "PodMonitor", pm.Kind)
	assert.Equal(t, observability.MonitoringAPIVersion, pm.APIVersion)
	assert.Equal(t, "kube-prometheus-stack", pm.Labels["release"])
	assert.Equal(t, "llm-platform", pm.Labels["app.kubernetes.io/part-of"])
	assert.Equal(t, testArgs().ModelPods, pm.Spec.Selector.MatchLabels)
	assert.Equal(t, []string{"team-a"}, pm.Spec.NamespaceSelector.MatchNames, "only its own namespace's pods")

	sm := pulumimock.Decode[monv1.ServiceMonitor](t, m, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "obs-team-b-gateway")
	assert.Equal(t, "team-b", sm.Namespace)
	assert.Equal(t, "metrics", sm.Spec.Endpoints[0].Port)
	assert.Equal(t, testArgs().GatewayService, sm.Spec.Selector.MatchLabels)

	rule := pulumimock.Decode[monv1.PrometheusRule](t, m, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "obs-team-a-alerts")
	require.Len(t, rule.Spec.Groups, 2)
	assert.Contains(t, rule.Spec.Groups[1].Rules[1].Expr.String(), `namespace="team-a"`)

	uids := map[string]bool{}
	for _, ns := range []string{"team-a", "team-b"} {
		for _, d := range []string{observability.OverviewDashboard, observability.ModelDashboard, observability.UsageDashboard} {
			cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "obs-"+ns+"-"+d)
			assert.Equal(t, "monitoring", cm.Namespace, "beside Grafana")
			assert.Equal(t, "1", cm.Labels["grafana_dashboard"])
			var model dashboardsdk.Dashboard
			require.NoError(t, json.Unmarshal([]byte(cm.Data[d+".json"]), &model), "the dashboard JSON loads back into the SDK's model")
			require.NotNil(t, model.Uid)
			assert.False(t, uids[*model.Uid], "dashboard uids differ per platform")
			uids[*model.Uid] = true
			assert.NotEmpty(t, model.Panels)
		}
	}
}
