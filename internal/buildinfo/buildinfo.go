// Package buildinfo reports which Switchboard this binary is: its version, the commit it was
// built from, that commit's date and whether the tree had uncommitted changes. Everything comes
// from the build information the Go toolchain embeds (runtime/debug.ReadBuildInfo), so a plain
// `go build` in a git checkout, `go install …@v1.2.3` and scripts/release.sh all produce a binary
// that knows itself without -ldflags.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Info describes a build.
type Info struct {
	// Version is the module version ("v1.2.3" from go install, a pseudo-version such as
	// "v0.0.0-20261207010203-0123456789ab+dirty" from a go build in a checkout), or
	// switchboard.Version when that was set at link time, else "dev".
	Version string `json:"version"`
	// Commit is the VCS revision, empty when the build did not record it (-buildvcs=false, or
	// no checkout).
	Commit string `json:"commit,omitempty"`
	// CommitTime is the commit's time (not the build's: that keeps builds reproducible).
	CommitTime time.Time `json:"commit_time,omitzero"`
	// Modified reports uncommitted changes in the tree at build time.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary; Platform is GOOS/GOARCH.
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi, switchboard.Version)
}

// FromBuildInfo extracts Info from bi (nil when the binary has none); linked is the version set
// at link time with -ldflags -X (switchboard.Version), which wins unless it is "dev" or empty.
func FromBuildInfo(bi *debug.BuildInfo, linked string) Info {
	info := Info{Version: "dev", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		if linked != "" {
			info.Version = linked
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				info.CommitTime = t.UTC()
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		info.Platform = goos + "/" + goarch
	}
	switch {
	case linked != "" && linked != "dev":
		info.Version = linked
	case bi.Main.Version != "" && bi.Main.Version != "(devel)":
		info.Version = bi.Main.Version
	}
	return info
}
