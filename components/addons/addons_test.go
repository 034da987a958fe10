package addons_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

const (
	releaseType     = "kubernetes:helm.sh/v3:Release"
	applicationType = "kubernetes:argoproj.io/v1alpha1:Application"
	namespaceType   = "kubernetes:core/v1:Namespace"
	componentType   = addons.Type
	// clusterProvider is the URN prefix of the provider the test program
	// creates and hands to the component.
	clusterProvider = "urn:pulumi:test::llm-platform::pulumi:providers:kubernetes::cluster::"
	istioRepo       = "https://istio-release.storage.googleapis.com/charts"
)

// helmRelease is the part of a helm/v3 Release's inputs the tests read.
type helmRelease struct {
	Name            string `json:"name"`
	Chart           string `json:"chart"`
	Version         string `json:"version"`
	Namespace       string `json:"namespace"`
	CreateNamespace bool   `json:"createNamespace"`
	Atomic          bool   `json:"atomic"`
	RepositoryOpts  struct {
		Repo string `json:"repo"`
	} `json:"repositoryOpts"`
	Values json.RawMessage `json:"values"`
}

// Chart values the tests read, named as the charts name them.
type (
	gatewayValues struct {
		Autoscaling struct {
			Enabled     bool `json:"enabled"`
			MinReplicas int  `json:"minReplicas"`
			MaxReplicas int  `json:"maxReplicas"`
		} `json:"autoscaling"`
		Service struct {
			Type        string            `json:"type"`
			Annotations map[string]string `json:"annotations"`
		} `json:"service"`
	}
	argoValues struct {
		Configs struct {
			Params map[string]any `json:"params"`
		} `json:"configs"`
		RedisHA struct {
			Enabled bool `json:"enabled"`
		} `json:"redis-ha"`
		Controller     replicas `json:"controller"`
		Server         replicas `json:"server"`
		RepoServer     replicas `json:"repoServer"`
		ApplicationSet replicas `json:"applicationSet"`
	}
	replicas struct {
		Replicas int `json:"replicas"`
	}
	devicePluginValues struct {
		NodeSelector map[string]string   `json:"nodeSelector"`
		Tolerations  []corev1.Toleration `json:"tolerations"`
	}
)

// allOn turns every add-on on, with one GitOps application.
func allOn() addons.Args {
	return addons.Args{
		Namespace:        "llm",
		SidecarInjection: true,
		Istio: spec.IstioConfig{
			Enabled:         true,
			CNI:             true,
			GatewayReplicas: 3,
			ServiceAnnotations: map[string]string{
				"service.beta.kubernetes.io/aws-load-balancer-type":   "external",
				"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
			},
		},
		ArgoCD: spec.ArgoCDConfig{
			Enabled: true, Insecure: true,
			Apps: []spec.ArgoCDApp{{
				Name: "observability", RepoURL: "https://github.com/example/gitops.git",
				Path: "clusters/prod/observability", TargetRevision: "v1.2.0", Namespace: "monitoring",
			}},
		},
		DevicePlugin:       true,
		GPUNodeSelector:    map[string]string{"nvidia.com/gpu.present": "true"},
		IngressServiceType: addons.ServiceLoadBalancer,
		Autoscaling:        true,
		StreamSeconds:      900,
	}
}

// deploy runs addons.New under mocks with a Kubernetes provider named
// "cluster", the way package stacks hands it over.
func deploy(t *testing.T, args addons.Args) (*pulumimock.Mocks, *addons.AddOns) {
	t.Helper()
	var p *addons.AddOns
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		p, err = addons.New(ctx, "platform", args, pulumi.Provider(k8s))
		return err
	})
	require.NoError(t, err)
	return m, p
}

func release(t *testing.T, m *pulumimock.Mocks, name string) (pulumimock.Resource, helmRelease) {
	t.Helper()
	r := m.Find(t, releaseType, name)
	return r, pulumimock.View[helmRelease](t, r)
}

func values[T any](t *testing.T, rel helmRelease) T {
	t.Helper()
	var out T
	require.NoError(t, json.Unmarshal(rel.Values, &out), "values of %s", rel.Name)
	return out
}

func releaseNames(m *pulumimock.Mocks) []string {
	var names []string
	for _, r := range m.ByType(releaseType) {
		names = append(names, r.Name)
	}
	return names
}

