package storetest

import (
	"fmt"
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
	{"ConversationThreadsPerTenant", testConversationThreadsPerTenant},
	{"InboundAttribution", testInboundAttribution},
	{"InboundListsNeverCross", testInboundListsNeverCross},
	{"CallsPerTenant", testCallsPerTenant},
	{"VerificationsPerTenant", testVerificationsPerTenant},
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

// convsOf lists the conversations f selects, by ID.
func convsOf(t *testing.T, s switchboard.Store, f switchboard.ConversationFilter) map[string]*switchboard.Conversation {
	t.Helper()
	out := map[string]*switchboard.Conversation{}
	for range 100 {
		cs, next, err := s.ListConversations(t.Context(), f)
		if err != nil {
			t.Fatalf("ListConversations(%+v): %v", f, err)
		}
		for _, c := range cs {
			out[c.ID] = c
		}
		if next == "" {
			return out
		}
		f.Cursor = next
	}
	t.Fatalf("ListConversations(%+v): no end", f)
	return nil
}

// Two tenants writing to one person from one number have two threads: each lists, counts and
// reads its own messages only.
func testConversationThreadsPerTenant(t *testing.T, s switchboard.Store) {
	a1 := createAt(t, s, at(0), inTenant("acme", nil))
	g1 := createAt(t, s, at(time.Second), inTenant("globex", nil))
	a2 := createAt(t, s, at(2*time.Second), inTenant("acme", func(m *switchboard.Message) { m.Channel = switchboard.ChannelMMS }))
	all := convsOf(t, s, switchboard.ConversationFilter{OurNumber: fromA, TheirNumber: toA, Limit: 1})
	if len(all) != 2 {
		t.Fatalf("%d conversations of one pair of numbers for two tenants, want 2", len(all))
	}
	want := map[string][]string{"acme": {a2.ID, a1.ID}, "globex": {g1.ID}}
	for _, tenant := range []string{"acme", "globex"} {
		cs := convsOf(t, s, switchboard.ConversationFilter{Tenant: tenant, Limit: 1})
		if len(cs) != 1 {
			t.Fatalf("%s: %d conversations, want 1", tenant, len(cs))
		}
		for id, c := range cs {
			if c.Tenant != tenant || c.OutboundCount != len(want[tenant]) || c.OurNumber != fromA || c.TheirNumber != toA {
				t.Errorf("%s's conversation: %+v", tenant, c)
			}
			got, err := s.GetConversation(t.Context(), id)
			if err != nil || got.Tenant != tenant {
				t.Errorf("GetConversation(%s): %+v, %v", id, got, err)
			}
			msgs, _, err := s.ConversationMessages(t.Context(), id, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range msgs {
				ids = append(ids, m.ID())
			}
			if diff := cmp.Diff(want[tenant], ids); diff != "" {
				t.Errorf("%s's thread (-want +got):\n%s", tenant, diff)
			}
		}
	}
	if cs := convsOf(t, s, switchboard.ConversationFilter{Tenant: "initech"}); len(cs) != 0 {
		t.Errorf("a tenant without messages lists %d conversations", len(cs))
	}
	// A cursor of acme's listing with globex's filter lists nothing of acme's.
	createAt(t, s, at(3*time.Second), inTenant("acme", func(m *switchboard.Message) { m.To = toB }))
	_, next, err := s.ListConversations(t.Context(), switchboard.ConversationFilter{Tenant: "acme", Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("acme's first page: next %q, %v", next, err)
	}
	for _, c := range convsOf(t, s, switchboard.ConversationFilter{Tenant: "globex", Cursor: next}) {
		if c.Tenant != "globex" {
			t.Errorf("acme's cursor with globex's filter listed %+v", c)
		}
	}
}

// An inbound message belongs to the tenant of the most recent outbound message from the number
// it was sent to, to its sender; with none, to the default tenant (switchboard.InboundTenant).
func testInboundAttribution(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	createAt(t, s, at(0), inTenant("acme", nil))
	createAt(t, s, at(time.Second), inTenant("globex", nil))
	in1 := inbound(toA, fromA, "SMten1", at(2*time.Second))
	createInbound(t, s, in1)
	if in1.Tenant != "globex" {
		t.Errorf("a reply after globex's message went to %q, want globex", in1.Tenant)
	}
	createAt(t, s, at(3*time.Second), inTenant("acme", nil))
	in2 := inbound(toA, fromA, "SMten2", at(4*time.Second))
	createInbound(t, s, in2)
	if in2.Tenant != "acme" {
		t.Errorf("a reply after acme's newer message went to %q, want acme", in2.Tenant)
	}
	stranger := inbound(toB, fromA, "SMten3", at(5*time.Second))
	createInbound(t, s, stranger)
	if stranger.Tenant != switchboard.DefaultTenant {
		t.Errorf("an unsolicited message went to %q, want default", stranger.Tenant)
	}
	given := inbound(toA, fromA, "SMten4", at(6*time.Second))
	given.Tenant = "initech"
	createInbound(t, s, given)
	if given.Tenant != "initech" {
		t.Errorf("an inbound message with a tenant was moved to %q", given.Tenant)
	}
	bad := inbound(toA, fromA, "SMten5", at(7*time.Second))
	bad.Tenant = "Not Valid"
	if _, err := s.CreateInbound(ctx, bad); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("CreateInbound with an invalid tenant: %v, want EINVALID", err)
	}
	// Stored and threaded as attributed.
	for _, tc := range []struct {
		tenant string
		want   []string
	}{{"globex", []string{in1.ID}}, {"acme", []string{in2.ID}}, {switchboard.DefaultTenant, []string{stranger.ID}}, {"initech", []string{given.ID}}} {
		got, _, err := s.ListInbound(ctx, switchboard.InboundFilter{Tenant: tc.tenant})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, in := range got {
			ids = append(ids, in.ID)
			if in.Tenant != tc.tenant {
				t.Errorf("ListInbound(%s) has %s of tenant %q", tc.tenant, in.ID, in.Tenant)
			}
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("ListInbound(%s) (-want +got):\n%s", tc.tenant, diff)
		}
	}
	for tenant, wantIn := range map[string]int{"acme": 1, "globex": 1} {
		for _, c := range convsOf(t, s, switchboard.ConversationFilter{Tenant: tenant, OurNumber: fromA, TheirNumber: toA}) {
			if c.InboundCount != wantIn {
				t.Errorf("%s's thread counts %d inbound, want %d", tenant, c.InboundCount, wantIn)
			}
		}
	}
}

func testInboundListsNeverCross(t *testing.T, s switchboard.Store) {
	byTenant := map[string][]string{}
	for i := range 6 {
		in := inbound(toA, fromA, "SMlist"+string(rune('a'+i)), at(time.Duration(i)*time.Second))
		in.Tenant = []string{"acme", "globex"}[i%2]
		createInbound(t, s, in)
		byTenant[in.Tenant] = append([]string{in.ID}, byTenant[in.Tenant]...)
	}
	list := func(f switchboard.InboundFilter) []string {
		var out []string
		for range 100 {
			got, next, err := s.ListInbound(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range got {
				out = append(out, in.ID)
			}
			if next == "" {
				return out
			}
			f.Cursor = next
		}
		return out
	}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		for name, f := range map[string]switchboard.InboundFilter{"all": {}, "from": {From: toA}, "to": {To: fromA}, "both": {From: toA, To: fromA}} {
			f.Tenant, f.Limit = tenant, 2
			if diff := cmp.Diff(byTenant[tenant], list(f)); diff != "" {
				t.Errorf("%s, %s (-want +got):\n%s", tenant, name, diff)
			}
			f.Tenant = ""
			if got := list(f); len(got) != 6 {
				t.Errorf("every tenant, %s: %d, want 6", name, len(got))
			}
		}
	}
	// acme's cursor with globex's filter: only globex's.
	_, next, err := s.ListInbound(t.Context(), switchboard.InboundFilter{Tenant: "acme", Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("acme's first page: %q %v", next, err)
	}
	for _, id := range list(switchboard.InboundFilter{Tenant: "globex", Cursor: next, Limit: 2}) {
		if !slices.Contains(byTenant["globex"], id) {
			t.Errorf("acme's cursor with globex's filter listed %s", id)
		}
	}
}

// Calls store their tenant; lists (plain and by metadata) and cursors never cross tenants; an
// idempotency key is the tenant's.
func testCallsPerTenant(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	byTenant := map[string][]string{}
	for i := range 6 {
		c := newCall(newID("call"), at(time.Duration(i)*time.Second))
		c.Tenant = []string{"acme", "globex"}[i%2]
		c.Metadata = map[string]string{"job_id": "1042"}
		mustCreateCall(t, s, c)
		byTenant[c.Tenant] = append([]string{c.ID}, byTenant[c.Tenant]...)
	}
	d := mustCreateCall(t, s, newCall(newID("call"), at(time.Minute)))
	if got, err := s.GetCall(ctx, d.ID); err != nil || got.Tenant != switchboard.DefaultTenant {
		t.Errorf("a call created without a tenant: %+v, %v; want tenant default", got, err)
	}
	if got, err := s.GetCall(ctx, byTenant["acme"][0]); err != nil || got.Tenant != "acme" {
		t.Errorf("GetCall of acme's call: %+v, %v", got, err)
	}
	list := func(f switchboard.CallFilter) []string {
		var out []string
		for range 100 {
			cs, err := s.ListCalls(ctx, f)
			if err != nil {
				t.Fatalf("ListCalls(%+v): %v", f, err)
			}
			for _, c := range cs {
				out = append(out, c.ID)
			}
			if len(cs) < f.Limit {
				return out
			}
			f.Before = cs[len(cs)-1].ID
		}
		return out
	}
	job := &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		for _, meta := range []*switchboard.MetadataMatch{nil, job} {
			if diff := cmp.Diff(byTenant[tenant], list(switchboard.CallFilter{Tenant: tenant, Metadata: meta, Limit: 2})); diff != "" {
				t.Errorf("%s, metadata %v (-want +got):\n%s", tenant, meta, diff)
			}
		}
	}
	if n := len(list(switchboard.CallFilter{Limit: 2})); n != 7 {
		t.Errorf("every tenant's calls: %d, want 7", n)
	}
	if n := len(list(switchboard.CallFilter{Metadata: job, Limit: 2})); n != 6 {
		t.Errorf("every tenant's calls with job_id=1042: %d, want 6", n)
	}
	// acme's cursor with globex's filter.
	for _, id := range list(switchboard.CallFilter{Tenant: "globex", Before: byTenant["acme"][0], Metadata: job, Limit: 2}) {
		if !slices.Contains(byTenant["globex"], id) {
			t.Errorf("acme's cursor with globex's filter listed %s", id)
		}
	}

	// One idempotency key, two tenants: two calls.
	a := newCall(newID("call"), at(2*time.Minute))
	a.Tenant = "acme"
	g := newCall(newID("call"), at(2*time.Minute))
	g.Tenant = "globex"
	key := &switchboard.Idempotency{APIKeyID: "system", Key: "visit-7", RequestHash: "h"}
	sa, replayed, err := s.CreateCall(ctx, a, key)
	if err != nil || replayed {
		t.Fatalf("acme's call: %v, replayed %v", err, replayed)
	}
	sg, replayed, err := s.CreateCall(ctx, g, key)
	if err != nil || replayed || sg.ID == sa.ID {
		t.Fatalf("globex's call with acme's key: %v, replayed %v, %s", err, replayed, sg.ID)
	}
	again := newCall(newID("call"), at(3*time.Minute))
	again.Tenant = "globex"
	if got, replayed, err := s.CreateCall(ctx, again, key); err != nil || !replayed || got.ID != sg.ID {
		t.Errorf("globex's retry: %v, replayed %v, %v", got, replayed, err)
	}
	bad := newCall(newID("call"), at(4*time.Minute))
	bad.Tenant = "No Such"
	if _, _, err := s.CreateCall(ctx, bad, nil); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("CreateCall with an invalid tenant: %v, want EINVALID", err)
	}
}

// Verifications store their tenant, and their lists and cursors never cross tenants.
func testVerificationsPerTenant(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	byTenant := map[string][]string{}
	for i := range 6 {
		v := newVerification(fmt.Sprintf("+1415555%04d", i/2), at(time.Duration(i)*time.Second))
		v.Tenant = []string{"acme", "globex"}[i%2]
		v.Status = switchboard.VerificationApproved // one pending verification per number
		if err := s.CreateVerification(ctx, v, nil); err != nil {
			t.Fatalf("CreateVerification: %v", err)
		}
		byTenant[v.Tenant] = append([]string{v.ID}, byTenant[v.Tenant]...)
	}
	d := newVerification("+14155559999", at(time.Minute))
	if err := s.CreateVerification(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetVerification(ctx, d.ID); err != nil || got.Tenant != switchboard.DefaultTenant {
		t.Errorf("a verification created without a tenant: %+v, %v", got, err)
	}
	if got, err := s.GetVerification(ctx, byTenant["globex"][0]); err != nil || got.Tenant != "globex" {
		t.Errorf("GetVerification of globex's: %+v, %v", got, err)
	}
	list := func(f switchboard.VerificationFilter) []string {
		var out []string
		for range 100 {
			vs, next, err := s.ListVerifications(ctx, f)
			if err != nil {
				t.Fatalf("ListVerifications(%+v): %v", f, err)
			}
			for _, v := range vs {
				out = append(out, v.ID)
			}
			if next == "" {
				return out
			}
			f.Cursor = next
		}
		return out
	}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		if diff := cmp.Diff(byTenant[tenant], list(switchboard.VerificationFilter{Tenant: tenant, Limit: 2})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tenant, diff)
		}
		var want []string
		for _, id := range byTenant[tenant] {
			if v, _ := s.GetVerification(ctx, id); v.To == "+14155550001" {
				want = append(want, id)
			}
		}
		for _, f := range []switchboard.VerificationFilter{
			{Tenant: tenant, To: "+14155550001", Limit: 1},
			{Tenant: tenant, To: "+14155550001", Status: switchboard.VerificationApproved, Limit: 1},
		} {
			if diff := cmp.Diff(want, list(f)); diff != "" {
				t.Errorf("%s, %+v (-want +got):\n%s", tenant, f, diff)
			}
		}
	}
	if n := len(list(switchboard.VerificationFilter{To: "+14155550001", Limit: 1})); n != 2 {
		t.Errorf("every tenant's verifications of one number: %d, want 2", n)
	}
	for _, id := range list(switchboard.VerificationFilter{Tenant: "globex", Cursor: byTenant["acme"][0], Limit: 1}) {
		if !slices.Contains(byTenant["globex"], id) {
			t.Errorf("acme's cursor with globex's filter listed %s", id)
		}
	}
	bad := newVerification("+14155558888", at(2*time.Minute))
	bad.Tenant = "Bad"
	if err := s.CreateVerification(ctx, bad, nil); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
		t.Errorf("CreateVerification with an invalid tenant: %v, want EINVALID", err)
	}
}
