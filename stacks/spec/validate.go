package spec

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/configcheck"
	"github.com/llm-platform/llm-platform/internal/naming"
)

// Allowed values of enum-like keys the stack itself owns (the components own theirs).
var (
	clouds = []string{CloudExisting, CloudGKE, CloudEKS}
	// Service types of the ingress gateway (ServiceTypeAuto: by cloud).
	ingressServiceTypes = []string{ServiceTypeAuto, "LoadBalancer", "NodePort", "ClusterIP"}
)

// problems collects config errors, each prefixed with its key path.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// addAll takes the problems a component's Validate(path) found, already prefixed.
func (p *problems) addAll(errs []error) { *p = append(*p, errs...) }

func (p *problems) oneOf(path, value string, allowed []string) {
	if msg := configcheck.OneOf(value, allowed); msg != "" {
		p.add(path, "%s", msg)
	}
}

// Validate checks the whole config and returns every problem at once. It does not change
// cfg (defaulting is Parse's job; KubeName derives each model's Kubernetes name). The rules of
// one component's values are that component's (model.Spec.Validate, gateway.Config.Validate,
// ...), called here with the key path; what is left here spans components or the cloud.
func Validate(cfg *Config) error {
	var p problems
	p.oneOf("cloud", cfg.Cloud, clouds)
	if errs := validation.IsDNS1123Label(cfg.Namespace); len(errs) > 0 {
		p.add("namespace", "%q is not a valid namespace name (%s)", cfg.Namespace, strings.Join(errs, "; "))
	}
	validateModels(&p, cfg)
	switch cfg.Cloud {
	case CloudGKE:
		validateGKE(&p, cfg)
	case CloudEKS:
		validateEKS(&p, cfg)
	}
	validateApps(&p, cfg)
	validateTenancy(&p, cfg)
	p.addAll(cfg.Gateway.Validate("gateway."))
	validateHoldSlots(&p, cfg)
	validateWebUI(&p, cfg)
	validateManagedRedis(&p, cfg)
	if cfg.Edge.Enabled && len(cfg.Edge.Hosts) == 0 {
		p.add("edge.hosts", "is empty; use [\"*\"] or your DNS names")
	}
	validatePlatform(&p, cfg)
	validateObservability(&p, cfg)
	validateObjectSources(&p, cfg)
	validateUnused(&p, cfg)
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// validateHoldSlots: the gateway holds requests for the models that scale to zero, in stream
// slots (nginx.HoldLimits). The renderer refuses a pod with none, but only in the gateway's
// constructor, after the models are declared: refused here first.
func validateHoldSlots(p *problems, cfg *Config) {
	g := cfg.Gateway
	if !cfg.ScalesToZero() || nginx.MaxStreamsProblem(g.MaxStreamsPerPod) != "" || nginx.HoldShareProblem(g.HoldShare) != "" {
		return
	}
	if _, total := nginx.HoldLimits(g.MaxStreamsPerPod, g.HoldShare); total < 1 {
		p.add("gateway.maxStreamsPerPod", "is %d, which leaves no slot to hold requests for the models that scale to zero; use 2 or more", g.MaxStreamsPerPod)
	}
}

// KubeName is the Kubernetes name of a model (its objects' names and the model component's
// name), derived from the served name by naming.KubeName. Validate has checked that it derives
// and that no two models share it; for a model that fails those checks it returns "".
func KubeName(m ModelSpec) string {
	name, err := naming.KubeName(m.ModelName)
	if err != nil {
		return ""
	}
	return name
}
