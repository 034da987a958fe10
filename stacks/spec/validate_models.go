package spec

import (
	"fmt"
	"strings"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/naming"
)

// validateModels checks the model list: each entry by the model component's own rules
// (model.Spec.Validate, under the entry's key path), and here what spans entries (names) or
// components (Prometheus for autoscaling).
func validateModels(p *problems, cfg *Config) {
	if len(cfg.Models) == 0 {
		p.add("models", "at least one model is required; add an entry with huggingfaceId and modelName")
		return
	}
	byKube := validateModelNames(p, cfg.Models)
	for i := range cfg.Models {
		m := &cfg.Models[i]
		at := fmt.Sprintf("models[%d].", i)
		p.addAll(m.Validate(at))
		if m.Autoscaling.Enabled && !cfg.Observability.Enabled && cfg.Platform.KEDA.PrometheusURL == "" {
			p.add(at+"autoscaling.enabled", "needs the models' and the gateway's metrics in Prometheus: set observability.enabled: true, or platform.keda.prometheusURL to a Prometheus that scrapes them")
		}
	}
	validateServedNames(p, cfg.Models)
	validateHeadlessNames(p, cfg.Models, byKube)
}

// validateModelNames: every model has a served name, unique, that derives a Kubernetes name
// no other model's shares. It returns the Kubernetes names' owners (model indexes).
func validateModelNames(p *problems, models []ModelSpec) map[string]int {
	byName := map[string]int{}
	byKube := map[string]int{}
	for i, m := range models {
		at := fmt.Sprintf("models[%d].modelName", i)
		if m.ModelName == "" {
			p.add(at, "is required; it is the name clients send as \"model\"")
		} else if j, dup := byName[m.ModelName]; dup {
			p.add(at, "%q is already used by models[%d]; model names must be unique", m.ModelName, j)
		} else if kube, err := naming.KubeName(m.ModelName); err != nil {
			p.add(at, "%v", err)
		} else if j, dup := byKube[kube]; dup {
			p.add(at, "%q and models[%d].modelName %q both become the Kubernetes name %q; rename one", m.ModelName, j, models[j].ModelName, kube)
		} else {
			byKube[kube] = i
		}
		if _, dup := byName[m.ModelName]; !dup && m.ModelName != "" {
			byName[m.ModelName] = i
		}
	}
	return byKube
}

// validateHeadlessNames: each model also has a headless Service named <kube name>-headless; no
// model's own Service may take that name.
func validateHeadlessNames(p *problems, models []ModelSpec, byKube map[string]int) {
	for i := range models {
		kube, err := naming.KubeName(models[i].ModelName)
		if err != nil || byKube[kube] != i {
			continue
		}
		if j, clash := byKube[model.HeadlessName(kube)]; clash {
			p.add(fmt.Sprintf("models[%d].modelName", j), "%q becomes the Kubernetes name %q, which is the headless Service of models[%d] (%q); rename one",
				models[j].ModelName, model.HeadlessName(kube), i, models[i].ModelName)
		}
	}
}

// validateServedNames: clients name a model or an adapter in "model", so every model name and
// adapter name is unique across the whole config. A clash names both keys. (A clash within one
// model is model.Spec.Validate's; two models with the same modelName validateModelNames'.)
func validateServedNames(p *problems, models []ModelSpec) {
	type owner struct {
		key   string
		model int
	}
	owners := map[string]owner{}
	for i, m := range models {
		if _, dup := owners[m.ModelName]; !dup && m.ModelName != "" {
			owners[m.ModelName] = owner{fmt.Sprintf("models[%d].modelName", i), i}
		}
	}
	for i, m := range models {
		for j, l := range m.LoRAs {
			if strings.TrimSpace(l.Name) == "" {
				continue
			}
			key := fmt.Sprintf("models[%d].loras[%d].name", i, j)
			if prev, dup := owners[l.Name]; dup {
				if prev.model != i {
					p.add(key, "%q clashes with %s; model and adapter names must be unique across all models (clients pick one by name); rename one", l.Name, prev.key)
				}
				continue
			}
			owners[l.Name] = owner{key, i}
		}
	}
}
