package edge

import "fmt"

// The edge's one address: an Istio Gateway for the hosts and a VirtualService that routes the
// API to the gateway and the rest to Open WebUI.

// Istio networking.istio.io/v1 specs: just the fields we set.
type (
	GatewaySpec struct {
		Selector map[string]string `json:"selector"`
		Servers  []Server          `json:"servers"`
	}
	Server struct {
		Port  ServerPort `json:"port"`
		Hosts []string   `json:"hosts"`
		TLS   *ServerTLS `json:"tls,omitempty"`
	}
	ServerPort struct {
		Number   int    `json:"number"`
		Name     string `json:"name"`
		Protocol string `json:"protocol"`
	}
	ServerTLS struct {
		HTTPSRedirect  bool   `json:"httpsRedirect,omitempty"`
		Mode           string `json:"mode,omitempty"`
		CredentialName string `json:"credentialName,omitempty"`
	}
	VirtualServiceSpec struct {
		Hosts    []string    `json:"hosts"`
		Gateways []string    `json:"gateways"`
		HTTP     []HTTPRoute `json:"http"`
	}
	HTTPRoute struct {
		Name    string             `json:"name"`
		Match   []HTTPMatch        `json:"match"`
		Route   []RouteDestination `json:"route"`
		Timeout string             `json:"timeout,omitempty"` // "" = no timeout; Istio refuses "0s"
		Retries *Retries           `json:"retries,omitempty"`
	}
	HTTPMatch struct {
		URI StringMatch `json:"uri"`
	}
	StringMatch struct {
		Prefix string `json:"prefix,omitempty"`
		Exact  string `json:"exact,omitempty"`
	}
	RouteDestination struct {
		Destination Destination `json:"destination"`
	}
	Destination struct {
		Host string `json:"host"`
		Port struct {
			Number int `json:"number"`
		} `json:"port"`
	}
	Retries struct {
		Attempts int    `json:"attempts"`
		RetryOn  string `json:"retryOn,omitempty"`
	}
	PeerAuthenticationSpec struct {
		// Selector limits a workload's policy to its pods (nil: the whole namespace).
		Selector *WorkloadSelector `json:"selector,omitempty"`
		MTLS     struct {
			Mode string `json:"mode"`
		} `json:"mtls"`
		// PortLevelMTLS overrides the mode per container port (needs a Selector).
		PortLevelMTLS map[string]MTLSMode `json:"portLevelMtls,omitempty"`
	}
	WorkloadSelector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	MTLSMode struct {
		Mode string `json:"mode"`
	}
	// DestinationRuleSpec is the part of an Istio DestinationRule the edge sets: the client
	// side's TLS mode for one host.
	DestinationRuleSpec struct {
		Host          string `json:"host"`
		TrafficPolicy struct {
			TLS struct {
				Mode string `json:"mode"`
			} `json:"tls"`
		} `json:"trafficPolicy"`
	}
)

// gatewaySpec serves the hosts on port 80 and, with a TLS credential, on 443, port 80 then
// redirecting to it.
func gatewaySpec(args Args) GatewaySpec {
	hosts := args.Config.Hosts
	http := Server{Port: ServerPort{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: hosts}
	if args.Config.TLS.CredentialName == "" {
		return GatewaySpec{Selector: args.IngressSelector, Servers: []Server{http}}
	}
	http.TLS = &ServerTLS{HTTPSRedirect: true}
	https := Server{
		Port:  ServerPort{Number: 443, Name: "https", Protocol: "HTTPS"},
		Hosts: hosts,
		// The credential is a kubernetes.io/tls Secret in the ingress
		// gateway's namespace.
		TLS: &ServerTLS{Mode: "SIMPLE", CredentialName: args.Config.TLS.CredentialName},
	}
	return GatewaySpec{Selector: args.IngressSelector, Servers: []Server{https, http}}
}

func destination(b Backend) []RouteDestination {
	var d Destination
	d.Host, d.Port.Number = b.Host, b.Port
	return []RouteDestination{{Destination: d}}
}

// virtualServiceSpec routes /v1 to the gateway, never retried nor timed out, and everything
// else to Open WebUI when there is one.
func virtualServiceSpec(args Args) VirtualServiceSpec {
	routes := []HTTPRoute{{
		Name:  "api",
		Match: []HTTPMatch{{URI: StringMatch{Prefix: "/v1/"}}, {URI: StringMatch{Exact: "/v1"}}},
		Route: destination(args.Gateway),
		// No Timeout: leaving it out is what disables Istio's route timeout,
		// so a generation streams for as long as it takes (the gateway's own
		// timeouts still apply). "0s" does not mean "none" here: the API
		// server refuses it (the CRD's rule wants at least 1ms).
		// Generations are not idempotent, so they are never retried.
		Retries: &Retries{Attempts: 0},
	}}
	if args.WebUI != nil {
		routes = append(routes, HTTPRoute{
			Name:    "ui",
			Match:   []HTTPMatch{{URI: StringMatch{Prefix: "/"}}},
			Route:   destination(*args.WebUI),
			Timeout: fmt.Sprintf("%ds", args.UITimeoutSeconds),
			Retries: &Retries{Attempts: 2, RetryOn: "connect-failure,refused-stream,unavailable"},
		})
	}
	return VirtualServiceSpec{Hosts: args.Config.Hosts, Gateways: []string{Name}, HTTP: routes}
}
