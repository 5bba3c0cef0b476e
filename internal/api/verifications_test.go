package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// TestVerificationsByMetadata: a verification is started with metadata, returned with it, and
// found by one pair (GET /v1/verifications?metadata[KEY]=VALUE, paged, with to and status); a
// start with bad metadata is refused with invalid_metadata and stores nothing (no verification,
// no code sent); a malformed filter is refused as for messages and calls.
func TestVerificationsByMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := func(to, meta string) map[string]any {
		t.Helper()
		code, v, _ := f.do(t, "POST", "/v1/verifications", `{"to":"`+to+`","metadata":`+meta+`}`)
		if code != 201 && code != 200 {
			t.Fatalf("start %s with %s: %d %v", to, meta, code, v)
		}
		return v
	}
	v1 := start("+14155550171", `{"job_id":"1042","tech":"ana"}`)
	start("+14155550172", `{"job_id":"1043"}`)
	v3 := start("+14155550173", `{"job_id":"1042"}`)
	if m, _ := v1["metadata"].(map[string]any); m["job_id"] != "1042" || m["tech"] != "ana" || len(m) != 2 {
		t.Errorf("started verification's metadata: %v", v1["metadata"])
	}
	if code, got, _ := f.do(t, "GET", "/v1/verifications/"+v1["id"].(string), ""); code != 200 || fmt.Sprint(got["metadata"]) != "map[job_id:1042 tech:ana]" {
		t.Errorf("GET the verification: %d %v", code, got["metadata"])
	}
	// A resend is the pending verification, with the metadata it was started with.
	if again := start("+14155550171", `{"job_id":"9999"}`); again["id"] != v1["id"] || fmt.Sprint(again["metadata"]) != "map[job_id:1042 tech:ana]" {
		t.Errorf("resend: %v %v, want %v with its metadata", again["id"], again["metadata"], v1["id"])
	}

	list := func(query string) ([]string, string) {
		t.Helper()
		code, page, _ := f.do(t, "GET", "/v1/verifications?"+query, "")
		if code != 200 {
			t.Fatalf("GET /v1/verifications?%s: %d %v", query, code, page)
		}
		var ids []string
		for _, v := range page["verifications"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		return ids, page["next_cursor"].(string)
	}
	byJob := url.Values{"metadata[job_id]": {"1042"}}.Encode()
	if ids, next := list(byJob); strings.Join(ids, ",") != v3["id"].(string)+","+v1["id"].(string) || next != "" {
		t.Errorf("metadata[job_id]=1042: %v (next %q), want %s then %s", ids, next, v3["id"], v1["id"])
	}
	ids, next := list(byJob + "&limit=1")
	if len(ids) != 1 || ids[0] != v3["id"] || next == "" {
		t.Fatalf("first page of one: %v, next %q", ids, next)
	}
	if ids, next := list(byJob + "&limit=1&cursor=" + next); len(ids) != 1 || ids[0] != v1["id"] {
		t.Errorf("second page: %v, next %q", ids, next)
	}
	if ids, _ := list(byJob + "&to=%2B14155550173&status=pending"); len(ids) != 1 || ids[0] != v3["id"] {
		t.Errorf("metadata with to and status: %v, want %s", ids, v3["id"])
	}
	if ids, _ := list(byJob + "&status=approved"); len(ids) != 0 {
		t.Errorf("metadata with status approved: %v, want none", ids)
	}
	if ids, _ := list(url.Values{"metadata[tech]": {"ana"}}.Encode()); len(ids) != 1 || ids[0] != v1["id"] {
		t.Errorf("metadata[tech]=ana: %v", ids)
	}
	if ids, _ := list("to=%2B14155550172"); len(ids) != 1 {
		t.Errorf("to only: %v", ids)
	}

	for _, q := range []string{"metadata=job_id:1042", "metadata%5B%5D=1", "metadata%5Ba%5D=1&metadata%5Bb%5D=2",
		"metadata%5Bk%5D=" + strings.Repeat("v", 513)} {
		if code, p, _ := f.do(t, "GET", "/v1/verifications?"+q, ""); code != 400 || p["code"] != "invalid_metadata_filter" {
			t.Errorf("GET /v1/verifications?%.40s: %d %v, want 400 invalid_metadata_filter", q, code, p)
		}
	}
	for _, q := range []string{"status=bogus", "limit=0", "limit=501"} {
		if code, p, _ := f.do(t, "GET", "/v1/verifications?"+q, ""); code != 400 || p["code"] != "invalid_query" {
			t.Errorf("GET /v1/verifications?%s: %d %v, want 400 invalid_query", q, code, p)
		}
	}

	var many []string
	for i := range switchboard.MaxMetadataKeys + 1 {
		many = append(many, fmt.Sprintf(`"k%d":"v"`, i))
	}
	for name, meta := range map[string]string{
		"an empty key":  `{"":"v"}`,
		"a long key":    `{"` + strings.Repeat("k", 65) + `":"v"}`,
		"a long value":  `{"k":"` + strings.Repeat("v", 513) + `"}`,
		"too many keys": "{" + strings.Join(many, ",") + "}",
	} {
		code, p, _ := f.do(t, "POST", "/v1/verifications", `{"to":"+14155550174","metadata":`+meta+`}`)
		if code != 400 || p["code"] != "invalid_metadata" {
			t.Errorf("start with %s: %d %v, want 400 invalid_metadata", name, code, p)
		}
	}
	if code, p, _ := f.do(t, "POST", "/v1/verifications", `{"to":"+14155550174","metadata":{"k":"a\u0000b"}}`); code != 400 || p["code"] != "nul_character" {
		t.Errorf("start with a NUL in metadata: %d %v, want 400 nul_character", code, p)
	}
	if ids, _ := list("to=%2B14155550174"); len(ids) != 0 {
		t.Errorf("refused starts stored verifications: %v", ids)
	}
	if ms, _, err := f.store.ListMessages(context.Background(), switchboard.MessageFilter{To: "+14155550174"}); err != nil || len(ms) != 0 {
		t.Errorf("refused starts sent codes: %d messages, %v", len(ms), err)
	}
	// Nor counted against the number's rate limit (internal/verify's counter of starts per number
	// and 10 minutes): the request was refused before the limits. The start that follows counts 1.
	phoneHits := func() int {
		t.Helper()
		res, err := f.store.HitRates(context.Background(), []switchboard.RateHit{{Key: "phone:+14155550174/10m0s", Window: 10 * time.Minute, Peek: true}}, now)
		if err != nil {
			t.Fatal(err)
		}
		return res.Counts[0]
	}
	if n := phoneHits(); n != 0 {
		t.Errorf("refused starts counted %d against the phone's limit", n)
	}
	start("+14155550174", `{"job_id":"1044"}`)
	if n := phoneHits(); n != 1 {
		t.Errorf("a start counted %d against the phone's limit, want 1 (has the counter's key changed?)", n)
	}
}
