package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/buildinfo"
)

// TestVersionFromBuildInfo builds the binary with VCS stamping (as a go build in a clone does by
// default, and scripts/release.sh with -trimpath; no -ldflags) and checks that `switchboard version --json` reports the checkout's commit, its
// commit time and whether the tree is modified, all from the Go build information.
func TestVersionFromBuildInfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Go stamps VCS information only when .git is a directory: not in a `git worktree`, whose
	// .git is a file (cmd/go/internal/vcs). CI runs on a clone.
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Skip("not a git clone (a worktree or an export): Go records no VCS information here")
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	head := git("rev-parse", "HEAD")
	commitTime, err := time.Parse(time.RFC3339, git("log", "-1", "--format=%cI", "HEAD"))
	if err != nil {
		t.Fatal(err)
	}
	dirty := git("status", "--porcelain", "--untracked-files=no") != ""

	bin := filepath.Join(t.TempDir(), "switchboard")
	// The same flags as TestMain's build but -buildvcs=true: only the link differs, which keeps
	// this cheap.
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var info buildinfo.Info
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if info.Commit != head || !info.CommitTime.Equal(commitTime) {
		t.Errorf("version --json = %s\nwant commit %s at %s", out, head, commitTime)
	}
	if info.Modified && !dirty {
		t.Errorf("version reports a modified tree, git status says clean: %s", out)
	}
	if info.Version == "" || info.GoVersion == "" || info.Platform == "" {
		t.Errorf("version --json misses fields: %s", out)
	}
	text, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(text), "switchboard "+info.Version+"\n") || !strings.Contains(string(text), "commit  "+head) {
		t.Errorf("version:\n%s", text)
	}
}
