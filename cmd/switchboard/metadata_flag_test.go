package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestMessagesListByMetadata: messages list --metadata KEY=VALUE lists the messages with that
// metadata pair only; a malformed --metadata is refused before any request.
func TestMessagesListByMetadata(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)
	var want []string
	for i, meta := range []string{"job_id=1042", "job_id=1043", "job_id=1042", "ticket=1042"} {
		out, errOut, code := sb(t, env, "send", "--to", fmt.Sprintf("+1415555010%d", i), "--body", "hi", "--metadata", meta, "--json")
		var m switchboard.Message
		if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
			t.Fatalf("send: exit %d %q %s", code, out, errOut)
		}
		if meta == "job_id=1042" {
			want = append([]string{m.ID}, want...)
		}
	}
	out, errOut, code := sb(t, env, "messages", "list", "--metadata", "job_id=1042", "--all", "--json")
	var page struct{ Messages []*switchboard.Message }
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil {
		t.Fatalf("messages list --metadata: exit %d %q %s", code, out, errOut)
	}
	var got []string
	for _, m := range page.Messages {
		got = append(got, m.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("messages list --metadata job_id=1042 = %v, want %v", got, want)
	}
	for _, bad := range [][]string{{"--metadata", "job_id"}, {"--metadata", "=1042"}, {"--metadata", "a=1", "--metadata", "b=2"}} {
		_, errOut, code := sb(t, map[string]string{"SWITCHBOARD_URL": "http://127.0.0.1:1", "SWITCHBOARD_API_KEY": "k"},
			append([]string{"messages", "list"}, bad...)...)
		if code != exitUsage || strings.Contains(errOut, "cannot reach") {
			t.Errorf("%v: exit %d, want %d before any request: %s", bad, code, exitUsage, errOut)
		}
	}
}

// TestCallsListByMetadata: calls list --metadata KEY=VALUE asks the gateway for that pair
// (metadata[KEY]=VALUE, escaped); without it, no metadata filter is sent.
func TestCallsListByMetadata(t *testing.T) {
	t.Parallel()
	srv, seen := fakeAPI(t)
	env := map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_API_KEY": "k"}
	if _, errOut, code := sb(t, env, "calls", "list", "--metadata", "job id=10&42", "--limit", "5"); code != 0 {
		t.Fatalf("calls list --metadata: exit %d: %s", code, errOut)
	}
	if _, errOut, code := sb(t, env, "calls", "list"); code != 0 {
		t.Fatalf("calls list: exit %d: %s", code, errOut)
	}
	if len(*seen) != 2 {
		t.Fatalf("%d requests, want 2", len(*seen))
	}
	if r := (*seen)[0]; r.URL.Path != "/v1/calls" || r.URL.Query().Get("metadata[job id]") != "10&42" {
		t.Errorf("calls list --metadata sent %s?%s", r.URL.Path, r.URL.RawQuery)
	}
	if r := (*seen)[1]; strings.Contains(r.URL.RawQuery, "metadata") {
		t.Errorf("calls list sent %s", r.URL.RawQuery)
	}
}

// TestVerifyListByMetadata: verify start --metadata stores the pairs (verify get shows them),
// verify list --metadata KEY=VALUE lists the verifications with that pair only, newest first; a
// malformed --metadata is refused before any request, and metadata the gateway refuses
// (invalid_metadata) is a usage error that starts nothing.
func TestVerifyListByMetadata(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)
	var want []string
	for i, meta := range []string{"job_id=1042", "job_id=1043", "job_id=1042"} {
		out, errOut, code := sb(t, env, "verify", "start", fmt.Sprintf("+1415555018%d", i), "--metadata", meta, "--metadata", "tech=ana", "--json")
		var v switchboard.Verification
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("verify start: exit %d %q %s", code, out, errOut)
		}
		if meta == "job_id=1042" {
			want = append([]string{v.ID}, want...)
		}
	}
	out, errOut, code := sb(t, env, "verify", "list", "--metadata", "job_id=1042", "--json")
	var page struct{ Verifications []*switchboard.Verification }
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil {
		t.Fatalf("verify list --metadata: exit %d %q %s", code, out, errOut)
	}
	var got []string
	for _, v := range page.Verifications {
		got = append(got, v.ID)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("verify list --metadata job_id=1042 = %v, want %v", got, want)
	}
	if out, errOut, code := sb(t, env, "verify", "list", "--metadata", "job_id=1042", "--to", "+14155550182", "--status", "pending"); code != 0 ||
		!strings.Contains(out, want[0]) || strings.Contains(out, want[1]) {
		t.Errorf("verify list --metadata --to --status: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := sb(t, env, "verify", "get", want[0]); code != 0 || !strings.Contains(out, "metadata job_id=1042, tech=ana") {
		t.Errorf("verify get: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"--metadata", "job_id"}, {"--metadata", "=1042"}, {"--metadata", "a=1", "--metadata", "b=2"}} {
		_, errOut, code := sb(t, map[string]string{"SWITCHBOARD_URL": "http://127.0.0.1:1", "SWITCHBOARD_API_KEY": "k"},
			append([]string{"verify", "list"}, bad...)...)
		if code != exitUsage || strings.Contains(errOut, "cannot reach") {
			t.Errorf("%v: exit %d, want %d before any request: %s", bad, code, exitUsage, errOut)
		}
	}
	if _, errOut, code := sb(t, env, "verify", "start", "+14155550189", "--metadata", strings.Repeat("k", 65)+"=v"); code != exitUsage ||
		!strings.Contains(errOut, "metadata keys must be 1-64 bytes") {
		t.Errorf("verify start with a 65-byte key: exit %d, want %d: %s", code, exitUsage, errOut)
	}
	if out, _, code := sb(t, env, "verify", "list", "--to", "+14155550189"); code != 0 || !strings.Contains(out, "(no verifications)") {
		t.Errorf("a refused start stored a verification: exit %d\n%s", code, out)
	}
}
