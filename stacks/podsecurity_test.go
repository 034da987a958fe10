package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// TestPodSecurityLevels judges every pod template the stacks declare with Pod Security
// admission's own checks (k8s.io/pod-security-admission, the code the API server runs): each
// meets the app namespace's enforced level, and the level each can meet is the one the docs
// claim. The gateway meets restricted; vLLM and Open WebUI run their upstream images as root.
func TestPodSecurityLevels(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	judge := func(level psaapi.Level, meta metav1.ObjectMeta, spec corev1.PodSpec) policy.AggregateCheckResult {
		return policy.AggregateCheckResults(evaluator.EvaluatePod(psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}, &meta, &spec))
	}
	// What keeps vLLM and Open WebUI from restricted: their images' root user and the default
	// capabilities root keeps.
	rootImage := []string{"unrestricted capabilities", "runAsNonRoot != true"}
	want := map[string][]string{ // component -> reasons restricted refuses it (nil: allowed)
		"gateway": nil,
		"webui":   rootImage,
		"model":   rootImage,
		// Open WebUI for a team: its Redis, the in-cluster PostgreSQL and its backup Job run as
		// their images' unprivileged users.
		"redis":    nil,
		"database": nil,
		"backup":   nil,
	}
	team := pulumimock.StackConfig(t, "../Pulumi.dev.yaml")
	team["webui"] = `{"storageClass":"nfs","database":{"kind":"in-cluster"}}`
	configs := map[string]map[string]string{"team": team}
	for _, stack := range []string{"dev", "gke", "eks"} {
		configs[stack] = pulumimock.StackConfig(t, "../Pulumi."+stack+".yaml")
	}

	for stack, config := range configs {
		t.Run(stack, func(t *testing.T) {
			m, _, err := run(t, config)
			require.NoError(t, err)
			ns := pulumimock.Decode[corev1.Namespace](t, m, "kubernetes:core/v1:Namespace", "platform-app")
			enforce := ns.Labels["pod-security.kubernetes.io/enforce"]
			require.Equal(t, addons.PodSecurityBaseline, enforce, "the app namespace enforces baseline")

			templates := map[string]corev1.PodTemplateSpec{} // workload name -> template
			for _, r := range m.ByType("kubernetes:apps/v1:Deployment") {
				d := pulumimock.View[appsv1.Deployment](t, r)
				templates[d.Name] = d.Spec.Template
			}
			for _, r := range m.ByType("kubernetes:apps/v1:StatefulSet") {
				s := pulumimock.View[appsv1.StatefulSet](t, r)
				templates[s.Name] = s.Spec.Template
			}
			for _, r := range m.ByType("kubernetes:batch/v1:CronJob") {
				c := pulumimock.View[batchv1.CronJob](t, r)
				templates[c.Name] = c.Spec.JobTemplate.Spec.Template
			}
			judged := map[string]int{}
			for name, tmpl := range templates {
				component := tmpl.Labels["app.kubernetes.io/component"]
				judged[component]++
				baseline := judge(psaapi.LevelBaseline, tmpl.ObjectMeta, tmpl.Spec)
				assert.True(t, baseline.Allowed, "%s breaks Pod Security baseline, which the namespace enforces: %s", name, baseline.ForbiddenDetail())
				restricted := judge(psaapi.LevelRestricted, tmpl.ObjectMeta, tmpl.Spec)
				reasons, known := want[component]
				require.True(t, known, "a new workload %q (component %q): decide its level and add it here", name, component)
				assert.Equal(t, reasons == nil, restricted.Allowed, "%s under restricted: %s", name, restricted.ForbiddenDetail())
				assert.ElementsMatch(t, reasons, restricted.ForbiddenReasons, "%s: what keeps it from restricted", name)
			}
			assert.Positive(t, judged["gateway"], "the gateway was judged")
			assert.Positive(t, judged["model"], "the models were judged")
			assert.Positive(t, judged["webui"], "Open WebUI was judged")
			if stack == "team" {
				for _, c := range []string{"redis", "database", "backup"} {
					assert.Positive(t, judged[c], "%s was judged", c)
				}
			}
		})
	}
}
