package web

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// FuzzParseSearch: any query string gets a search or a clear error, never a panic; what it
// accepts is well-formed.
func FuzzParseSearch(f *testing.F) {
	for _, seed := range []string{
		"q=msg_0123&status=queued", "q=SM0123456789abcdef0123456789abcdef", "q=%2B14155550100", "q=%2B1415*****00",
		"q=0100&code=30003&sender=%2B15005550006&from=2031-01-02&until=2031-01-03", "code=-1", "from=2031-13-40",
		"cursor=msg_1", "q=<script>", "q=" + strings.Repeat("9", 80), "q=*", "q=+", "until=2031-01-01&from=2031-01-02",
		"q=job_id%3D1042", "q=%3D1042", "q=a%3Db%3Dc", "q=job+id+%3D+1042+", "q=k%3D" + strings.Repeat("v", 600),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, err := parseSearch(v)
		if s == nil {
			t.Fatal("nil search")
		}
		if err != nil {
			return
		}
		q := s.Query
		if q.ToSuffix != "" && strings.Trim(q.ToSuffix, "0123456789") != "" {
			t.Fatalf("suffix %q is not digits (it goes into LIKE)", q.ToSuffix)
		}
		if q.Cursor != "" && !isIDText(q.Cursor) {
			t.Fatalf("cursor %q", q.Cursor)
		}
		if q.CreatedAfter != nil && q.CreatedBefore != nil && !q.CreatedAfter.Before(*q.CreatedBefore) {
			t.Fatalf("empty range %v..%v", q.CreatedAfter, q.CreatedBefore)
		}
		if m := q.Metadata; m != nil && (m.Key == "" || strings.Contains(m.Key, "=") || len(m.Key) > 64 || len(m.Value) > 512 ||
			q.To != "" || q.ToSuffix != "" || s.MessageID != "" || s.ProviderSID != "") {
			t.Fatalf("metadata search %+v with %+v", m, q)
		}
		if q.Limit != pageSize {
			t.Fatalf("limit %d", q.Limit)
		}
	})
}

// FuzzMaskPayload: any payload is shown as masked JSON or a note, never raw, and no phone number
// survives.
func FuzzMaskPayload(f *testing.F) {
	for _, seed := range []string{
		`{"To":"+14155550100","From":"whatsapp:+14155550101","MessageStatus":"delivered"}`,
		`{"a":[{"b":"+44 20 7946 0958"}],"n":1.5e300}`, `[]`, `"+14155550100"`, `not json`, `{"To":"+1415555`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := maskPayload(json.RawMessage(raw))
		if len(raw) == 0 {
			if out != "" {
				t.Fatalf("empty payload shown as %q", out)
			}
			return
		}
		if strings.HasPrefix(out, "(") {
			return
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("shown payload is not JSON: %q", out)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string:
				if phoneLike.MatchString(x) && strings.Count(x, "*") == 0 {
					t.Fatalf("a phone number survived: %q", x)
				}
			}
		}
		walk(v)
	})
}

// FuzzMetaField: the metadata field of the calls and verifications pages either refuses what it
// is given or reads one pair within the limits of metadata, which the field held.
func FuzzMetaField(f *testing.F) {
	for _, seed := range []string{"", " ", "job_id=1042", " job_id = 1042 ", "=1042", "T-1042", "a=b=c", "k=",
		strings.Repeat("k", 65) + "=v", "k=" + strings.Repeat("v", 513), "\x00=\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		typed, meta, ok := metaField(raw)
		if typed != strings.TrimSpace(raw) {
			t.Fatalf("%q: typed %q", raw, typed)
		}
		switch {
		case !ok && meta != nil, ok && (meta == nil) != (typed == ""):
			t.Fatalf("%q: ok %v with %+v", raw, ok, meta)
		case meta == nil:
			return
		}
		if meta.Key == "" || len(meta.Key) > switchboard.MaxMetadataKey || len(meta.Value) > switchboard.MaxMetadataValue ||
			strings.Contains(meta.Key, "=") || !strings.Contains(raw, meta.Key) || !strings.Contains(raw, meta.Value) {
			t.Fatalf("%q: read %+v", raw, meta)
		}
	})
}
