// Package bench holds what the benchmarks share for reporting: small SVG line charts generated
// in Go (no plotting service), so a table in docs/ comes with a picture.
package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Point is one (x, y) value; Lower marks a y that is only a lower bound (drawn hollow).
type Point struct {
	X, Y  float64
	Lower bool
}

// Series is one line of a chart.
type Series struct {
	Name   string
	Points []Point
}

// Chart is one panel: axes, a legend, a line per series.
type Chart struct {
	Title, XLabel, YLabel string
	LogY                  bool
	Series                []Series
}

var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"}

const (
	panelW, panelH = 460, 320
	padL, padR     = 64, 16
	padT, padB     = 36, 48
)

// SVG renders the panels side by side, with a caption line under them.
func SVG(caption string, panels ...Chart) string {
	w := panelW*len(panels) + 10
	legendH := 18 * maxSeries(panels)
	h := panelH + legendH + 28
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	for i, c := range panels {
		c.draw(&b, float64(i*panelW+5), 0)
	}
	// One legend for all panels (series are the same across panels).
	if len(panels) > 0 {
		for k, s := range panels[0].Series {
			y := panelH + 14 + 18*k
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"/>`, padL, y-4, padL+24, y-4, palette[k%len(palette)])
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", padL+30, y, html.EscapeString(s.Name))
		}
	}
	fmt.Fprintf(&b, `<text x="5" y="%d" fill="#555" font-size="11">%s</text>`+"\n", h-8, html.EscapeString(caption))
	b.WriteString("</svg>\n")
	return b.String()
}

func maxSeries(panels []Chart) int {
	n := 0
	for _, c := range panels {
		n = max(n, len(c.Series))
	}
	return n
}

func (c Chart) draw(b *strings.Builder, ox, oy float64) {
	x0, x1 := math.Inf(1), math.Inf(-1)
	y0, y1 := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			if c.LogY && p.Y <= 0 {
				continue
			}
			x0, x1 = math.Min(x0, p.X), math.Max(x1, p.X)
			y0, y1 = math.Min(y0, p.Y), math.Max(y1, p.Y)
		}
	}
	if math.IsInf(x0, 1) {
		return
	}
	x0 = 0
	if x1 == x0 {
		x1 = x0 + 1
	}
	ty := func(v float64) float64 { return v }
	if c.LogY {
		y0 = math.Pow(10, math.Floor(math.Log10(y0)))
		y1 = math.Pow(10, math.Ceil(math.Log10(y1)))
		ty = math.Log10
	} else {
		y0 = 0
		y1 = niceCeil(y1)
	}
	pw, ph := float64(panelW-padL-padR), float64(panelH-padT-padB)
	px := func(v float64) float64 { return ox + padL + (v-x0)/(x1-x0)*pw }
	py := func(v float64) float64 { return oy + padT + ph - (ty(v)-ty(y0))/(ty(y1)-ty(y0))*ph }
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-weight="bold" font-size="13">%s</text>`+"\n", ox+padL, oy+20, html.EscapeString(c.Title))
	// Grid and ticks.
	var yticks []float64
	if c.LogY {
		for v := y0; v <= y1*1.0001; v *= 10 {
			yticks = append(yticks, v)
		}
	} else {
		for k := 0; k <= 5; k++ {
			yticks = append(yticks, y0+(y1-y0)*float64(k)/5)
		}
	}
	for _, v := range yticks {
		y := py(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, px(x0), y, px(x1), y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#333">%s</text>`+"\n", px(x0)-4, y+4, tick(v))
	}
	for k := 0; k <= 4; k++ {
		v := x0 + (x1-x0)*float64(k)/4
		x := px(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, x, py(y0), x, py(y1))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%s</text>`+"\n", x, py(y0)+16, tick(v))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", px(x0), py(y1), pw, ph)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", ox+padL+pw/2, oy+panelH-10, html.EscapeString(c.XLabel))
	fmt.Fprintf(b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", ox+14, oy+padT+ph/2, html.EscapeString(c.YLabel))
	for k, s := range c.Series {
		col := palette[k%len(palette)]
		var pts []string
		for _, p := range s.Points {
			if c.LogY && p.Y <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.X), py(p.Y)))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2.5" points="%s"/>`+"\n", col, strings.Join(pts, " "))
		for _, p := range s.Points {
			if c.LogY && p.Y <= 0 {
				continue
			}
			fill := col
			if p.Lower {
				fill = "white"
			}
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", px(p.X), py(p.Y), fill, col)
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func tick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
