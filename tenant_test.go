package switchboard_test

import (
	"strings"
	"testing"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestValidTenantID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"default", "a", "0", "acme-field-service", "clinic-7", strings.Repeat("a", 32), "a-"} {
		if err := switchboard.ValidTenantID(id); err != nil {
			t.Errorf("ValidTenantID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "-a", "Acme", "acme_co", "acme co", "acme.co", strings.Repeat("a", 33), "ü", "a/b", "a\x00"} {
		err := switchboard.ValidTenantID(id)
		if switchboard.ErrorKindOf(err) != switchboard.EINVALID || switchboard.ErrorCodeOf(err) != "invalid_tenant" {
			t.Errorf("ValidTenantID(%q) = %v, want EINVALID/invalid_tenant", id, err)
		}
	}
}

func FuzzValidTenantID(f *testing.F) {
	for _, s := range []string{"default", "-a", "a-b", "", strings.Repeat("z", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := switchboard.ValidTenantID(id)
		ok := len(id) >= 1 && len(id) <= 32 && id[0] != '-'
		for _, r := range id {
			ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
		}
		if (err == nil) != ok {
			t.Fatalf("ValidTenantID(%q) = %v, the pattern says ok=%v", id, err, ok)
		}
	})
}

func TestTenantOr(t *testing.T) {
	t.Parallel()
	if got := switchboard.TenantOr(""); got != switchboard.DefaultTenant {
		t.Errorf(`TenantOr("") = %q`, got)
	}
	if got := switchboard.TenantOr("acme"); got != "acme" {
		t.Errorf(`TenantOr("acme") = %q`, got)
	}
}

func TestRoleAllows(t *testing.T) {
	t.Parallel()
	all := []switchboard.Role{switchboard.RoleRead, switchboard.RoleSend, switchboard.RoleAdmin, switchboard.RolePlatform}
	want := map[switchboard.Role][]switchboard.Role{
		switchboard.RoleRead:     {switchboard.RoleRead},
		switchboard.RoleSend:     {switchboard.RoleSend},
		switchboard.RoleAdmin:    {switchboard.RoleRead, switchboard.RoleSend, switchboard.RoleAdmin},
		switchboard.RolePlatform: all,
	}
	for _, have := range all {
		if !have.Valid() {
			t.Errorf("%s: not valid", have)
		}
		for _, need := range all {
			w := false
			for _, r := range want[have] {
				w = w || r == need
			}
			if got := have.Allows(need); got != w {
				t.Errorf("%s.Allows(%s) = %v, want %v", have, need, got, w)
			}
		}
		if have.Allows("") || have.Allows("root") {
			t.Errorf("%s allows an unknown role", have)
		}
	}
	for _, r := range []switchboard.Role{"", "root", "Admin"} {
		if r.Valid() || r.Allows(switchboard.RoleRead) {
			t.Errorf("role %q is valid or allows read", r)
		}
	}
}

func TestTenantValidate(t *testing.T) {
	t.Parallel()
	good := func() *switchboard.Tenant {
		return &switchboard.Tenant{ID: "clinic-1", Name: "Clinic", Environment: switchboard.EnvStaging,
			StagingMode: switchboard.StagingAllowlist, AllowedRecipients: []string{"+14155550100"}, DailyMessages: 10}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("valid tenant: %v", err)
	}
	prod := &switchboard.Tenant{ID: "default", Environment: switchboard.EnvProduction}
	if err := prod.Validate(); err != nil {
		t.Fatalf("production tenant: %v", err)
	}
	for name, change := range map[string]func(*switchboard.Tenant){
		"bad id":              func(x *switchboard.Tenant) { x.ID = "Clinic 1" },
		"no environment":      func(x *switchboard.Tenant) { x.Environment = "" },
		"unknown environment": func(x *switchboard.Tenant) { x.Environment = "dev" },
		"unknown mode":        func(x *switchboard.Tenant) { x.StagingMode = "sandbox" },
		"negative messages":   func(x *switchboard.Tenant) { x.DailyMessages = -1 },
		"negative segments":   func(x *switchboard.Tenant) { x.DailySegments = -1 },
		"negative spend":      func(x *switchboard.Tenant) { x.DailySpendCents = -1 },
		"recipient not E.164": func(x *switchboard.Tenant) { x.AllowedRecipients = []string{"4155550100"} },
		"recipient letters":   func(x *switchboard.Tenant) { x.AllowedRecipients = []string{"+1415555O100"} },
		"long name":           func(x *switchboard.Tenant) { x.Name = strings.Repeat("n", 201) },
		"too many recipients": func(x *switchboard.Tenant) {
			x.AllowedRecipients = make([]string, 1001)
			for i := range x.AllowedRecipients {
				x.AllowedRecipients[i] = "+14155550100"
			}
		},
	} {
		x := good()
		change(x)
		if err := x.Validate(); switchboard.ErrorCodeOf(err) != "invalid_tenant" {
			t.Errorf("%s: Validate() = %v, want invalid_tenant", name, err)
		}
	}
	var nilTenant *switchboard.Tenant
	if err := nilTenant.Validate(); err == nil {
		t.Error("nil tenant validated")
	}
}

func TestTenantStaging(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  switchboard.Environment
		mode switchboard.StagingMode
		want switchboard.StagingMode
	}{
		{switchboard.EnvProduction, switchboard.StagingSimulator, ""},
		{switchboard.EnvStaging, "", switchboard.StagingAllowlist},
		{switchboard.EnvStaging, switchboard.StagingSimulator, switchboard.StagingSimulator},
	} {
		x := switchboard.Tenant{Environment: tc.env, StagingMode: tc.mode}
		if got := x.Staging(); got != tc.want {
			t.Errorf("%s/%q: Staging() = %q, want %q", tc.env, tc.mode, got, tc.want)
		}
	}
}

func TestCheckAPIKeyDefaults(t *testing.T) {
	t.Parallel()
	k := &switchboard.APIKey{ID: "key_1", Hash: "h"}
	if err := switchboard.CheckAPIKey(k); err != nil {
		t.Fatal(err)
	}
	if k.Tenant != switchboard.DefaultTenant || k.Role != switchboard.RoleAdmin {
		t.Errorf("defaults: tenant %q role %q", k.Tenant, k.Role)
	}
	for _, bad := range []*switchboard.APIKey{
		{ID: "key_1", Hash: "h", Tenant: "Bad Tenant"},
		{ID: "key_1", Hash: "h", Role: "root"},
	} {
		if err := switchboard.CheckAPIKey(bad); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", bad, err)
		}
	}
}
