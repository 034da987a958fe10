package edge

// The component's configuration types. Every field is plain Go, known at plan time: they
// decide which resources exist and how they are sized. The JSON names are the stack config's
// keys (package stacks/spec aliases these types).

// Config exposes the API and the UI through the Istio ingress gateway.
type Config struct {
	Enabled         bool      `json:"enabled" pulumi:"enabled"`
	Hosts           []string  `json:"hosts" pulumi:"hosts"`
	TLS             TLSConfig `json:"tls" pulumi:"tls,optional"`
	StrictMTLS      bool      `json:"strictMtls" pulumi:"strictMtls"`
	NetworkPolicies bool      `json:"networkPolicies" pulumi:"networkPolicies"`
	// MetricsNamespaces may scrape the model pods' /metrics.
	MetricsNamespaces []string `json:"metricsNamespaces" pulumi:"metricsNamespaces,optional"`
}

type TLSConfig struct {
	CredentialName string `json:"credentialName" pulumi:"credentialName,optional"`
}
