package addons

// The component's configuration types. Every field is plain Go, known at plan time: they
// decide which resources exist and how they are sized. The JSON names are the stack config's
// keys (package stacks/spec aliases these types).

type IstioConfig struct {
	Enabled            bool              `json:"enabled" pulumi:"enabled"`
	GatewayReplicas    int               `json:"gatewayReplicas" pulumi:"gatewayReplicas"`
	ServiceAnnotations map[string]string `json:"serviceAnnotations" pulumi:"serviceAnnotations"`
	// ServiceType of the ingress gateway: ServiceTypeAuto picks LoadBalancer on gke and eks,
	// NodePort on an existing cluster (kind and bare metal have no load balancers).
	ServiceType string `json:"serviceType" pulumi:"serviceType"`
	// Preinstalled says Istio (its CRDs, istiod and an ingress gateway labelled
	// istio=ingressgateway) is already in the cluster, so the edge may be declared with
	// enabled: false.
	Preinstalled bool `json:"preinstalled" pulumi:"preinstalled"`
	// CNI redirects sidecar traffic with Istio's CNI node agent instead of the injected
	// istio-init container, which needs NET_ADMIN and NET_RAW: only then can the app
	// namespace enforce Pod Security "baseline". With Enabled the platform installs the agent
	// (the istio-cni chart); with Preinstalled it says whether the cluster's Istio runs it.
	CNI bool `json:"cni" pulumi:"cni"`
}

type ArgoCDConfig struct {
	Enabled  bool        `json:"enabled" pulumi:"enabled"`
	HA       bool        `json:"ha" pulumi:"ha"`
	Insecure bool        `json:"insecure" pulumi:"insecure"`
	Apps     []ArgoCDApp `json:"apps" pulumi:"apps"`
}

// ArgoCDApp hands a path of a Git repository over to Argo CD.
type ArgoCDApp struct {
	Name           string `json:"name" pulumi:"name"`
	RepoURL        string `json:"repoURL" pulumi:"repoURL"`
	Path           string `json:"path" pulumi:"path"`
	TargetRevision string `json:"targetRevision" pulumi:"targetRevision"`
	Namespace      string `json:"namespace" pulumi:"namespace"`
}
