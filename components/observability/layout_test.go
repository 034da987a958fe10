package observability_test

import (
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/observability"
)

var update = flag.Bool("update", false, "rewrite docs/dashboards/*.svg from the dashboard models")

// TestLayoutPictures: docs/observability.md's pictures of the dashboards are drawn from the dashboard
// models and are current (run with -update to redraw them). Each panel's title is in its
// picture, no two panels overlap, and every panel fits Grafana's 24 columns.
func TestLayoutPictures(t *testing.T) {
	ds, err := observability.Dashboards("llm", "llm-gateway-metrics")
	require.NoError(t, err)
	for _, d := range ds {
		svg := observability.LayoutSVG(d.Model)
		require.NoError(t, xml.Unmarshal([]byte(svg), new(any)), "well-formed SVG")
		type cell struct{ x, y uint32 }
		taken := map[cell]string{}
		for _, p := range d.Model.Panels {
			if p.Panel == nil {
				continue
			}
			g := p.Panel.GridPos
			require.NotNil(t, g)
			assert.LessOrEqual(t, g.X+g.W, uint32(24), "%s fits the grid", *p.Panel.Title)
			assert.Contains(t, svg, strings.ReplaceAll(*p.Panel.Title, "&", "&amp;"))
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[cell{x, y}]; ok {
						t.Errorf("%s: panels %q and %q overlap at %d,%d", d.Name, other, *p.Panel.Title, x, y)
					}
					taken[cell{x, y}] = *p.Panel.Title
				}
			}
		}
		path := filepath.Join("..", "..", "docs", "dashboards", d.Name+".svg")
		if *update {
			require.NoError(t, os.WriteFile(path, []byte(svg), 0o644))
			continue
		}
		committed, err := os.ReadFile(path)
		require.NoError(t, err, "run: go test ./components/observability -run TestLayoutPictures -update")
		assert.Equal(t, svg, string(committed), "%s is stale; run: go test ./components/observability -run TestLayoutPictures -update", path)
	}
}
