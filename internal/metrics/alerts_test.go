package metrics_test

import (
	"os"
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
	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f rulesFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
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
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
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
