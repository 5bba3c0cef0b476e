package buildinfo_test

import (
	"runtime/debug"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/buildinfo"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-07T01:02:03Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	commitTime := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	for _, c := range []struct {
		name   string
		bi     *debug.BuildInfo
		linked string
		want   buildinfo.Info
	}{
		{"no build info", nil, "dev", buildinfo.Info{Version: "dev"}},
		{"go install @v1.2.3", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.3"}}, "dev",
			buildinfo.Info{Version: "v1.2.3", GoVersion: "go1.26.1"}},
		{"go build in a dirty checkout", &debug.BuildInfo{GoVersion: "go1.26.1",
			Main: debug.Module{Version: "v0.0.0-20261207010203-0123456789ab+dirty"}, Settings: vcs}, "dev",
			buildinfo.Info{Version: "v0.0.0-20261207010203-0123456789ab+dirty", GoVersion: "go1.26.1", Platform: "linux/arm64",
				Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: commitTime, Modified: true}},
		{"go run: (devel)", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}}, "dev",
			buildinfo.Info{Version: "dev", GoVersion: "go1.26.1"}},
		{"-ldflags -X wins", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.3"}}, "v9.9.9",
			buildinfo.Info{Version: "v9.9.9", GoVersion: "go1.26.1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := buildinfo.FromBuildInfo(c.bi, c.linked)
			if c.want.GoVersion == "" {
				c.want.GoVersion = got.GoVersion // the running toolchain's
			}
			if c.want.Platform == "" {
				c.want.Platform = got.Platform
			}
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}
