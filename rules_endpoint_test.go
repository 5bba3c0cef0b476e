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
