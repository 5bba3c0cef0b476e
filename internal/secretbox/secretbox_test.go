package secretbox_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/postgres/pgtest"
	"github.com/switchboard-gw/switchboard/internal/secretbox"
	"github.com/switchboard-gw/switchboard/internal/sqlite"
)

func key(t testing.TB, id string) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b[:])
}

func keyring(t testing.TB, spec string) *secretbox.Keyring {
	t.Helper()
	k, err := secretbox.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t, "k1"), key(t, "k-2")
	if k, err := secretbox.ParseKeyring(""); k != nil || err != nil {
		t.Fatalf("empty: %v %v", k, err)
	}
	k := keyring(t, k2+",\n "+k1)
	if k.Current() != "k-2" {
		t.Fatalf("current %q", k.Current())
	}
	for _, bad := range []string{"nokey", "k1:", "k1:" + base64.StdEncoding.EncodeToString(make([]byte, 16)), "bad id:" + strings.SplitN(k1, ":", 2)[1],
		k1 + "," + k1, ":" + strings.SplitN(k1, ":", 2)[1]} {
		if _, err := secretbox.ParseKeyring(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestSealOpen: values round-trip, name their key, are bound to their row, and refuse to open
// when tampered, moved or sealed with a key that is not listed; rotation keeps old values
// readable and marks them stale.
func TestSealOpen(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t, "k1"), key(t, "k2")
	old := keyring(t, k1)
	sealed, err := old.Seal("whsec_plain", "row1")
	if err != nil || !strings.HasPrefix(sealed, "sbenc:v1:k1:") || strings.Contains(sealed, "whsec_plain") {
		t.Fatalf("sealed %q %v", sealed, err)
	}
	again, _ := old.Seal("whsec_plain", "row1")
	if again == sealed {
		t.Fatal("two seals of one value are equal (nonce reuse)")
	}
	if v, stale, err := old.Open(sealed, "row1"); v != "whsec_plain" || stale || err != nil {
		t.Fatalf("open: %q %v %v", v, stale, err)
	}
	if _, _, err := old.Open(sealed, "row2"); err == nil {
		t.Fatal("a value moved to another row opened")
	}
	tampered := sealed[:len(sealed)-3] + "AAA"
	if _, _, err := old.Open(tampered, "row1"); err == nil {
		t.Fatal("a tampered value opened")
	}
	if _, _, err := old.Open("sbenc:v1:k1", "row1"); err == nil {
		t.Fatal("a malformed value opened")
	}
	// Rotation: k2 current, k1 still listed.
	rotated := keyring(t, k2+","+k1)
	if v, stale, err := rotated.Open(sealed, "row1"); v != "whsec_plain" || !stale || err != nil {
		t.Fatalf("old key after rotation: %q %v %v", v, stale, err)
	}
	if _, _, err := keyring(t, k2).Open(sealed, "row1"); !errors.Is(err, secretbox.ErrNoKey) {
		t.Fatalf("removed key: %v", err)
	}
	var none *secretbox.Keyring
	if _, _, err := none.Open(sealed, "row1"); !errors.Is(err, secretbox.ErrNoKey) {
		t.Fatalf("no keyring: %v", err)
	}
	// Plaintext written before a key existed stays readable and is stale once a key is set.
	if v, stale, err := rotated.Open("whsec_legacy", "row1"); v != "whsec_legacy" || !stale || err != nil {
		t.Fatalf("plaintext: %q %v %v", v, stale, err)
	}
	if v, stale, err := none.Open("whsec_legacy", "row1"); v != "whsec_legacy" || stale || err != nil {
		t.Fatalf("plaintext without keys: %q %v %v", v, stale, err)
	}
	if v, _ := none.Seal("whsec_x", "row1"); v != "whsec_x" {
		t.Fatalf("no keyring sealed: %q", v)
	}
}

// FuzzOpen: opening any stored string never panics, and only a value sealed with the key opens
// to something other than itself.
func FuzzOpen(f *testing.F) {
	k := keyring(f, key(f, "k1"))
	s, _ := k.Seal("whsec_x", "row")
	f.Add(s, "row")
	f.Add("sbenc:v1:k1:", "row")
	f.Add("sbenc:v1:", "")
	f.Add("sbenc:v1:k9:AAAA", "row")
	f.Add("whsec_plain", "row")
	f.Fuzz(func(t *testing.T, stored, aad string) {
		v, _, err := k.Open(stored, aad)
		if err == nil && !secretbox.Sealed(stored) && v != stored {
			t.Fatalf("plaintext changed: %q -> %q", stored, v)
		}
	})
}

// stores returns a fresh SQLite store and, when the test server is set, a PostgreSQL one.
func stores(t *testing.T) map[string]switchboard.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	out := map[string]switchboard.Store{"sqlite": db}
	if os.Getenv(pgtest.URLEnv) != "" || os.Getenv("CI") != "" {
		out["postgres"] = pgtest.NewDB(t) // fails in CI without the server, as the store suite does
	}
	return out
}

