package media_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/media"
	"github.com/switchboard-gw/switchboard/internal/postgres"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

// TestSharedMediaAcrossNodes is the cluster case: two nodes (two pipelines, each with its own
// media directory and its own connection to one database). A medium received and stored by node
// A is served by node B when media_store is database; with the default disk store it is not
// (B's disk never saw it), which is why clusters need the shared store.
func TestSharedMediaAcrossNodes(t *testing.T) {
	t.Parallel()
	engines := map[string]func(t *testing.T) (a, b switchboard.MediaBlobs){
		"sqlite": func(t *testing.T) (switchboard.MediaBlobs, switchboard.MediaBlobs) {
			path := filepath.Join(t.TempDir(), "switchboard.db")
			open := func() *sqlite.DB {
				db, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			return open(), open()
		},
		"postgres": func(t *testing.T) (switchboard.MediaBlobs, switchboard.MediaBlobs) {
			u, _ := pgtest.URL(t)
			open := func() *postgres.DB {
				db, err := postgres.Open(t.Context(), u, postgres.WithMaxConns(2))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			return open(), open()
		},
	}
	img := pngBytes(t)
	srv := files(t, map[string][2]string{"photo.png": {"image/png", string(img)}})
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storeA, storeB := open(t)
			node := func(blobs media.BlobStore) *media.Pipeline {
				// Every node of a cluster signs media URLs with the same media_url_secret.
				p, err := media.New(media.Config{Dir: t.TempDir(), AllowedTypes: allowed, Store: &events{},
					PublicURL: "https://sms.example.com", Blobs: blobs, AllowPrivate: true,
					URLKey: []byte("cluster-wide-media-url-secret-0123456789"), URLTTL: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			a := node(media.DatabaseBlobs{Store: storeA})
			d := a.Process(t.Context(), inbound([]string{srv.URL + "/photo.png"}, "image/png"), 0)
			if d.MediaID == "" || d.Reason != "" {
				t.Fatalf("node A did not store the medium: %+v", d)
			}
			// The signed URL of node A's media.stored event, asked of node B.
			u, err := url.Parse(d.URL)
			if err != nil || u.Query().Get("sig") == "" {
				t.Fatalf("media.stored URL %q is not signed", d.URL)
			}
			serve := func(p *media.Pipeline) *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
				return rec
			}
			rec := serve(node(media.DatabaseBlobs{Store: storeB}))
			if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), img) || rec.Header().Get("Content-Type") != "image/png" {
				t.Errorf("node B serves %d %q (%d bytes), want the %d bytes node A received", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len(), len(img))
			}
			if rec := serve(node(nil)); rec.Code != http.StatusNotFound {
				t.Errorf("a node on local disk served a medium another node received: %d", rec.Code)
			}
		})
	}
}
