package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDashboardSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, envOfMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Dashboard; !d.Enabled || d.User != "" || d.Password != "" || d.SessionTTL != 12*time.Hour || d.LoginRate != 10 {
		t.Fatalf("dashboard defaults: %+v", d)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(nil, envOfMap(map[string]string{"SWITCHBOARD_DASHBOARD_USER": "ops", "SWITCHBOARD_DASHBOARD_PASSWORD_FILE": pw,
		"SWITCHBOARD_DASHBOARD_SESSION_TTL": "1h", "SWITCHBOARD_DASHBOARD_LOGIN_RATE": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Dashboard; d.User != "ops" || d.Password != "correct horse battery" || d.SessionTTL != time.Hour || d.LoginRate != 3 {
		t.Fatalf("dashboard settings: %+v", d)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SWITCHBOARD_DASHBOARD_USER": "ops"}, "has no password"},
		{map[string]string{"SWITCHBOARD_DASHBOARD_PASSWORD": "correct horse battery"}, "without a user"},
		{map[string]string{"SWITCHBOARD_DASHBOARD_USER": "ops", "SWITCHBOARD_DASHBOARD_PASSWORD": "short"}, "at least 12"},
		{map[string]string{"SWITCHBOARD_DASHBOARD_SESSION_TTL": "10s"}, "dashboard_session_ttl"},
		{map[string]string{"SWITCHBOARD_DASHBOARD_LOGIN_RATE": "0"}, "dashboard_login_rate"},
		{map[string]string{"SWITCHBOARD_DASHBOARD": "maybe"}, "dashboard="},
	} {
		_, err := Load(nil, envOfMap(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "correct horse") {
			t.Errorf("%v: the error shows the password: %v", tc.env, err)
		}
	}
	// The password is a secret: never read from the YAML file.
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("dashboard_user: ops\ndashboard_password: correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(nil, envOfMap(map[string]string{"SWITCHBOARD_CONFIG": p})); err == nil || strings.Contains(err.Error(), "correct horse") {
		t.Fatalf("password in the config file: %v", err)
	}
}
