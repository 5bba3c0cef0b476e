package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/verify"
)

// VerifyConfig are the settings of one-time-code verifications.
type VerifyConfig struct {
	// Backend is verify.BackendBuiltin or verify.BackendTwilio.
	Backend string
	// Secret keys the builtin backend's code hashes and seals ("" : the node keeps one in its
	// data directory).
	Secret string
	// ServiceSID is the Twilio Verify service (VA…) of the twilio backend; "" with the
	// simulator creates one at start-up.
	ServiceSID string
	// From sends the codes ("" : the default sender).
	From       string
	CodeLength int
	TTL        time.Duration
	MaxSends   int
	MaxChecks  int
	Limits     verify.Limits
	// AllowedCountries are the allowed destination regions (none: all).
	AllowedCountries []string
	SafeList         []string
	Pumping          verify.Pumping
	Fallback         []switchboard.VerifyChannel
	// WhatsAppTemplate is the catalog template of codes sent on WhatsApp (builtin backend).
	WhatsAppTemplate string
	// SMSTemplate is the catalog template of codes sent by SMS; AppName the application's name
	// in them (builtin backend).
	SMSTemplate   string
	AppName       string
	FallbackAfter time.Duration
}

// verifySettings are appended to settings (see init).
var verifySettings = []setting{
	{key: "verify_backend", env: "SWITCHBOARD_VERIFY_BACKEND", def: verify.BackendBuiltin, help: "one-time codes: builtin (codes generated, hashed and sent by Switchboard) or twilio (Twilio Verify v2)"},
	{key: "verify_secret", env: "SWITCHBOARD_VERIFY_SECRET", secret: true, help: "key of the builtin backend's code hashes and sealed codes, at least 32 bytes (environment only; or verify_secret_file); empty: a random one kept in <data_dir>/verify-secret — set it on every node of a cluster"},
	{key: "verify_secret_file", env: "SWITCHBOARD_VERIFY_SECRET_FILE", help: "file holding the verify secret"},
	{key: "verify_service_sid", env: "SWITCHBOARD_VERIFY_SERVICE_SID", help: "Twilio Verify service SID (VA...) of the twilio backend; empty with the simulator: created at start-up"},
	{key: "verify_from", env: "SWITCHBOARD_VERIFY_FROM", help: "sender of one-time codes (builtin backend); empty: the default sender"},
	{key: "verify_code_length", env: "SWITCHBOARD_VERIFY_CODE_LENGTH", def: "6", help: "digits of a code, 4 to 10"},
	{key: "verify_ttl", env: "SWITCHBOARD_VERIFY_TTL", def: "10m", help: "lifetime of a code; a resend within it sends the same code"},
	{key: "verify_max_sends", env: "SWITCHBOARD_VERIFY_MAX_SENDS", def: "5", help: "codes sent per verification (start, resends and fallbacks)"},
	{key: "verify_max_checks", env: "SWITCHBOARD_VERIFY_MAX_CHECKS", def: "5", help: "checks per verification before it is max_attempts_reached"},
	{key: "verify_limit_phone", env: "SWITCHBOARD_VERIFY_LIMIT_PHONE", def: "5/10m,10/1h,20/24h", help: "verification starts per tenant and phone number: COUNT/DURATION windows, comma-separated (none: no limit)"},
	{key: "verify_limit_client_ip", env: "SWITCHBOARD_VERIFY_LIMIT_CLIENT_IP", def: "20/1h,100/24h", help: "verification starts per tenant and client_ip"},
	{key: "verify_limit_user_ref", env: "SWITCHBOARD_VERIFY_LIMIT_USER_REF", def: "10/1h,30/24h", help: "verification starts per tenant and user_ref"},
	{key: "verify_limit_country", env: "SWITCHBOARD_VERIFY_LIMIT_COUNTRY", def: "1000/1h", help: "verification starts per tenant and destination country"},
	{key: "verify_allowed_countries", env: "SWITCHBOARD_VERIFY_ALLOWED_COUNTRIES", help: "geo permissions: destination regions allowed, comma-separated ISO codes such as US,CA,GB (empty: all)"},
	{key: "verify_safe_list", env: "SWITCHBOARD_VERIFY_SAFE_LIST", help: "numbers (E.164) or prefixes ending in * that bypass rate limits and pumping checks, comma-separated"},
	{key: "verify_pumping_threshold", env: "SWITCHBOARD_VERIFY_PUMPING_THRESHOLD", def: "20", help: "unverified starts to one prefix within verify_pumping_window that block the prefix (0: off)"},
	{key: "verify_pumping_risky_threshold", env: "SWITCHBOARD_VERIFY_PUMPING_RISKY_THRESHOLD", def: "3", help: "the same for premium-rate, shared-cost and unknown ranges"},
	{key: "verify_pumping_window", env: "SWITCHBOARD_VERIFY_PUMPING_WINDOW", def: "1h", help: "window of the pumping rule"},
	{key: "verify_pumping_block", env: "SWITCHBOARD_VERIFY_PUMPING_BLOCK", def: "24h", help: "how long a prefix suspected of pumping stays blocked"},
	{key: "verify_fallback", env: "SWITCHBOARD_VERIFY_FALLBACK", def: "call", help: "channels an undelivered SMS code falls back to, in order (call, whatsapp; none)"},
	{key: "verify_whatsapp_template", env: "SWITCHBOARD_VERIFY_WHATSAPP_TEMPLATE", help: "catalog template (channel whatsapp, with a content_sid, one variable: the code) that sends codes on WhatsApp with the builtin backend; empty: channel whatsapp answers channel_not_enabled"},
	{key: "verify_sms_template", env: "SWITCHBOARD_VERIFY_SMS_TEMPLATE", def: "signup_code", help: "catalog template of SMS codes (builtin backend), filled with code, app and minutes; without a catalog or such a template, a built-in text is sent"},
	{key: "verify_app_name", env: "SWITCHBOARD_VERIFY_APP_NAME", help: "the application's name in code texts: the SMS template's {{app}}, or the prefix of the built-in text (at most 30 characters); empty: none"},
	{key: "verify_fallback_after", env: "SWITCHBOARD_VERIFY_FALLBACK_AFTER", def: "60s", help: "fall back when an SMS code has no delivery receipt after this long (undelivered/failed texts fall back at once)"},
}

