package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/dispatch"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/testkit"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// chromiumPath is Debian's Chromium.
const chromiumPath = "/usr/bin/chromium"

// a11yScript checks the page for basic accessibility and returns the problems found: every
// visible form control has a label, every image and SVG a text alternative, the page a language
// and a main landmark, and every table header a scope.
const a11yScript = `(() => {
  const problems = [];
  const named = el => (el.getAttribute('aria-label') || '').trim() !== '' ||
    (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean).some(id => {
      const t = document.getElementById(id); return t && t.textContent.trim() !== ''; });
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const label = el.id && document.querySelector('label[for="' + el.id + '"]');
    if (!(label && label.textContent.trim() !== '') && !named(el) && !el.closest('label'))
      problems.push('control without a label: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('img')) {
    if (!el.hasAttribute('alt')) problems.push('img without alt: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('svg')) {
    if (el.getAttribute('aria-hidden') === 'true') continue;
    const title = el.querySelector(':scope > title');
    if (el.getAttribute('role') !== 'img' || !(named(el) || (title && title.textContent.trim() !== '')))
      problems.push('svg without a text alternative');
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (el.textContent.trim() === '' && !named(el)) problems.push('button or link without text: ' + el.outerHTML.slice(0, 80));
  }
  if (!document.documentElement.lang) problems.push('html without lang');
  if (!document.querySelector('main')) problems.push('no main landmark');
  if (!document.title.trim()) problems.push('no title');
  for (const th of document.querySelectorAll('thead th')) {
    if (!th.getAttribute('scope')) problems.push('th without scope');
  }
  return problems;
})()`

