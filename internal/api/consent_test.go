package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestConsentAPIAndEnforcement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Marketing needs a recorded opt-in; transactional does not.
	code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"50% off","category":"marketing"}`)
	if code != 422 || p["code"] != "opt_in_required" {
		t.Fatalf("marketing without opt-in: %d %v", code, p)
	}
	if code, _, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"Your order shipped"}`); code != 202 {
		t.Fatalf("transactional: %d", code)
	}
	code, rec, _ := f.do(t, "PUT", "/v1/consent/+14155550100", `{"state":"opted_in","evidence":"web form 2026-03-01, checkbox v3"}`)
	if code != 200 || rec["state"] != "opted_in" || rec["source"] != "api" || rec["scope"] != "*" || rec["actor"] != "api:test" {
		t.Fatalf("PUT opted_in: %d %v", code, rec)
	}
	if code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"50% off","category":"marketing"}`); code != 202 {
		t.Fatalf("marketing after opt-in: %d %v", code, p)
	}
	// An opt-out in one pool blocks that pool only.
	f.do(t, "PUT", "/v1/consent/+14155550100", `{"state":"opted_out","scope":"alerts"}`)
	if code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"x","pool":"alerts"}`); code != 422 || p["code"] != "recipient_opted_out" {
		t.Fatalf("send in the opted-out pool: %d %v", code, p)
	}
	if code, _, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"x"}`); code != 202 {
		t.Fatalf("send in another pool: %d", code)
	}
	code, view, _ := f.do(t, "GET", "/v1/consent/+1%20415%20555%200100", "")
	if code != 200 || len(view["history"].([]any)) != 2 {
		t.Fatalf("GET: %d %v", code, view)
	}
	cur := view["current"].(map[string]any)
	if cur["alerts"].(map[string]any)["state"] != "opted_out" || cur["*"].(map[string]any)["state"] != "opted_in" {
		t.Fatalf("current: %v", cur)
	}
	// DELETE clears a choice: the opt-in no longer counts for marketing.
	if code, rec, _ := f.do(t, "DELETE", "/v1/consent/+14155550100", ""); code != 200 || rec["state"] != "cleared" {
		t.Fatalf("DELETE: %d %v", code, rec)
	}
	if code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"sale","category":"marketing"}`); code != 422 || p["code"] != "opt_in_required" {
		t.Fatalf("marketing after clear: %d %v", code, p)
	}
	for _, c := range []struct{ method, path, body, code string }{
		{"PUT", "/v1/consent/+14155550100", `{"state":"maybe"}`, "invalid_state"},
		{"PUT", "/v1/consent/+14155550100", `{"state":"opted_in","scope":"nope"}`, "invalid_scope"},
		{"PUT", "/v1/consent/12345", `{"state":"opted_in"}`, "invalid_phone_number"},
		{"GET", "/v1/consent/+15555550100", ``, "invalid_phone_number"},
	} {
		if code, p, _ := f.do(t, c.method, c.path, c.body); code != 400 || p["code"] != c.code {
			t.Errorf("%s %s %s: %d %v, want 400 %s", c.method, c.path, c.body, code, p, c.code)
		}
	}
}

func (f *fixture) csv(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	code, out, _ := f.do(t, "POST", "/v1/consent/import", body, "Content-Type", "text/csv")
	return code, out
}

func TestConsentImportAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := "phone,state,scope,evidence\n+14155550101,opted_out,,list A\n+14155550102,opted_in,alerts,\nnot-a-phone,opted_out,,\n"
	code, p := f.csv(t, bad)
	if code != 400 || p["code"] != "invalid_csv" || !strings.Contains(p["detail"].(string), "row 4") {
		t.Fatalf("bad import: %d %v", code, p)
	}
	if _, view, _ := f.do(t, "GET", "/v1/consent/+14155550101", ""); len(view["history"].([]any)) != 0 {
		t.Fatal("a refused import recorded rows")
	}
	good := "Phone,State,Scope\n+14155550101,opted_out,\n+1 415 555 0102,opted_in,alerts\n+14155550103,cleared,*\n"
	if code, p := f.csv(t, good); code != 200 || p["imported"].(float64) != 3 {
		t.Fatalf("good import: %d %v", code, p)
	}
	_, view, _ := f.do(t, "GET", "/v1/consent/+14155550102", "")
	h := view["history"].([]any)
	if len(h) != 1 || h[0].(map[string]any)["source"] != "import" || h[0].(map[string]any)["scope"] != "alerts" {
		t.Fatalf("imported history: %v", h)
	}
	for _, body := range []string{"", "phone\n+14155550101\n", "phone,state\n\"+1415,opted_out\n"} {
		if code, p := f.csv(t, body); code != 400 || p["code"] != "invalid_csv" {
			t.Errorf("%q: %d %v", body, code, p)
		}
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/consent/import", strings.NewReader(good))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("import as JSON: %d", resp.StatusCode)
	}
}
