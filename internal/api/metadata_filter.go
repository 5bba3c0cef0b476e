package api

import (
	"net/url"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
)

// parseMetadataFilter reads a listing's metadata filter, the query parameter metadata[KEY]=VALUE
// (job_id=1042 is metadata[job_id]=1042): at most one such parameter, a key and value within the
// limits metadata has when a message is created, no NUL. It returns nil when the query has none,
// and an invalid_metadata_filter error for anything else that names metadata, so that a filter
// the server would misread is never silently ignored.
func parseMetadataFilter(q url.Values) (*switchboard.MetadataMatch, error) {
	var match *switchboard.MetadataMatch
	for name, values := range q {
		if name != "metadata" && !strings.HasPrefix(name, "metadata[") {
			continue
		}
		key, ok := strings.CutPrefix(name, "metadata[")
		if ok {
			key, ok = strings.CutSuffix(key, "]")
		}
		switch {
		case !ok:
			return nil, invalid("invalid_metadata_filter", "filter by metadata as metadata[KEY]=VALUE, for example metadata[job_id]=1042")
		case key == "" || len(key) > MaxMetadataKey:
			return nil, invalid("invalid_metadata_filter", "a metadata filter's key must be 1-%d bytes", MaxMetadataKey)
		case len(values) != 1 || match != nil:
			return nil, invalid("invalid_metadata_filter", "at most one metadata filter, with one value")
		case len(values[0]) > MaxMetadataValue:
			return nil, invalid("invalid_metadata_filter", "a metadata filter's value must be at most %d bytes", MaxMetadataValue)
		case strings.ContainsRune(key, 0) || strings.ContainsRune(values[0], 0):
			return nil, invalid("invalid_metadata_filter", "a metadata filter must not contain NUL characters")
		}
		match = &switchboard.MetadataMatch{Key: key, Value: values[0]}
	}
	return match, nil
}
