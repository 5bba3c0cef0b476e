package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
)

// metadataMatchFlag is messages list's --metadata KEY=VALUE: one metadata pair to look for. The
// key ends at the first "=", so a value may hold one (--metadata query=a=b).
type metadataMatchFlag struct {
	m *switchboard.MetadataMatch
}

func (f *metadataMatchFlag) String() string {
	if f.m == nil {
		return ""
	}
	return f.m.Key + "=" + f.m.Value
}
func (f *metadataMatchFlag) Type() string { return "KEY=VALUE" }
func (f *metadataMatchFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok || k == "":
		return fmt.Errorf("%q: want KEY=VALUE, for example job_id=1042", s)
	case f.m != nil:
		return fmt.Errorf("--metadata is given once: the gateway looks for one pair")
	}
	f.m = &switchboard.MetadataMatch{Key: k, Value: v}
	return nil
}

// formatMetadata prints metadata as KEY=VALUE pairs in key order: "job_id=1042, tech=ana".
func formatMetadata(meta map[string]string) string {
	parts := make([]string, 0, len(meta))
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		parts = append(parts, k+"="+meta[k])
	}
	return strings.Join(parts, ", ")
}
