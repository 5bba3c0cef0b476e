package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
)

// tenantTests check tenants and that nothing of one tenant shows through another's filters,
// idempotency keys, conversations or endpoints (issue 18).
var tenantTests = []test{
	{"DefaultTenantExists", testDefaultTenantExists},
	{"TenantStore", testTenantStore},
	{"MessagesStoreTheirTenant", testMessagesStoreTheirTenant},
	{"MessageListsNeverCross", testMessageListsNeverCross},
	{"MessageCursorsNeverCross", testMessageCursorsNeverCross},
	{"IdempotencyKeysPerTenant", testIdempotencyKeysPerTenant},
}

// newTenant returns a production tenant id created at base.
func newTenant(id string) *switchboard.Tenant {
	return &switchboard.Tenant{ID: id, Name: "Tenant " + id, Environment: switchboard.EnvProduction,
		CreatedAt: at(0), UpdatedAt: at(0)}
}

// The migration creates tenant default, to which every row stored before tenants belongs.
func testDefaultTenantExists(t *testing.T, s switchboard.Store) {
	d, err := s.GetTenant(t.Context(), switchboard.DefaultTenant)
	if err != nil {
		t.Fatalf("GetTenant(default): %v", err)
	}
	if d.ID != switchboard.DefaultTenant || d.Environment != switchboard.EnvProduction || d.CreatedAt.IsZero() {
		t.Errorf("default tenant: %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("default tenant does not validate: %v", err)
	}
	list, err := s.ListTenants(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != switchboard.DefaultTenant {
		t.Fatalf("ListTenants of a new store: %v, %v", list, err)
	}
}

func testTenantStore(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	staging := &switchboard.Tenant{ID: "clinic-2", Name: "Clinic 2", Environment: switchboard.EnvStaging,
		StagingMode: switchboard.StagingAllowlist, AllowedRecipients: []string{toA, toB}, DailyMessages: 100,
		DailySegments: 300, DailySpendCents: 5000, CreatedAt: at(0), UpdatedAt: at(0)}
	if err := s.CreateTenant(ctx, staging); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if err := s.CreateTenant(ctx, newTenant("acme")); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	got, err := s.GetTenant(ctx, "clinic-2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(staging, got); diff != "" {
		t.Errorf("GetTenant (-created +read):\n%s", diff)
	}

	dup := newTenant("acme")
	if err := s.CreateTenant(ctx, dup); switchboard.ErrorCodeOf(err) != "tenant_exists" || switchboard.ErrorKindOf(err) != switchboard.ECONFLICT {
		t.Errorf("second CreateTenant(acme) = %v, want ECONFLICT/tenant_exists", err)
	}
	if err := s.CreateTenant(ctx, &switchboard.Tenant{ID: "Bad ID", Environment: switchboard.EnvProduction}); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("CreateTenant(bad ID) = %v, want EINVALID", err)
	}
	if _, err := s.GetTenant(ctx, "nobody"); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND || switchboard.ErrorCodeOf(err) != "tenant_not_found" {
		t.Errorf("GetTenant(nobody) = %v, want ENOTFOUND/tenant_not_found", err)
	}

	list, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	if diff := cmp.Diff([]string{"acme", "clinic-2", switchboard.DefaultTenant}, ids); diff != "" {
		t.Errorf("ListTenants IDs (-want +got):\n%s", diff)
	}

	// UpdateTenant replaces the whole record but its ID and creation time.
	up := *staging
	up.Name, up.Environment, up.StagingMode, up.AllowedRecipients = "Clinic 2 live", switchboard.EnvProduction, "", nil
	up.DailyMessages, up.DailySegments, up.DailySpendCents, up.UpdatedAt = 0, 0, 0, at(60e9)
	if err := s.UpdateTenant(ctx, &up); err != nil {
		t.Fatalf("UpdateTenant: %v", err)
	}
	got, err = s.GetTenant(ctx, "clinic-2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&up, got); diff != "" {
		t.Errorf("after UpdateTenant (-want +got):\n%s", diff)
	}
	bad := up
	bad.Environment = "dev"
	if err := s.UpdateTenant(ctx, &bad); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("UpdateTenant(invalid) = %v, want EINVALID", err)
	}
	if got, _ := s.GetTenant(ctx, "clinic-2"); got == nil || got.Environment != switchboard.EnvProduction {
		t.Errorf("an invalid update changed the tenant: %+v", got)
	}
	if err := s.UpdateTenant(ctx, newTenant("nobody")); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Errorf("UpdateTenant(nobody) = %v, want ENOTFOUND", err)
	}
}

