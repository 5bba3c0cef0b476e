package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
)

// listVerificationIDs follows every page of a listing (at most 100) and returns the IDs listed.
func listVerificationIDs(t *testing.T, s switchboard.Store, f switchboard.VerificationFilter) []string {
	t.Helper()
	var out []string
	for range 100 {
		vs, next, err := s.ListVerifications(t.Context(), f)
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
	t.Fatalf("ListVerifications(%+v): more than 100 pages", f)
	return nil
}

// testListVerificationsByMetadata: a verification keeps its metadata (read back, listed, in its
// events); ListVerifications with a metadata pair lists exactly the verifications with that pair,
// newest first and paged, with To and Status applied too; redaction keeps metadata and its
// index; metadata over the limits is refused and stores nothing.
func testListVerificationsByMetadata(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	mk := func(i int, to string, status switchboard.VerificationStatus, meta map[string]string) *switchboard.Verification {
		t.Helper()
		v := newVerification(to, at(time.Duration(i)*time.Second))
		v.Status, v.Metadata = status, meta
		ev, err := switchboard.VerificationEvent(switchboard.AppVerificationStarted, v, v.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateVerification(ctx, v, []*switchboard.AppEvent{ev}); err != nil {
			t.Fatalf("CreateVerification: %v", err)
		}
		return v
	}
	const a, b = "+14155550120", "+14155550121"
	v0 := mk(0, a, switchboard.VerificationApproved, map[string]string{"job_id": "1042", "tech": "ana"})
	mk(1, b, switchboard.VerificationApproved, map[string]string{"job_id": "1043"})
	v2 := mk(2, b, switchboard.VerificationExpired, map[string]string{"job_id": "1042"})
	mk(3, a, switchboard.VerificationCanceled, nil)
	v4 := mk(4, a, switchboard.VerificationPending, map[string]string{"job_id": "1042", "Job_ID": "x"})
	empty := mk(5, b, switchboard.VerificationPending, map[string]string{})

	got, err := s.GetVerification(ctx, v0.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v0, got); diff != "" {
		t.Errorf("read back with metadata (-want +got):\n%s", diff)
	}
	if got, err := s.GetVerification(ctx, empty.ID); err != nil || got.Metadata != nil || empty.Metadata != nil {
		t.Errorf("empty metadata reads back as %#v (stored %#v), %v; want nil", got.Metadata, empty.Metadata, err)
	}
	evs, err := s.ListAppEvents(ctx, switchboard.AppEventFilter{Types: []switchboard.AppEventType{switchboard.AppVerificationStarted}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var sawMeta bool
	for _, ev := range evs {
		var d switchboard.VerificationEventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.VerificationID == v0.ID {
			sawMeta = cmp.Equal(d.Metadata, v0.Metadata)
		}
	}
	if !sawMeta {
		t.Errorf("the verification.started event of %s lacks its metadata", v0.ID)
	}

	job := func(k, v string) *switchboard.MetadataMatch { return &switchboard.MetadataMatch{Key: k, Value: v} }
	for _, tc := range []struct {
		name string
		f    switchboard.VerificationFilter
		want []string
	}{
		{"job_id=1042", switchboard.VerificationFilter{Metadata: job("job_id", "1042")}, []string{v4.ID, v2.ID, v0.ID}},
		{"job_id=1042, a page of one", switchboard.VerificationFilter{Metadata: job("job_id", "1042"), Limit: 1}, []string{v4.ID, v2.ID, v0.ID}},
		{"job_id=1042, a page of two", switchboard.VerificationFilter{Metadata: job("job_id", "1042"), Limit: 2}, []string{v4.ID, v2.ID, v0.ID}},
		{"job_id=1042 after the cursor", switchboard.VerificationFilter{Metadata: job("job_id", "1042"), Cursor: v4.ID}, []string{v2.ID, v0.ID}},
		{"job_id=1042 to a", switchboard.VerificationFilter{Metadata: job("job_id", "1042"), To: a, Limit: 1}, []string{v4.ID, v0.ID}},
		{"job_id=1042 expired", switchboard.VerificationFilter{Metadata: job("job_id", "1042"), Status: switchboard.VerificationExpired}, []string{v2.ID}},
		{"job_id=1042 to a, expired", switchboard.VerificationFilter{Metadata: job("job_id", "1042"), To: a, Status: switchboard.VerificationExpired}, nil},
		{"job_id=1042 of tenant default", switchboard.VerificationFilter{Tenant: switchboard.DefaultTenant, Metadata: job("job_id", "1042"), Limit: 2}, []string{v4.ID, v2.ID, v0.ID}},
		{"tech=ana", switchboard.VerificationFilter{Metadata: job("tech", "ana")}, []string{v0.ID}},
		{"Job_ID=x (keys compare byte for byte)", switchboard.VerificationFilter{Metadata: job("Job_ID", "x")}, []string{v4.ID}},
		{"job_id=104 (no prefix match)", switchboard.VerificationFilter{Metadata: job("job_id", "104")}, nil},
		{"job_id=1042 of another tenant", switchboard.VerificationFilter{Tenant: "acme", Metadata: job("job_id", "1042")}, nil},
	} {
		if diff := cmp.Diff(tc.want, listVerificationIDs(t, s, tc.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	vs, _, err := s.ListVerifications(ctx, switchboard.VerificationFilter{Metadata: job("tech", "ana")})
	if err != nil || len(vs) != 1 || !cmp.Equal(vs[0], v0) {
		t.Errorf("a verification listed by metadata is read whole: %+v, %v", vs, err)
	}

	// Retention removes the code material, never the application's references.
	if _, err := s.Redact(ctx, at(time.Hour), at(2*time.Hour), 100); err != nil {
		t.Fatalf("Redact: %v", err)
	}
	vs, _, err = s.ListVerifications(ctx, switchboard.VerificationFilter{Metadata: job("tech", "ana")})
	if err != nil || len(vs) != 1 || vs[0].ID != v0.ID || vs[0].RedactedAt == nil || vs[0].Metadata["job_id"] != "1042" {
		t.Errorf("a redacted verification by metadata: %+v, %v", vs, err)
	}

	tooMany := map[string]string{}
	for i := range switchboard.MaxMetadataKeys + 1 {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	for name, meta := range map[string]map[string]string{
		"an empty key":  {"": "v"},
		"a long key":    {strings.Repeat("k", switchboard.MaxMetadataKey+1): "v"},
		"a long value":  {"bad": strings.Repeat("v", switchboard.MaxMetadataValue+1)},
		"a NUL":         {"bad": "a\x00b"},
		"too many keys": tooMany,
	} {
		v := newVerification("+14155550122", at(time.Minute))
		v.Status, v.Metadata = switchboard.VerificationApproved, meta
		if err := s.CreateVerification(ctx, v, nil); switchboard.ErrorCodeOf(err) != "invalid_metadata" {
			t.Errorf("metadata with %s: %v, want invalid_metadata", name, err)
		}
		if _, err := s.GetVerification(ctx, v.ID); !switchboard.IsKind(err, switchboard.ENOTFOUND) {
			t.Errorf("metadata with %s: the verification was stored (%v)", name, err)
		}
	}
	if got := listVerificationIDs(t, s, switchboard.VerificationFilter{Metadata: job("k0", "v")}); len(got) != 0 {
		t.Errorf("refused metadata was indexed: %v", got)
	}
	if got := listVerificationIDs(t, s, switchboard.VerificationFilter{To: "+14155550122"}); len(got) != 0 {
		t.Errorf("refused verifications were stored: %v", got)
	}
}

// testVerificationMetadataPerTenant: two tenants use the same metadata pair; a search of one
// tenant never lists the other's, a cursor of one tenant's used with the other's filter lists only
// the other's, and every tenant's search lists both.
func testVerificationMetadataPerTenant(t *testing.T, s switchboard.Store) {
	ctx := t.Context()
	byTenant := map[string][]string{}
	for i := range 6 {
		v := newVerification(fmt.Sprintf("+1415556%04d", i), at(time.Duration(i)*time.Second))
		v.Tenant = []string{"acme", "globex"}[i%2]
		v.Status = switchboard.VerificationApproved
		v.Metadata = map[string]string{"job_id": "1042"}
		if err := s.CreateVerification(ctx, v, nil); err != nil {
			t.Fatalf("CreateVerification: %v", err)
		}
		byTenant[v.Tenant] = append([]string{v.ID}, byTenant[v.Tenant]...)
	}
	job := &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		for _, f := range []switchboard.VerificationFilter{
			{Tenant: tenant, Metadata: job, Limit: 2},
			{Tenant: tenant, Metadata: job, Status: switchboard.VerificationApproved, Limit: 1},
		} {
			if diff := cmp.Diff(byTenant[tenant], listVerificationIDs(t, s, f)); diff != "" {
				t.Errorf("%s, %+v (-want +got):\n%s", tenant, f, diff)
			}
		}
	}
	if n := len(listVerificationIDs(t, s, switchboard.VerificationFilter{Metadata: job, Limit: 4})); n != 6 {
		t.Errorf("every tenant's verifications with job_id=1042: %d, want 6", n)
	}
	for _, id := range listVerificationIDs(t, s, switchboard.VerificationFilter{Tenant: "globex", Metadata: job, Cursor: byTenant["acme"][0], Limit: 1}) {
		if !slices.Contains(byTenant["globex"], id) {
			t.Errorf("acme's cursor with globex's metadata search listed %s", id)
		}
	}
}
