package spec

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
)

// validateLifecycle checks one model's adapters (loras, maxLoras, maxLoraRank) and its drain
// (drainSeconds). Names across models are validateServedNames'.
func validateLifecycle(p *problems, at func(string) string, m *ModelSpec) {
	for j, l := range m.LoRAs {
		key := at(fmt.Sprintf("loras[%d]", j))
		if strings.TrimSpace(l.Name) == "" {
			p.add(key+".name", "is required; it is the name clients send as \"model\" to use the adapter, e.g. \"sql-lora\"")
		} else if strings.IndexFunc(l.Name, unicode.IsSpace) >= 0 || strings.IndexFunc(l.Name, unicode.IsControl) >= 0 {
			p.add(key+".name", "%q has spaces or control characters; clients send it as \"model\", so use a plain name like \"sql-lora\"", l.Name)
		} else if !utf8.ValidString(l.Name) || len(l.Name) > nginx.MaxServedNameBytes {
			p.add(key+".name", "must be valid UTF-8 of at most %d bytes (the gateway's limit for a served name)", nginx.MaxServedNameBytes)
		}
		switch err := model.CheckAdapterSource(l.Source); {
		case l.Source == "":
			p.add(key+".source", "is required; use a Hugging Face id (\"org/adapter\") or an s3://bucket/prefix or gs://bucket/prefix URI")
		case err != nil:
			p.add(key+".source", "%v", err)
		case model.IsObjectURI(l.Source) && m.GPURequestCount == 0:
			p.add(key+".source", "%q is in object storage, which only the GPU image can copy from (the CPU image has no Run:ai streamer libraries); use a Hugging Face id for a CPU model", l.Source)
		}
	}
	if len(m.LoRAs) == 0 {
		// Without adapters vLLM runs without --enable-lora: the knobs would be silently ignored.
		for _, k := range []struct {
			key string
			v   int
		}{{"maxLoras", m.MaxLoras}, {"maxLoraRank", m.MaxLoraRank}} {
			if k.v != 0 {
				p.add(at(k.key), "is %d but the model has no loras; add the adapters under %s or remove %s", k.v, at("loras"), k.key)
			}
		}
	} else {
		if m.MaxLoras < 0 {
			p.add(at("maxLoras"), "is %d; use 0 (vLLM's default, 1) or the number of adapters one batch may mix", m.MaxLoras)
		}
		if m.MaxLoraRank != 0 && !slices.Contains(model.LoRARanks, m.MaxLoraRank) {
			p.add(at("maxLoraRank"), "is %d, which vLLM does not accept; use one of %s (0: vLLM's default, 16), at least your adapters' largest rank",
				m.MaxLoraRank, model.LoRARanksText())
		}
	}
	if d := m.DrainSeconds; d < model.MinDrainSeconds || d > model.MaxDrainSeconds {
		p.add(at("drainSeconds"), "is %d; use %d to %d seconds (the default %d lets generations of a few minutes finish when a replica stops)",
			d, model.MinDrainSeconds, model.MaxDrainSeconds, model.DefaultDrainSeconds)
	}
}

// validateServedNames: clients name a model or an adapter in "model", so every model name and
// adapter name is unique across the whole config. A clash names both keys. (Two models with
// the same modelName are validateModels'.)
func validateServedNames(p *problems, models []ModelSpec) {
	owner := map[string]string{}
	for i, m := range models {
		if _, dup := owner[m.ModelName]; !dup && m.ModelName != "" {
			owner[m.ModelName] = fmt.Sprintf("models[%d].modelName", i)
		}
	}
	for i, m := range models {
		for j, l := range m.LoRAs {
			if strings.TrimSpace(l.Name) == "" {
				continue
			}
			key := fmt.Sprintf("models[%d].loras[%d].name", i, j)
			if prev, dup := owner[l.Name]; dup {
				p.add(key, "%q clashes with %s; model and adapter names must be unique across all models (clients pick one by name); rename one", l.Name, prev)
				continue
			}
			owner[l.Name] = key
		}
	}
}