func init() { settings = append(settings, verifySettings...) }

// buildVerify reads the verification settings.
func (c *Config) buildVerify(v map[string]string) error {
	vc := &c.Verify
	vc.Backend = strings.ToLower(v["verify_backend"])
	if vc.Backend != verify.BackendBuiltin && vc.Backend != verify.BackendTwilio {
		return fmt.Errorf("config: verify_backend=%q must be builtin or twilio; set SWITCHBOARD_VERIFY_BACKEND", v["verify_backend"])
	}
	var err error
	if vc.Secret, err = secret(v, "verify_secret"); err != nil {
		return err
	}
	if vc.Secret != "" && len(vc.Secret) < verify.MinSecretBytes {
		return fmt.Errorf("config: verify_secret must be at least %d bytes; set SWITCHBOARD_VERIFY_SECRET", verify.MinSecretBytes)
	}
	vc.ServiceSID, vc.From = v["verify_service_sid"], v["verify_from"]
	vc.WhatsAppTemplate = strings.TrimSpace(v["verify_whatsapp_template"])
	vc.SMSTemplate, vc.AppName = strings.TrimSpace(v["verify_sms_template"]), strings.TrimSpace(v["verify_app_name"])
	if n := utf8.RuneCountInString(vc.AppName); n > 30 || strings.ContainsFunc(vc.AppName, unicode.IsControl) || !utf8.ValidString(vc.AppName) {
		return fmt.Errorf("config: verify_app_name must be at most 30 characters of text; set SWITCHBOARD_VERIFY_APP_NAME")
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{
		{"verify_code_length", &vc.CodeLength, verify.MinCodeLength, verify.MaxCodeLength},
		{"verify_max_sends", &vc.MaxSends, 1, 100}, {"verify_max_checks", &vc.MaxChecks, 1, 100},
		{"verify_pumping_threshold", &vc.Pumping.Threshold, 0, 1 << 30}, {"verify_pumping_risky_threshold", &vc.Pumping.RiskyThreshold, 0, 1 << 30},
	}
	for _, i := range ints {
		n, err := strconv.Atoi(v[i.key])
		if err != nil || n < i.min || n > i.max {
			return fmt.Errorf("config: %s=%q must be an integer from %d to %d; set %s", i.key, v[i.key], i.min, i.max, envOf(i.key))
		}
		*i.dst = n
	}
	durs := []struct {
		key string
		dst *time.Duration
	}{{"verify_ttl", &vc.TTL}, {"verify_pumping_window", &vc.Pumping.Window}, {"verify_pumping_block", &vc.Pumping.BlockFor}, {"verify_fallback_after", &vc.FallbackAfter}}
	for _, d := range durs {
		if *d.dst, err = parseDays(v[d.key]); err != nil || *d.dst <= 0 {
			return fmt.Errorf("config: %s=%q is not a positive duration such as 10m; set %s", d.key, v[d.key], envOf(d.key))
		}
	}
	vc.Pumping.DropDigits = 4
	lims := []struct {
		key string
		dst *[]verify.Window
	}{{"verify_limit_phone", &vc.Limits.Phone}, {"verify_limit_client_ip", &vc.Limits.ClientIP}, {"verify_limit_user_ref", &vc.Limits.UserRef}, {"verify_limit_country", &vc.Limits.Country}}
	for _, l := range lims {
		if *l.dst, err = verify.ParseWindows(v[l.key]); err != nil {
			return fmt.Errorf("config: %s: %w; set %s", l.key, err, envOf(l.key))
		}
	}
	for _, part := range splitList(v["verify_allowed_countries"]) {
		cc := strings.ToUpper(part)
		if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
			return fmt.Errorf("config: verify_allowed_countries: %q is not an ISO 3166-1 alpha-2 code such as US; set SWITCHBOARD_VERIFY_ALLOWED_COUNTRIES", part)
		}
		vc.AllowedCountries = append(vc.AllowedCountries, cc)
	}
	for _, part := range splitList(v["verify_safe_list"]) {
		p := strings.TrimSuffix(part, "*")
		if !strings.HasPrefix(p, "+") || len(p) < 2 || strings.ContainsFunc(p[1:], func(r rune) bool { return r < '0' || r > '9' }) {
			return fmt.Errorf("config: verify_safe_list: %q is not an E.164 number or a prefix such as +1415555*; set SWITCHBOARD_VERIFY_SAFE_LIST", part)
		}
		vc.SafeList = append(vc.SafeList, part)
	}
	if fb := strings.TrimSpace(v["verify_fallback"]); fb != "none" {
		for _, part := range splitList(fb) {
			ch := switchboard.VerifyChannel(strings.ToLower(part))
			if ch != switchboard.VerifyCall && ch != switchboard.VerifyWhatsApp {
				return fmt.Errorf("config: verify_fallback: %q is not call or whatsapp; set SWITCHBOARD_VERIFY_FALLBACK", part)
			}
			vc.Fallback = append(vc.Fallback, ch)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