// TestIstioReleasesArePinnedAndOrdered: base (CRDs) -> istiod -> gateway, so
// the gateway's `image: auto` is filled in by an injection webhook that
// already exists.
func TestIstioReleasesArePinnedAndOrdered(t *testing.T) {
	m, _ := deploy(t, allOn())

	for _, tc := range []struct {
		release   string
		chart     versions.Chart
		chartName string
		namespace string
		after     string // the release it must wait for
	}{
		{"istio-base", versions.IstioBase, "base", "istio-system", ""},
		{"istio-cni", versions.IstioCNI, "cni", "istio-system", "istio-base"},
		{"istiod", versions.Istiod, "istiod", "istio-system", "istio-cni"},
		{"istio-ingressgateway", versions.IstioGateway, "gateway", "istio-ingress", "istiod"},
	} {
		t.Run(tc.release, func(t *testing.T) {
			r, rel := release(t, m, tc.release)
			assert.Equal(t, tc.release, rel.Name, "Helm release name")
			assert.Equal(t, tc.chartName, rel.Chart)
			assert.Equal(t, tc.chart.Version, rel.Version, "pinned in internal/versions")
			assert.NotEmpty(t, rel.Version, "a release is never unpinned")
			assert.NotContains(t, []string{"1.30.0", "1.30.1", "1.30.2"}, rel.Version, "VirtualService push regression")
			assert.Equal(t, istioRepo, rel.RepositoryOpts.Repo)
			assert.Equal(t, tc.namespace, rel.Namespace)
			assert.True(t, rel.CreateNamespace, "Helm creates %s", tc.namespace)
			assert.True(t, rel.Atomic, "a failed install rolls back")
			if tc.after != "" {
				assert.Contains(t, r.DependsOn, m.Find(t, releaseType, tc.after).URN, "%s waits for %s", tc.release, tc.after)
			} else {
				assert.Empty(t, r.DependsOn, "istio-base is installed first")
			}
		})
	}
}

func TestIngressGateway(t *testing.T) {
	args := allOn()
	m, _ := deploy(t, args)
	_, rel := release(t, m, "istio-ingressgateway")
	v := values[gatewayValues](t, rel)

	assert.Equal(t, "LoadBalancer", v.Service.Type)
	assert.Equal(t, map[string]string{
		"service.beta.kubernetes.io/aws-load-balancer-type":   "external",
		"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
	}, v.Service.Annotations, "the cloud's load balancer annotations pass through")
	assert.True(t, v.Autoscaling.Enabled)
	assert.Equal(t, 3, v.Autoscaling.MinReplicas, "autoscaling starts at gatewayReplicas")
	assert.GreaterOrEqual(t, v.Autoscaling.MaxReplicas, v.Autoscaling.MinReplicas)

	// The gateway chart labels its pods `istio: <release name without "istio-">`;
	// the Istio Gateway resource selects them with IngressSelector.
	assert.Equal(t, addons.IngressSelector["istio"], strings.TrimPrefix(rel.Name, "istio-"))
	assert.Equal(t, addons.IngressRelease, rel.Name)
}

func TestIngressGatewayWithoutAnnotations(t *testing.T) {
	args := allOn()
	args.Istio.ServiceAnnotations = nil
	args.Istio.GatewayReplicas = 1
	m, _ := deploy(t, args)
	_, rel := release(t, m, "istio-ingressgateway")
	v := values[gatewayValues](t, rel)
	assert.Empty(t, v.Service.Annotations)
	assert.Equal(t, 1, v.Autoscaling.MinReplicas)
}

func TestIstiodIsWhatApplicationsWaitFor(t *testing.T) {
	m, p := deploy(t, allOn())
	var ready []string
	for _, r := range p.Ready {
		urn, _ := pulumimock.Await(t, r.URN())
		ready = append(ready, string(urn.(pulumi.URN)))
	}
	assert.ElementsMatch(t, []string{
		m.Find(t, namespaceType, "platform-app").URN,
		m.Find(t, releaseType, "istiod").URN,
	}, ready, "application resources wait for the namespace and istiod's sidecar injector")
}

