package twiliosig

import (
	"encoding/json"
	"net/url"
	"os"
	"testing"
)

const token = "12345"

type vector struct {
	Name      string      `json:"name"`
	URL       string      `json:"url"`
	Params    [][2]string `json:"params"`
	Signature string      `json:"signature"`
	// Exact vectors are signed over the URL exactly as written (with its port).
	Exact bool `json:"exact"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

func form(pairs [][2]string) url.Values {
	v := url.Values{}
	for _, p := range pairs {
		v.Add(p[0], p[1])
	}
	return v
}

func TestGoldenVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			params := form(v.Params)
			if v.Exact {
				if got := Sign(token, v.URL, params); got != v.Signature {
					t.Errorf("Sign = %q, want %q", got, v.Signature)
				}
			}
			if !Valid(token, v.URL, params, v.Signature) {
				t.Errorf("Valid rejected the golden signature")
			}
			if Valid("54321", v.URL, params, v.Signature) {
				t.Errorf("Valid accepted the signature under another token")
			}
		})
	}
}

func TestBothPortForms(t *testing.T) {
	t.Parallel()
	params := form(loadVectors(t)[0].Params)
	// Signed without the port, validated against the URL with it, and the other way round.
	if !Valid(token, "https://mycompany.com:443/myapp.php?foo=1&bar=2", params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=") {
		t.Error("signature over the portless URL rejected when the URL carries :443")
	}
	if !Valid(token, "https://mycompany.com/myapp.php?foo=1&bar=2", params, "kvajT1Ptam85bY51eRf/AJRuM3w=") {
		t.Error("signature over the :443 URL rejected when the URL has no port")
	}
	// A non-default port is part of the URL: no variant.
	if Valid(token, "http://mycompany.com/myapp.php?foo=1&bar=2", params, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=") {
		t.Error("signature over :1234 accepted for the portless URL")
	}
}

func TestTamperingRejected(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)[0]
	params := form(v.Params)
	params.Set("Digits", "9999")
	if Valid(token, v.URL, params, v.Signature) {
		t.Error("tampered parameter accepted")
	}
	if Valid(token, v.URL+"&x=1", form(v.Params), v.Signature) {
		t.Error("tampered URL accepted")
	}
	if Valid(token, v.URL, form(v.Params), "") {
		t.Error("empty signature accepted")
	}
}

func TestJSONBody(t *testing.T) {
	t.Parallel()
	body := []byte(`{"property": "value", "boolean": true}`)
	const hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
	u := "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=" + hash
	if !ValidJSON(token, u, body, "a9nBmqA0ju/hNViExpshrM61xv4=") {
		t.Error("vector D rejected")
	}
	if !ValidJSON(token, "https://mycompany.com/myapp.php?bodySHA256="+hash, body, "y77kIzt2vzLz71DgmJGsen2scGs=") {
		t.Error("vector D' rejected")
	}
	if ValidJSON(token, u, []byte(`{"property": "other"}`), "a9nBmqA0ju/hNViExpshrM61xv4=") {
		t.Error("body not matching bodySHA256 accepted")
	}
}

func FuzzValid(f *testing.F) {
	f.Add("https://mycompany.com/myapp.php?foo=1", "Digits", "1234", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	f.Add("http://[::1]:80/x", "a", "", "")
	f.Fuzz(func(t *testing.T, u, k, v, sig string) {
		params := url.Values{k: {v}}
		good := Sign(token, u, params)
		if !Valid(token, u, params, good) {
			t.Fatalf("own signature rejected for %q", u)
		}
		if sig != good && Valid(token, u, params, sig) && Sign(token, u, params) != sig {
			// Only a port variant of u may also match; make sure it is one.
			ok := false
			for _, alt := range urlVariants(u) {
				if Sign(token, alt, params) == sig {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("foreign signature %q accepted", sig)
			}
		}
	})
}

func BenchmarkValid(b *testing.B) {
	v := loadVectors(b)[0]
	params := form(v.Params)
	for b.Loop() {
		if !Valid(token, v.URL, params, v.Signature) {
			b.Fatal("invalid")
		}
	}
}
