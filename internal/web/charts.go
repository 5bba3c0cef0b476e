package web

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// chartRange is a period the charts page can show, with its bucket size.
type chartRange struct {
	Key    string
	Label  string
	Period time.Duration
	Bucket time.Duration
}

var chartRanges = []chartRange{
	{"1h", "Last hour", time.Hour, 5 * time.Minute},
	{"24h", "Last 24 hours", 24 * time.Hour, time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour, 6 * time.Hour},
}

func rangeOf(key string) chartRange {
	for _, r := range chartRanges {
		if r.Key == key {
			return r
		}
	}
	return chartRanges[1]
}

// series is the stats of one sender and category over the buckets of a range.
type series struct {
	From     string
	Category switchboard.Category
	Points   []point
	Total    int
	Rate     string // delivery rate over the whole range
	RateSVG  template.HTML
	LatSVG   template.HTML
}

// point is one bucket of a series.
type point struct {
	At        time.Time
	Total     int
	Delivered int
	Failed    int
	// Rate is delivered / finished (delivered or failed), -1 when none finished.
	Rate float64
	// Median is an estimate of the median latency (the bound of the bucket the median falls in),
	// -1 when nothing was delivered.
	Median time.Duration
}

// RateText formats the delivery rate.
func (p point) RateText() string {
	if p.Rate < 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", p.Rate*100)
}

// MedianText formats the median latency.
func (p point) MedianText() string {
	if p.Median < 0 {
		return "—"
	}
	if p.Median > switchboard.LatencyBounds[len(switchboard.LatencyBounds)-1] {
		return "over " + switchboard.LatencyBounds[len(switchboard.LatencyBounds)-1].String()
	}
	return "under " + p.Median.String()
}

// buildSeries groups stats into one series per sender and category, with a point for every
// bucket of [since, since+period).
func buildSeries(stats []switchboard.DeliveryStat, since time.Time, r chartRange) []*series {
	first := since.Truncate(r.Bucket)
	n := int(r.Period/r.Bucket) + 1
	byKey := map[string]*series{}
	var keys []string
	for _, st := range stats {
		k := st.From + "\x00" + string(st.Category)
		s, ok := byKey[k]
		if !ok {
			s = &series{From: st.From, Category: st.Category, Points: make([]point, n)}
			for i := range s.Points {
				s.Points[i] = point{At: first.Add(time.Duration(i) * r.Bucket), Rate: -1, Median: -1}
			}
			byKey[k] = s
			keys = append(keys, k)
		}
		i := int(st.Bucket.Sub(first) / r.Bucket)
		if i < 0 || i >= n {
			continue
		}
		p := &s.Points[i]
		p.Total, p.Delivered, p.Failed = st.Total, st.Delivered, st.Failed
		if fin := st.Delivered + st.Failed; fin > 0 {
			p.Rate = float64(st.Delivered) / float64(fin)
		}
		p.Median = medianOf(st.Latency)
	}
	sort.Strings(keys)
	out := make([]*series, 0, len(keys))
	for _, k := range keys {
		s := byKey[k]
		var del, fin int
		for _, p := range s.Points {
			s.Total += p.Total
			del += p.Delivered
			fin += p.Delivered + p.Failed
		}
		s.Rate = "—"
		if fin > 0 {
			s.Rate = fmt.Sprintf("%.1f%%", 100*float64(del)/float64(fin))
		}
		s.RateSVG = rateChart(s)
		s.LatSVG = latencyChart(s)
		out = append(out, s)
	}
	return out
}

// medianOf estimates the median latency from bucket counts: the upper bound of the bucket the
// middle delivery falls in (one past the last bound for the open bucket), -1 for no deliveries.
func medianOf(lat [6]int) time.Duration {
	total := 0
	for _, c := range lat {
		total += c
	}
	if total == 0 {
		return -1
	}
	seen := 0
	for i, c := range lat {
		seen += c
		if 2*seen >= total {
			if i < len(switchboard.LatencyBounds) {
				return switchboard.LatencyBounds[i]
			}
			break
		}
	}
	return switchboard.LatencyBounds[len(switchboard.LatencyBounds)-1] + 1
}

