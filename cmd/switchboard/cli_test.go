package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/node"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/testkit"
)

// sb runs one command line in-process as main does and returns stdout, stderr and the exit code.
func sb(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), code
}

// startNode boots a node in-process with the example templates and returns a client env for it.
func startNode(t *testing.T) (map[string]string, *node.Node) {
	t.Helper()
	n := testkit.StartNode(t, testkit.NodeConfig{KeyName: "cli",
		Env: map[string]string{"SWITCHBOARD_TEMPLATES_DIR": filepath.Join("..", "..", "examples", "templates")}})
	return n.CLIEnv, n.Node
}

// oneTimeFormat matches what fmtTime prints; otherTime anything else that looks like a time.
var (
	oneTimeFormat = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\b`)
	// otherTime: a time of day not inside an RFC 3339 time (the server's own texts may say
	// 2026-01-02T15:04:05Z).
	otherTime = regexp.MustCompile(`(^|[^T\d])\d\d:\d\d:\d\d`)
)

// checkTimes fails when out prints an instant in another format than RFC 3339 UTC to the ms.
func checkTimes(t *testing.T, what, out string) {
	t.Helper()
	rest := oneTimeFormat.ReplaceAllString(out, "TIME")
	if !strings.Contains(rest, "TIME") {
		t.Errorf("%s prints no time:\n%s", what, out)
	}
	if m := otherTime.FindString(rest); m != "" {
		t.Errorf("%s prints a time in another format (%q):\n%s", what, m, out)
	}
}

// TestSendTemplateAndShowIt sends a catalog template with variables, a locale, a channel, a
// relative --send-at, metadata and an idempotency key; messages get shows the body, channel
// and template; consent get shows the current state. Every time printed has one format.
func TestSendTemplateAndShowIt(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t)
	args := []string{"send", "--to", "+14155550100", "--template", "job_assigned", "--locale", "es", "--channel", "sms",
		"--var", "job_id=J-1", "--var", "service=Caldera", "--var", "address=Calle Olmo 12, Monterrey", "--var", "date=2026-03-05",
		"--var", "time=14:30", "--var", "link=https://app.example.com/jobs/J-1",
		"--send-at", "2h", "--metadata", "job=J-1", "--metadata", "query=status=failed, to=+1415", "--json"}
	out, errOut, code := sb(t, env, args...)
	if code != 0 {
		t.Fatalf("send: exit %d: %s", code, errOut)
	}
	var m switchboard.Message
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.Template != "job_assigned" || !strings.HasPrefix(m.Body, "Nuevo trabajo J-1") || m.Channel != switchboard.ChannelSMS ||
		m.Metadata["job"] != "J-1" || m.Metadata["query"] != "status=failed, to=+1415" || len(m.Metadata) != 2 || m.Status != switchboard.StatusScheduled || m.SendAt == nil ||
		m.SendAt.Before(time.Now().Add(110*time.Minute)) || m.SendAt.After(time.Now().Add(2*time.Hour)) {
		t.Fatalf("sent %+v", m)
	}
	// The idempotency key is sent: the same command answers the same message. (A relative
	// --send-at is a different request each time: a repeat needs an absolute time.)
	again := []string{"send", "--to", "+14155550100", "--body", "hi", "--send-at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"--idempotency-key", "job-J-1-reminder", "--json"}
	var ids []string
	for range 2 {
		out, errOut, _ := sb(t, env, again...)
		var m2 switchboard.Message
		if err := json.Unmarshal([]byte(out), &m2); err != nil {
			t.Fatalf("%v: %s", err, errOut)
		}
		ids = append(ids, m2.ID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("the same --idempotency-key made %v", ids)
	}

	out, errOut, code = sb(t, env, "messages", "get", m.ID)
	if code != 0 {
		t.Fatalf("messages get: exit %d: %s", code, errOut)
	}
	for _, want := range []string{`Channel +sms\n`, `Template +job_assigned v1\n`, `Body +Nuevo trabajo J-1: Caldera en Calle Olmo 12, Monterrey`, `Metadata +job=J-1, query=status=failed, to=\+1415\n`, `Send at +\S+\n`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("messages get lacks %q:\n%s", want, out)
		}
	}
	checkTimes(t, "messages get", out)
	out, _, _ = sb(t, env, "messages", "list", "--since", "1h")
	if !strings.Contains(out, m.ID) {
		t.Errorf("messages list --since 1h lacks %s:\n%s", m.ID, out)
	}
	checkTimes(t, "messages list", out)
	if out, _, _ = sb(t, env, "messages", "list", "--until", "1h"); strings.Contains(out, m.ID) {
		t.Errorf("messages list --until 1h (an hour ago) lists %s, created now:\n%s", m.ID, out)
	}

	out, errOut, code = sb(t, env, "consent", "set", "+14155550120", "--state", "opted_out", "--scope", "*", "--json")
	var rec switchboard.ConsentRecord
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.State != switchboard.ConsentOptedOut {
		t.Fatalf("consent set --json: exit %d %q %s", code, out, errOut)
	}
	out, _, _ = sb(t, env, "consent", "get", "+14155550120")
	if !regexp.MustCompile(`Current:\nSCOPE +STATE +SINCE +SOURCE\n\* +opted_out +\S+ +api`).MatchString(out) {
		t.Errorf("consent get does not show the current state:\n%s", out)
	}
	checkTimes(t, "consent get", out)
	out, _, _ = sb(t, env, "consent", "get", "+14155550199")
	if !strings.Contains(out, "none recorded") {
		t.Errorf("consent get of an unknown number:\n%s", out)
	}
}

// TestSendRefusesBadCommandLines: what send needs is checked before any request.
func TestSendRefusesBadCommandLines(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SWITCHBOARD_URL": "http://127.0.0.1:1", "SWITCHBOARD_API_KEY": "k"}
	for _, args := range [][]string{
		{"send", "--body", "hi"},
		{"send", "--to", "+14155550100"},
		{"send", "--to", "+14155550100", "--body", "x", "--template", "t"},
		{"send", "--to", "+14155550100", "--body", "x", "--var", "a=b"},
		{"send", "--to", "+14155550100", "--body", "x", "--send-at", "tomorrow"},
		{"messages", "list", "--since", "yesterday"},
	} {
		_, errOut, code := sb(t, env, args...)
		if code != exitUsage || strings.Contains(errOut, "cannot reach") {
			t.Errorf("%v: exit %d, want %d before any request: %s", args, code, exitUsage, errOut)
		}
	}
}

// fakeAPI answers each path with a fixed status and problem document, and records requests.
func fakeAPI(t *testing.T) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r)
		status := map[string]int{
			"/v1/messages/msg_missing": 404, "/v1/messages/msg_conflict/cancel": 409, "/v1/messages/msg_bad": 400,
			"/v1/messages/msg_unauth": 401, "/v1/messages/msg_boom": 500, "/v1/messages/msg_down": 503, "/v1/messages/msg_limited": 429,
		}[r.URL.Path]
		if status == 0 {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(switchboard.Message{ID: strings.TrimPrefix(r.URL.Path, "/v1/messages/"), Status: switchboard.StatusQueued})
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:switchboard:error:x", "title": http.StatusText(status), "status": status,
			"detail": "what went wrong", "code": "code_" + http.StatusText(status)[:3]})
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// TestExitCodesAndJSONErrors: each kind of failure has its exit code, one "switchboard:"
// prefix in text, and a problem document with --json.
func TestExitCodesAndJSONErrors(t *testing.T) {
	t.Parallel()
	srv, _ := fakeAPI(t)
	env := map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_API_KEY": "k"}
	cases := []struct {
		args []string
		code int
		json string // the problem's code
	}{
		{[]string{"messages", "get", "msg_ok"}, exitOK, ""},
		{[]string{"messages", "get", "msg_missing"}, exitNotFound, "code_Not"},
		{[]string{"messages", "cancel", "msg_conflict"}, exitRefused, "code_Con"},
		{[]string{"messages", "get", "msg_limited"}, exitRefused, "code_Too"},
		{[]string{"messages", "get", "msg_bad"}, exitUsage, "code_Bad"},
		{[]string{"messages", "get", "msg_unauth"}, exitUnauthorized, "code_Una"},
		{[]string{"messages", "get", "msg_boom"}, exitFailure, "code_Int"},
		{[]string{"messages", "get", "msg_down"}, exitUnreachable, "code_Ser"},
		{[]string{"messages", "get"}, exitUsage, "usage"},
		{[]string{"messages", "get", "x", "--frobnicate"}, exitUsage, "usage"},
		{[]string{"messages", "frobnicate"}, exitUsage, "usage"},
		{[]string{"frobnicate"}, exitUsage, "usage"},
		{[]string{"messages", "get", "x", "--url", "http://127.0.0.1:1"}, exitUnreachable, "server_unreachable"},
	}
	for _, c := range cases {
		_, errOut, code := sb(t, env, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, errOut)
		}
		if code == 0 {
			continue
		}
		if !strings.HasPrefix(errOut, "switchboard: ") || strings.Count(errOut, "switchboard: ") != 1 {
			t.Errorf("%v: want one 'switchboard: ' prefix: %q", c.args, errOut)
		}
		_, errOut, code = sb(t, env, append(c.args, "--json")...)
		var p problem
		if err := json.Unmarshal([]byte(errOut), &p); err != nil {
			t.Errorf("%v --json: the error is not JSON: %v\n%s", c.args, err, errOut)
			continue
		}
		if p.Code != c.json || p.ExitCode != code || code != c.code || p.Detail == "" || p.Type == "" || p.Title == "" {
			t.Errorf("%v --json: problem %+v, exit %d, want code %s exit %d", c.args, p, code, c.json, c.code)
		}
	}
}

// TestClientURLFromAddr: with SWITCHBOARD_URL unset, client commands reach the address serve
// listens on (SWITCHBOARD_ADDR, or addr in the config file, 0.0.0.0 meaning loopback), and an
// unreachable server is named with its URL and what to do.
func TestClientURLFromAddr(t *testing.T) {
	t.Parallel()
	srv, seen := fakeAPI(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	if _, errOut, code := sb(t, map[string]string{"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_API_KEY": "k"}, "messages", "get", "msg_1"); code != 0 {
		t.Fatalf("SWITCHBOARD_ADDR=%s: exit %d: %s", addr, code, errOut)
	}
	cfgFile := filepath.Join(t.TempDir(), "switchboard.yaml")
	_, port, _ := strings.Cut(addr, ":")
	if err := os.WriteFile(cfgFile, []byte("addr: 0.0.0.0:"+port+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := sb(t, map[string]string{"SWITCHBOARD_CONFIG": cfgFile, "SWITCHBOARD_API_KEY": "k"}, "messages", "get", "msg_2"); code != 0 {
		t.Fatalf("addr from the config file: exit %d: %s", code, errOut)
	}
	if len(*seen) != 2 {
		t.Fatalf("the server saw %d requests, want 2", len(*seen))
	}
	// SWITCHBOARD_URL wins over the address.
	_, errOut, code := sb(t, map[string]string{"SWITCHBOARD_ADDR": addr, "SWITCHBOARD_URL": "http://127.0.0.1:1", "SWITCHBOARD_API_KEY": "k"}, "messages", "get", "msg_3")
	if code != exitUnreachable {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"http://127.0.0.1:1", "connection refused", "SWITCHBOARD_URL", "switchboard serve"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("unreachable error lacks %q: %s", want, errOut)
		}
	}
	// top reads the same address, and says the same when nothing answers.
	_, errOut, code = sb(t, map[string]string{"SWITCHBOARD_ADDR": "127.0.0.1:1"}, "top", "--once", "--interval", "10ms")
	if code != exitUnreachable || !strings.Contains(errOut, "http://127.0.0.1:1/metrics") || !strings.Contains(errOut, "SWITCHBOARD_ADDR") {
		t.Errorf("top: exit %d: %s", code, errOut)
	}
}

// TestDevKeyFromConfiguredDataDir: the development key is read from the data_dir serve uses.
func TestDevKeyFromConfiguredDataDir(t *testing.T) {
	t.Parallel()
	srv, seen := fakeAPI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, node.DevKeyFile), []byte("sb_devkey\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := sb(t, map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_CONFIG": cfgFile}, "messages", "get", "msg_1"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := (*seen)[0].Header.Get("Authorization"); got != "Bearer sb_devkey" {
		t.Fatalf("Authorization %q", got)
	}
	_, errOut, code := sb(t, map[string]string{"SWITCHBOARD_URL": srv.URL, "SWITCHBOARD_DATA_DIR": t.TempDir()}, "messages", "get", "msg_1")
	if code != exitUnauthorized || !strings.Contains(errOut, "SWITCHBOARD_API_KEY") || !strings.Contains(errOut, "dev-api-key") {
		t.Fatalf("no key: exit %d: %s", code, errOut)
	}
}

// TestDatabaseCommandsRefuseToCreate: keys and export run where there is no database refuse,
// create nothing, and say what they looked for and how to point them at the server's; with the
// server's config file they find its database from anywhere.
func TestDatabaseCommandsRefuseToCreate(t *testing.T) {
	t.Parallel()
	elsewhere := t.TempDir()
	for _, args := range [][]string{{"keys", "create", "--name", "x"}, {"keys", "list"}, {"keys", "revoke", "key_x"}, {"export", "messages"}} {
		cmd := runBin(t, elsewhere, nil, args...)
		if cmd.code != exitNotFound {
			t.Errorf("%v: exit %d, want %d: %s", args, cmd.code, exitNotFound, cmd.stderr)
		}
		for _, want := range []string{filepath.Join(elsewhere, "data", "switchboard.db"), "--database-url", "SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_CONFIG", "does not create"} {
			if !strings.Contains(cmd.stderr, want) {
				t.Errorf("%v: error lacks %q: %s", args, want, cmd.stderr)
			}
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("created %v", entries)
	}

	// The server's directory, with its database made by migrate and a config file naming it.
	server := t.TempDir()
	cfgFile := filepath.Join(server, "switchboard.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(server, "data")+"\nprovider: twilio\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SWITCHBOARD_CONFIG": cfgFile} // no Twilio credentials: keys does not need them
	if r := runBin(t, elsewhere, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %d %s", r.code, r.stderr)
	}
	r := runBin(t, elsewhere, env, "keys", "create", "--name", "billing", "--json")
	var created struct{ ID, Name, Secret string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil || !strings.HasPrefix(created.Secret, "sb_") || created.Name != "billing" {
		t.Fatalf("keys create --json: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if l := runBin(t, t.TempDir(), env, "keys", "list"); !strings.Contains(l.stdout, "billing") {
		t.Fatalf("keys list with the config file from another directory: %d %s %s", l.code, l.stdout, l.stderr)
	}
	if l := runBin(t, t.TempDir(), map[string]string{"SWITCHBOARD_DATABASE_URL": "sqlite:" + filepath.Join(server, "data", "switchboard.db")}, "keys", "list"); !strings.Contains(l.stdout, "billing") {
		t.Fatalf("keys list with SWITCHBOARD_DATABASE_URL: %d %s %s", l.code, l.stdout, l.stderr)
	}
	if l := runBin(t, t.TempDir(), nil, "export", "consent", "--database-url", "sqlite:"+filepath.Join(server, "data", "switchboard.db"), "--since", "24h"); l.code != 0 {
		t.Fatalf("export --database-url: %d %s", l.code, l.stderr)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("created %v", entries)
	}
}

// TestCommandsShowOnlyTheirFlags: keys, export and migrate do not print serve's ~95 flags, and
// no flag takes a secret.
func TestCommandsShowOnlyTheirFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"keys", "create"}, {"keys", "list"}, {"keys", "revoke"}, {"export"}, {"migrate"}} {
		out, _, code := sb(t, nil, append(args, "--help")...)
		if code != 0 {
			t.Fatalf("%v --help: exit %d", args, code)
		}
		if n := strings.Count(out, "\n      --") + strings.Count(out, "\n  -"); n > 8 {
			t.Errorf("%v --help shows %d flags:\n%s", args, n, out)
		}
		for _, serveOnly := range []string{"--lease", "--provider", "--twilio", "--dashboard"} {
			if strings.Contains(out, serveOnly) {
				t.Errorf("%v --help shows %s", args, serveOnly)
			}
		}
	}
	out, _, _ := sb(t, nil, "serve", "--help")
	for _, want := range []string{"--lease duration", "(default 30s)", "--concurrency int", "--twilio-auth-token-file string"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	if _, errOut, code := sb(t, nil, "serve", "--twilio-auth-token", "secret"); code != exitUsage {
		t.Errorf("serve --twilio-auth-token: exit %d, want %d: %s", code, exitUsage, errOut)
	}
	if _, errOut, code := sb(t, map[string]string{"SWITCHBOARD_PROVIDER": "nexmo"}, "serve"); code != exitUsage || !strings.Contains(errOut, "SWITCHBOARD_PROVIDER") {
		t.Errorf("serve with a bad setting: exit %d, want %d: %s", code, exitUsage, errOut)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the built binary in dir with env (and PATH, HOME) and returns what it printed.
func runBin(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	cmd := command(dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
		if code < 0 {
			t.Fatalf("%v: %v", args, err)
		}
	}
	return result{stdout.String(), stderr.String(), code}
}

func TestParseWhen(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in     string
		future bool
		want   time.Time
	}{
		{"1h", false, now.Add(-time.Hour)},
		{"90m", false, now.Add(-90 * time.Minute)},
		{"7d", false, now.Add(-7 * 24 * time.Hour)},
		{"2h", true, now.Add(2 * time.Hour)},
		{"+2h", true, now.Add(2 * time.Hour)},
		{"2026-01-02T15:04:05Z", false, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2026-01-02", false, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		got, err := parseWhen(c.in, now, c.future)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q, %v) = %v, %v; want %v", c.in, c.future, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "1x", "d", "-d", "1.5d", "2026-13-01"} {
		if _, err := parseWhen(bad, now, false); err == nil {
			t.Errorf("parseWhen(%q) accepted", bad)
		}
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"1h", "7d", "+2h", "2026-01-02T15:04:05Z", "2026-01-02", "", "9999999999d", "-1h"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) {
		a, errA := parseWhen(s, now, false)
		b, errB := parseWhen(s, now, true)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%q: past %v, future %v", s, errA, errB)
		}
		if errA == nil && a.After(b) && !strings.Contains(s, "T") && strings.Count(s, "-") < 2 {
			t.Fatalf("%q: %v ago is after %v from now", s, a, b)
		}
	})
}

// TestKeysRefuseEmptyPostgres: next to a PostgreSQL database without Switchboard's schema, keys
// refuses instead of creating the schema and a key no server knows.
func TestKeysRefuseEmptyPostgres(t *testing.T) {
	t.Parallel()
	pgURL, _ := pgtest.URL(t)
	env := map[string]string{"SWITCHBOARD_DATABASE_URL": pgURL}
	for _, args := range [][]string{{"keys", "list"}, {"keys", "create", "--name", "x"}} {
		r := runBin(t, t.TempDir(), env, args...)
		if r.code != exitNotFound || !strings.Contains(r.stderr, "no Switchboard schema") || !strings.Contains(r.stderr, "SWITCHBOARD_DATABASE_URL") {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	conn, err := pgx.Connect(t.Context(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var reg *string
	if err := conn.QueryRow(t.Context(), "SELECT to_regclass('api_keys')::text").Scan(&reg); err != nil || reg != nil {
		t.Fatalf("api_keys after the refusals: %v %v", reg, err)
	}
}
