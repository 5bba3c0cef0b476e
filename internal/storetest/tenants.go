package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard"
)

// tenantTests check tenants and that nothing of one tenant shows through another's filters,
// idempotency keys, conversations or endpoints (issue 18).
var tenantTests = []test{
	{"DefaultTenantExists", testDefaultTenantExists},
	{"TenantStore", testTenantStore},
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