func TestArgoCD(t *testing.T) {
	for _, tc := range []struct {
		name         string
		ha, insecure bool
		replicas     int
		redisHA      bool
		wantInsecure bool
	}{
		{"single, insecure behind the mesh", false, true, 1, false, true},
		{"HA, TLS on the server", true, false, 2, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := allOn()
			args.ArgoCD.HA, args.ArgoCD.Insecure = tc.ha, tc.insecure
			m, _ := deploy(t, args)
			_, rel := release(t, m, "argocd")

			assert.Equal(t, "argo-cd", rel.Chart)
			assert.Equal(t, versions.ArgoCD.Version, rel.Version)
			assert.NotEmpty(t, rel.Version)
			assert.Equal(t, "https://argoproj.github.io/argo-helm", rel.RepositoryOpts.Repo)
			assert.Equal(t, "argocd", rel.Namespace)
			assert.True(t, rel.CreateNamespace)

			v := values[argoValues](t, rel)
			assert.Equal(t, tc.wantInsecure, v.Configs.Params["server.insecure"])
			assert.Equal(t, tc.redisHA, v.RedisHA.Enabled, "redis-ha")
			assert.Equal(t, tc.replicas, v.Server.Replicas, "server")
			assert.Equal(t, tc.replicas, v.RepoServer.Replicas, "repoServer")
			assert.Equal(t, tc.replicas, v.ApplicationSet.Replicas, "applicationSet")
			assert.Equal(t, 1, v.Controller.Replicas, "the application controller is not scaled by replicas")
		})
	}
}

func TestArgoCDApplication(t *testing.T) {
	args := allOn()
	args.ArgoCD.Apps = append(args.ArgoCD.Apps, spec.ArgoCDApp{
		Name: "llm-extras", RepoURL: "https://github.com/example/llm.git", Path: "extras", TargetRevision: "HEAD", Namespace: "llm",
	})
	m, _ := deploy(t, args)
	require.Len(t, m.ByType(applicationType), 2)
	argo := m.Find(t, releaseType, "argocd")

	for _, want := range args.ArgoCD.Apps {
		t.Run(want.Name, func(t *testing.T) {
			r := m.Find(t, applicationType, "platform-app-"+want.Name)
			var app pulumimock.CustomResource[addons.Application]
			require.NoError(t, pulumimock.DecodeInto(r.Inputs, &app), "the spec has only fields Application knows")

			assert.Equal(t, "argoproj.io/v1alpha1", app.APIVersion)
			assert.Equal(t, "Application", app.Kind)
			assert.Equal(t, want.Name, app.Metadata.Name)
			assert.Equal(t, "argocd", app.Metadata.Namespace, "Argo CD watches Applications in its own namespace")

			s := app.Spec
			assert.Equal(t, "default", s.Project)
			assert.Equal(t, addons.AppSource{RepoURL: want.RepoURL, Path: want.Path, TargetRevision: want.TargetRevision}, s.Source)
			assert.Equal(t, "https://kubernetes.default.svc", s.Destination.Server, "deploys into this cluster")
			assert.Equal(t, want.Namespace, s.Destination.Namespace)
			assert.True(t, s.SyncPolicy.Automated.Prune, "automated sync prunes")
			assert.True(t, s.SyncPolicy.Automated.SelfHeal, "automated sync self-heals")
			assert.Contains(t, s.SyncPolicy.SyncOptions, "CreateNamespace=true")

			assert.Contains(t, r.DependsOn, argo.URN, "created after Argo CD (and its CRDs)")
		})
	}
}

func TestNoApplicationUnlessConfigured(t *testing.T) {
	args := allOn()
	args.ArgoCD.Apps = nil
	m, _ := deploy(t, args)
	assert.True(t, m.Has(releaseType, "argocd"))
	assert.Empty(t, m.ByType(applicationType))
}

