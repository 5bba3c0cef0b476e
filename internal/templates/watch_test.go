package templates

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type change struct {
	c   *Catalog
	err error
}

// watch starts Watch on dir with a short poll interval and returns a function that waits for
// its next call, and a function that stops it and waits for it to return.
func watch(t *testing.T, dir string) (next func() change, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	changes := make(chan change, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, dir, func(c *Catalog, err error) { changes <- change{c, err} }, WithPollInterval(2*time.Millisecond))
	}()
	next = func() change {
		t.Helper()
		select {
		case ch := <-changes:
			return ch
		case <-time.After(10 * time.Second): // a deadline for a broken watcher, not a wait
			t.Fatal("Watch did not report a change")
			return change{}
		}
	}
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Watch did not return after its context was canceled")
		}
	}
	t.Cleanup(stop)
	return next, stop
}

func body(t *testing.T, c *Catalog, name string) string {
	t.Helper()
	if c == nil {
		t.Fatal("no catalog")
	}
	tmpl, err := c.Lookup(name, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl.Body
}

func TestWatchReloads(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"a.yaml": minimal})
	next, stop := watch(t, dir)

	first := next()
	if first.err != nil || body(t, first.c, "greeting") != "Hi {{name}}" {
		t.Fatalf("initial load: %v", first.err)
	}

	writeFile(t, filepath.Join(dir, "a.yaml"), strings.Replace(minimal, "Hi {{name}}", "Hello {{name}}", 1))
	edited := next()
	if edited.err != nil || body(t, edited.c, "greeting") != "Hello {{name}}" {
		t.Fatalf("after an edit: %v", edited.err)
	}

	// A broken edit keeps the last good catalog and reports why.
	writeFile(t, filepath.Join(dir, "a.yaml"), strings.Replace(minimal, "Hi {{name}}", "Hello {{nam}}", 1))
	broken := next()
	var le *LoadError
	if !errors.As(broken.err, &le) || len(le.Findings) != 1 || le.Findings[0].Rule != RuleMissingVariable {
		t.Fatalf("broken edit: err = %v", broken.err)
	}
	if broken.c != edited.c {
		t.Fatal("a broken edit did not hand back the last good catalog")
	}

	// Fixing it, in a new file of a new subdirectory, delivers a new catalog.
	writeFile(t, filepath.Join(dir, "a.yaml"), minimal)
	writeFile(t, filepath.Join(dir, "more", "b.yaml"), strings.Replace(minimal, "greeting", "farewell", 1))
	var fixed change
	for fixed = next(); fixed.err == nil && len(fixed.c.Names()) < 2; fixed = next() {
		// The two writes may land in one poll or in two.
	}
	if fixed.err != nil || body(t, fixed.c, "farewell") != "Hi {{name}}" {
		t.Fatalf("after the fix: %v", fixed.err)
	}

	if err := os.Remove(filepath.Join(dir, "more", "b.yaml")); err != nil {
		t.Fatal(err)
	}
	removed := next()
	if removed.err != nil || len(removed.c.Names()) != 1 {
		t.Fatalf("after a removal: %v, %v", removed.err, removed.c.Names())
	}
	stop()
}

func TestWatchBrokenFromTheStart(t *testing.T) {
	t.Parallel()
	dir := writeCatalog(t, map[string]string{"a.yaml": "name: [\n"})
	next, _ := watch(t, dir)
	first := next()
	if first.c != nil || first.err == nil {
		t.Fatalf("initial broken load: c = %v, err = %v; want nil and an error", first.c, first.err)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), minimal)
	if ch := next(); ch.err != nil || body(t, ch.c, "greeting") == "" {
		t.Fatalf("after the fix: %v", ch.err)
	}
}

func TestWatchDirectoryAppearsLater(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "templates")
	next, _ := watch(t, dir)
	if first := next(); first.c != nil || first.err == nil {
		t.Fatalf("missing directory: %+v", first)
	}
	writeFile(t, filepath.Join(dir, "a.yaml"), minimal)
	ch := next()
	if ch.err == nil && len(ch.c.Names()) == 0 {
		ch = next() // the directory was seen empty before the file arrived: a valid, empty catalog
	}
	if ch.err != nil || body(t, ch.c, "greeting") == "" {
		t.Fatalf("after the directory appeared: %v", ch.err)
	}
}
