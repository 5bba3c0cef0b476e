package config

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
)

// DashboardConfig holds the settings of the dashboard at /ui.
type DashboardConfig struct {
	// Enabled serves the dashboard.
	Enabled bool
	// User and Password are the password login; both empty when only API keys may log in.
	User     string
	Password string
	// UserTenant is the tenant User sees (empty: every tenant); UserRole what it may do (read,
	// admin or platform).
	UserTenant string
	UserRole   string
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// LoginRate is how many failed logins a client address may make per LoginWindow.
	LoginRate int
}

// LoginWindow is the period of DashboardConfig.LoginRate.
const LoginWindow = 10 * time.Minute

// minPasswordChars is the shortest dashboard password accepted.
const minPasswordChars = 12

// buildDashboard reads the dashboard's settings.
func (c *Config) buildDashboard(v map[string]string) error {
	d := &c.Dashboard
	var err error
	if d.Enabled, err = strconv.ParseBool(v["dashboard"]); err != nil {
		return fmt.Errorf("config: dashboard=%q must be true or false; set SWITCHBOARD_DASHBOARD", v["dashboard"])
	}
	d.User = v["dashboard_user"]
	if d.Password, err = secret(v, "dashboard_password"); err != nil {
		return err
	}
	switch {
	case d.User != "" && d.Password == "":
		return fmt.Errorf("config: dashboard_user is set but has no password; set SWITCHBOARD_DASHBOARD_PASSWORD or SWITCHBOARD_DASHBOARD_PASSWORD_FILE")
	case d.User == "" && d.Password != "":
		return fmt.Errorf("config: a dashboard password is set without a user; set SWITCHBOARD_DASHBOARD_USER")
	case d.Password != "" && utf8.RuneCountInString(d.Password) < minPasswordChars:
		return fmt.Errorf("config: the dashboard password must have at least %d characters", minPasswordChars)
	}
	d.UserTenant, d.UserRole = v["dashboard_user_tenant"], v["dashboard_user_role"]
	if d.UserTenant != "" {
		if err := switchboard.ValidTenantID(d.UserTenant); err != nil {
			return fmt.Errorf("config: dashboard_user_tenant=%q is not a tenant ID (lowercase letters, digits and dashes); set SWITCHBOARD_DASHBOARD_USER_TENANT", d.UserTenant)
		}
	}
	switch switchboard.Role(d.UserRole) {
	case switchboard.RoleRead, switchboard.RoleAdmin, switchboard.RolePlatform:
	default:
		return fmt.Errorf("config: dashboard_user_role=%q must be read, admin or platform; set SWITCHBOARD_DASHBOARD_USER_ROLE", d.UserRole)
	}
	if d.SessionTTL, err = time.ParseDuration(v["dashboard_session_ttl"]); err != nil || d.SessionTTL < time.Minute {
		return fmt.Errorf("config: dashboard_session_ttl=%q must be a duration of at least 1m, such as 12h; set SWITCHBOARD_DASHBOARD_SESSION_TTL", v["dashboard_session_ttl"])
	}
	if d.LoginRate, err = strconv.Atoi(v["dashboard_login_rate"]); err != nil || d.LoginRate < 1 {
		return fmt.Errorf("config: dashboard_login_rate=%q must be a positive integer; set SWITCHBOARD_DASHBOARD_LOGIN_RATE", v["dashboard_login_rate"])
	}
	return nil
}
