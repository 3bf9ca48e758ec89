package plot

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// Point is one measurement.
type Point struct{ X, Y float64 }

// Series is one line.
type Series struct {
	Name   string
	Color  string // any SVG color
	Points []Point
}

// Panel is one chart.
type Panel struct {
	Title  string
	XLabel string
	YLabel string
	Series []Series
}

const (
	panelW, panelH = 460.0, 320.0
	left, right    = 70.0, 20.0
	top, bottom    = 40.0, 70.0
)

// SVG writes the panels side by side under a title.
func SVG(w io.Writer, title string, panels []Panel) error {
	width := panelW * float64(len(panels))
	height := panelH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", width/2, esc(title))
	for i, p := range panels {
		fmt.Fprintf(&b, `<g transform="translate(%.0f,30)">`+"\n", panelW*float64(i))
		panel(&b, p)
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func esc(s string) string { return html.EscapeString(s) }

func panel(b *strings.Builder, p Panel) {
	var xs []float64
	ymax := 0.0
	for _, s := range p.Series {
		for _, pt := range s.Points {
			if pt.X > 0 && !slices.Contains(xs, pt.X) {
				xs = append(xs, pt.X)
			}
			ymax = max(ymax, pt.Y)
		}
	}
	slices.Sort(xs)
	if len(xs) == 0 {
		xs = []float64{1}
	}
	ytop, ystep := niceScale(ymax)
	x0, x1 := left, panelW-right
	y0, y1 := panelH-bottom, top
	lx0, lx1 := math.Log2(xs[0]), math.Log2(xs[len(xs)-1])
	sx := func(x float64) float64 {
		if lx1 == lx0 {
			return (x0 + x1) / 2
		}
		return x0 + (math.Log2(x)-lx0)/(lx1-lx0)*(x1-x0)
	}
	sy := func(y float64) float64 { return y0 - y/ytop*(y0-y1) }

	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle" font-size="13" font-weight="bold">%s</text>`+"\n", (x0+x1)/2, top-18, esc(p.Title))
	// grid and y ticks
	for y := 0.0; y <= ytop*1.0001; y += ystep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, sy(y), x1, sy(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, sy(y)+4, tick(y))
	}
	// x ticks
	for _, x := range xs {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", sx(x), y0, sx(x), y1)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", sx(x), y0+16, tick(x))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", x0, y1, x1-x0, y0-y1)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, y0+34, esc(p.XLabel))
	fmt.Fprintf(b, `<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (y0+y1)/2, esc(p.YLabel))
	// series
	for i, s := range p.Series {
		pts := slices.Clone(s.Points)
		slices.SortFunc(pts, func(a, b Point) int { return cmpF(a.X, b.X) })
		var path []string
		for _, pt := range pts {
			path = append(path, fmt.Sprintf("%.1f,%.1f", sx(pt.X), sy(pt.Y)))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.Color, strings.Join(path, " "))
		for _, pt := range pts {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s at %s</title></circle>`+"\n",
				sx(pt.X), sy(pt.Y), s.Color, esc(s.Name), tick(pt.Y), tick(pt.X))
		}
		// legend under the axis label
		lx := x0 + float64(i)*150
		ly := y0 + 52
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+20, ly-4, s.Color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+26, ly, esc(s.Name))
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// niceScale picks an axis top ≥ v and a round step (1, 2 or 5 × 10^k)
// giving four to ten gridlines.
func niceScale(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.25
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

func tick(v float64) string {
	switch {
	case v >= 10_000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}
