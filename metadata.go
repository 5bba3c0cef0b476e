package switchboard

import "strings"

// Limits of the metadata an application stores with a message, a call or a verification: its own
// references (job_id=1042), returned with it and searchable through an index of pairs.
const (
	MaxMetadataKeys  = 20
	MaxMetadataKey   = 64  // bytes
	MaxMetadataValue = 512 // bytes
)

// CheckMetadata checks the metadata of a create request: at most MaxMetadataKeys keys, each of 1
// to MaxMetadataKey bytes with a value of at most MaxMetadataValue bytes, and no NUL character
// (PostgreSQL's text cannot hold one). It fails with EINVALID invalid_metadata.
func CheckMetadata(meta map[string]string) error {
	if len(meta) > MaxMetadataKeys {
		return Errorf(EINVALID, "invalid_metadata", "at most %d metadata keys", MaxMetadataKeys)
	}
	for k, v := range meta {
		if strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return Errorf(EINVALID, "invalid_metadata", "metadata must not contain NUL characters")
		}
		if k == "" || len(k) > MaxMetadataKey || len(v) > MaxMetadataValue {
			return Errorf(EINVALID, "invalid_metadata", "metadata keys must be 1-%d bytes and values at most %d bytes", MaxMetadataKey, MaxMetadataValue)
		}
	}
	return nil
}
