package media_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/media"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

var allowed = []string{"image/jpeg", "image/png", "image/gif", "application/pdf"}

// events is an in-memory event log (the store's RecordAppEvent is covered by the store suite).
type events struct {
	mu  sync.Mutex
	all []*switchboard.AppEvent
}

func (e *events) RecordAppEvent(_ context.Context, ev *switchboard.AppEvent) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
	return nil
}

func (e *events) list() []*switchboard.AppEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*switchboard.AppEvent(nil), e.all...)
}

func pngBytes(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// files serves name -> (content type, bytes).
func files(t *testing.T, m map[string][2]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := m[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f[0])
		io.WriteString(w, f[1])
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newPipeline(t *testing.T, ev *events, mod func(*media.Config)) (*media.Pipeline, string) {
	t.Helper()
	dir := t.TempDir()
	// The test servers are on loopback: the documented allowance (media_allow_private).
	cfg := media.Config{Dir: dir, MaxBytes: 1000, AllowedTypes: allowed, Store: ev, PublicURL: "https://sb.example", AllowPrivate: true,
		URLKey: []byte("test media key"), URLTTL: time.Hour,
		Authorize: func(r *http.Request) (bool, error) { return r.Header.Get("Authorization") == "Bearer sb_good", nil }}
	if mod != nil {
		mod(&cfg)
	}
	p, err := media.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

func inbound(urls []string, types ...string) *switchboard.InboundMessage {
	return &switchboard.InboundMessage{ID: "inb_1", ProviderSID: "MM1", Channel: switchboard.ChannelWhatsApp,
		From: "+14155550100", To: "+15005550006", MediaURLs: urls, MediaContentTypes: types}
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	srv := files(t, map[string][2]string{
		"good.png":  {"image/png", string(img)},
		"big.png":   {"image/png", string(img) + strings.Repeat("x", 2000)},
		"fake.png":  {"image/png", "#!/bin/sh\necho this is not a picture\n"},
		"page.html": {"text/html", "<html><body>hi</body></html>"},
	})
	tests := []struct {
		name, file, declared string
		wantStored           bool
		reason               string
	}{
		{"GoodImage", "good.png", "image/png", true, ""},
		{"Oversize", "big.png", "image/png", false, "too large"},
		{"MislabelledByHeader", "fake.png", "image/png", false, "not allowed"},
		{"MislabelledAllowedType", "good.png", "image/jpeg", false, "mislabelled: declared image/jpeg, but the bytes are image/png"},
		{"TypeNotAllowed", "page.html", "", false, "type text/html (detected from the bytes) is not allowed"},
		{"DownloadFails", "missing.png", "image/png", false, "HTTP 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := &events{}
			p, dir := newPipeline(t, ev, nil)
			d := p.Process(t.Context(), inbound([]string{srv.URL + "/" + tc.file}, tc.declared), 0)
			evs := ev.list()
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			var got switchboard.MediaData
			json.Unmarshal(evs[0].Data, &got)
			if tc.wantStored {
				if evs[0].Type != switchboard.AppMediaStored || got.ContentType != "image/png" || got.Size != int64(len(img)) ||
					!strings.HasPrefix(got.URL, "https://sb.example/media/"+got.MediaID+"?expires=") || got.InboundID != "inb_1" {
					t.Fatalf("stored event %s %+v", evs[0].Type, got)
				}
				if b, err := os.ReadFile(filepath.Join(dir, got.MediaID)); err != nil || !bytes.Equal(b, img) {
					t.Fatalf("stored file: %v", err)
				}
				// Served from Switchboard's (signed) URL with the detected type.
				rec := httptest.NewRecorder()
				p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, strings.TrimPrefix(got.URL, "https://sb.example"), nil))
				if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || !bytes.Equal(rec.Body.Bytes(), img) {
					t.Fatalf("serving: %d %q", rec.Code, rec.Header().Get("Content-Type"))
				}
				return
			}
			if evs[0].Type != switchboard.AppMediaRejected || !strings.Contains(got.Reason, tc.reason) || d.URL != "" {
				t.Fatalf("rejected event %s %+v, want reason %q", evs[0].Type, got, tc.reason)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 2 { // quarantine/ and tmp/ only
				t.Fatalf("a refused file was stored: %v", ents)
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
				t.Fatalf("a download was left behind: %v", ents)
			}
		})
	}
}

// TestDownloadGuard: without media_allow_private a download never reaches loopback, private or
// otherwise non-public addresses, in any of their forms, nor follows a redirect to them; with it
// (tests, development) a redirect to the file is followed, as Twilio's media URLs redirect.
func TestDownloadGuard(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/good.png", http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	ev := &events{}
	p, _ := newPipeline(t, ev, func(c *media.Config) { c.AllowPrivate = false })
	for i, u := range []string{srv.URL + "/good.png", srv.URL + "/redirect", "http://localhost:" + port + "/good.png",
		"http://[::ffff:127.0.0.1]:" + port + "/good.png", "http://[::127.0.0.1]:" + port + "/good.png",
		"http://[::7f00:1]:" + port + "/good.png", "http://0.0.0.0:" + port + "/good.png",
		"http://169.254.169.254/latest/meta-data", "http://2130706433:" + port + "/good.png", "file:///etc/passwd"} {
		d := p.Process(t.Context(), inbound([]string{u}, "image/png"), 0)
		if d.URL != "" || !strings.Contains(d.Reason, "refused") && !strings.Contains(d.Reason, "not valid") {
			t.Errorf("%s: %+v", u, d)
		}
		if got := ev.list(); len(got) != i+1 || got[i].Type != switchboard.AppMediaRejected {
			t.Fatalf("%s: events %d", u, len(got))
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}
	open, _ := newPipeline(t, &events{}, nil)
	if d := open.Process(t.Context(), inbound([]string{srv.URL + "/redirect"}, "image/png"), 0); d.URL == "" {
		t.Fatalf("allowed private, through a redirect: %+v", d)
	}
}

func TestScanHook(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	srv := files(t, map[string][2]string{"good.png": {"image/png", string(img)}})
	for _, tc := range []struct {
		name string
		cmd  []string
		ok   bool
	}{{"Clean", []string{"true"}, true}, {"Infected", []string{"false"}, false}, {"Missing", []string{"/nonexistent/scanner"}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := &events{}
			var rejected []string
			p, dir := newPipeline(t, ev, func(c *media.Config) {
				c.ScanCommand = tc.cmd
				c.OnRejected = func(_ context.Context, _ *switchboard.InboundMessage, d *switchboard.MediaData) {
					rejected = append(rejected, d.Reason)
				}
			})
			d := p.Process(t.Context(), inbound([]string{srv.URL + "/good.png"}), 0)
			_, storedErr := os.Stat(filepath.Join(dir, d.MediaID))
			_, quarErr := os.Stat(filepath.Join(dir, "quarantine", d.MediaID))
			if tc.ok {
				if storedErr != nil || quarErr == nil || len(rejected) != 0 || ev.list()[0].Type != switchboard.AppMediaStored {
					t.Fatalf("clean file: stored %v, quarantined %v, rejected %v", storedErr, quarErr, rejected)
				}
				return
			}
			if storedErr == nil || quarErr != nil || !d.Quarantined || len(rejected) != 1 || ev.list()[0].Type != switchboard.AppMediaRejected {
				t.Fatalf("flagged file: stored %v, quarantined %v, data %+v", storedErr, quarErr, d)
			}
			// A quarantined file is never served, even to an API key.
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, media.Path+d.MediaID, nil)
			req.Header.Set("Authorization", "Bearer sb_good")
			p.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("quarantined file served: %d", rec.Code)
			}
		})
	}
}

