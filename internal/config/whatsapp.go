package config

import (
	"fmt"
	"mime"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// WhatsAppConfig is the WhatsApp channel's configuration.
type WhatsAppConfig struct {
	// Enabled lets the API accept channel whatsapp.
	Enabled bool
	// Fallback is the fallback policy of WhatsApp messages that name none.
	Fallback switchboard.FallbackPolicy
	// FallbackAfter, when positive, is the default fallback time.
	FallbackAfter time.Duration
	// WindowClosingLead is how long before a window closes conversation.window_closing goes
	// out (0: never).
	WindowClosingLead time.Duration
	// ScanInterval is how often fallbacks and closing windows are looked for.
	ScanInterval time.Duration
}

// MediaConfig is the inbound media pipeline's configuration.
type MediaConfig struct {
	// Dir stores accepted media by content (default <data_dir>/media); quarantined files go to
	// Dir/quarantine.
	Dir string
	// MaxBytes caps one file.
	MaxBytes int64
	// AllowedTypes are the MIME types accepted, as sniffed from the bytes.
	AllowedTypes []string
	// ScanCommand, when set, is run with the file's path as its last argument; a non-zero exit
	// quarantines the file.
	ScanCommand []string
	// RejectReply, when set, is texted back to the sender when an attachment is refused.
	RejectReply string
	// Concurrency bounds the downloads in flight per node.
	Concurrency int
	// URLSecret signs the stored files' URLs in media.stored events ("" : a random key kept in
	// <data_dir>/media-url-key); URLTTL is how long such a URL is valid (0: events carry plain
	// URLs, which need an API key).
	URLSecret string
	URLTTL    time.Duration
	// AllowPrivate lets inbound media downloads and outbound media checks reach private,
	// loopback and link-local addresses (default: endpoints_allow_private).
	AllowPrivate bool
	// Store is where stored media live: "disk" (Dir, this node only) or "database" (the
	// media_blobs table, shared by every node of a cluster).
	Store string
}

func init() {
	settings = append(settings,
		setting{key: "whatsapp_enabled", env: "SWITCHBOARD_WHATSAPP_ENABLED", def: "true", help: "accept channel whatsapp (false: the API refuses it with channel_not_enabled)"},
		setting{key: "whatsapp_fallback", env: "SWITCHBOARD_WHATSAPP_FALLBACK", def: "none", help: "fallback of WhatsApp messages that name none: none, or sms (the same text by SMS when WhatsApp fails)"},
		setting{key: "whatsapp_fallback_after", env: "SWITCHBOARD_WHATSAPP_FALLBACK_AFTER", def: "0", help: "with fallback sms, also send the SMS when WhatsApp has not delivered within this long (e.g. 10m; 0: only on failure)"},
		setting{key: "whatsapp_window_closing_lead", env: "SWITCHBOARD_WHATSAPP_WINDOW_CLOSING_LEAD", def: "1h", help: "write conversation.window_closing this long before a WhatsApp window closes (0: never)"},
		setting{key: "whatsapp_scan_interval", env: "SWITCHBOARD_WHATSAPP_SCAN_INTERVAL", def: "1s", help: "how often WhatsApp fallbacks and closing windows are looked for"},
		setting{key: "media_dir", env: "SWITCHBOARD_MEDIA_DIR", help: "directory for inbound media, stored by content hash (default <data_dir>/media)"},
		setting{key: "media_max_bytes", env: "SWITCHBOARD_MEDIA_MAX_BYTES", def: "5242880", help: "largest inbound media file accepted, in bytes"},
		setting{key: "media_allowed_types", env: "SWITCHBOARD_MEDIA_ALLOWED_TYPES", def: "image/jpeg,image/png,image/gif,image/webp,application/pdf,audio/mpeg,audio/ogg,video/mp4", help: "MIME types of inbound media accepted, as detected from the bytes, comma-separated"},
		setting{key: "media_scan_command", env: "SWITCHBOARD_MEDIA_SCAN_COMMAND", help: "command run on every inbound media file with its path appended (e.g. clamdscan --no-summary); non-zero exit quarantines it"},
		setting{key: "media_reject_reply", env: "SWITCHBOARD_MEDIA_REJECT_REPLY", help: "text sent back to the sender when an attachment is refused (empty: none)"},
		setting{key: "media_allow_private", env: "SWITCHBOARD_MEDIA_ALLOW_PRIVATE", help: "let inbound media downloads and outbound media size checks reach private, loopback and link-local addresses (development and tests; default: endpoints_allow_private)"},
		setting{key: "media_url_secret", env: "SWITCHBOARD_MEDIA_URL_SECRET", secret: true, help: "key that signs the URLs of stored media in media.stored events (environment only; or media_url_secret_file; default: a random key kept in <data_dir>/media-url-key; set the same value on every node of a cluster)"},
		setting{key: "media_url_secret_file", env: "SWITCHBOARD_MEDIA_URL_SECRET_FILE", help: "file holding media_url_secret"},
		setting{key: "media_url_ttl", env: "SWITCHBOARD_MEDIA_URL_TTL", def: "7d", help: "how long the signed URL of a stored media file in a media.stored event is valid (0: plain URLs, fetched with an API key only)"},
		setting{key: "media_store", env: "SWITCHBOARD_MEDIA_STORE", def: "disk", help: "where stored inbound media live: disk (media_dir, one node) or database (shared by every node of a cluster)"},
		setting{key: "media_concurrency", env: "SWITCHBOARD_MEDIA_CONCURRENCY", def: "4", help: "inbound media downloads in flight at once per node"},
	)
}

// buildWhatsApp reads the WhatsApp and media settings.
func (c *Config) buildWhatsApp(v map[string]string) error {
	var err error
	w := &c.WhatsApp
	if w.Enabled, err = strconv.ParseBool(v["whatsapp_enabled"]); err != nil {
		return fmt.Errorf("config: whatsapp_enabled=%q must be true or false; set SWITCHBOARD_WHATSAPP_ENABLED", v["whatsapp_enabled"])
	}
	w.Fallback = switchboard.FallbackPolicy(v["whatsapp_fallback"])
	if w.Fallback == "" || !w.Fallback.Valid() {
		return fmt.Errorf("config: whatsapp_fallback=%q must be none or sms; set SWITCHBOARD_WHATSAPP_FALLBACK", v["whatsapp_fallback"])
	}
	if w.FallbackAfter, err = parseDays(v["whatsapp_fallback_after"]); err != nil || w.FallbackAfter < 0 || w.FallbackAfter > 7*24*time.Hour {
		return fmt.Errorf("config: whatsapp_fallback_after=%q must be a duration up to 7d such as 10m, or 0; set SWITCHBOARD_WHATSAPP_FALLBACK_AFTER", v["whatsapp_fallback_after"])
	}
	if w.WindowClosingLead, err = parseDays(v["whatsapp_window_closing_lead"]); err != nil || w.WindowClosingLead < 0 || w.WindowClosingLead >= switchboard.WhatsAppWindow {
		return fmt.Errorf("config: whatsapp_window_closing_lead=%q must be a duration under 24h such as 1h, or 0; set SWITCHBOARD_WHATSAPP_WINDOW_CLOSING_LEAD", v["whatsapp_window_closing_lead"])
	}
	if w.ScanInterval, err = time.ParseDuration(v["whatsapp_scan_interval"]); err != nil || w.ScanInterval <= 0 {
		return fmt.Errorf("config: whatsapp_scan_interval=%q must be a positive duration such as 1s; set SWITCHBOARD_WHATSAPP_SCAN_INTERVAL", v["whatsapp_scan_interval"])
	}

	m := &c.Media
	m.Dir = v["media_dir"]
	if m.Dir == "" {
		m.Dir = filepath.Join(c.DataDir, "media")
	}
	if m.MaxBytes, err = strconv.ParseInt(v["media_max_bytes"], 10, 64); err != nil || m.MaxBytes < 1 {
		return fmt.Errorf("config: media_max_bytes=%q must be a positive integer; set SWITCHBOARD_MEDIA_MAX_BYTES", v["media_max_bytes"])
	}
	m.AllowedTypes = nil
	for _, t := range strings.Split(v["media_allowed_types"], ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if mt, _, err := mime.ParseMediaType(t); err != nil || mt != t || !strings.Contains(t, "/") {
			return fmt.Errorf("config: media_allowed_types: %q is not a MIME type such as image/jpeg; set SWITCHBOARD_MEDIA_ALLOWED_TYPES", t)
		}
		m.AllowedTypes = append(m.AllowedTypes, t)
	}
	m.ScanCommand = strings.Fields(v["media_scan_command"])
	m.RejectReply = strings.TrimSpace(v["media_reject_reply"])
	if m.URLSecret, err = secret(v, "media_url_secret"); err != nil {
		return err
	}
	if m.URLSecret != "" && len(m.URLSecret) < 16 {
		return fmt.Errorf("config: media_url_secret must be at least 16 characters; set SWITCHBOARD_MEDIA_URL_SECRET")
	}
	if m.URLTTL, err = parseDays(v["media_url_ttl"]); err != nil || m.URLTTL < 0 {
		return fmt.Errorf("config: media_url_ttl=%q must be a duration such as 7d or 24h, or 0; set SWITCHBOARD_MEDIA_URL_TTL", v["media_url_ttl"])
	}
	m.AllowPrivate = c.EndpointsAllowPrivate
	if s := strings.TrimSpace(v["media_allow_private"]); s != "" {
		if m.AllowPrivate, err = strconv.ParseBool(s); err != nil {
			return fmt.Errorf("config: media_allow_private=%q must be true or false; set SWITCHBOARD_MEDIA_ALLOW_PRIVATE", s)
		}
	}
	if m.Concurrency, err = strconv.Atoi(v["media_concurrency"]); err != nil || m.Concurrency < 1 {
		return fmt.Errorf("config: media_concurrency=%q must be a positive integer; set SWITCHBOARD_MEDIA_CONCURRENCY", v["media_concurrency"])
	}
	if m.Store = strings.ToLower(strings.TrimSpace(v["media_store"])); m.Store != "disk" && m.Store != "database" {
		return fmt.Errorf("config: media_store=%q must be disk or database; set SWITCHBOARD_MEDIA_STORE", v["media_store"])
	}
	return nil
}
