package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnencodableAnswerIsA500Problem: an answer that cannot be encoded is a 500 problem+json,
// logged, never a 200 whose body is empty or cut (issue 15).
func TestUnencodableAnswerIsA500Problem(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "bad": math.Inf(1)})
		return nil
	})
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/v1/x", nil))
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusInternalServerError ||
		rec.Header().Get("Content-Type") != "application/problem+json" || p.Code != "internal_error" {
		t.Fatalf("%d %s %q (%v)", rec.Code, rec.Header().Get("Content-Type"), rec.Body, err)
	}
	if !strings.Contains(logs.String(), "encoding a 200 answer") {
		t.Errorf("the encoding failure is not logged: %s", logs.String())
	}

	// Outside handle (a bare handler), the answer is still a 500 problem.
	rec = httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, math.NaN())
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Code != "internal_error" {
		t.Fatalf("bare: %d %q", rec.Code, rec.Body)
	}
}

// FuzzIsJSONType: any Content-Type header is decided without panicking, and a type read as JSON
// is none, application/json or a +json type.
func FuzzIsJSONType(f *testing.F) {
	for _, s := range []string{"", "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded",
		"text/plain", "application/jsonp", "application/problem+json", "APPLICATION/JSON", "application/json; =", ";;", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		if !isJSONType(ct) {
			return
		}
		if strings.TrimSpace(ct) == "" {
			return
		}
		mt := strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
		if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			t.Fatalf("%q read as JSON", ct)
		}
	})
}