// queueStore is a real store: the queue is durable, and the events land in its log.
func queueStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mediaEvents(t *testing.T, db *sqlite.DB) []*switchboard.AppEvent {
	t.Helper()
	evs, err := db.ListAppEvents(t.Context(), switchboard.AppEventFilter{
		Types: []switchboard.AppEventType{switchboard.AppMediaStored, switchboard.AppMediaRejected}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func runPipeline(t *testing.T, p *media.Pipeline) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// retryWatch is a log handler that signals each "will retry" line of the pipeline: the retry
// time of the failed attempt is fixed by then.
type retryWatch struct{ failed chan struct{} }

func (h retryWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h retryWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h retryWatch) WithGroup(string) slog.Handler            { return h }
func (h retryWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "media download failed; will retry" {
		select {
		case h.failed <- struct{}{}:
		default:
		}
	}
	return nil
}

func waitEvents(t *testing.T, db *sqlite.DB, n int) []*switchboard.AppEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // generous: CI runs packages in parallel at a load of ~13 on 2 cores
	for {
		evs := mediaEvents(t, db)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d media events, want %d", len(evs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEnqueueDoesNotWait: Enqueue returns once the downloads are in the queue, while the
// download is still held by the server (the webhook answers first); the file is processed
// afterwards.
func TestEnqueueDoesNotWait(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(srv.Close)
	db := queueStore(t)
	p, _ := newPipeline(t, nil, func(c *media.Config) { c.Store, c.Queue = db, db })
	runPipeline(t, p)
	if err := p.Enqueue(t.Context(), inbound([]string{srv.URL + "/a.png"}, "image/png")); err != nil {
		t.Fatal(err)
	}
	if n := len(mediaEvents(t, db)); n != 0 {
		t.Fatalf("%d events before the download could finish", n)
	}
	close(release)
	if evs := waitEvents(t, db, 1); evs[0].Type != switchboard.AppMediaStored {
		t.Fatalf("event %s", evs[0].Type)
	}
}

// TestQueueSurvivesRestart: attachments queued by a pipeline that stopped before fetching them
// (a crash right after the webhook answered) are fetched by the next one on the same store;
// a download that failed for a reason that may pass (503) is tried again on the schedule, and
// one refused for good (404) is not.
func TestQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky.png":
			if flaky.Add(1) == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
		case "/gone.png":
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(srv.Close)
	db := queueStore(t)
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	clock := func() time.Time { return time.UnixMicro(now.Load()).UTC() }
	failed := make(chan struct{}, 1)
	cfg := func(c *media.Config) {
		c.Store, c.Queue, c.Clock, c.PollInterval = db, db, clock, 10*time.Millisecond
		c.Logger = slog.New(retryWatch{failed})
	}
	// The first node queues and dies before any download (it never runs).
	first, _ := newPipeline(t, nil, cfg)
	in := inbound([]string{srv.URL + "/a.png", srv.URL + "/flaky.png", srv.URL + "/gone.png"}, "image/png", "image/png", "image/png")
	if err := first.Enqueue(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	// The webhook is delivered again: nothing more is queued.
	if err := first.Enqueue(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	second, _ := newPipeline(t, nil, cfg)
	runPipeline(t, second)
	waitEvents(t, db, 2) // a.png stored, gone.png refused; flaky.png waits for its retry
	if n := len(mediaEvents(t, db)); n != 2 || flaky.Load() != 1 {
		t.Fatalf("%d events, %d tries of the flaky file", n, flaky.Load())
	}
	// The failed attempt's retry time is read from the clock after the 503: wait for it to be
	// taken (the pipeline logs the retry with it) before moving the clock past it, or the move
	// could land first and put the retry a schedule step beyond the new time.
	select {
	case <-failed:
	case <-time.After(20 * time.Second):
		t.Fatal("the flaky download's failure was never recorded")
	}
	now.Add(media.RetrySchedule[0].Microseconds())
	evs := waitEvents(t, db, 3)
	kinds := map[string]switchboard.AppEventType{}
	for _, ev := range evs {
		var d switchboard.MediaData
		json.Unmarshal(ev.Data, &d)
		kinds[d.URL+"|"+strconv.Itoa(d.Index)] = ev.Type
		if d.Index == 2 && (ev.Type != switchboard.AppMediaRejected || !strings.Contains(d.Reason, "HTTP 404")) {
			t.Errorf("gone.png: %s %+v", ev.Type, d)
		}
		if d.Index != 2 && ev.Type != switchboard.AppMediaStored {
			t.Errorf("attachment %d: %s %+v", d.Index, ev.Type, d)
		}
	}
	if len(evs) != 3 || flaky.Load() != 2 {
		t.Fatalf("events %v, %d tries of the flaky file", kinds, flaky.Load())
	}
}

// TestServingNeedsKeyOrSignature: a stored file is served only to an API key or a valid,
// unexpired signed URL; without either, with a wrong key, a tampered or borrowed signature, or
// past its expiry it is refused with a problem, and nothing of the file is sent.
func TestServingNeedsKeyOrSignature(t *testing.T) {
	t.Parallel()
	img := pngBytes(t)
	srv := files(t, map[string][2]string{"good.png": {"image/png", string(img)}, "other.png": {"image/png", string(img) + "x"}})
	var now atomic.Int64
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	ev := &events{}
	p, _ := newPipeline(t, ev, func(c *media.Config) {
		c.Clock = func() time.Time { return time.UnixMicro(now.Load()).UTC() }
		c.AllowedTypes = append(c.AllowedTypes, "application/octet-stream")
	})
	d := p.Process(t.Context(), inbound([]string{srv.URL + "/good.png"}, "image/png"), 0)
	other := p.Process(t.Context(), inbound([]string{srv.URL + "/other.png"}), 0)
	if d.URL == "" || other.URL == "" {
		t.Fatalf("not stored: %+v %+v", d, other)
	}
	signed := strings.TrimPrefix(d.URL, "https://sb.example")
	get := func(target, auth string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		p.Handler().ServeHTTP(rec, req)
		return rec
	}
	otherSig := other.URL[strings.Index(other.URL, "?"):]
	for _, c := range []struct {
		name, target, auth string
		status             int
		code               string
	}{
		{"NoCredentials", media.Path + d.MediaID, "", 401, "unauthorized"},
		{"WrongKey", media.Path + d.MediaID, "Bearer sb_wrong", 401, "unauthorized"},
		{"TamperedSignature", signed[:len(signed)-2] + "xx", "", 401, "unauthorized"},
		{"ChangedExpiry", strings.Replace(signed, "expires=", "expires=9", 1), "", 401, "unauthorized"},
		{"AnotherFilesSignature", media.Path + d.MediaID + otherSig, "", 401, "unauthorized"},
		{"Signed", signed, "", 200, ""},
		{"APIKey", media.Path + d.MediaID, "Bearer sb_good", 200, ""},
	} {
		rec := get(c.target, c.auth)
		if rec.Code != c.status {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.status)
			continue
		}
		if c.status == 200 {
			if !bytes.Equal(rec.Body.Bytes(), img) {
				t.Errorf("%s: wrong bytes", c.name)
			}
			continue
		}
		var pr struct{ Code string }
		if json.Unmarshal(rec.Body.Bytes(), &pr) != nil || pr.Code != c.code || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %q %s", c.name, rec.Body.String(), rec.Header().Get("Content-Type"))
		}
	}
	now.Add((time.Hour + time.Second).Microseconds())
	if rec := get(signed, ""); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "media_url_expired") {
		t.Fatalf("expired: %d %s", rec.Code, rec.Body.String())
	}
	if rec := get(signed, "Bearer sb_good"); rec.Code != 200 {
		t.Fatalf("expired URL with an API key: %d", rec.Code)
	}
}

// TestStaleDownloadsRemoved: downloads a crashed node left half-written in tmp/ are removed at
// start once older than any attempt can live; recent ones (another node's, in progress) stay.
func TestStaleDownloadsRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.MkdirAll(tmp, 0o750)
	old, fresh := filepath.Join(tmp, "dl-old"), filepath.Join(tmp, "dl-fresh")
	os.WriteFile(old, []byte("half a file"), 0o600)
	os.WriteFile(fresh, []byte("in progress"), 0o600)
	long := time.Now().Add(-media.StaleDownload - time.Minute)
	os.Chtimes(old, long, long)
	if _, err := media.New(media.Config{Dir: dir, Store: &events{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the stale download is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a recent download was removed: %v", err)
	}
}

func TestHandlerRefusesBadIDs(t *testing.T) {
	t.Parallel()
	p, _ := newPipeline(t, &events{}, nil)
	for _, id := range []string{"", "..%2F..%2Fetc%2Fpasswd", "../x", strings.Repeat("a", 64) + "/x", strings.Repeat("g", 64)} {
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, media.Path+id, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%q: %d", id, rec.Code)
		}
	}
}

// FuzzCheckType: the type check never panics on untrusted headers and bytes, and never
// accepts a type outside the allow-list.
func FuzzCheckType(f *testing.F) {
	f.Add("image/png", []byte("\x89PNG\r\n\x1a\n"))
	f.Add("image/jpeg; charset=x", []byte("\xff\xd8\xff"))
	f.Add("", []byte("%PDF-1.4"))
	f.Add("text/html;;;", []byte("<html>"))
	f.Add("\x00", []byte{})
	f.Fuzz(func(t *testing.T, declared string, head []byte) {
		reason := media.CheckType(declared, head, allowed)
		got := media.Sniff(head)
		if reason == "" && !strings.Contains(strings.Join(allowed, ","), got) {
			t.Fatalf("accepted %q", got)
		}
	})
}

// FuzzServe: the media handler never panics on an untrusted path and query, and never serves a
// file without an API key or the right signature.
func FuzzServe(f *testing.F) {
	id := strings.Repeat("ab", 32)
	f.Add(id, "expires=1&sig=x")
	f.Add(id, "expires=99999999999&sig=")
	f.Add("../"+id, "")
	f.Add(id, "expires=-1&sig=%ff%00&expires=2")
	f.Add(id, "sig="+strings.Repeat("A", 43)+"&expires=18446744073709551616")
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, id), []byte("\x89PNG\r\n\x1a\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	p, err := media.New(media.Config{Dir: dir, Store: &events{}, URLKey: []byte("fuzz media key"), URLTTL: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawQuery = media.Path+path, query
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			t.Fatalf("served %q?%q without a valid signature", path, query)
		}
	})
}
