package render

import (
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EditMap returns a copy of m in which the map at path (e.g. spec, template, spec: a
// workload's pod spec) is edited by edit; the maps along the path are copied, nothing of m
// is changed. Tests' stack transforms use it on a resource's props. ok is false when some
// map along the path is missing.
func EditMap(m pulumi.Map, path []string, edit func(pulumi.Map)) (out pulumi.Map, ok bool) {
	out = maps.Clone(m)
	if len(path) == 0 {
		edit(out)
		return out, true
	}
	child, ok := m[path[0]].(pulumi.Map)
	if !ok {
		return nil, false
	}
	if out[path[0]], ok = EditMap(child, path[1:], edit); !ok {
		return nil, false
	}
	return out, true
}

// PodSpecPath is where a Deployment's or StatefulSet's props keep the pod spec.
var PodSpecPath = []string{"spec", "template", "spec"}
