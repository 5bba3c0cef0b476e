package media_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/media"
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
	cfg := media.Config{Dir: dir, MaxBytes: 1000, AllowedTypes: allowed, Store: ev, PublicURL: "https://sb.example", AllowPrivate: true}
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
					got.URL != "https://sb.example/media/"+got.MediaID || got.InboundID != "inb_1" {
					t.Fatalf("stored event %s %+v", evs[0].Type, got)
				}
				if b, err := os.ReadFile(filepath.Join(dir, got.MediaID)); err != nil || !bytes.Equal(b, img) {
					t.Fatalf("stored file: %v", err)
				}
				// Served from Switchboard's URL with the detected type.
				rec := httptest.NewRecorder()
				p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, media.Path+got.MediaID, nil))
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
			// A quarantined file is never served.
			rec := httptest.NewRecorder()
			p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, media.Path+d.MediaID, nil))
			if rec.Code != http.StatusNotFound {
				t.Fatalf("quarantined file served: %d", rec.Code)
			}
		})
	}
}

// TestEnqueueDoesNotWait: Enqueue returns while the download is still held by the server (the
// webhook answers first); the file is processed afterwards.
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
	ev := &events{}
	p, _ := newPipeline(t, ev, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	p.Enqueue(ctx, inbound([]string{srv.URL + "/a.png"}, "image/png"))
	if n := len(ev.list()); n != 0 {
		t.Fatalf("%d events before the download could finish", n)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for len(ev.list()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queued download never finished")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ev.list()[0].Type != switchboard.AppMediaStored {
		t.Fatalf("event %s", ev.list()[0].Type)
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