// inTenant returns an edit that puts a message in tenant (for createAt).
func inTenant(tenant string, edit func(m *switchboard.Message)) func(m *switchboard.Message) {
	return func(m *switchboard.Message) {
		m.Tenant = tenant
		if edit != nil {
			edit(m)
		}
	}
}

func testMessagesStoreTheirTenant(t *testing.T, s switchboard.Store) {
	a := createAt(t, s, at(0), inTenant("acme", nil))
	d := createAt(t, s, at(time.Second), nil)
	if d.Tenant != switchboard.DefaultTenant {
		t.Errorf("a message created without a tenant is in %q, want default", d.Tenant)
	}
	for id, want := range map[string]string{a.ID: "acme", d.ID: switchboard.DefaultTenant} {
		if got := get(t, s, id); got.Tenant != want {
			t.Errorf("GetMessage(%s).Tenant = %q, want %q", id, got.Tenant, want)
		}
	}
	bad := newMessage(at(2 * time.Second))
	bad.Tenant = "Not A Tenant"
	if _, _, err := s.CreateMessage(t.Context(), bad, nil); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("CreateMessage with tenant %q = %v, want EINVALID", bad.Tenant, err)
	}
	if _, err := s.GetMessage(t.Context(), bad.ID); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Errorf("a refused message was stored: %v", err)
	}
}

