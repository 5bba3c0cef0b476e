package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// inCI reports whether the tests run in CI, where the drills must never be skipped.
func inCI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

// cannotDrill skips the test outside CI and fails it in CI.
func cannotDrill(t *testing.T, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("drill cannot run in CI: "+format, args...)
	}
	t.Skipf("drill skipped (it runs in CI): "+format, args...)
}

// probe is one HTTP answer of a drill: its status, Retry-After and problem code.
type probe struct {
	status     int
	retryAfter string
	code       string
	id         string
}

func (p probe) String() string {
	return fmt.Sprintf("%d code=%q retry-after=%q", p.status, p.code, p.retryAfter)
}

// call makes one request to a node and reads what a drill looks at.
func call(t *testing.T, method, url, key, body string) probe {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Code string `json:"code"`
		ID   string `json:"id"`
	}
	_ = json.Unmarshal(raw, &out)
	return probe{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), code: out.Code, id: out.ID}
}

// assertUnavailable checks that p is the honest answer of a store that is out: 503, a
// Retry-After and the stable code.
func assertUnavailable(t *testing.T, what string, p probe, code string) {
	t.Helper()
	if p.status != http.StatusServiceUnavailable || p.code != code {
		t.Fatalf("%s: %s, want 503 %s", what, p, code)
	}
	if n, err := strconv.Atoi(p.retryAfter); err != nil || n <= 0 {
		t.Fatalf("%s: Retry-After %q, want a number of seconds", what, p.retryAfter)
	}
}

// TestDrillDiskFull fills the file system of a node's SQLite database (a small tmpfs the test
// mounts): writes answer 503 disk_full with Retry-After, /readyz goes red; space is freed and
// /readyz goes green, writes are accepted again, and every message accepted before and after is
// there.
func TestDrillDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		cannotDrill(t, "mounting a tmpfs needs root")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt).CombinedOutput(); err != nil {
		cannotDrill(t, "mount tmpfs: %v: %s", err, out)
	}
	// A status callback answered 503 while the disk is full is not retried by Twilio (nor by the
	// simulator): the status poll recovers it, here after 2 s.
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_DATABASE_URL": "sqlite:" + filepath.Join(mnt, "sb.db"),
		"SWITCHBOARD_STATUS_POLL_AFTER": "2s"}})
	// Registered after startNode's, so it runs first: unmount once the node has stopped.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	if m := scrape(t, n); !strings.Contains(m, "switchboard_data_dir_free_bytes ") {
		t.Fatal("no switchboard_data_dir_free_bytes metric")
	}
	var accepted []string
	send := func(i int) probe {
		p := call(t, http.MethodPost, n.URL()+"/v1/messages", n.secret, fmt.Sprintf(`{"to":"+14155550123","body":"disk drill %d %s"}`, i, strings.Repeat("x", 400)))
		if p.status == http.StatusAccepted {
			accepted = append(accepted, p.id)
		}
		return p
	}
	for i := range 5 {
		if p := send(i); p.status != http.StatusAccepted {
			t.Fatalf("before the disk fills: %s", p)
		}
	}
	if p := call(t, http.MethodGet, n.URL()+"/readyz", "", ""); p.status != http.StatusOK {
		t.Fatalf("readyz before the disk fills: %s", p)
	}

	// Fill the file system.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	// Writes fail honestly. Some may still fit in space SQLite had already (its WAL); keep
	// writing until the disk refuses.
	var refused probe
	for i := 5; i < 5000 && refused.status == 0; i++ {
		switch p := send(i); p.status {
		case http.StatusAccepted:
		default:
			refused = p
		}
	}
	assertUnavailable(t, "a write on a full disk", refused, switchboard.CodeDiskFull)
	waitFor(t, 20*time.Second, "readyz red on a full disk", func() bool {
		return call(t, http.MethodGet, n.URL()+"/readyz", "", "").status == http.StatusServiceUnavailable
	})
	assertUnavailable(t, "readyz on a full disk", call(t, http.MethodGet, n.URL()+"/readyz", "", ""), switchboard.CodeDiskFull)

	// Free the space: readiness and writes come back by themselves.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "readyz green once space is freed", func() bool {
		return call(t, http.MethodGet, n.URL()+"/readyz", "", "").status == http.StatusOK
	})
	for i := 10000; i < 10005; i++ {
		if p := send(i); p.status != http.StatusAccepted {
			t.Fatalf("after space is freed: %s", p)
		}
	}
	// Nothing accepted is lost.
	for _, id := range accepted {
		if _, err := n.client.Get(context.Background(), id); err != nil {
			t.Fatalf("accepted message %s: %v", id, err)
		}
	}
	t.Logf("disk-full drill: %d messages accepted, first refusal %s", len(accepted), refused)
}

