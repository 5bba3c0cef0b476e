package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// kind is the type of a setting's value as its flag shows and checks it.
type kind string

const (
	kindString   kind = "string"
	kindBool     kind = "bool"
	kindInt      kind = "int"
	kindFloat    kind = "float"
	kindDuration kind = "duration"
	// kindDays is a duration that also takes whole days, such as 30d.
	kindDays kind = "days"
)

// kinds names the type of the settings whose type cannot be read from their default (no default,
// or a default such as "0" or "1" that fits several types). The others are inferred by kindOf.
var kinds = map[string]kind{
	"sync_webhooks":                  kindBool,
	"calls_per_second":               kindFloat,
	"alerts_delivery_rate_threshold": kindFloat,
	"alerts_delivery_rate_recover":   kindFloat,
	"whatsapp_fallback_after":        kindDuration,
	"retention":                      kindDays,
	"event_retention":                kindDays,
	"endpoints_disable_after":        kindDays,
}

// kindOf returns a setting's type: from kinds, else from its default.
func kindOf(s setting) kind {
	if k, ok := kinds[s.key]; ok {
		return k
	}
	switch {
	case s.def == "true" || s.def == "false":
		return kindBool
	case s.def == "" || s.def == "0":
		return kindString // "0" fits an int, a float and a duration: name the kind in kinds
	}
	if _, err := strconv.Atoi(s.def); err == nil {
		return kindInt
	}
	if _, err := strconv.ParseFloat(s.def, 64); err == nil {
		return kindFloat
	}
	if _, err := time.ParseDuration(s.def); err == nil {
		return kindDuration
	}
	return kindString
}

// settingValue is a setting's flag: it checks its value's type when the flag is parsed, so
// `--lease soon` fails at once, and shows the type and default in --help. Load still reads the
// value as text, through the same checks as the environment's and the file's.
type settingValue struct {
	kind kind
	val  string
}

func (v *settingValue) String() string { return v.val }
func (v *settingValue) Type() string {
	if v.kind == kindDays {
		return string(kindDuration)
	}
	return string(v.kind)
}

func (v *settingValue) Set(s string) error {
	var err error
	switch v.kind {
	case kindBool:
		_, err = strconv.ParseBool(s)
	case kindInt:
		_, err = strconv.ParseInt(s, 10, 64)
	case kindFloat:
		_, err = strconv.ParseFloat(s, 64)
	case kindDuration:
		if _, err = time.ParseDuration(s); err != nil {
			err = fmt.Errorf("%q is not a duration such as 30s, 5m or 12h", s)
		}
	case kindDays:
		if _, err = parseDays(s); err != nil {
			err = fmt.Errorf("%q is not a duration such as 72h or 30d", s)
		}
	}
	if err != nil {
		return err
	}
	v.val = s
	return nil
}

// BindFlags registers every setting as a flag on fs (the key with dashes for underscores), typed
// and with its default, plus --config. Secrets have no flag: a flag would leave them in the shell's
// history and in the process list; they come from the environment or a *_file setting.
func BindFlags(fs *pflag.FlagSet) {
	bind(fs, func(setting) bool { return true })
}

// BindFlagsOf registers --config and the flags of the named settings only, for the commands
// that need a few of the server's settings (keys, export, migrate: the database).
func BindFlagsOf(fs *pflag.FlagSet, keys ...string) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	bind(fs, func(s setting) bool { return want[s.key] })
}

func bind(fs *pflag.FlagSet, want func(setting) bool) {
	fs.String("config", "", "YAML configuration file (env SWITCHBOARD_CONFIG)")
	for _, s := range settings {
		if s.secret || !want(s) {
			continue
		}
		v := &settingValue{kind: kindOf(s), val: s.def}
		f := fs.VarPF(v, flagName(s.key), "", fmt.Sprintf("%s (env %s)", s.help, s.env))
		if v.kind == kindBool {
			f.NoOptDefVal = "true"
		}
	}
}

// Resolved is the flat settings resolved as serve resolves them (flag, environment, file,
// default) without the checks and secrets Load needs: for commands that use a few settings of
// the server's configuration, such as the client commands' address and keys' database, and must
// work in a shell where the server's secrets are not set.
type Resolved struct {
	r *resolved
}

// Resolve layers the flat settings as Load does.
func Resolve(fs *pflag.FlagSet, getenv func(string) string) (*Resolved, error) {
	r, err := resolveFrom(fs, getenv)
	if err != nil {
		return nil, err
	}
	return &Resolved{r: r}, nil
}

// Get returns a setting's value ("" when unset and without default).
func (r *Resolved) Get(key string) string { return r.r.vals[key] }

// Source says where a setting's value came from: a flag ("--addr"), an environment variable,
// "the config file PATH", "the default", or "" when it is unset.
func (r *Resolved) Source(key string) string { return r.r.from[key] }

// File is the YAML file read, "" when none.
func (r *Resolved) File() string { return r.r.path }

// DatabaseURL is the database serve would open with these settings, and where that came from.
func (r *Resolved) DatabaseURL() (url, source string) {
	if u := r.Get("database_url"); u != "" {
		return u, r.Source("database_url")
	}
	src := "data_dir " + strconv.Quote(r.Get("data_dir")) + " from " + r.Source("data_dir")
	if r.Source("data_dir") == "the default" {
		src = "the default data_dir " + strconv.Quote(r.Get("data_dir"))
	}
	return "sqlite:" + filepath.Join(r.Get("data_dir"), "switchboard.db"), src
}

// Env returns a setting's environment variable, "" for an unknown key.
func Env(key string) string {
	for _, s := range settings {
		if s.key == key {
			return s.env
		}
	}
	return ""
}

// FlagName is a setting's flag name without dashes in front, such as "database-url".
func FlagName(key string) string { return flagName(key) }

// SettingKeys lists every flat setting's YAML key, secrets included, for the docs' check.
func SettingKeys() []string {
	keys := make([]string, 0, len(settings))
	for _, s := range settings {
		keys = append(keys, s.key)
	}
	return keys
}

// IsSecret reports whether a setting is a secret (environment or file only: no flag, no YAML key).
func IsSecret(key string) bool {
	for _, s := range settings {
		if s.key == key {
			return s.secret
		}
	}
	return false
}

// StructuredKeys are the YAML file's keys that hold structures rather than one value.
func StructuredKeys() []string {
	return []string{"senders", "keywords", "quiet_hours", "endpoints", "inbound_routes"}
}
