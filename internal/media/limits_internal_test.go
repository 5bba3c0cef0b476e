package media

import (
	"strings"
	"testing"
)

// TestLimitCheckLocalOnly: with the simulator as provider only local hosts are asked; a public
// URL is left unchecked, never contacted, and says why.
func TestLimitCheckLocalOnly(t *testing.T) {
	for _, c := range []struct {
		url   string
		local bool
	}{
		{"https://cdn.example.com/a.jpg", false}, {"http://127.0.0.1:1/a.jpg", true}, {"http://localhost/x", true},
		{"http://10.1.2.3/x", true}, {"http://[::1]:8080/x", true}, {"http://93.184.216.34/x", false}, {"::bad", false},
	} {
		if got := localHost(c.url); got != c.local {
			t.Errorf("localHost(%s) = %v, want %v", c.url, got, c.local)
		}
	}
	lc := NewLimitChecker(LimitConfig{LocalOnly: true})
	v := lc.Check(t.Context(), []string{"https://cdn.example.com/a.jpg"})
	if v.Block != "" || !strings.Contains(v.Note, "never reaches the internet") {
		t.Fatalf("verdict %+v", v)
	}
}
