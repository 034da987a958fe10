package addons_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// ingressValues are the gateway chart values about how its pods come and go.
type ingressValues struct {
	ReplicaCount int `json:"replicaCount"`
	Autoscaling  struct {
		Enabled bool `json:"enabled"`
	} `json:"autoscaling"`
	Service struct {
		Type string `json:"type"`
	} `json:"service"`
	TerminationGracePeriodSeconds int               `json:"terminationGracePeriodSeconds"`
	Env                           map[string]string `json:"env"`
}

type istiodValues struct {
	Pilot struct {
		AutoscaleEnabled bool `json:"autoscaleEnabled"`
		AutoscaleMin     int  `json:"autoscaleMin"`
		ReplicaCount     int  `json:"replicaCount"`
	} `json:"pilot"`
}

// TestIngressDrainsLongStreams: the chart's default 30 s grace would cut streaming
// generations when a gateway pod is scaled in or rolled; it gets the longest stream plus a
// margin, and pilot-agent exits as soon as its last connection closes.
func TestIngressDrainsLongStreams(t *testing.T) {
	args := allOn()
	args.StreamSeconds = 1200
	m, _ := deploy(t, args)
	_, rel := release(t, m, "istio-ingressgateway")
	v := values[ingressValues](t, rel)
	assert.Equal(t, 1230, v.TerminationGracePeriodSeconds)
	assert.Equal(t, "true", v.Env["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"])
}

// TestIngressServiceTypeOnClustersWithoutLoadBalancers: a NodePort gateway on kind, where a
// LoadBalancer would never get an address and Helm's wait would time out the release.
func TestIngressServiceTypeOnClustersWithoutLoadBalancers(t *testing.T) {
	args := allOn()
	args.IngressServiceType = addons.ServiceNodePort
	m, p := deploy(t, args)
	_, rel := release(t, m, "istio-ingressgateway")
	assert.Equal(t, "NodePort", values[ingressValues](t, rel).Service.Type)
	require.NotNil(t, p.IngressAddress)
}

// TestNoAutoscalersWithoutMetrics: without the metrics API an HPA never scales; the replicas
// are fixed instead (istiod's and the gateway's), and no metrics-server is installed unless
// asked.
func TestNoAutoscalersWithoutMetrics(t *testing.T) {
	args := allOn()
	args.Autoscaling, args.MetricsServer = false, false
	m, _ := deploy(t, args)

	_, gw := release(t, m, "istio-ingressgateway")
	g := values[ingressValues](t, gw)
	assert.False(t, g.Autoscaling.Enabled)
	assert.Equal(t, 3, g.ReplicaCount, "gatewayReplicas, fixed")

	_, istiod := release(t, m, "istiod")
	i := values[istiodValues](t, istiod)
	assert.False(t, i.Pilot.AutoscaleEnabled)
	assert.Equal(t, addons.IstiodReplicas, i.Pilot.ReplicaCount)
	assert.NotContains(t, releaseNames(m), "metrics-server")
}

// TestMetricsServer: installed from its pinned chart when asked (EKS), and istiod's
// autoscaler is on then.
func TestMetricsServer(t *testing.T) {
	args := allOn()
	args.MetricsServer = true
	m, _ := deploy(t, args)
	_, rel := release(t, m, "metrics-server")
	assert.Equal(t, versions.MetricsServer.Name, rel.Chart)
	assert.Equal(t, versions.MetricsServer.Version, rel.Version)
	assert.Equal(t, versions.MetricsServer.Repo, rel.RepositoryOpts.Repo)
	assert.Equal(t, "kube-system", rel.Namespace)

	_, istiod := release(t, m, "istiod")
	i := values[istiodValues](t, istiod)
	assert.True(t, i.Pilot.AutoscaleEnabled)
	assert.Equal(t, addons.IstiodReplicas, i.Pilot.AutoscaleMin)
}

// TestSystemPodsCountWhatTheChartsAreGiven: the capacity check's view of the add-ons.
func TestSystemPodsCountWhatTheChartsAreGiven(t *testing.T) {
	args := allOn()
	args.MetricsServer = true
	pods := addons.SystemPods(args)
	byName := map[string]int{}
	for _, p := range pods {
		byName[p.Name] = p.Count
	}
	assert.Equal(t, addons.IstiodReplicas, byName["istiod"])
	assert.Equal(t, 3, byName["the Istio ingress gateway"])
	assert.Equal(t, 1, byName["metrics-server"])
	assert.Equal(t, 3, byName["Argo CD's server, repo server and ApplicationSet controller"])

	args.ArgoCD.HA = true
	byName = map[string]int{}
	for _, p := range addons.SystemPods(args) {
		byName[p.Name] = p.Count
	}
	assert.Equal(t, 6, byName["Argo CD's server, repo server and ApplicationSet controller"], "HA doubles the stateless parts")
	assert.Equal(t, 6, byName["Argo CD's redis-ha"])
}
