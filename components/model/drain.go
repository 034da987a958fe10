package model

// Drain: how a stopping replica (rollout, scale-down, node drain) finishes its running
// generations without the gateway sending it new ones. Everything derives from one setting,
// spec.drainSeconds (D):
//
//	t = 0          the pod is Terminating: the headless Service's DNS drops it at once
//	               (publishNotReadyAddresses is false), and the preStop hook starts sleeping.
//	               vLLM still serves everything, new requests included.
//	t = P          the gateway has re-resolved and sends nothing new (P = EndpointLeaveSeconds,
//	               at most D/2); the kubelet sends SIGTERM and vLLM shuts down gracefully: new
//	               requests are refused (503), running ones finish, for at most D - P seconds
//	               (--shutdown-timeout), and vLLM exits as soon as none is left.
//	t = D + margin the kubelet's SIGKILL (terminationGracePeriodSeconds).
//
// vLLM's graceful shutdown: EngineArgs.shutdown_timeout in vllm/engine/arg_utils.py, the
// --shutdown-timeout flag, whose default 0 aborts every running request on SIGTERM; with it the
// API server answers new requests with 503 while in-flight ones complete (the drain tests under
// tests/v1/shutdown), and the engine exits when none is left or the timeout ends.
//
// Istio's sidecar gets SIGTERM at t = 0 too (a classic sidecar; a native one only after vLLM
// exits), and by default drains for terminationDrainDuration (5 s) and then closes every
// connection, running streams included. The pod's proxy.istio.io/config annotation keeps it
// alive instead (istio/istio pkg/envoy/agent.go, terminate): with EXIT_ON_ZERO_ACTIVE_CONNECTIONS
// it waits MINIMUM_DRAIN_DURATION (set to P: new requests may still arrive until the gateway
// has dropped the pod), then exits once no connection is left, which the kubelet bounds at the
// grace period; terminationDrainDuration = D is the bound where exit-on-zero is not honoured.
// Both are proxy-agent env vars (pilot/cmd/pilot-agent/options/options.go), which the injector
// sets from the annotation's proxyMetadata.

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	// DefaultDrainSeconds is drainSeconds when unset: the 300 s grace the pods always had.
	// vLLM exits as soon as its last request ends, so a long drain costs only when a
	// generation is still running (about 8,000 tokens at 30 tokens/s fit in it); a rollout or
	// scale-down waits at most this long per pod.
	DefaultDrainSeconds = 300
	// MinDrainSeconds and MaxDrainSeconds bound drainSeconds: below twice EndpointLeaveSeconds
	// the preStop sleep (at most half the drain) would end before the gateway has dropped the
	// pod, and vLLM would answer the requests still sent to it with 503; above an hour a
	// rollout of many replicas takes a day.
	MinDrainSeconds = 2 * EndpointLeaveSeconds
	MaxDrainSeconds = 3600

	// EndpointLeaveSeconds is how long a stopping pod keeps serving before vLLM refuses new
	// requests: the gateway re-resolves a model's replicas every 2 s and keeps a DNS answer at
	// most 30 s (gateway/nginx DNSRefresh and DNSMaxTTL), plus a few seconds for the endpoint
	// change to reach cluster DNS.
	EndpointLeaveSeconds = 35
	// drainMargin is the kubelet's allowance, after vLLM's shutdown timeout, for the engine's
	// processes to exit and free the GPUs before SIGKILL.
	drainMargin = 15

	// IstioProxyConfigAnnotation carries per-pod Istio proxy settings.
	IstioProxyConfigAnnotation = "proxy.istio.io/config"
)

// DrainTimes are a replica's stop timings, all derived from drainSeconds.
type DrainTimes struct {
	// PreStop is how long the pod keeps serving normally after it starts terminating.
	PreStop int
	// Shutdown is vLLM's --shutdown-timeout: how long running requests may still finish.
	Shutdown int
	// Grace is the pod's terminationGracePeriodSeconds: PreStop + Shutdown + a margin.
	Grace int
}

// Drain derives the stop timings from s.DrainSeconds (0: DefaultDrainSeconds).
func Drain(s Spec) DrainTimes {
	d := s.DrainSeconds
	if d <= 0 {
		d = DefaultDrainSeconds
	}
	pre := min(EndpointLeaveSeconds, d/2)
	return DrainTimes{PreStop: pre, Shutdown: d - pre, Grace: d + drainMargin}
}

// shutdownArgs make vLLM finish running requests on SIGTERM.
func (t DrainTimes) shutdownArgs() []string {
	return []string{"--shutdown-timeout", strconv.Itoa(t.Shutdown)}
}

// lifecycle is the vLLM container's preStop hook: a plain sleep (the image's Ubuntu base has
// coreutils), so the pod leaves the gateway's endpoints before vLLM gets SIGTERM.
func (t DrainTimes) lifecycle() *corev1.LifecycleArgs {
	return &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
		Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"sleep", strconv.Itoa(t.PreStop)})},
	}}
}

// istioProxyConfig is the subset of Istio's ProxyConfig (istio.io/api mesh/v1alpha1) the pod
// sets through IstioProxyConfigAnnotation.
type istioProxyConfig struct {
	TerminationDrainDuration string            `json:"terminationDrainDuration"`
	ProxyMetadata            map[string]string `json:"proxyMetadata"`
}

// istioAnnotation keeps the sidecar up while vLLM drains (see the top of this file).
func (t DrainTimes) istioAnnotation() string {
	b, err := json.Marshal(istioProxyConfig{
		TerminationDrainDuration: fmt.Sprintf("%ds", t.PreStop+t.Shutdown),
		ProxyMetadata: map[string]string{
			"EXIT_ON_ZERO_ACTIVE_CONNECTIONS": "true",
			"MINIMUM_DRAIN_DURATION":          fmt.Sprintf("%ds", t.PreStop),
		},
	})
	if err != nil {
		panic(err) // strings only
	}
	return string(b)
}
