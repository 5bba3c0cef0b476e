package api_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
)

// TestStrictJSONMessages attacks POST /v1/messages with what encoding/json reads leniently: a
// duplicated "to" (the last would win: an allow-list that checks the first sees another number),
// "TO" for "to", invalid UTF-8 and escapes that decode to U+FFFD or NUL. Each gets its stable code
// and nothing is stored.
func TestStrictJSONMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, c := range []struct{ name, body, code string }{
		{"duplicate to", `{"to":"+14155550100","body":"x","to":"+14155550101"}`, "duplicate_field"},
		{"duplicate metadata key", `{"to":"+14155550100","body":"x","metadata":{"k":"1","k":"2"}}`, "duplicate_field"},
		{"upper case", `{"TO":"+14155550100","body":"x"}`, "unknown_field"},
		{"title case", `{"to":"+14155550100","Body":"x"}`, "unknown_field"},
		{"invalid utf-8", "{\"to\":\"+14155550100\",\"body\":\"caf\xe9\"}", "invalid_utf8"},
		{"lone surrogate", `{"to":"+14155550100","body":"\ud83d"}`, "invalid_utf8"},
		{"nul", `{"to":"+14155550100","body":"x","metadata":{"k\u0000":"v"}}`, "nul_character"},
	} {
		code, p, hdr := f.do(t, "POST", "/v1/messages", c.body)
		if code != 400 || p["code"] != c.code || hdr.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %v, want 400 %s", c.name, code, p, c.code)
		}
	}
	msgs, _, err := f.store.ListMessages(context.Background(), switchboard.MessageFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Fatalf("refused bodies stored %d messages", len(msgs))
	}
}

// TestStrictJSONEveryBody sends the same attacks to every route that takes a JSON body: each
// refuses them with the same codes, before anything else happens.
func TestStrictJSONEveryBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Routes whose handler answers before reading a body in this fixture (an unknown ID, a
	// service it does not configure) are listed; any other POST/PUT/PATCH must decode strictly.
	before := map[string]bool{
		"POST /v1/messages/{id}/cancel": true, "POST /v1/endpoints/{id}/replay": true,
		"POST /v1/verifications/{id}/cancel": true, "POST /v1/calls": true, "POST /v1/calls/{id}/cancel": true,
		"POST /v1/consent/import": true, // CSV, fuzzed in FuzzConsentImport
	}
	n := 0
	for _, r := range api.New(api.Config{}).Routes() {
		m, p, _ := strings.Cut(r, " ")
		if (m != "POST" && m != "PUT" && m != "PATCH") || before[r] {
			continue
		}
		n++
		p = strings.NewReplacer("{id}", "x1", "{phone}", "%2B14155550100").Replace(p)
		for body, want := range map[string]string{
			"{\"zz\":\"\xff\"}": "invalid_utf8",
			`{"zz":"\udc00"}`:   "invalid_utf8",
			`{"zz":"a\u0000"}`:  "nul_character",
			`{"zz":1}{"zz":2}`:  "unknown_field",
			`{"zz":1}`:          "unknown_field",
			`{`:                 "invalid_json",
		} {
			// A platform key, which every route allows: the role is checked before the body.
			if code, pr, _ := f.do(t, m, p, body, "Authorization", "Bearer "+platformSecret); code != 400 || pr["code"] != want {
				t.Errorf("%s %q: %d %v, want 400 %s", r, body, code, pr, want)
			}
		}
	}
	if n < 6 {
		t.Fatalf("only %d body routes checked", n)
	}
}

// TestOneJSONDecoder: no handler of the API reads a JSON body but through decodeJSON.
func TestOneJSONDecoder(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`json\.NewDecoder\(|json\.Unmarshal\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "openapi.go" {
			continue
		}
		src, _ := os.ReadFile(f)
		if re.Match(src) {
			t.Errorf("%s decodes JSON itself; use decodeJSON (strictjson)", f)
		}
	}
}

// TestIdempotencyKeyText: an Idempotency-Key that is not UTF-8 gets the same 400 as a body
// (PostgreSQL would refuse to store it; SQLite stored it).
func TestIdempotencyKeyText(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	code, p, _ := f.do(t, "POST", "/v1/messages", `{"to":"+14155550100","body":"x"}`, "Idempotency-Key", "order-\xff")
	if code != 400 || p["code"] != "invalid_utf8" {
		t.Fatalf("%d %v", code, p)
	}
}