// focusScript describes the focused element and whether its focus is visible (an outline).
const focusScript = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {id: '', tag: 'BODY', text: '', visible: false};
  const cs = getComputedStyle(el);
  const visible = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2;
  return {id: el.id || '', tag: el.tagName, text: (el.textContent || el.value || '').trim().slice(0, 60), visible};
})()`

type focused struct {
	ID      string `json:"id"`
	Tag     string `json:"tag"`
	Text    string `json:"text"`
	Visible bool   `json:"visible"`
}

// TestBrowser drives headless Chromium through the dashboard of a real node with the simulator:
// logs in, searches for a message, opens it, sees its timeline and cancels it (it was scheduled,
// so still queued); every page is checked for basic accessibility and keyboard use, and
// screenshots are saved (to $SWITCHBOARD_SCREENSHOTS_DIR, or a temporary directory).
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("%s is not installed (apt-get install chromium); CI=true makes this a failure", chromiumPath)
		}
		t.Fatalf("CI: %s is missing: %v", chromiumPath, err)
	}
	shots := os.Getenv("SWITCHBOARD_SCREENSHOTS_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	testStart := time.Now()
	n, api := startNode(t)
	ctx := t.Context()
	var ids []string
	for i, to := range []string{"+14155550101", "+14155550102", "+15005550004"} { // the last one opted out (21610)
		m, err := api.Send(ctx, &client.SendRequest{To: to, Body: fmt.Sprintf("Job %d assigned", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	scheduled, err := api.Send(ctx, &client.SendRequest{To: "+14155550199", Body: "Reminder: tomorrow 9:00", SendAt: time.Now().Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if scheduled.Status != switchboard.StatusScheduled {
		t.Fatalf("scheduled message is %s", scheduled.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			m, err := api.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status.Terminal() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s stuck in %s", id, m.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Logf("node and messages ready after %v", time.Since(testStart))
	browserStart := time.Now()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil { // starts the browser (without a timeout, which would stop it)
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	t.Logf("browser started after %v", time.Since(browserStart))
	// A safety net, not a performance check: on a loaded machine Chromium is slow.
	bctx, cancelTimeout := context.WithTimeout(bctx, 3*time.Minute)
	defer cancelTimeout()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		start := time.Now()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if d := time.Since(start); d > time.Second && testing.Verbose() {
			t.Logf("slow step %q: %v", what, d)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > time.Second && testing.Verbose() {
				t.Logf("slow screenshot %q: %v", name, d)
			}
		}()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkA11y := func(page string) {
		t.Helper()
		problems, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](a11yScript))
		if err != nil {
			t.Fatalf("a11y %s: %v", page, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", page, p)
		}
	}
	// tabTo presses Tab until the element with id (or a control whose text holds text) has the
	// focus, and checks that its focus is visible.
	tabTo := func(page, id, text string) {
		t.Helper()
		for i := 0; i < 40; i++ {
			do("tab", chromedp.KeyEvent(kb.Tab))
			f, err := chromedp.Run(bctx, chromedp.Evaluate[focused](focusScript))
			if err != nil {
				t.Fatal(err)
			}
			if (id != "" && f.ID == id) || (text != "" && strings.Contains(f.Text, text)) {
				if !f.Visible {
					t.Errorf("%s: the focus on %s %q is not visible", page, f.Tag, f.ID+f.Text)
				}
				return
			}
		}
		t.Errorf("%s: Tab never reaches %q", page, id+text)
	}
	url := func(path string) string { return n.URL() + path }

	// Without a session: the login page.
	do("open messages", chromedp.Navigate(url("/ui/messages")), chromedp.WaitVisible(chromedp.ID("api_key")))
	if loc := location(); !strings.Contains(loc, "/ui/login?next=") {
		t.Fatalf("without a session the browser is at %s", loc)
	}
	checkA11y("login")
	tabTo("login", "api_key", "")
	shot("01-login")
	do("wrong password", chromedp.SendKeys(chromedp.ID("user"), "ops"), chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.CSS(".error")))
	if body := text(".error"); !strings.Contains(body, "Wrong user name or password") {
		t.Fatalf("wrong password: %q", body)
	}
	shot("02-login-refused")
	do("log in", chromedp.SendKeys(chromedp.ID("api_key"), n.Secret), chromedp.Submit(chromedp.ID("api_key")),
		chromedp.WaitVisible(chromedp.ID("q")))
	if loc := location(); !strings.HasSuffix(loc, "/ui/messages") {
		t.Fatalf("after login the browser is at %s", loc)
	}
	checkA11y("messages")
	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("q")))
	tabTo("messages", "q", "")
	tabTo("messages", "", "Search")
	shot("03-messages")

	// Search for the scheduled message by the last digits of its masked number.
	do("search", chromedp.SendKeys(chromedp.ID("q"), "0199"), chromedp.Submit(chromedp.ID("q")),
		// The attribute (not the typed value) is on the results page only.
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="0199"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/messages/`+scheduled.ID+`"]`)))
	if body := text("main"); strings.Contains(body, ids[0]) || !strings.Contains(body, "+1415*****99") {
		t.Fatalf("search results:\n%s", body)
	}
	shot("04-search")

	// Open it: its timeline.
	do("open", chromedp.Click(chromedp.CSS(`a[href="/ui/messages/`+scheduled.ID+`"]`)), chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
	if body := text("ol.timeline"); !strings.Contains(body, "created") || !strings.Contains(body, "scheduled for") {
		t.Fatalf("timeline:\n%s", body)
	}
	checkA11y("message")
	tabTo("message", "", "Cancel this message")
	shot("05-message")

	// Cancel it.
	do("cancel", chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if body := text("main"); !strings.Contains(body, "The message was canceled.") {
		t.Fatalf("after cancel:\n%s", body)
	}
	m, err := api.Get(ctx, scheduled.ID)
	if err != nil || m.Status != switchboard.StatusCanceled {
		t.Fatalf("the scheduled message is %v (%v), want canceled", m.Status, err)
	}
	shot("06-canceled")

	// The other pages.
	for i, p := range []struct{ path, wait, name string }{
		{"/ui/", "#queues-h", "overview"}, {"/ui/failures", "main", "failures"}, {"/ui/charts", "svg.chart", "charts"},
		{"/ui/inbound", "main", "inbound"}, {"/ui/optouts", "main", "optouts"}, {"/ui/messages/" + ids[2], "ol.timeline", "message-failed"},
	} {
		do("open "+p.path, chromedp.Navigate(url(p.path)), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		checkA11y(p.path)
		shot(fmt.Sprintf("%02d-%s", 7+i, p.name))
	}
	// The operator's pages of calls, verifications, conversations, endpoints and senders.
	st := n.Store()
	now := time.Now().UTC()
	call := &switchboard.Call{ID: switchboard.NewID("call"), Status: switchboard.CallQueued, To: "+14155550177", From: "+15005550006",
		Flow: "appointment", FlowVersion: 1, Token: "tok-browser", MaxAttempts: 2, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now,
		Path: []string{"greeting", "menu"}, Inputs: []switchboard.CallInput{{State: "menu", Digits: "2", Result: "matched"}}}
	call.AddEvent(switchboard.CallEvent{At: now, Type: switchboard.CallEventCreated, Status: switchboard.CallQueued})
	if _, _, err := st.CreateCall(ctx, call, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEndpoint(ctx, &switchboard.Endpoint{ID: "ep_billing", URL: "https://billing.example.com/hooks", EventTypes: []string{"message.*"},
		Source: "api", Secrets: []switchboard.EndpointSecret{{Secret: "whsec_" + strings.Repeat("A", 32)}}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	convs, _, err := st.ListConversations(ctx, switchboard.ConversationFilter{TheirNumber: "+14155550101"})
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversation: %v %v", convs, err)
	}
	for i, p := range []struct{ path, wait, name string }{
		{"/ui/calls", "table", "calls"}, {"/ui/calls/" + call.ID, "ol.timeline", "call"}, {"/ui/verifications", "main", "verifications"},
		{"/ui/conversations", "table", "conversations"}, {"/ui/conversations/" + convs[0].ID, "ol.timeline", "conversation"},
		{"/ui/endpoints", "table", "endpoints"}, {"/ui/endpoints/ep_billing", "main", "endpoint"}, {"/ui/senders", "table", "senders"},
		{"/ui/usage", "table", "usage"},
	} {
		do("open "+p.path, chromedp.Navigate(url(p.path)), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		checkA11y(p.path)
		shot(fmt.Sprintf("%02d-%s", 20+i, p.name))
	}
	// The usage page: today's row of tenant default counts the messages sent above, and its CSV
	// link carries the range shown.
	do("usage", chromedp.Navigate(url("/ui/usage")), chromedp.WaitVisible(chromedp.CSS("table")))
	if body := text("main"); !strings.Contains(body, switchboard.UTCDay(time.Now())) || !strings.Contains(body, "default") || !strings.Contains(body, "Download CSV") {
		t.Errorf("the usage page lacks today's row of tenant default:\n%s", body)
	}
	// Reply in the thread, from the browser: the reply is a message of the conversation.
	do("reply", chromedp.Navigate(url("/ui/conversations/"+convs[0].ID)), chromedp.WaitVisible(chromedp.CSS("textarea")),
		chromedp.SendKeys(chromedp.CSS("textarea"), "Thanks, see you at 9"), chromedp.Submit(chromedp.CSS("textarea")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	shot("28-replied")
	if body := text("main"); !strings.Contains(body, "Thanks, see you at 9") {
		t.Errorf("the thread lacks the reply:\n%s", body)
	}
	// Record an opt-out with evidence from the opt-outs page.
	do("record consent", chromedp.Navigate(url("/ui/optouts")), chromedp.WaitVisible(chromedp.CSS(`input[name="phone"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="phone"]`), "+14155550188"),
		chromedp.SendKeys(chromedp.CSS(`input[name="evidence"]`), "Asked us by phone, ticket 4411"),
		chromedp.Submit(chromedp.CSS(`input[name="evidence"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	shot("29-consent-recorded")
	if h, err := st.ConsentHistory(ctx, "+14155550188"); err != nil || len(h) != 1 || h[0].Source != switchboard.ConsentFromDashboard {
		t.Errorf("consent recorded from the dashboard: %+v %v", h, err)
	}

	do("failures", chromedp.Navigate(url("/ui/failures")), chromedp.WaitVisible(chromedp.CSS("main")))
	if body := text("main"); !strings.Contains(body, "21610") {
		t.Errorf("failures page lacks 21610:\n%s", body)
	}

	// A phone screen.
	do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(url("/ui/messages")), chromedp.WaitVisible(chromedp.ID("q")))
	for _, path := range []string{"/ui/messages", "/ui/messages/" + scheduled.ID, "/ui/charts"} {
		do("phone "+path, chromedp.Navigate(url(path)), chromedp.WaitVisible(chromedp.CSS("main")))
		overflow, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		if err != nil {
			t.Fatal(err)
		}
		if overflow {
			t.Errorf("on a phone screen %s scrolls sideways", path)
		}
	}
	do("phone messages", chromedp.Navigate(url("/ui/messages")), chromedp.WaitVisible(chromedp.ID("q")))
	shot("13-phone-messages")
	do("phone message", chromedp.Navigate(url("/ui/messages/"+scheduled.ID)), chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
	shot("14-phone-message")

	// Log out: the pages are gone.
	do("logout", chromedp.Click(chromedp.CSS(`form[action="/ui/logout"] button`)), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.Navigate(url("/ui/messages/"+scheduled.ID)), chromedp.WaitVisible(chromedp.ID("api_key")))
	if loc := location(); !strings.Contains(loc, "/ui/login") {
		t.Fatalf("after logout the browser is at %s", loc)
	}

	// A read-only user of one tenant: tenant acme's messages only, and no button that changes
	// anything.
	do("desktop", chromedp.EmulateViewport(1280, 900))
	if err := st.CreateTenant(ctx, &switchboard.Tenant{ID: "acme", Name: "Acme Field Service", Environment: switchboard.EnvProduction,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	_, acmeSend, err := node.CreateKey(ctx, st, "acme-app", "acme", switchboard.RoleSend, now)
	if err != nil {
		t.Fatal(err)
	}
	_, acmeRead, err := node.CreateKey(ctx, st, "acme-viewer", "acme", switchboard.RoleRead, now)
	if err != nil {
		t.Fatal(err)
	}
	acme, err := client.New(n.URL(), acmeSend).Send(ctx, &client.SendRequest{To: "+14155550166", Body: "Technician on the way",
		SendAt: time.Now().Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	do("log in as acme's viewer", chromedp.Navigate(url("/ui/messages")), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), acmeRead), chromedp.Submit(chromedp.ID("api_key")), chromedp.WaitVisible(chromedp.ID("q")))
	if body := text("main"); !strings.Contains(body, "+1415*****66") || strings.Contains(body, "+1415*****99") || strings.Contains(body, "+1415*****01") {
		t.Errorf("acme's viewer sees other tenants' messages, or not acme's:\n%s", body)
	}
	if who := text(".scope"); !strings.Contains(who, "tenant acme") || !strings.Contains(who, "read") {
		t.Errorf("the header says %q, want the tenant and the role", who)
	}
	if nav := text("nav"); strings.Contains(nav, "Failures") || strings.Contains(nav, "Senders") {
		t.Errorf("acme's viewer is offered the cross-tenant pages: %q", nav)
	}
	checkA11y("tenant messages")
	shot("30-tenant-read-messages")
	do("open acme's message", chromedp.Navigate(url("/ui/messages/"+acme.ID)), chromedp.WaitVisible(chromedp.CSS("main")))
	if body := text("main"); !strings.Contains(body, "Technician on the way") {
		t.Errorf("acme's viewer does not see acme's message:\n%s", body)
	}
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("main form").length`)); err != nil || n != 0 {
		t.Errorf("a read session is offered %d forms on a scheduled message (%v): no cancel, no retry", n, err)
	}
	shot("31-tenant-read-message")
	do("open another tenant's message", chromedp.Navigate(url("/ui/messages/"+scheduled.ID)), chromedp.WaitVisible(chromedp.CSS("main")))
	if body := text("main"); !strings.Contains(body, "not found") || strings.Contains(body, "Reminder") {
		t.Errorf("another tenant's message, to acme's viewer:\n%s", body)
	}
	shot("32-tenant-other-message")
	do("opt-outs", chromedp.Navigate(url("/ui/optouts")), chromedp.WaitVisible(chromedp.CSS("main")))
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("main form").length`)); err != nil || n != 0 {
		t.Errorf("a read session is offered the consent form (%d forms, %v)", n, err)
	}
	do("overview", chromedp.Navigate(url("/ui/")), chromedp.WaitVisible(chromedp.CSS("main")))
	shot("33-tenant-overview")
	t.Logf("screenshots in %s; browser part took %v", shots, time.Since(browserStart))
}

// startNode boots a node with the dashboard's login set and fast simulator lifecycles.
func startNode(t *testing.T) (*testkit.Node, *client.Client) {
	t.Helper()
	n := testkit.StartNode(t, testkit.NodeConfig{KeyName: "browser", Env: map[string]string{
		"SWITCHBOARD_DASHBOARD_USER": "ops", "SWITCHBOARD_DASHBOARD_PASSWORD": "correct horse battery staple",
	}, Options: node.Options{
		SimConfig: func(c *twiliosim.Config) {
			c.SendingDelay, c.SentDelay, c.DeliveredDelay = 5*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond
		},
		DispatchConfig: func(c *dispatch.Config) { c.PollInterval = 50 * time.Millisecond },
	}})
	return n, n.Client
}
