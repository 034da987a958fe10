package edge

import "strings"

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

// PublicURL is the platform's public base URL when the config names it: the scheme (https with
// a TLS credential) and the first host that is not a wildcard, e.g. "https://llm.example.com".
// "" when every host is a wildcard (the load balancer's address is known only after deploying).
func (c Config) PublicURL() string {
	for _, h := range c.Hosts {
		if !strings.Contains(h, "*") {
			scheme := "http"
			if c.TLS.CredentialName != "" {
				scheme = "https"
			}
			return scheme + "://" + h
		}
	}
	return ""
}
