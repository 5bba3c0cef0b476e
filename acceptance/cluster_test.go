package acceptance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresURL gives the test a schema of its own on the server of SWITCHBOARD_TEST_POSTGRES_URL
// (dropped at the end) and returns a database URL whose connections use it, as an operator
// would set up a fresh installation. Without the variable the test skips, except in CI.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SWITCHBOARD_TEST_POSTGRES_URL")
	if base == "" {
		if inCI() {
			t.Fatal("SWITCHBOARD_TEST_POSTGRES_URL is not set; CI must run the journeys on PostgreSQL")
		}
		t.Skip("SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the journey on PostgreSQL")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "sbjourney_" + hex.EncodeToString(b[:])
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at SWITCHBOARD_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+schema)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// TestClusterFieldServiceDay is the field-service day on two serve nodes sharing PostgreSQL
// behind a load balancer (which is also their public URL, for Twilio's callbacks); the second
// node is SIGKILLed in the middle and not restarted: the first finishes its work.
func TestClusterFieldServiceDay(t *testing.T) {
	t.Parallel()
	db := postgresURL(t)
	s := newStack(t, stackOptions{yaml: fieldServiceYAML, templates: true, nodes: 2, database: db,
		env: map[string]string{"SWITCHBOARD_DB_MAX_CONNS": "6", "SWITCHBOARD_STATUS_POLL_AFTER": "3s"}})
	// Twilio answers slowly, so that the kill lands while the node has calls in flight and
	// messages leased: the survivor must take them over and ask Twilio before sending again.
	if code, body := s.simPost("/sim/v1/faults", map[string]any{"latency_ms": 150}); code != 200 {
		t.Fatalf("simulator faults: %d %s", code, body)
	}
	fieldServiceDay(t, s, 1)
	// Both nodes did the work before the kill: the survivor's keys list reads the shared database.
	if out := s.cli("keys", "list"); !strings.Contains(out, "journey") {
		t.Errorf("keys list next to the cluster:\n%s", out)
	}
}
