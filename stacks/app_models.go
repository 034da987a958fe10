// The models of the application layer (Application): the Hugging Face token they share, one
// Model per entry, and what the gateway, the edge and the monitors take from them.

package stacks

import (
	"math"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// declareHFToken declares the Secret of the Hugging Face token every model reads; nil without
// a token.
func (l *layer) declareHFToken() (*corev1.Secret, error) {
	if !l.secrets.HasHFToken {
		return nil, nil
	}
	return corev1.NewSecret(l.ctx, l.o.Prefix+"hf-token", &corev1.SecretArgs{
		Metadata:   kube.Meta("hf-token", l.cfg.Namespace, kube.Labels("hf-token", "hf-token", "credentials")),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{model.HFTokenKey: l.secrets.HFToken},
	}, l.opts...)
}

// declareModels declares one Model per entry of cfg.Models, in their order, each after the
// object-store access it runs with (objectStoreAccess).
func (l *layer) declareModels(hfToken *corev1.Secret) ([]*model.Model, error) {
	mods := make([]*model.Model, 0, len(l.cfg.Models))
	for _, m := range l.cfg.Models {
		args := model.Args{
			// The object names are the model's own, whatever the component's name.
			Name:         spec.KubeName(m),
			Spec:         m,
			Image:        pulumi.String(l.cfg.VLLM.Image),
			CPUImage:     pulumi.String(l.cfg.VLLM.CPUImage),
			Namespace:    l.cfg.Namespace,
			NodeSelector: pulumi.ToStringMap(l.cluster.GPUNodeSelector),
		}
		if hfToken != nil {
			args.HFTokenSecret = hfToken.Metadata.Name().Elem()
		}
		access, ready, err := objectStoreAccess(l.ctx, l.o.Prefix, l.cfg, m, l.cluster, l.opts)
		if err != nil {
			return nil, err
		}
		args.ObjectStore = access
		opts := l.opts
		if len(ready) > 0 {
			// The ServiceAccount and the cloud's grants before any pod (credentials are bound
			// when a pod starts): the component registers once they exist, its children after.
			opts = append(slices.Clip(l.opts), pulumi.DependsOn(ready))
		}
		mod, err := model.New(l.ctx, l.o.Prefix+spec.KubeName(m), args, opts...)
		if err != nil {
			return nil, err
		}
		mods = append(mods, mod)
	}
	return mods, nil
}

// routes are the gateway's routes to the models, the first the default. A model that scales to
// zero has no replica while idle: the gateway holds its requests while one starts, for the
// model's startup budget (gateway.StartupHoldSeconds) unless gateway.coldStartTimeout says
// otherwise, which the gateway applies.
func (l *layer) routes(mods []*model.Model) []nginx.Route {
	routes := make([]nginx.Route, len(mods))
	for i, mod := range mods {
		routes[i] = nginx.Route{Name: mod.ServedName, Upstream: mod.Upstream, Endpoints: mod.Endpoints, Adapters: mod.Adapters}
		if m := l.cfg.Models[i]; m.ScalesToZero() {
			routes[i].HoldSeconds = gateway.StartupHoldSeconds(m.StartupBudget())
		}
	}
	return routes
}

// upstreams are the models' Services, which the gateway's pods start after. The headless one
// too: a name that does not exist yet answers NXDOMAIN, which the gateway takes as "no replica"
// (503) until negative caches expire.
func upstreams(mods []*model.Model) []pulumi.Resource {
	out := make([]pulumi.Resource, 0, 2*len(mods))
	for _, mod := range mods {
		out = append(out, mod.Service, mod.Headless)
	}
	return out
}

// servedNames are the models' served names, the default first.
func servedNames(mods []*model.Model) []string {
	out := make([]string, len(mods))
	for i, mod := range mods {
		out[i] = mod.ServedName
	}
	return out
}

// podServices are the models' headless Services, which the gateway calls by pod address.
func (l *layer) podServices(mods []*model.Model) []edge.PodService {
	out := make([]edge.PodService, len(mods))
	for i, mod := range mods {
		host, _, _ := strings.Cut(mod.Endpoints, ":")
		out[i] = edge.PodService{Host: host, Instance: spec.KubeName(l.cfg.Models[i])}
	}
	return out
}

// modelRefs are the models as the monitors see them. The no-ready-replica alert of a model
// that scales to zero waits as long as the gateway holds its requests.
func (l *layer) modelRefs(mods []*model.Model, gw *gateway.Gateway) []observability.ModelRef {
	out := make([]observability.ModelRef, len(mods))
	for i, mod := range mods {
		out[i] = observability.ModelRef{ServedName: mod.ServedName, KubeName: spec.KubeName(l.cfg.Models[i])}
		if hold := gw.HoldSeconds[mod.ServedName]; hold > 0 {
			out[i].ColdStartMinutes = int(math.Ceil(float64(hold) / 60))
		}
	}
	return out
}
