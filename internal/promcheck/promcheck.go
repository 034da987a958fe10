// Package promcheck checks PromQL the platform writes (dashboards, alerts, autoscaling
// triggers) with Prometheus's own parser: every expression parses and names only metrics from
// one known list. Only tests import it, so the program does not link the parser.
package promcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Parser is Prometheus's PromQL parser with default options (rulefmt takes it too).
var Parser = parser.NewParser(parser.Options{})

// MetricNames parses expr and returns every metric it selects; an expression that does not
// parse, or a selector without a metric name, is an error.
func MetricNames(expr string) ([]string, error) {
	e, err := Parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			bad = fmt.Errorf("%q selects no metric by name", vs.String())
		}
		names = append(names, name)
		return nil
	})
	return names, bad
}

// Check is the rule every query lives by: it parses, names at least one metric, every metric
// is in known, and none is in removed (a histogram's _bucket/_sum/_count count as the
// histogram's name for removed).
func Check(expr string, known, removed []string) error {
	names, err := MetricNames(expr)
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if slices.Contains(removed, n) || slices.Contains(removed, base) {
			return fmt.Errorf("%s was removed from vLLM", n)
		}
		if !slices.Contains(known, n) {
			return fmt.Errorf("%s is not in observability.Metrics", n)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("%q names no metric", expr)
	}
	return nil
}
