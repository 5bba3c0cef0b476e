package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestConsentImportInputPolicy: an import row's evidence is bounded like PUT's (1,024 bytes), and
// a cell with NUL or invalid UTF-8 is refused with the same codes as a JSON body; nothing of a
// refused import is stored.
func TestConsentImportInputPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, c := range []struct{ name, csv, code string }{
		{"long evidence", "phone,state,evidence\n+14155550100,opted_out," + strings.Repeat("e", 1025) + "\n", "invalid_evidence"},
		{"nul", "phone,state,evidence\n+14155550100,opted_out,a\x00b\n", "nul_character"},
		{"invalid utf-8", "phone,state,evidence\n+14155550100,opted_out,caf\xe9\n", "invalid_utf8"},
		{"invalid utf-8 late", "phone,state\n+14155550101,opted_out\n+14155550100,opted_out\xff\n", "invalid_utf8"},
	} {
		code, out, _ := f.do(t, "POST", "/v1/consent/import", c.csv, "Content-Type", "text/csv")
		if code != 400 || out["code"] != c.code {
			t.Errorf("%s: %d %v, want 400 %s", c.name, code, out, c.code)
		}
	}
	for _, p := range []string{"+14155550100", "+14155550101"} {
		if h, err := f.store.ConsentHistory(context.Background(), p); err != nil || len(h) != 0 {
			t.Fatalf("%s: %v %d records", p, err, len(h))
		}
	}
	code, out, _ := f.do(t, "POST", "/v1/consent/import", "phone,state,evidence\n+14155550100,opted_out,"+strings.Repeat("e", 1024)+"\n", "Content-Type", "text/csv")
	if code != 200 {
		t.Fatalf("1,024 bytes of evidence: %d %v", code, out)
	}
}

// FuzzConsentImport: whatever CSV arrives, the import answers 200 or a 4xx problem (never a 5xx),
// and what it stores is UTF-8 without NUL and with bounded evidence.
func FuzzConsentImport(f *testing.F) {
	for _, s := range []string{
		"phone,state,scope,evidence\n+14155550100,opted_out,*,signed form\n",
		"phone,state\n+14155550100,opted_in\n+14155550101,cleared\n",
		"PHONE, State \n(415) 555-0100,OPTED_OUT\n",
		"phone,state,evidence\n+14155550100,opted_out,\"multi\nline \"\"quoted\"\"\"\n",
		"phone,state,evidence\n+14155550100,opted_out,=HYPERLINK(\"http://x\")\n",
		"phone,state\n\"unterminated\n",
		"phone,state,evidence\n+14155550100,opted_out,a\x00b\n",
		"phone,state,evidence\n+14155550100,opted_out,\xff\n",
		"phone\n+14155550100\n",
		"",
		"phone,state,scope\n+14155550100,opted_out,nope\n",
	} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", fx.srv.URL+"/v1/consent/import", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && (resp.StatusCode < 400 || resp.StatusCode > 499) {
			t.Fatalf("%q: status %d", body, resp.StatusCode)
		}
		if resp.StatusCode == 200 {
			recs, err := fx.store.ListConsent(context.Background(), now.Add(-1), now.Add(1), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if !utf8.ValidString(r.Evidence) || strings.ContainsRune(r.Evidence, 0) || len(r.Evidence) > 1024 {
					t.Fatalf("%q stored evidence %q", body, r.Evidence)
				}
			}
		}
	})
}
