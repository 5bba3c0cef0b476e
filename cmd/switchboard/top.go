package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
)

func newTopCmd(getenv env) *cobra.Command {
	var (
		base, metricsURL string
		interval         time.Duration
		once             bool
	)
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live view of throughput, queues, error rates and webhook ingest",
		Long: "Scrapes the node's /metrics every --interval and shows the rates between the last two scrapes:\n" +
			"messages accepted, sent, delivered and failed per second, the queue of each sender, provider errors\n" +
			"by code, webhook ingest and the built-in alerts that are firing. It needs no API key (/metrics has\n" +
			"none). --once takes two scrapes --interval apart, prints one frame and exits (for scripts).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return errors.New("--interval must be positive, such as 2s")
			}
			u, source := metricsURL, "--metrics-url"
			b, src, r, err := serverURL(base, getenv)
			if err != nil {
				return err
			}
			if u == "" {
				u, source = b+"/metrics", src
			}
			next, err := clientTransport(getenv, r, b, metricsURL == "" && base == "" && getenv("SWITCHBOARD_URL") == "")
			if err != nil {
				return err
			}
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &unreachableTransport{base: u, source: source, next: next}}
			return runTop(cmd.Context(), cmd.OutOrStdout(), hc, u, interval, once)
		},
	}
	f := cmd.Flags()
	f.StringVar(&base, "url", "", "Switchboard's base URL (env SWITCHBOARD_URL; default: from SWITCHBOARD_ADDR or the config file, else http://127.0.0.1:8080)")
	f.StringVar(&metricsURL, "metrics-url", "", "scrape this URL instead of <url>/metrics (e.g. a node behind a load balancer)")
	f.DurationVar(&interval, "interval", 2*time.Second, "time between scrapes: the rates are over this window")
	f.BoolVar(&once, "once", false, "print one frame (two scrapes --interval apart) and exit")
	return cmd
}

func runTop(ctx context.Context, w io.Writer, hc *http.Client, url string, interval time.Duration, once bool) error {
	prev, err := scrapeMetrics(ctx, hc, url)
	if err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := scrapeMetrics(ctx, hc, url)
		if err != nil {
			if once || ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(w, "\x1b[H\x1b[2Jswitchboard top: %v (retrying every %s)\n", err, interval)
			continue
		}
		if !once {
			fmt.Fprint(w, "\x1b[H\x1b[2J") // home and clear: redraw in place
		}
		if err := writeTopFrame(w, url, prev, cur); err != nil {
			return err
		}
		if once {
			return nil
		}
		prev = cur
	}
}

// scrape is one reading of /metrics.
type scrape struct {
	at  time.Time
	fam map[string]*dto.MetricFamily
}

func scrapeMetrics(ctx context.Context, hc *http.Client, url string) (*scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics URL %q: %w", url, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: HTTP %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fam, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: not Prometheus text: %w", url, err)
	}
	return &scrape{at: time.Now(), fam: fam}, nil
}

// sum adds the values of the series of metric name whose labels match every pair of match (a
// value list means any of them).
func (s *scrape) sum(name string, match map[string][]string) float64 {
	total := 0.0
	for _, m := range s.series(name) {
		if labelsMatch(m, match) {
			total += value(m)
		}
	}
	return total
}

func (s *scrape) series(name string) []*dto.Metric {
	if f, ok := s.fam[name]; ok {
		return f.GetMetric()
	}
	return nil
}

