package api

import (
	"net/url"
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

// FuzzMetadataFilter: whatever the query string, the metadata filter is either refused with
// invalid_metadata_filter or is one key and value within the limits, which the query named.
func FuzzMetadataFilter(f *testing.F) {
	for _, seed := range []string{"metadata[job_id]=1042", "metadata=job_id:1042", "metadata[]=x", "metadata[a]=1&metadata[b]=2",
		"metadata[a]=1&metadata[a]=2", "metadata[k%00]=v", "metadata[job_id]=", "metadata[a]b]=c", "metadatax=1", "status=queued",
		"metadata[" + strings.Repeat("k", 65) + "]=v", "metadata[k]=" + strings.Repeat("v", 513), "metadata%5Bjob%5D=%E2%9C%93"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		m, err := parseMetadataFilter(q)
		if err != nil {
			if switchboard.ErrorKindOf(err) != switchboard.EINVALID || switchboard.ErrorCodeOf(err) != "invalid_metadata_filter" {
				t.Fatalf("%q: error %v, want invalid_metadata_filter", raw, err)
			}
			return
		}
		if m == nil {
			for name := range q {
				if strings.HasPrefix(name, "metadata") && (name == "metadata" || strings.HasPrefix(name, "metadata[")) {
					t.Fatalf("%q: parameter %q ignored", raw, name)
				}
			}
			return
		}
		if m.Key == "" || len(m.Key) > MaxMetadataKey || len(m.Value) > MaxMetadataValue ||
			strings.ContainsRune(m.Key, 0) || strings.ContainsRune(m.Value, 0) {
			t.Fatalf("%q: accepted %+v outside the limits", raw, m)
		}
		if got := q["metadata["+m.Key+"]"]; len(got) != 1 || got[0] != m.Value {
			t.Fatalf("%q: filter %+v is not what the query said (%v)", raw, m, got)
		}
	})
}
