package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes one result for a reader.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  (%s, %d concurrent, %s configured, %d cores)\n", r.Bench, r.Database, r.Concurrency, seconds(r.DurationS), r.Cores)
	fmt.Fprintf(&b, "  throughput  %s ops/s  (%d ok, %d failed in %s)\n", grouped(r.OpsPerSec), r.Ops, r.Errors, seconds(r.ElapsedS))
	fmt.Fprintf(&b, "  latency     p50 %s  p90 %s  p99 %s  max %s  (%s)\n",
		millis(r.Latency.P50), millis(r.Latency.P90), millis(r.Latency.P99), millis(r.Latency.Max), r.LatencyOf)
	fmt.Fprintf(&b, "  cpu         %.1f s user+sys = %.0f%% of %d cores × %s (whole process: server and clients)\n",
		r.CPUS, r.CPUPercent, r.Cores, seconds(r.ElapsedS))
	fmt.Fprintf(&b, "  peak rss    %s (%s)\n", mebibytes(r.PeakRSSBytes), r.PeakRSSScope)
	if r.LoadAvg1m >= 0 {
		fmt.Fprintf(&b, "  machine     load average %.2f at the end (1 min, %d cores)", r.LoadAvg1m, r.Cores)
		if r.LoadAvg1m > float64(r.Cores) {
			b.WriteString(": other processes competed for the CPU; the figures are low")
		}
		b.WriteString("\n")
	}
	for _, c := range r.Ceilings {
		fmt.Fprintf(&b, "  ceiling     %-14s %s ops/s  p50 %s  p99 %s  (%s)\n", c.Name, grouped(c.OpsPerSec),
			millis(c.Latency.P50), millis(c.Latency.P99), c.What)
	}
	fmt.Fprintf(&b, "  %s\n", r.RatioSentence())
	fmt.Fprintf(&b, "  check       %s\n", r.Check)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RatioSentence says how close the figure is to its ceilings: "accept = 61% of the raw store,
// 35% of an empty handler".
func (r *Result) RatioSentence() string {
	parts := make([]string, 0, len(r.Ceilings))
	for _, c := range r.Ceilings {
		parts = append(parts, fmt.Sprintf("%.0f%% of %s", 100*c.Ratio, c.What))
	}
	if len(parts) == 0 {
		return r.Bench + ": no ceiling applies"
	}
	return r.Bench + " = " + strings.Join(parts, ", ")
}

// WriteTable writes several results as one table, with their ratios and checks below it.
func WriteTable(w io.Writer, rs []*Result) error {
	// Numbers align right; names are padded to one width so that they read left-aligned.
	width := len("bench")
	for _, r := range rs {
		width = max(width, len(r.Bench))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\t", width, "bench")
	fmt.Fprint(tw, "ops/s\tp50\tp90\tp99\tmax\tcpu\trss\tload\tstore ops/s\tempty ops/s\tof store\tof empty\t\n")
	for _, r := range rs {
		store, empty := r.ceiling(CeilingStoreInsert), r.ceiling(CeilingEmptyHandler)
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\t%.1f\t%s\t%s\t%.0f%%\t%.0f%%\t\n", width, r.Bench, grouped(r.OpsPerSec),
			millis(r.Latency.P50), millis(r.Latency.P90), millis(r.Latency.P99), millis(r.Latency.Max),
			r.CPUPercent, mebibytes(r.PeakRSSBytes), r.LoadAvg1m, grouped(store.OpsPerSec), grouped(empty.OpsPerSec),
			100*store.Ratio, 100*empty.Ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	if len(rs) > 0 {
		fmt.Fprintf(&b, "\n%s, %d concurrent, %d cores; cpu is the whole process's share of elapsed × cores;\n"+
			"load is the machine's 1-minute load average at the end (above the cores: other processes competed);\n"+
			"latency is client-observed per request (dispatch: per provider call)\n", rs[0].Database, rs[0].Concurrency, rs[0].Cores)
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "%s\n  check: %s\n", r.RatioSentence(), r.Check)
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) ceiling(name string) Ceiling {
	for _, c := range r.Ceilings {
		if c.Name == name {
			return c
		}
	}
	return Ceiling{}
}

// grouped formats a rate with thousands separators.
func grouped(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func millis(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func seconds(s float64) string { return fmt.Sprintf("%.1fs", s) }

func mebibytes(b int64) string {
	if b <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