func labelsMatch(m *dto.Metric, match map[string][]string) bool {
	for k, vals := range match {
		v := label(m, k)
		ok := false
		for _, want := range vals {
			if v == want {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// counter is a counter's total now and its rate since the previous scrape.
type counter struct{ total, rate float64 }

func rateOf(prev, cur *scrape, name string, match map[string][]string) counter {
	a, b := prev.sum(name, match), cur.sum(name, match)
	secs := cur.at.Sub(prev.at).Seconds()
	r := 0.0
	if secs > 0 && b >= a { // a counter that went down is a restarted node: no rate this frame
		r = (b - a) / secs
	}
	return counter{total: b, rate: r}
}

func writeTopFrame(w io.Writer, url string, prev, cur *scrape) error {
	window := cur.at.Sub(prev.at)
	fmt.Fprintf(w, "switchboard top  %s  %s  rates over %s\n\n", url, fmtTime(cur.at), window.Round(time.Millisecond))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Messages\t%10s\t%10s\t\n", "per second", "total")
	failedCB := rateOf(prev, cur, "switchboard_status_callbacks_total", map[string][]string{"provider_status": {"failed", "undelivered"}, "result": {"applied"}})
	failedDisp := rateOf(prev, cur, "switchboard_messages_finished_total", map[string][]string{"status": {"failed"}})
	rows := []struct {
		name string
		c    counter
	}{
		{"accepted", rateOf(prev, cur, "switchboard_messages_accepted_total", nil)},
		{"sent", rateOf(prev, cur, "switchboard_provider_requests_total", map[string][]string{"outcome": {"ok"}})},
		{"delivered", rateOf(prev, cur, "switchboard_status_callbacks_total", map[string][]string{"provider_status": {"delivered"}, "result": {"applied"}})},
		{"failed", counter{total: failedCB.total + failedDisp.total, rate: failedCB.rate + failedDisp.rate}},
		{"blocked", rateOf(prev, cur, "switchboard_messages_finished_total", map[string][]string{"status": {"blocked"}})},
		{"expired", rateOf(prev, cur, "switchboard_messages_finished_total", map[string][]string{"status": {"expired"}})},
		{"retried", rateOf(prev, cur, "switchboard_retries_total", nil)},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%10.1f\t%10s\t\n", r.name, r.c.rate, count(r.c.total))
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "Webhooks in\t%10s\t%10s\t\n", "per second", "total")
	for _, r := range []struct {
		name  string
		match map[string][]string
	}{
		{"status callbacks", map[string][]string{"endpoint": {"status"}}},
		{"inbound messages", map[string][]string{"endpoint": {"inbound"}}},
		{"bad signatures", map[string][]string{"result": {"bad_signature"}}},
		{"errors", map[string][]string{"result": {"bad_request", "error"}}},
	} {
		c := rateOf(prev, cur, "switchboard_webhook_requests_total", r.match)
		fmt.Fprintf(tw, "  %s\t%10.1f\t%10s\t\n", r.name, c.rate, count(c.total))
	}
	dup := rateOf(prev, cur, "switchboard_status_callbacks_total", map[string][]string{"result": {"duplicate"}})
	fmt.Fprintf(tw, "  duplicate callbacks\t%10.1f\t%10s\t\n", dup.rate, count(dup.total))
	if err := tw.Flush(); err != nil {
		return err
	}

	// Queues per sender.
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Queue\t%10s\t%10s\t%10s\t\n", "ready", "deferred", "oldest due")
	type queue struct{ ready, deferred, age float64 }
	queues := map[string]*queue{}
	get := func(s string) *queue {
		if queues[s] == nil {
			queues[s] = &queue{}
		}
		return queues[s]
	}
	for _, m := range cur.series("switchboard_queue_depth") {
		q := get(label(m, "sender"))
		if label(m, "state") == "ready" {
			q.ready = value(m)
		} else {
			q.deferred = value(m)
		}
	}
	for _, m := range cur.series("switchboard_queue_oldest_due_age_seconds") {
		get(label(m, "sender")).age = value(m)
	}
	senders := make([]string, 0, len(queues))
	for s := range queues {
		senders = append(senders, s)
	}
	sort.Strings(senders)
	if len(senders) == 0 {
		fmt.Fprintf(tw, "  (no queue metrics)\t\t\t\t\n")
	}
	for _, s := range senders {
		q := queues[s]
		age := "-"
		if q.ready > 0 {
			age = (time.Duration(q.age * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "  %s\t%10s\t%10s\t%10s\t\n", s, count(q.ready), count(q.deferred), age)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Provider errors by code.
	fmt.Fprintln(w)
	requests := rateOf(prev, cur, "switchboard_provider_requests_total", nil)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Provider errors\t%10s\t%10s\t%10s\t\n", "per second", "share", "total")
	type codeKey struct{ code, outcome string }
	seen := map[codeKey]bool{}
	var keys []codeKey
	for _, m := range cur.series("switchboard_provider_requests_total") {
		k := codeKey{label(m, "code"), label(m, "outcome")}
		if k.outcome == "ok" || seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].code != keys[j].code {
			return keys[i].code < keys[j].code
		}
		return keys[i].outcome < keys[j].outcome
	})
	if len(keys) == 0 {
		fmt.Fprintf(tw, "  none\t\t\t\t\n")
	}
	for _, k := range keys {
		c := rateOf(prev, cur, "switchboard_provider_requests_total", map[string][]string{"code": {k.code}, "outcome": {k.outcome}})
		name := k.code
		if name == "" {
			name = "(no code)"
		}
		share := "-"
		if requests.rate > 0 {
			share = fmt.Sprintf("%.1f%%", 100*c.rate/requests.rate)
		}
		fmt.Fprintf(tw, "  %s %s\t%10.1f\t%10s\t%10s\t\n", name, k.outcome, c.rate, share, count(c.total))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Built-in alerts.
	var firing []string
	for _, m := range cur.series("switchboard_alert_firing") {
		if value(m) == 1 {
			firing = append(firing, fmt.Sprintf("%s %s (delivery rate %.2f)", label(m, "alert"), label(m, "sender"),
				cur.sum("switchboard_sender_delivery_ratio", map[string][]string{"sender": {label(m, "sender")}})))
		}
	}
	sort.Strings(firing)
	fmt.Fprintln(w)
	if len(firing) == 0 {
		_, err := fmt.Fprintln(w, "Alerts firing: none")
		return err
	}
	fmt.Fprintln(w, "Alerts firing:")
	for _, f := range firing {
		fmt.Fprintln(w, "  "+f)
	}
	return nil
}

// count prints a total without a fraction.
func count(v float64) string {
	return fmt.Sprintf("%.0f", math.Round(v))
}
