package acceptance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, as in CI (.ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// browserSlot lets one journey at a time drive a browser: Chromium is the heaviest thing the
// suite starts, and the journeys run in parallel on two cores.
var browserSlot = make(chan struct{}, 1)

// browser is headless Chromium logged in to a node's dashboard.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	name  string
}

// openDashboard starts Chromium and logs in to the dashboard of node 0 with the stack's API key,
// through the login form as an operator does. The browser ends with the returned function.
func (s *stack) openDashboard(journey string) (*browser, func()) {
	t := s.t
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if inCI() {
			t.Fatalf("CI: %s is missing (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s is not installed (apt-get install chromium); CI=true makes this a failure", chromiumPath)
	}
	shots := os.Getenv("SWITCHBOARD_ACCEPTANCE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	browserSlot <- struct{}{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		<-browserSlot
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	tctx, cancelTimeout := context.WithTimeout(bctx, 3*time.Minute)
	b := &browser{t: t, ctx: tctx, base: s.apiURL, shots: shots, name: journey}
	end := func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
		<-browserSlot
		t.Logf("%s: screenshots in %s", journey, shots)
	}
	b.do("log in", chromedp.Navigate(b.base+"/ui/messages"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), s.key), chromedp.Submit(chromedp.ID("api_key")),
		chromedp.WaitVisible(chromedp.ID("q")))
	return b, end
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("dashboard: %s: %v", what, err)
	}
}

// open navigates to a dashboard path and waits for its main content.
func (b *browser) open(path string) {
	b.t.Helper()
	// A navigation the page's own redirect interrupts (ERR_ABORTED) is tried once more.
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
	}
}

// search types q in the messages search box, as an operator does, and waits for the results.
func (b *browser) search(q string) {
	b.t.Helper()
	b.open("/ui/messages")
	b.do("search "+q, chromedp.SendKeys(chromedp.ID("q"), q), chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="`+q+`"]`)))
}

// text is the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("dashboard: text of %s: %v", sel, err)
	}
	return s
}

// has reports whether an element matches sel on the current page.
func (b *browser) has(sel string) bool {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		b.t.Fatalf("dashboard: query %s: %v", sel, err)
	}
	return n > 0
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// shot saves a full-page screenshot named after the journey.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, b.name+"-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