// listIDs lists every message f selects, following cursors.
func listIDs(t *testing.T, s switchboard.Store, f switchboard.MessageFilter) []string {
	t.Helper()
	var out []string
	for range 100 {
		msgs, next, err := s.ListMessages(t.Context(), f)
		if err != nil {
			t.Fatalf("ListMessages(%+v): %v", f, err)
		}
		out = append(out, ids(msgs)...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
	t.Fatalf("ListMessages(%+v): no end after 100 pages", f)
	return nil
}

// Two tenants send alike (same numbers, statuses and metadata): every filter of one tenant lists
// its own messages only, and the empty tenant lists both.
func testMessageListsNeverCross(t *testing.T, s switchboard.Store) {
	byTenant := map[string][]string{}
	for i := range 6 {
		tenant := []string{"acme", "globex"}[i%2]
		m := createAt(t, s, at(time.Duration(i)*time.Second), inTenant(tenant, func(m *switchboard.Message) {
			m.Metadata = map[string]string{"job_id": "1042"}
		}))
		byTenant[tenant] = append([]string{m.ID}, byTenant[tenant]...) // newest first
	}
	all := listIDs(t, s, switchboard.MessageFilter{Limit: 2})
	if len(all) != 6 {
		t.Fatalf("every tenant's messages: %v", all)
	}
	job := &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		for name, f := range map[string]switchboard.MessageFilter{
			"all":      {},
			"to":       {To: toA},
			"from":     {From: fromA},
			"statuses": {Statuses: []switchboard.Status{switchboard.StatusQueued}},
			"metadata": {Metadata: job},
			"to+meta":  {To: toA, Metadata: job},
			"created":  {CreatedAfter: ptr(at(0)), CreatedBefore: ptr(at(time.Hour))},
		} {
			f.Tenant, f.Limit = tenant, 2
			if diff := cmp.Diff(byTenant[tenant], listIDs(t, s, f)); diff != "" {
				t.Errorf("%s, %s (-want +got):\n%s", tenant, name, diff)
			}
			f.Tenant = ""
			if got := listIDs(t, s, f); !slices.Equal(got, all) {
				t.Errorf("every tenant, %s: %v, want %v", name, got, all)
			}
		}
	}
}

// A cursor is a position, not a permission: a cursor from tenant A's listing, used with tenant
// B's filter, continues B's listing and shows nothing of A.
func testMessageCursorsNeverCross(t *testing.T, s switchboard.Store) {
	var acme, globex []string
	for i := range 4 {
		a := createAt(t, s, at(time.Duration(2*i)*time.Second), inTenant("acme", func(m *switchboard.Message) {
			m.Metadata = map[string]string{"job_id": "7"}
		}))
		g := createAt(t, s, at(time.Duration(2*i+1)*time.Second), inTenant("globex", func(m *switchboard.Message) {
			m.Metadata = map[string]string{"job_id": "7"}
		}))
		acme, globex = append(acme, a.ID), append(globex, g.ID)
	}
	job := &switchboard.MetadataMatch{Key: "job_id", Value: "7"}
	for _, meta := range []*switchboard.MetadataMatch{nil, job} {
		page, next, err := s.ListMessages(t.Context(), switchboard.MessageFilter{Tenant: "acme", Metadata: meta, Limit: 1})
		if err != nil || len(page) != 1 || next == "" {
			t.Fatalf("first page of acme: %v %q %v", ids(page), next, err)
		}
		rest := listIDs(t, s, switchboard.MessageFilter{Tenant: "globex", Metadata: meta, Cursor: next, Limit: 2})
		for _, id := range rest {
			if slices.Contains(acme, id) {
				t.Errorf("metadata %v: acme's cursor with globex's filter listed acme's %s", meta, id)
			}
			if !slices.Contains(globex, id) {
				t.Errorf("metadata %v: listed %s, not globex's", meta, id)
			}
		}
	}
}

// The same idempotency key (even with the same API key ID, such as the "system" of internal
// callers) in two tenants makes two messages; within a tenant it replays.
func testIdempotencyKeysPerTenant(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	a := newMessage(at(0))
	a.Tenant = "acme"
	b := newMessage(at(time.Second))
	b.Tenant = "globex"
	sa, replayed, err := s.CreateMessage(ctx, a, idem("system", "order-1", "h"))
	if err != nil || replayed {
		t.Fatalf("acme's create: replayed %v, %v", replayed, err)
	}
	sb, replayed, err := s.CreateMessage(ctx, b, idem("system", "order-1", "h"))
	if err != nil || replayed {
		t.Fatalf("globex's create with acme's key: replayed %v, %v", replayed, err)
	}
	if sa.ID == sb.ID || sb.Tenant != "globex" {
		t.Fatalf("two tenants' creates made %s (%s) and %s (%s)", sa.ID, sa.Tenant, sb.ID, sb.Tenant)
	}
	again := newMessage(at(2 * time.Second))
	again.Tenant = "globex"
	got, replayed, err := s.CreateMessage(ctx, again, idem("system", "order-1", "h"))
	if err != nil || !replayed || got.ID != sb.ID {
		t.Fatalf("globex's retry: %v replayed %v, %v; want %s replayed", got, replayed, err, sb.ID)
	}
	// A different request with the key is refused in the tenant that used it, and only there.
	other := newMessage(at(3 * time.Second))
	other.Tenant = "acme"
	if _, _, err := s.CreateMessage(ctx, other, idem("system", "order-1", "different")); switchboard.ErrorCodeOf(err) != "idempotency_key_reused" {
		t.Errorf("acme's reuse with another request: %v, want idempotency_key_reused", err)
	}
	fresh := newMessage(at(4 * time.Second))
	fresh.Tenant = "initech"
	if _, replayed, err := s.CreateMessage(ctx, fresh, idem("system", "order-1", "different")); err != nil || replayed {
		t.Errorf("a third tenant's first use of the key: replayed %v, %v", replayed, err)
	}
	if n := len(listIDs(t, s, switchboard.MessageFilter{})); n != 3 {
		t.Errorf("%d messages stored, want 3", n)
	}
}
