package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/client"

	"github.com/switchboard-gw/switchboard/internal/node"
)

// TestVerifyCLI: `switchboard verify start` sends a code through a fresh serve (builtin backend,
// in-process simulator), `verify check` approves it, a wrong code exits non-zero, and a refusal
// prints its support reference.
func TestVerifyCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	start(t, dir, map[string]string{"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_VERIFY_LIMIT_PHONE": "2/1h"}, "serve")
	waitHTTP(t, "http://"+addr+"/readyz")
	cli := map[string]string{"SWITCHBOARD_URL": "http://" + addr}
	out := run(t, dir, cli, "verify", "start", "+14155550130", "--locale", "en")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	id := lines[len(lines)-1]
	if !strings.HasPrefix(id, "ver_") || !strings.Contains(out, "pending by sms") {
		t.Fatalf("verify start printed %q", out)
	}
	var code string
	waitFor(t, 15*time.Second, "the code", func() bool {
		// The in-process simulator's control API wants an API key: the development key serve wrote.
		key, _ := os.ReadFile(filepath.Join(dir, "data", node.DevKeyFile))
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/sim/v1/messages?to=%2B14155550130", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Messages []struct{ Body string } `json:"messages"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		for _, m := range body.Messages {
			if c := regexp.MustCompile(`\b\d{6}\b`).FindString(m.Body); c != "" {
				code = c
				return true
			}
		}
		return false
	})
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	cmd := command(dir, cli, "verify", "check", id, wrong)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "does not match") {
		t.Fatalf("a wrong code: %v %s", err, b)
	}
	if out := run(t, dir, cli, "verify", "check", id, code); !strings.Contains(out, "approved") {
		t.Fatalf("verify check: %s", out)
	}
	if out := run(t, dir, cli, "verify", "get", id); !strings.Contains(out, "approved") || !strings.Contains(out, "msg_") {
		t.Fatalf("verify get: %s", out)
	}
	// Over the phone limit (2 per hour): refused with a support reference the listing shows.
	run(t, dir, cli, "verify", "start", "+14155550130")
	cmd = command(dir, cli, "verify", "start", "+14155550130")
	b, err := cmd.CombinedOutput()
	ref := regexp.MustCompile(`(?i)support reference:? (ref_[0-9a-f]+)`).FindStringSubmatch(string(b))
	if err == nil || ref == nil || !strings.Contains(string(b), "rate_limited") {
		t.Fatalf("over the limit: %v %s", err, b)
	}
	if out := run(t, dir, cli, "verify", "refusals", "--to", "+14155550130"); !strings.Contains(out, ref[1]) || !strings.Contains(out, "rate_limited_phone") {
		t.Fatalf("verify refusals: %s", out)
	}
}

// TestRefusalHintNamesTheReferenceOnce: a refused start's error names its support reference
// once — the gateway's detail usually holds it already — and the wait.
func TestRefusalHintNamesTheReferenceOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ detail, want string }{
		{"paused after suspected SMS pumping. Support reference: ref_1", "pumping. Support reference: ref_1 (retry after 1m0s)"},
		{"paused after suspected SMS pumping", "pumping (support reference ref_1; retry after 1m0s)"},
	} {
		err := refusalHint(&client.Error{Status: 429, Code: "prefix_blocked", Detail: tc.detail, SupportReference: "ref_1", RetryAfter: time.Minute})
		if !strings.HasSuffix(err.Error(), tc.want) || strings.Count(err.Error(), "ref_1") != 1 {
			t.Errorf("refusalHint(%q) = %q, want it to end %q with the reference once", tc.detail, err, tc.want)
		}
	}
}