func TestDevicePlugin(t *testing.T) {
	m, _ := deploy(t, allOn())
	_, rel := release(t, m, "nvidia-device-plugin")

	assert.Equal(t, "nvidia-device-plugin", rel.Chart)
	assert.Equal(t, versions.NVIDIADevicePlugin.Version, rel.Version)
	assert.NotEmpty(t, rel.Version)
	assert.Equal(t, "https://nvidia.github.io/k8s-device-plugin", rel.RepositoryOpts.Repo)
	assert.Equal(t, addons.DevicePluginNS, rel.Namespace)

	v := values[devicePluginValues](t, rel)
	assert.Equal(t, map[string]string{"nvidia.com/gpu.present": "true"}, v.NodeSelector, "runs on the GPU nodes only")
	gpuTaint := corev1.Taint{Key: "nvidia.com/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}
	tolerated := false
	for _, tol := range v.Tolerations {
		tolerated = tolerated || tol.ToleratesTaint(klog.Background(), &gpuTaint, false)
	}
	assert.True(t, tolerated, "tolerates the GPU taint; tolerations: %+v", v.Tolerations)
}

func TestDevicePluginOnlyWhenAsked(t *testing.T) {
	args := allOn()
	args.DevicePlugin = false // GKE manages its own
	m, _ := deploy(t, args)
	assert.False(t, m.Has(releaseType, "nvidia-device-plugin"))
	assert.ElementsMatch(t, []string{"argocd", "istio-base", "istio-cni", "istio-ingressgateway", "istiod"}, releaseNames(m))
}

// TestAddonsOff: turning an add-on off declares nothing of it; the
// namespace and the other add-ons stay.
func TestAddonsOff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		off      func(*addons.Args)
		releases []string
		apps     int
	}{
		{"istio", func(a *addons.Args) { a.Istio.Enabled = false },
			[]string{"argocd", "nvidia-device-plugin"}, 1},
		{"argocd (with apps configured)", func(a *addons.Args) { a.ArgoCD.Enabled = false },
			[]string{"istio-base", "istio-cni", "istio-ingressgateway", "istiod", "nvidia-device-plugin"}, 0},
		{"device plugin", func(a *addons.Args) { a.DevicePlugin = false },
			[]string{"argocd", "istio-base", "istio-cni", "istio-ingressgateway", "istiod"}, 1},
		{"everything", func(a *addons.Args) {
			a.Istio.Enabled, a.ArgoCD.Enabled, a.DevicePlugin = false, false, false
		}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := allOn()
			tc.off(&args)
			m, p := deploy(t, args)
			assert.ElementsMatch(t, tc.releases, releaseNames(m))
			assert.Len(t, m.ByType(applicationType), tc.apps)

			ns := pulumimock.Decode[corev1.Namespace](t, m, namespaceType, "platform-app")
			assert.Equal(t, "llm", ns.Name, "the application namespace always exists")
			if !args.Istio.Enabled {
				require.Len(t, p.Ready, 1, "without Istio, applications wait for the namespace only")
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	for _, injection := range []bool{true, false} {
		args := allOn()
		args.Namespace = "serving"
		args.SidecarInjection = injection
		m, p := deploy(t, args)

		ns := pulumimock.Decode[corev1.Namespace](t, m, namespaceType, "platform-app")
		assert.Equal(t, "serving", ns.Name)
		assert.Equal(t, "llm-platform", ns.Labels["app.kubernetes.io/part-of"])
		assert.Equal(t, "pulumi", ns.Labels["app.kubernetes.io/managed-by"])
		if injection {
			assert.Equal(t, "enabled", ns.Labels["istio-injection"], "the mesh injects sidecars")
		} else {
			assert.NotContains(t, ns.Labels, "istio-injection")
		}
		assert.NotNil(t, p.Namespace)
	}
}

// TestIstioCNI: with the CNI node agent, istiod injects pods without istio-init (NET_ADMIN,
// NET_RAW) and the agent's chart gets the cloud's platform profile; without it, no agent.
func TestIstioCNI(t *testing.T) {
	type cniValues struct {
		Global struct {
			Platform string `json:"platform"`
		} `json:"global"`
	}
	type istiodCNI struct {
		Global struct {
			Platform string `json:"platform"`
		} `json:"global"`
		Pilot struct {
			CNI struct {
				Enabled bool `json:"enabled"`
			} `json:"cni"`
		} `json:"pilot"`
	}
	for _, platformProfile := range []string{"", "gke"} {
		args := allOn()
		args.IstioPlatform = platformProfile
		m, _ := deploy(t, args)
		_, rel := release(t, m, "istio-cni")
		assert.Equal(t, platformProfile, values[cniValues](t, rel).Global.Platform, "the CNI chart's platform profile")
		_, rel = release(t, m, "istiod")
		iv := values[istiodCNI](t, rel)
		assert.True(t, iv.Pilot.CNI.Enabled, "istiod injects for the CNI agent")
		assert.Equal(t, platformProfile, iv.Global.Platform)
	}

	args := allOn()
	args.Istio.CNI = false
	m, _ := deploy(t, args)
	assert.False(t, m.Has(releaseType, "istio-cni"))
	_, rel := release(t, m, "istiod")
	assert.False(t, values[istiodCNI](t, rel).Pilot.CNI.Enabled)
	assert.Equal(t, capacity.Resources{}, addons.NodeDaemonSets(args), "no agent on the nodes")
	assert.Equal(t, addons.CNIRequests, addons.NodeDaemonSets(allOn()))
}

// TestPodSecurityLabels: the app namespace enforces baseline (what vLLM and Open WebUI meet)
// and audits restricted; with sidecars injected by istio-init it cannot enforce, and warns.
func TestPodSecurityLabels(t *testing.T) {
	const prefix = "pod-security.kubernetes.io/"
	for _, tc := range []struct {
		name      string
		injection bool
		cni       bool
		enforce   string
	}{
		{"sidecars through the CNI agent", true, true, "baseline"},
		{"no sidecars", false, false, "baseline"},
		{"sidecars through istio-init", true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := allOn()
			args.SidecarInjection, args.Istio.CNI = tc.injection, tc.cni
			m, _ := deploy(t, args)
			ns := pulumimock.Decode[corev1.Namespace](t, m, namespaceType, "platform-app")
			assert.Equal(t, tc.enforce, ns.Labels[prefix+"enforce"])
			if tc.enforce != "" {
				assert.Equal(t, "latest", ns.Labels[prefix+"enforce-version"])
			} else {
				assert.NotContains(t, ns.Labels, prefix+"enforce-version")
			}
			assert.Equal(t, "baseline", ns.Labels[prefix+"warn"])
			assert.Equal(t, "restricted", ns.Labels[prefix+"audit"])
		})
	}
}

// TestEveryResourceIsAChildAndUsesTheClusterProvider: the component owns
// everything it declares, and nothing falls back to the ambient kubeconfig.
func TestEveryResourceIsAChildAndUsesTheClusterProvider(t *testing.T) {
	m, _ := deploy(t, allOn())
	component := m.Find(t, componentType, "platform")

	n := 0
	for _, r := range m.Resources() {
		if r.Type == componentType || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		n++
		assert.Equal(t, component.URN, r.Parent, "%s %s is a child of the component", r.Type, r.Name)
		assert.True(t, strings.HasPrefix(r.Type, "kubernetes:"), "%s %s", r.Type, r.Name)
		assert.True(t, strings.HasPrefix(r.Provider, clusterProvider), "%s %s uses provider %q", r.Type, r.Name, r.Provider)
	}
	// namespace + 4 Istio releases (base, cni, istiod, gateway) + Argo CD + 1 Application + device plugin
	// + the ingress gateway's Service, read for its address
	assert.Equal(t, 9, n)
	assert.Len(t, m.Children(component), n)
}

// TestIngressAddressIsReadFromTheGatewayService: the public URL comes from
// the ingress gateway's load balancer; the Service is read, not created.
func TestIngressAddressIsReadFromTheGatewayService(t *testing.T) {
	m, p := deploy(t, allOn())
	svc := m.Find(t, "kubernetes:core/v1:Service", "platform-ingress")
	assert.Equal(t, "istio-ingress/istio-ingressgateway", svc.ReadID, "the chart names its Service after the release")
	address, _ := pulumimock.Await(t, p.IngressAddress)
	assert.Equal(t, "", address, "no load balancer address under mocks")

	off := allOn()
	off.Istio.Enabled = false
	m, p = deploy(t, off)
	assert.False(t, m.Has("kubernetes:core/v1:Service", "platform-ingress"))
	address, _ = pulumimock.Await(t, p.IngressAddress)
	assert.Equal(t, "", address)
}

// TestLBController: on EKS the AWS Load Balancer Controller is installed from
// its pinned chart, after its pod identity association and before the
// ingress gateway, whose `aws-load-balancer-type: external` Service only it
// serves.
func TestLBController(t *testing.T) {
	var p *addons.AddOns
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		k8s, err := kubernetes.NewProvider(ctx, "cluster", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		// Stands in for the EKS component's pod identity association.
		assoc, err := kubernetes.NewProvider(ctx, "pod-identity", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		args := allOn()
		args.LBController = &addons.LBControllerArgs{
			ClusterName:    pulumi.String("llm-platform").ToStringOutput(),
			Region:         "us-west-2",
			VpcID:          pulumi.String("vpc-0abc").ToStringOutput(),
			Namespace:      "kube-system",
			ServiceAccount: "aws-load-balancer-controller",
			DefaultTags:    map[string]string{"team": "ml"},
			DependsOn:      []pulumi.Resource{assoc},
		}
		p, err = addons.New(ctx, "platform", args, pulumi.Provider(k8s))
		return err
	})
	require.NoError(t, err)
	require.NotNil(t, p)

	r, rel := release(t, m, "aws-load-balancer-controller")
	assert.Equal(t, versions.AWSLoadBalancerController.Name, rel.Chart)
	assert.Equal(t, "aws-load-balancer-controller", rel.Chart)
	assert.Equal(t, versions.AWSLoadBalancerController.Version, rel.Version)
	assert.Equal(t, "https://aws.github.io/eks-charts", rel.RepositoryOpts.Repo)
	assert.Equal(t, "kube-system", rel.Namespace, "where the pod identity association points")
	assert.True(t, rel.Atomic)
	v := values[struct {
		ClusterName    string `json:"clusterName"`
		Region         string `json:"region"`
		VpcID          string `json:"vpcId"`
		ServiceAccount struct {
			Create bool   `json:"create"`
			Name   string `json:"name"`
		} `json:"serviceAccount"`
		EnableServiceMutatorWebhook *bool             `json:"enableServiceMutatorWebhook"`
		DefaultTags                 map[string]string `json:"defaultTags"`
	}](t, rel)
	assert.Equal(t, "llm-platform", v.ClusterName)
	assert.Equal(t, "us-west-2", v.Region)
	assert.Equal(t, "vpc-0abc", v.VpcID)
	assert.True(t, v.ServiceAccount.Create)
	assert.Equal(t, "aws-load-balancer-controller", v.ServiceAccount.Name, "the service account the pod identity names")
	require.NotNil(t, v.EnableServiceMutatorWebhook)
	assert.False(t, *v.EnableServiceMutatorWebhook, "its fail-closed webhook would reject every Service while the controller is down")
	assert.Equal(t, map[string]string{"team": "ml"}, v.DefaultTags)

	assert.Contains(t, r.DependsOn, "urn:pulumi:test::llm-platform::pulumi:providers:kubernetes::pod-identity",
		"pods started before the association get no AWS credentials")
	gateway := m.Find(t, releaseType, addons.IngressRelease)
	assert.Contains(t, gateway.DependsOn, r.URN, "the gateway's LoadBalancer waits for the controller, and goes first on destroy")
	component := m.Find(t, componentType, "platform")
	assert.Equal(t, component.URN, r.Parent)
	assert.True(t, strings.HasPrefix(r.Provider, clusterProvider))
}

func TestNoLBControllerUnlessAsked(t *testing.T) {
	m, _ := deploy(t, allOn())
	assert.False(t, m.Has(releaseType, "aws-load-balancer-controller"))
}

// TestAddOnsAreOnePerCluster: a second AddOns component with add-ons fails clearly; one with every
// add-on off only creates its namespace.
func TestAddOnsAreOnePerCluster(t *testing.T) {
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		args := addons.Args{Namespace: "team-a", Istio: addons.IstioConfig{Enabled: true, GatewayReplicas: 1}}
		if _, err := addons.New(ctx, "first", args); err != nil {
			return err
		}
		if _, err := addons.New(ctx, "namespace-only", addons.Args{Namespace: "team-b"}); err != nil {
			return err
		}
		args.Namespace = "team-c"
		_, err := addons.New(ctx, "second", args)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `platform "second": the cluster add-ons (Istio, Argo CD, ...) are one per cluster, and platform "first" already installs them`)
}