// TestSecretsAtRest: on both engines, endpoint secrets are stored sealed (the raw row never holds
// the plaintext), callers see plaintext; plaintext rows written before the key keep working and
// are sealed by Reseal; after a rotation Reseal moves every value to the new key, and the old
// key can then be dropped; a node without the key cannot open them (and says so).
func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	k1, k2 := key(t, "k1"), key(t, "k2")
	for name, raw := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			// Before any key: plaintext, and Reseal only counts.
			plain := secretbox.Wrap(raw, nil)
			legacy := &switchboard.Endpoint{ID: "ep_legacy", URL: "https://a.example/h", EventTypes: []string{"*"},
				Secrets: []switchboard.EndpointSecret{{Secret: "whsec_legacysecret"}}, Source: switchboard.EndpointFromAPI, CreatedAt: now, UpdatedAt: now}
			if err := plain.CreateEndpoint(ctx, legacy); err != nil {
				t.Fatal(err)
			}
			if r, err := plain.Reseal(ctx); err != nil || r.Plaintext != 1 || r.Resealed != 0 {
				t.Fatalf("reseal without keys: %+v %v", r, err)
			}
			// The key appears.
			box := secretbox.Wrap(raw, keyring(t, k1))
			if e, err := box.GetEndpoint(ctx, "ep_legacy"); err != nil || e.Secrets[0].Secret != "whsec_legacysecret" {
				t.Fatalf("legacy plaintext through the box: %+v %v", e, err)
			}
			fresh := &switchboard.Endpoint{ID: "ep_new", URL: "https://b.example/h", EventTypes: []string{"*"},
				Secrets: []switchboard.EndpointSecret{{Secret: "whsec_newsecret"}}, Source: switchboard.EndpointFromAPI, CreatedAt: now, UpdatedAt: now}
			if err := box.CreateEndpoint(ctx, fresh); err != nil || fresh.Secrets[0].Secret != "whsec_newsecret" {
				t.Fatalf("create: %v %+v", err, fresh.Secrets)
			}
			if r, err := box.Reseal(ctx); err != nil || r.Resealed != 1 {
				t.Fatalf("reseal with k1: %+v %v", r, err)
			}
			assertSealed(t, raw, "k1", map[string]string{"ep_legacy": "whsec_legacysecret", "ep_new": "whsec_newsecret"})
			// Rotation of an endpoint's own secret goes in sealed too.
			e, err := box.RotateEndpointSecret(ctx, "ep_new", "whsec_rotated", now.Add(time.Hour), now)
			if err != nil || e.Secrets[len(e.Secrets)-1].Secret != "whsec_rotated" {
				t.Fatalf("rotate: %+v %v", e, err)
			}
			// Key rotation: k2 first, k1 still listed; Reseal moves everything to k2.
			box2 := secretbox.Wrap(raw, keyring(t, k2+","+k1))
			if r, err := box2.Reseal(ctx); err != nil || r.Resealed != 2 {
				t.Fatalf("reseal after the key rotation: %+v %v", r, err)
			}
			assertSealed(t, raw, "k2", map[string]string{"ep_legacy": "whsec_legacysecret", "ep_new": "whsec_rotated"})
			onlyK2 := secretbox.Wrap(raw, keyring(t, k2))
			eps, err := onlyK2.ListEndpoints(ctx, "")
			if err != nil || len(eps) != 2 {
				t.Fatalf("k1 dropped: %v", err)
			}
			// Without the key, nothing opens, and the error says which key.
			if _, err := plain.GetEndpoint(ctx, "ep_new"); !errors.Is(err, secretbox.ErrNoKey) || !strings.Contains(err.Error(), `"k2"`) {
				t.Fatalf("no key: %v", err)
			}
			if _, err := plain.Reseal(ctx); !errors.Is(err, secretbox.ErrNoKey) {
				t.Fatalf("reseal without the key: %v", err)
			}
		})
	}
}

// assertSealed checks the raw rows: every secret sealed with key id, none in plaintext, and the
// plaintext the box gives back is the newest secret in want.
func assertSealed(t *testing.T, raw switchboard.Store, id string, want map[string]string) {
	t.Helper()
	eps, err := raw.ListEndpoints(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eps {
		for _, s := range e.Secrets {
			if !strings.HasPrefix(s.Secret, "sbenc:v1:"+id+":") || strings.Contains(s.Secret, "whsec_") {
				t.Fatalf("endpoint %s stores %q", e.ID, s.Secret)
			}
		}
		if _, ok := want[e.ID]; !ok {
			t.Fatalf("unexpected endpoint %s", e.ID)
		}
	}
}
