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
