package observability

import (
	"fmt"
	"html"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Layout drawing: the dashboard's panel grid (Grafana's 24 columns, rows of 30 px) as an SVG,
// generated from the same dashboard model Grafana loads, for docs/observability.md.
const (
	svgColumn = 40 // px per grid column
	svgRow    = 22 // px per grid row
	svgMargin = 10
)

// LayoutSVG draws a dashboard's rows and panels where Grafana puts them, each with its title
// and type.
func LayoutSVG(d dashboard.Dashboard) string {
	type box struct {
		x, y, w, h  uint32
		title, kind string
		row         bool
	}
	var boxes []box
	var bottom uint32
	for _, p := range d.Panels {
		switch {
		case p.RowPanel != nil && p.RowPanel.GridPos != nil:
			g := p.RowPanel.GridPos
			title := ""
			if p.RowPanel.Title != nil {
				title = *p.RowPanel.Title
			}
			boxes = append(boxes, box{g.X, g.Y, g.W, g.H, title, "row", true})
			bottom = max(bottom, g.Y+g.H)
		case p.Panel != nil && p.Panel.GridPos != nil:
			g := p.Panel.GridPos
			title := ""
			if p.Panel.Title != nil {
				title = *p.Panel.Title
			}
			boxes = append(boxes, box{g.X, g.Y, g.W, g.H, title, p.Panel.Type, false})
			bottom = max(bottom, g.Y+g.H)
		}
	}
	width := 24*svgColumn + 2*svgMargin
	height := int(bottom)*svgRow + 2*svgMargin + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#111217"/>`+"\n")
	title := ""
	if d.Title != nil {
		title = *d.Title
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d8d9da" font-size="16" font-weight="bold">%s</text>`+"\n", svgMargin, svgMargin+16, html.EscapeString(title))
	top := svgMargin + 30
	colors := map[string]string{"timeseries": "#1f60c4", "stat": "#37872d", "heatmap": "#8f3bb8"}
	for _, bx := range boxes {
		x, y := svgMargin+int(bx.x)*svgColumn, top+int(bx.y)*svgRow
		w, h := int(bx.w)*svgColumn, int(bx.h)*svgRow
		if bx.row {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d8d9da" font-size="13" font-weight="bold">%s</text>`+"\n", x+2, y+h-6, html.EscapeString(bx.title))
			continue
		}
		fill := colors[bx.kind]
		if fill == "" {
			fill = "#555"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="3" fill="#181b1f" stroke="%s" stroke-width="2"/>`+"\n", x+2, y+2, w-4, h-4, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d8d9da" font-size="12">%s</text>`+"\n", x+10, y+20, html.EscapeString(bx.title))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" font-size="10">%s</text>`+"\n", x+10, y+36, fill, html.EscapeString(bx.kind))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
