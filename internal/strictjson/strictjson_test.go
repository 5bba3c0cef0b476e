package strictjson_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/strictjson"
)

type request struct {
	To       string            `json:"to"`
	Body     string            `json:"body,omitempty"`
	Count    int               `json:"count"`
	Metadata map[string]string `json:"metadata"`
	SendAt   *time.Time        `json:"send_at"`
	Inner    *struct {
		Name string `json:"name"`
	} `json:"inner"`
	Extra any `json:"extra"`
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body, code string
	}{
		{"duplicate key", `{"to":"+14155550100","to":"+19005550100"}`, strictjson.CodeDuplicateField},
		{"duplicate key in a map", `{"metadata":{"a":"1","a":"2"}}`, strictjson.CodeDuplicateField},
		{"duplicate key nested", `{"inner":{"name":"a","name":"b"}}`, strictjson.CodeDuplicateField},
		{"duplicate key in any", `{"extra":{"k":1,"k":2}}`, strictjson.CodeDuplicateField},
		{"wrong case", `{"TO":"+14155550100"}`, strictjson.CodeUnknownField},
		{"wrong case mixed", `{"To":"+14155550100"}`, strictjson.CodeUnknownField},
		{"wrong case nested", `{"inner":{"Name":"a"}}`, strictjson.CodeUnknownField},
		{"delimiter variant", `{"send-at":"2026-01-01T00:00:00Z"}`, strictjson.CodeUnknownField},
		{"unknown field", `{"to":"+1","color":"red"}`, strictjson.CodeUnknownField},
		{"invalid utf-8", "{\"to\":\"\xff\xfe\"}", strictjson.CodeInvalidUTF8},
		{"invalid utf-8 in a key", "{\"t\xc3o\":\"x\"}", strictjson.CodeInvalidUTF8},
		{"lone low surrogate", `{"body":"\udc00"}`, strictjson.CodeInvalidUTF8},
		{"lone high surrogate", `{"body":"\ud800x"}`, strictjson.CodeInvalidUTF8},
		{"high then non-low", `{"body":"\ud800\u0041"}`, strictjson.CodeInvalidUTF8},
		{"nul escape", `{"body":"a\u0000b"}`, strictjson.CodeNULCharacter},
		{"nul escape in a key", `{"metadata":{"a\u0000":"b"}}`, strictjson.CodeNULCharacter},
		{"raw nul", "{\"body\":\"a\x00b\"}", strictjson.CodeInvalidJSON},
		{"empty", ``, strictjson.CodeInvalidJSON},
		{"truncated", `{"to":`, strictjson.CodeInvalidJSON},
		{"two values", `{"to":"a"}{"to":"b"}`, strictjson.CodeInvalidJSON},
		{"trailing garbage", `{"to":"a"} x`, strictjson.CodeInvalidJSON},
		{"not an object", `[1]`, strictjson.CodeInvalidField},
		{"wrong type", `{"count":"3"}`, strictjson.CodeInvalidField},
		{"bad time", `{"send_at":"tomorrow"}`, strictjson.CodeInvalidField},
	} {
		var r request
		err := strictjson.Decode([]byte(c.body), &r)
		var se *strictjson.Error
		if !errors.As(err, &se) || se.Code != c.code {
			t.Errorf("%s: %s: got %v, want code %s", c.name, c.body, err, c.code)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	t.Parallel()
	var r request
	body := `{"to":"+14155550100","body":"caf\u00e9 \ud83d\ude00 \\u0000 ok","count":3,"metadata":{"a":"1","A":"2"},` +
		`"send_at":"2026-01-01T10:00:00Z","inner":{"name":"x"},"extra":{"k":[1,"two",null]}}`
	if err := strictjson.Decode([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.To != "+14155550100" || r.Body != `café 😀 \u0000 ok` || r.Count != 3 || r.Metadata["A"] != "2" || r.SendAt == nil || r.Inner.Name != "x" {
		t.Fatalf("%+v", r)
	}
	// A JSON null leaves a field alone, as encoding/json does.
	r2 := request{Count: 7}
	if err := strictjson.Decode([]byte(`{"count":null}`), &r2); err != nil || r2.Count != 7 {
		t.Fatalf("%v %+v", err, r2)
	}
}

// FuzzDecode: no input panics, every refusal is an *Error with a known code, and an accepted body
// is valid UTF-8 without NUL in what was decoded.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"to":"+14155550100","body":"hi"}`, `{"to":"a","to":"b"}`, `{"TO":"x"}`, "{\"body\":\"\xff\"}",
		`{"body":"\ud800"}`, `{"body":"\u0000"}`, `{"metadata":{"a":"b"},"extra":[1,{"x":null}]}`, `{"body":"\\u0000"}`, ``, `{`} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{strictjson.CodeInvalidJSON: true, strictjson.CodeDuplicateField: true, strictjson.CodeUnknownField: true,
		strictjson.CodeInvalidUTF8: true, strictjson.CodeNULCharacter: true, strictjson.CodeInvalidField: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r request
		err := strictjson.Decode(data, &r)
		if err != nil {
			var se *strictjson.Error
			if !errors.As(err, &se) || !codes[se.Code] {
				t.Fatalf("%q: %v", data, err)
			}
			return
		}
		for _, s := range append([]string{r.To, r.Body}, mapStrings(r.Metadata)...) {
			if strings.ContainsRune(s, 0) || strings.ContainsRune(s, '\uFFFD') && !strings.Contains(string(data), "\uFFFD") && !strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
				t.Fatalf("%q decoded to %q", data, s)
			}
		}
	})
}

func mapStrings(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}
