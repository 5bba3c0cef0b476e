package media_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/media"
)

// fileServer answers HEAD (or, with noHead, only ranged GETs) for files of the given types
// and sizes by path, without ever sending their bytes.
func fileServer(t *testing.T, noHead bool, files map[string][2]string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if noHead && r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", f[0])
		if r.Method == http.MethodGet {
			if r.Header.Get("Range") != "bytes=0-0" {
				t.Errorf("GET without a range of one byte: %q", r.Header.Get("Range"))
			}
			w.Header().Set("Content-Range", "bytes 0-0/"+f[1])
			w.Header().Set("Content-Length", "1")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte{0})
			return
		}
		w.Header().Set("Content-Length", f[1])
	}))
	t.Cleanup(s.Close)
	return s
}

var sizes = map[string][2]string{
	"/big.jpg":   {"image/jpeg", strconv.Itoa(6 << 20)},
	"/ok.jpg":    {"image/jpeg", strconv.Itoa(4 << 20)},
	"/doc.pdf":   {"application/pdf", strconv.Itoa(600 << 10)},
	"/small.pdf": {"application/pdf; name=x", strconv.Itoa(400 << 10)},
	"/edge.png":  {"image/png", strconv.Itoa(5 << 20)},
}

func TestLimitCheck(t *testing.T) {
	t.Parallel()
	for _, noHead := range []bool{false, true} {
		s := fileServer(t, noHead, sizes)
		c := media.NewLimitChecker(media.LimitConfig{AllowPrivate: true})
		ctx := context.Background()
		for _, tc := range []struct {
			paths []string
			block string // part of the reason; "" for none
		}{
			{[]string{"/big.jpg"}, "media_urls[0] (image/jpeg) is 6.0 MB (6291456 bytes), over Twilio's limit of 5.0 MB (5242880 bytes) for images"},
			{[]string{"/ok.jpg"}, ""},
			{[]string{"/edge.png", "/small.pdf"}, ""},
			{[]string{"/ok.jpg", "/doc.pdf"}, "media_urls[1] (application/pdf) is 600 KB (614400 bytes), over Twilio's limit of 500 KB (512000 bytes) for non-image media"},
		} {
			urls := make([]string, len(tc.paths))
			for i, p := range tc.paths {
				urls[i] = s.URL + p
			}
			v := c.Check(ctx, urls)
			if tc.block == "" {
				want := "media size checked: " + strconv.Itoa(len(urls)) + " of " + strconv.Itoa(len(urls)) + " within Twilio's limits"
				if v.Block != "" || v.Note != want {
					t.Errorf("noHead %v %v: %+v, want not blocked, note %q", noHead, tc.paths, v, want)
				}
			} else if !strings.Contains(v.Block, tc.block) {
				t.Errorf("noHead %v %v: block %q, want %q", noHead, tc.paths, v.Block, tc.block)
			}
		}
	}
}

// TestLimitCheckUnreachable: a URL that cannot be reached, answers an error or does not say
// its size is not held against the message; the timeline says it was not checked.
func TestLimitCheckUnreachable(t *testing.T) {
	t.Parallel()
	s := fileServer(t, false, sizes)
	noSize := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Transfer-Encoding", "chunked")
	}))
	t.Cleanup(noSize.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/gone.jpg"
	ln.Close()
	c := media.NewLimitChecker(media.LimitConfig{AllowPrivate: true})
	v := c.Check(context.Background(), []string{closed, s.URL + "/missing.jpg", noSize.URL + "/x.jpg", s.URL + "/ok.jpg"})
	if v.Block != "" {
		t.Fatalf("blocked: %s", v.Block)
	}
	for _, part := range []string{"1 of 4 within", "media_urls[0] not reachable (dial tcp", "media_urls[1] not reachable (HTTP 404)",
		"media_urls[2] did not give its size and type", "checked only when reachable"} {
		if !strings.Contains(v.Note, part) {
			t.Errorf("note %q does not say %q", v.Note, part)
		}
	}
}

// TestLimitCheckRefusesPrivate: unless private targets are allowed, a loopback URL is never
// contacted (as event endpoints); the message is not blocked for it.
func TestLimitCheckRefusesPrivate(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(s.Close)
	v := media.NewLimitChecker(media.LimitConfig{}).Check(context.Background(), []string{s.URL + "/big.jpg"})
	t.Log(v.Note)
	if v.Block != "" || hits.Load() != 0 || !strings.Contains(v.Note, "media_urls[0] not reachable") || !strings.Contains(v.Note, "loopback") {
		t.Fatalf("verdict %+v after %d requests", v, hits.Load())
	}
}