// pgServer is a PostgreSQL server the test runs itself in a temporary directory.
type pgServer struct {
	bin, dir, port string
	asPostgres     bool
}

// startPostgres initialises and starts a throwaway PostgreSQL server on a free loopback port
// (as the postgres user when the test runs as root: PostgreSQL refuses to run as root).
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		cannotDrill(t, "no initdb under /usr/lib/postgresql/*/bin")
	}
	s := &pgServer{bin: filepath.Dir(bins[len(bins)-1]), dir: t.TempDir(), asPostgres: os.Geteuid() == 0}
	if s.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			cannotDrill(t, "running as root and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The temporary directory's parents must let postgres through.
		for d := s.dir; d != "/" && d != "."; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
				_ = os.Chmod(d, st.Mode().Perm()|0o001)
			}
		}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	s.run(t, "initdb", "-D", filepath.Join(s.dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	s.start(t)
	t.Cleanup(func() { s.ctl("stop", "-m", "immediate") })
	return s
}

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.asPostgres {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (s *pgServer) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := s.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", name, err, out)
	}
}

func (s *pgServer) ctl(args ...string) ([]byte, error) {
	args = append([]string{"-D", filepath.Join(s.dir, "data"), "-w", "-t", "30"}, args...)
	return s.command("pg_ctl", args...).CombinedOutput()
}

func (s *pgServer) start(t *testing.T) {
	t.Helper()
	out, err := s.ctl("start", "-l", filepath.Join(s.dir, "log"),
		"-o", "-p "+s.port+" -k "+s.dir+" -c listen_addresses=127.0.0.1 -c fsync=off")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		t.Fatalf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
}

func (s *pgServer) stop(t *testing.T) {
	t.Helper()
	if out, err := s.ctl("stop", "-m", "fast"); err != nil {
		t.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
}

func (s *pgServer) url() string {
	return "postgres://postgres@127.0.0.1:" + s.port + "/postgres?sslmode=disable"
}

// TestDrillDatabaseOutage stops the node's PostgreSQL (a server the test runs itself) under
// traffic: writes answer 503 store_unavailable with Retry-After and /readyz goes red; the
// database comes back and so do readiness and writes, without a restart; every message accepted
// before, during and after is delivered exactly once.
func TestDrillDatabaseOutage(t *testing.T) {
	t.Parallel()
	pg := startPostgres(t)
	// A status callback answered 503 during the outage is not retried by Twilio (nor by the
	// simulator): the status poll recovers it, here after 2 s.
	n := startNode(t, nodeOpts{env: map[string]string{"SWITCHBOARD_DATABASE_URL": pg.url(), "SWITCHBOARD_DB_MAX_CONNS": "4",
		"SWITCHBOARD_STATUS_POLL_AFTER": "2s"}})
	var accepted []string
	send := func(i int) probe {
		p := call(t, http.MethodPost, n.URL()+"/v1/messages", n.secret, fmt.Sprintf(`{"to":"+14155550123","body":"outage drill %d"}`, i))
		if p.status == http.StatusAccepted {
			accepted = append(accepted, p.id)
		}
		return p
	}
	for i := range 10 {
		if p := send(i); p.status != http.StatusAccepted {
			t.Fatalf("before the outage: %s", p)
		}
	}
	pg.stop(t)
	assertUnavailable(t, "a write with the database down", send(100), switchboard.CodeStoreUnavailable)
	assertUnavailable(t, "readyz with the database down", call(t, http.MethodGet, n.URL()+"/readyz", "", ""), switchboard.CodeStoreUnavailable)

	pg.start(t)
	waitFor(t, 30*time.Second, "readyz green once the database is back", func() bool {
		return call(t, http.MethodGet, n.URL()+"/readyz", "", "").status == http.StatusOK
	})
	for i := 200; i < 210; i++ {
		if p := send(i); p.status != http.StatusAccepted {
			t.Fatalf("after the outage: %s", p)
		}
	}
	ctx := context.Background()
	waitFor(t, 60*time.Second, "every accepted message delivered", func() bool {
		page, err := n.client.List(ctx, client.ListOptions{Statuses: []switchboard.Status{switchboard.StatusDelivered}, Limit: 100})
		return err == nil && len(page.Messages) == len(accepted)
	})
	bodies := map[string]int{}
	for _, m := range n.simMessages(t) {
		bodies[m.Body]++
		if bodies[m.Body] > 1 {
			t.Fatalf("%q reached the provider twice", m.Body)
		}
	}
	if len(bodies) != len(accepted) {
		t.Fatalf("%d messages at the provider for %d accepted", len(bodies), len(accepted))
	}
}
