package web

import (
	"strings"
	"testing"
)

// TestOverviewShowsHealth: the overview carries the node's health line (its clock's offsets).
func TestOverviewShowsHealth(t *testing.T) {
	t.Parallel()
	line := "Clock: 300000ms off the database's."
	e := newEnv(t, func(c *Config) { c.Health = func() string { return line } })
	r := e.do(e.loggedIn(), "GET", "/ui/", nil)
	if r.status != 200 || !strings.Contains(r.text, `id="node-health"`) || !strings.Contains(r.text, line) {
		t.Fatalf("overview %d does not show the health line:\n%s", r.status, r.text)
	}
}