// Chart geometry (SVG user units; the SVG scales to its container).
const (
	chartW, chartH = 600.0, 160.0
	padL, padB     = 44.0, 22.0
	padT, padR     = 8.0, 8.0
)

// svgOpen starts an accessible chart: role img, a title and a description that say what it
// shows in words (the table below each chart holds the numbers).
func svgOpen(b *strings.Builder, id, title, desc string) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="none">`, chartW, chartH, id, id)
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))
	// Axes.
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#57606a" stroke-width="1"/>`, padL, padT, padL, chartH-padB)
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#57606a" stroke-width="1"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
}

func xOf(i, n int) float64 {
	if n <= 1 {
		return padL
	}
	return padL + float64(i)*(chartW-padL-padR)/float64(n-1)
}

func yOf(frac float64) float64 { return chartH - padB - frac*(chartH-padB-padT) }

func axisLabels(b *strings.Builder, pts []point, top, bottom string) {
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end" fill="#1b1f24">%s</text>`, padL-4, padT+10, top)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end" fill="#1b1f24">%s</text>`, padL-4, chartH-padB, bottom)
	if len(pts) > 0 {
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="11" fill="#1b1f24">%s</text>`, padL, chartH-6, pts[0].At.Format("Jan 2 15:04"))
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end" fill="#1b1f24">%s</text>`, chartW-padR, chartH-6, pts[len(pts)-1].At.Format("Jan 2 15:04"))
	}
}

func chartID(s *series, kind string) string {
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s.From+"-"+string(s.Category))
	return kind + "-" + id
}

// rateChart draws the delivery rate per bucket as a line (gaps where nothing finished).
func rateChart(s *series) template.HTML {
	var b strings.Builder
	svgOpen(&b, chartID(s, "rate"), fmt.Sprintf("Delivery rate of %s, %s", s.From, s.Category),
		fmt.Sprintf("Share of finished messages that were delivered, per interval; %s over the period.", s.Rate))
	axisLabels(&b, s.Points, "100%", "0%")
	var seg []string
	flush := func() {
		if len(seg) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="#0b5cad" stroke-width="2" points="%s"/>`, strings.Join(seg, " "))
		}
		seg = seg[:0]
	}
	for i, p := range s.Points {
		if p.Rate < 0 {
			flush()
			continue
		}
		x, y := xOf(i, len(s.Points)), yOf(p.Rate)
		seg = append(seg, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#0b5cad"/>`, x, y)
	}
	flush()
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped text
}

// latencyChart draws the estimated median latency per bucket as bars on a log scale.
func latencyChart(s *series) template.HTML {
	var b strings.Builder
	bounds := switchboard.LatencyBounds
	maxD := bounds[len(bounds)-1] + 1
	svgOpen(&b, chartID(s, "lat"), fmt.Sprintf("Delivery latency of %s, %s", s.From, s.Category),
		"Estimated median time from acceptance to the delivery receipt, per interval, on a logarithmic scale.")
	axisLabels(&b, s.Points, "10m+", "0")
	lo, hi := math.Log(float64(100*time.Millisecond)), math.Log(float64(maxD))
	w := math.Max(2, (chartW-padL-padR)/float64(max(1, len(s.Points)))*0.6)
	for i, p := range s.Points {
		if p.Median < 0 {
			continue
		}
		frac := (math.Log(float64(p.Median)) - lo) / (hi - lo)
		frac = math.Max(0.03, math.Min(1, frac))
		x, y := xOf(i, len(s.Points)), yOf(frac)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#57606a"/>`, x-w/2, y, w, chartH-padB-y)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped text
}
