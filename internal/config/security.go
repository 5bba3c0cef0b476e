package config

import (
	"fmt"
	"strconv"
	"strings"
)

// SecurityConfig holds the settings of secrets at rest and TLS.
type SecurityConfig struct {
	// SecretKey lists the keys that encrypt stored secrets, KEY_ID:BASE64 separated by commas,
	// the current one first ("": secrets are stored in plaintext).
	SecretKey string
	// SecretKeyRequired refuses to start without SecretKey.
	SecretKeyRequired bool
}

func init() {
	settings = append(settings,
		setting{key: "secret_key", env: "SWITCHBOARD_SECRET_KEY", secret: true, help: "keys that encrypt stored secrets (endpoint signing secrets) with AES-256-GCM, as KEY_ID:BASE64 of 32 bytes (openssl rand -base64 32), comma-separated, the current key first and older ones after it (environment only; or secret_key_file)"},
		setting{key: "secret_key_file", env: "SWITCHBOARD_SECRET_KEY_FILE", help: "file holding secret_key (keys separated by commas or new lines)"},
		setting{key: "secret_key_required", env: "SWITCHBOARD_SECRET_KEY_REQUIRED", def: "false", help: "refuse to start without secret_key, rather than store secrets in plaintext"},
	)
}

// buildSecurity reads the settings of secrets at rest.
func (c *Config) buildSecurity(v map[string]string) error {
	var err error
	s := &c.Security
	if s.SecretKey, err = secret(v, "secret_key"); err != nil {
		return err
	}
	if s.SecretKeyRequired, err = strconv.ParseBool(v["secret_key_required"]); err != nil {
		return fmt.Errorf("config: secret_key_required=%q must be true or false; set SWITCHBOARD_SECRET_KEY_REQUIRED", v["secret_key_required"])
	}
	if s.SecretKeyRequired && strings.TrimSpace(s.SecretKey) == "" {
		return fmt.Errorf("config: secret_key_required is set but no secret_key is: set SWITCHBOARD_SECRET_KEY (or SWITCHBOARD_SECRET_KEY_FILE) to KEY_ID:BASE64, e.g. k1:$(openssl rand -base64 32)")
	}
	return nil
}
