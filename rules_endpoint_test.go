package switchboard_test

import (
	"reflect"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

func TestPlanEndpointSync(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Hour)
	existing := []*switchboard.Endpoint{
		{ID: "ep_kept", URL: "https://old", Source: switchboard.EndpointFromConfig, CreatedAt: t0},
		{ID: "ep_gone", Source: switchboard.EndpointFromConfig},
		{ID: "ep_api", Source: switchboard.EndpointFromAPI},
	}
	plan, err := switchboard.PlanEndpointSync(existing, []*switchboard.Endpoint{
		{ID: "ep_kept", URL: "https://new"},
		{ID: "ep_new", URL: "https://new", FailingSince: &t0},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Insert) != 1 || plan.Insert[0].ID != "ep_new" || plan.Insert[0].Source != switchboard.EndpointFromConfig ||
		!plan.Insert[0].CreatedAt.Equal(now) || !plan.Insert[0].UpdatedAt.Equal(now) || plan.Insert[0].FailingSince != nil {
		t.Errorf("insert %+v", plan.Insert)
	}
	if len(plan.Update) != 1 || plan.Update[0].URL != "https://new" {
		t.Errorf("update %+v", plan.Update)
	}
	if !reflect.DeepEqual(plan.Delete, []string{"ep_gone"}) {
		t.Errorf("delete %v: an endpoint made through the API is never deleted by the configuration", plan.Delete)
	}

	_, err = switchboard.PlanEndpointSync(existing, []*switchboard.Endpoint{{ID: "ep_api"}}, now)
	if codeOf(err) != "endpoint_exists" {
		t.Errorf("configuring over an API endpoint: %v", err)
	}
}

func TestFanOut(t *testing.T) {
	t.Parallel()
	eps := []*switchboard.Endpoint{
		{ID: "ep_all", EventTypes: []string{"*"}},
		{ID: "ep_calls", EventTypes: []string{"call.*"}},
		{ID: "ep_off", EventTypes: []string{"*"}, DisabledAt: &t0},
	}
	got := switchboard.FanOut("", switchboard.AppMessageStatusChanged, nil, eps)
	want := []switchboard.FanOutDelivery{
		{EndpointID: "ep_all", Status: switchboard.DeliveryPending},
		{EndpointID: "ep_off", Status: switchboard.DeliveryDead, LastError: switchboard.DisabledEndpointError},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subscribers: %+v, want %+v", got, want)
	}
	got = switchboard.FanOut("", switchboard.AppMessageStatusChanged, []string{"ep_calls"}, eps)
	if !reflect.DeepEqual(got, []switchboard.FanOutDelivery{{EndpointID: "ep_calls", Status: switchboard.DeliveryPending}}) {
		t.Errorf("targets: %+v, want only the targeted endpoint", got)
	}
	if got := switchboard.FanOut("", switchboard.AppMessageStatusChanged, []string{}, eps); got != nil {
		t.Errorf("no targets: %+v, want none", got)
	}
}

// An event goes only to the endpoints of its tenant, even when it names another tenant's.
func TestFanOutStaysInTenant(t *testing.T) {
	t.Parallel()
	eps := []*switchboard.Endpoint{
		{ID: "ep_default", EventTypes: []string{"*"}},
		{ID: "ep_acme", Tenant: "acme", EventTypes: []string{"*"}},
		{ID: "ep_globex", Tenant: "globex", EventTypes: []string{"message.*"}},
	}
	for _, tc := range []struct {
		tenant  string
		targets []string
		want    []string
	}{
		{"", nil, []string{"ep_default"}},
		{"default", nil, []string{"ep_default"}},
		{"acme", nil, []string{"ep_acme"}},
		{"globex", nil, []string{"ep_globex"}},
		{"initech", nil, nil},
		{"acme", []string{"ep_globex", "ep_acme"}, []string{"ep_acme"}},
		{"acme", []string{"ep_globex"}, nil},
	} {
		var got []string
		for _, d := range switchboard.FanOut(tc.tenant, switchboard.AppMessageReceived, tc.targets, eps) {
			got = append(got, d.EndpointID)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tenant %q, targets %v: %v, want %v", tc.tenant, tc.targets, got, tc.want)
		}
	}
}

func TestEndpointSecrets(t *testing.T) {
	t.Parallel()
	old := []switchboard.EndpointSecret{{Secret: "a"}}
	e := &switchboard.Endpoint{ID: "ep_1", Secrets: old}
	if err := switchboard.ReplaceSecrets(e, []switchboard.EndpointSecret{{Secret: "b"}}, nil); codeOf(err) != "secrets_changed" || e.Secrets[0].Secret != "a" {
		t.Errorf("replacing changed secrets: %v, %+v", err, e.Secrets)
	}
	if err := switchboard.ReplaceSecrets(e, old, []switchboard.EndpointSecret{{Secret: "sealed"}}); err != nil || e.Secrets[0].Secret != "sealed" {
		t.Errorf("replacing unchanged secrets: %v, %+v", err, e.Secrets)
	}
	switchboard.RotateEndpointSecret(e, "new", t0.Add(time.Hour), t0)
	if n := len(e.Secrets); n != 2 || e.UpdatedAt != t0.Truncate(time.Microsecond) {
		t.Errorf("rotated: %+v updated %v", e.Secrets, e.UpdatedAt)
	}
}
