package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/config"
)

func pngImage(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func storedMedia(t *testing.T, s switchboard.Store) []switchboard.MediaData {
	t.Helper()
	evs, err := s.ListAppEvents(context.Background(), switchboard.AppEventFilter{
		Types: []switchboard.AppEventType{switchboard.AppMediaStored, switchboard.AppMediaRejected}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var out []switchboard.MediaData
	for _, e := range evs {
		var d switchboard.MediaData
		json.Unmarshal(e.Data, &d)
		out = append(out, d)
	}
	return out
}

// TestInboundMediaSurvivesCrash: a node receives a message with an attachment, answers the
// webhook, starts the download and dies before it finishes; the next node on the same database
// takes the download over once the dead node's lease expired, and the file is stored. (The
// queue used to be in memory: the attachment was never fetched.)
func TestInboundMediaSurvivesCrash(t *testing.T) {
	t.Parallel()
	img := pngImage(t)
	var requests atomic.Int32
	started, hold := make(chan struct{}), make(chan struct{})
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			close(started)
			<-hold // the first node dies while this download is in flight
			// Then the connection breaks: the dead node's download fails before it writes
			// anything into the data directory the test is about to remove.
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(files.Close)
	t.Cleanup(func() { close(hold) })
	dir := t.TempDir()
	env := map[string]string{"SWITCHBOARD_DATA_DIR": dir, "SWITCHBOARD_MEDIA_ALLOW_PRIVATE": "true"} // the files are on loopback
	first := startNode(t, nodeOpts{env: env, logger: slog.New(slog.DiscardHandler)})
	first.simControl(t, "POST", "/sim/v1/inbound", map[string]any{"from": "+14155550196", "to": config.SimulatorFrom,
		"body": "photo", "media_urls": []string{files.URL + "/photo.png"}})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first node never started the download")
	}
	// "Crash": the node stops without waiting for anything and its database is closed.
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	_ = first.Shutdown(dead)

	// The next node comes up later than the dead node's lease.
	later := func() time.Time { return time.Now().Add(10 * time.Minute) }
	second := startNode(t, nodeOpts{env: env, clock: later})
	waitFor(t, 10*time.Second, "the media stored by the second node", func() bool { return len(storedMedia(t, second.Store())) == 1 })
	d := storedMedia(t, second.Store())[0]
	if d.URL == "" || d.Index != 0 || d.From != "+14155550196" {
		t.Fatalf("media event %+v", d)
	}
	// Served with the signed URL of the event (no key needed), and with an API key.
	resp, err := http.Get(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body.Bytes(), img) {
		t.Fatalf("signed URL: %d", resp.StatusCode)
	}
}

// TestStoredMediaNeedKey: /media/<sha256> is not open: without an API key or a signed URL it
// answers 401 with a problem; with the node's API key it serves the file.
func TestStoredMediaNeedKey(t *testing.T) {
	t.Parallel()
	img := pngImage(t)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(files.Close)
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_MEDIA_ALLOW_PRIVATE": "true"}})
	n.simControl(t, "POST", "/sim/v1/inbound", map[string]any{"from": "+14155550197", "to": config.SimulatorFrom,
		"body": "photo", "media_urls": []string{files.URL + "/photo.png"}})
	waitFor(t, 10*time.Second, "the media stored", func() bool { return len(storedMedia(t, n.Store())) == 1 })
	d := storedMedia(t, n.Store())[0]
	plain := n.URL() + "/media/" + d.MediaID
	if !strings.HasPrefix(d.URL, plain+"?expires=") {
		t.Fatalf("event URL %q", d.URL)
	}
	get := func(u, key string) (int, string, []byte) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b.Bytes()
	}
	if code, ct, body := get(plain, ""); code != http.StatusUnauthorized || ct != "application/problem+json" || bytes.Contains(body, img[:8]) {
		t.Fatalf("without a key: %d %s", code, ct)
	}
	if code, _, _ := get(plain, "sb_not_a_key"); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong key: %d", code)
	}
	if code, _, body := get(plain, n.secret); code != 200 || !bytes.Equal(body, img) {
		t.Fatalf("with the API key: %d", code)
	}
}
