package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/internal/metrics"
)

type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRules parses the alerting rules and checks that every metric an expression names is
// one Switchboard exports (histogram series by their base name).
func TestAlertRules(t *testing.T) {
	t.Parallel()
	var f rulesFile
	for _, name := range []string{"alerts.yaml", "slo.yaml"} {
		raw, err := os.ReadFile("../../deploy/prometheus/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var one rulesFile
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&one); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Groups = append(f.Groups, one.Groups...)
	}
	m := metrics.New()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]dto.MetricType{}
	for _, fam := range fams {
		known[fam.GetName()] = fam.GetType()
	}
	// Vectors with no series yet are not gathered: list ours by name from a scrape of an
	// instrumented registry instead.
	for _, name := range metrics.Names() {
		known[name] = dto.MetricType_UNTYPED
	}
	metricRe := regexp.MustCompile(`\bswitchboard_[a-z_]+`)
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			switch {
			case r.Record != "":
				if r.Expr == "" || r.Alert != "" {
					t.Errorf("recording rule %q is incomplete", r.Record)
				}
			case r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "":
				t.Errorf("rule %q is incomplete", r.Alert)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("rule %s: unbalanced parentheses", r.Alert)
			}
			for _, name := range metricRe.FindAllString(r.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
				if _, ok := known[base]; !ok {
					t.Errorf("rule %s names %s, which Switchboard does not export", r.Alert, name)
				}
			}
		}
	}
	if n < 4 {
		t.Fatalf("only %d rules", n)
	}
}

// TestPromtool checks the rule files with Prometheus' own promtool: they load (check rules) and
// the alerts fire, and stay quiet, on the test series of slo_test.yaml (test rules). CI installs
// promtool (Debian's prometheus package).
func TestPromtool(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required in CI (apt-get install prometheus)")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	dir := "../../deploy/prometheus"
	for _, args := range [][]string{{"check", "rules", "alerts.yaml", "slo.yaml"}, {"test", "rules", "slo_test.yaml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestGrafanaDashboard: the dashboard is valid JSON whose every query names metrics Switchboard
// exports or recording rules of slo.yaml.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/switchboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	slo, _ := os.ReadFile("../../deploy/prometheus/slo.yaml")
	known := map[string]bool{}
	for _, n := range metrics.Names() {
		known[n] = true
	}
	metricRe := regexp.MustCompile(`\bswitchboard[_:][a-z0-9_:]+`)
	covered := map[string]bool{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") {
				t.Errorf("panel %q: unbalanced parentheses in %s", p.Title, tg.Expr)
			}
			for _, name := range metricRe.FindAllString(tg.Expr, -1) {
				if strings.Contains(name, ":") {
					if !strings.Contains(string(slo), "record: "+name+"\n") {
						t.Errorf("panel %q names recording rule %s, which slo.yaml does not define", p.Title, name)
					}
					continue
				}
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
				if !known[base] {
					t.Errorf("panel %q names %s, which Switchboard does not export", p.Title, name)
				}
				covered[base] = true
			}
		}
	}
	for _, must := range []string{"switchboard_messages_final_total", "switchboard_message_delivery_latency_seconds",
		"switchboard_http_requests_total", "switchboard_calls_finished_total", "switchboard_event_deliveries_total",
		"switchboard_queue_depth", "switchboard_provider_request_duration_seconds", "switchboard_store_commit_duration_seconds"} {
		if !covered[must] {
			t.Errorf("the dashboard has no panel on %s", must)
		}
	}
}
