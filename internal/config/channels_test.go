package config

import (
	"maps"
	"strings"
	"testing"
)

// TestChannelProviders: every routed channel goes through twilio by default; channel_providers
// moves some (mms follows sms unless named), and a malformed entry or an unknown channel stops
// start-up with one line naming the setting.
func TestChannelProviders(t *testing.T) {
	t.Parallel()
	all := func(name string) map[string]string {
		return map[string]string{"sms": name, "mms": name, "whatsapp": name, "voice": name}
	}
	c, err := Load(nil, envOfMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(c.ChannelProviders, all("twilio")) {
		t.Fatalf("default channel providers %v", c.ChannelProviders)
	}
	for in, want := range map[string]map[string]string{
		"whatsapp=acme":            {"sms": "twilio", "mms": "twilio", "whatsapp": "acme", "voice": "twilio"},
		"sms=acme":                 {"sms": "acme", "mms": "acme", "whatsapp": "twilio", "voice": "twilio"},
		" SMS = Acme , mms=twilio": {"sms": "acme", "mms": "twilio", "whatsapp": "twilio", "voice": "twilio"},
		"":                         all("twilio"),
	} {
		c, err := Load(nil, envOfMap(map[string]string{"SWITCHBOARD_CHANNEL_PROVIDERS": in}))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !maps.Equal(c.ChannelProviders, want) {
			t.Errorf("%q: %v, want %v", in, c.ChannelProviders, want)
		}
	}
	for _, bad := range []string{"fax=acme", "sms", "sms=", "sms=acme,sms=other"} {
		_, err := Load(nil, envOfMap(map[string]string{"SWITCHBOARD_CHANNEL_PROVIDERS": bad}))
		if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_CHANNEL_PROVIDERS") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line naming SWITCHBOARD_CHANNEL_PROVIDERS", bad, err)
		}
	}
}
