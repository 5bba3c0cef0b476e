package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// TestSharedMediaAcrossServeProcesses: two `serve` processes on one PostgreSQL database with
// media_store=database and one media_url_secret. An MMS comes in through node A's webhook (the
// simulator's SmsUrl points at A), A downloads and stores the attachment; node B, with a data
// directory of its own, serves the same bytes at /media/<sha256> with the signed URL of A's
// media.stored event and with an API key, and refuses it with neither — also after A was killed
// with SIGKILL.
func TestSharedMediaAcrossServeProcesses(t *testing.T) {
	t.Parallel()
	dbURL, _ := pgtest.URL(t)
	dir := t.TempDir()
	simAddr := testkit.StartSim(t, binary, dir)

	// The attachment: a PNG of random pixels, so that its hash is this test's own.
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	if _, err := rand.Read(img.Pix); err != nil {
		t.Fatal(err)
	}
	var photo bytes.Buffer
	if err := png.Encode(&photo, img); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(photo.Bytes())
	mediaID := hex.EncodeToString(sum[:])
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(photo.Bytes())
	}))
	t.Cleanup(files.Close)

	addrA, addrB := freeAddr(t), freeAddr(t)
	env := func(addr, dataDir, syncWebhooks string) map[string]string {
		return map[string]string{
			"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_PUBLIC_URL": "http://" + addr, "SWITCHBOARD_DATA_DIR": dataDir,
			"SWITCHBOARD_DATABASE_URL": dbURL, "SWITCHBOARD_MIGRATE": "false", "SWITCHBOARD_DB_MAX_CONNS": "4",
			"SWITCHBOARD_PROVIDER": "twilio", "SWITCHBOARD_TWILIO_BASE_URL": "http://" + simAddr,
			"TWILIO_ACCOUNT_SID": testAccount, "TWILIO_AUTH_TOKEN": testToken, "SWITCHBOARD_FROM": "+15005550006",
			"SWITCHBOARD_SYNC_WEBHOOKS": syncWebhooks, "SWITCHBOARD_LOG_LEVEL": "warn",
			"SWITCHBOARD_MEDIA_STORE": "database", "SWITCHBOARD_MEDIA_URL_SECRET": "shared-media-url-secret-0123456789",
			"SWITCHBOARD_MEDIA_ALLOW_PRIVATE": "true", // the file server is on loopback
		}
	}
	dataA, dataB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	envA, envB := env(addrA, dataA, "true"), env(addrB, dataB, "false")
	if out := run(t, dir, envA, "migrate"); !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %s", out)
	}
	// A alone first: it points the number's SmsUrl at itself and stores the attachment (B, up
	// already, could claim the download from the shared queue and store it itself).
	nodeA := start(t, dir, envA, "serve")
	waitHTTP(t, "http://"+addrA+"/readyz")
	keyOut := run(t, dir, envA, "keys", "create", "--name", "media")
	lines := strings.Split(strings.TrimSpace(keyOut), "\n")
	apiKey := lines[len(lines)-1]

	resp, err := http.Post("http://"+simAddr+"/sim/v1/inbound", "application/json", strings.NewReader(
		`{"from":"+14155550100","to":"+15005550006","body":"photo of the meter","media_urls":["`+files.URL+`/meter.png"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("inbound MMS through the simulator to node A: %d %s", resp.StatusCode, body)
	}

	// A's media.stored event, read from the shared database as an application's endpoint gets it.
	st, err := postgres.Open(context.Background(), dbURL, postgres.WithMaxConns(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var stored *switchboard.MediaData
	waitFor(t, 60*time.Second, "media.stored", func() bool {
		evs, err := st.ListAppEvents(context.Background(), switchboard.AppEventFilter{
			Types: []switchboard.AppEventType{switchboard.AppMediaStored, switchboard.AppMediaRejected}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == switchboard.AppMediaRejected {
				t.Fatalf("the attachment was rejected: %s", e.Data)
			}
			var d switchboard.MediaData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			stored = &d
		}
		return stored != nil
	})
	if stored.MediaID != mediaID || stored.From != "+14155550100" || stored.Size != int64(photo.Len()) {
		t.Fatalf("media.stored %+v; want media ID %s (the SHA-256 of the bytes)", stored, mediaID)
	}
	signed, err := url.Parse(stored.URL)
	if err != nil || signed.Host != addrA || signed.Path != "/media/"+mediaID || signed.Query().Get("sig") == "" {
		t.Fatalf("media.stored URL %q: want node A's signed /media/%s", stored.URL, mediaID)
	}

	start(t, dir, envB, "serve")
	waitHTTP(t, "http://"+addrB+"/readyz")
	onB := "http://" + addrB + signed.Path
	get := func(u, key string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	tampered := signed.Query()
	tampered.Set("sig", strings.Repeat("0", len(tampered.Get("sig"))))
	checkB := func(when string) {
		t.Helper()
		if code, b := get(onB+"?"+signed.RawQuery, ""); code != 200 || !bytes.Equal(b, photo.Bytes()) {
			t.Errorf("%s: node B with A's signed URL: %d, %d bytes equal=%v", when, code, len(b), bytes.Equal(b, photo.Bytes()))
		}
		if code, b := get(onB, apiKey); code != 200 || !bytes.Equal(b, photo.Bytes()) {
			t.Errorf("%s: node B with an API key: %d, %d bytes equal=%v", when, code, len(b), bytes.Equal(b, photo.Bytes()))
		}
		if code, b := get(onB, ""); code != http.StatusUnauthorized || bytes.Contains(b, photo.Bytes()[:16]) {
			t.Errorf("%s: node B without a key or signature: %d", when, code)
		}
		if code, _ := get(onB+"?"+tampered.Encode(), ""); code != http.StatusUnauthorized {
			t.Errorf("%s: node B with a forged signature: %d", when, code)
		}
	}
	checkB("A alive")
	// The bytes came from the database: B's data directory holds no media file.
	filepath.WalkDir(dataB, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, mediaID) {
			t.Errorf("node B keeps the medium on its own disk: %s", p)
		}
		return nil
	})

	nodeA.Kill()
	checkB("after A was killed with SIGKILL")
}
