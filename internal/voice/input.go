package voice

import (
	"regexp"
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/switchboard-gw/switchboard/internal/content"
)

// Bounds of what a call stores from its request (docs/security.md, input policy).
const (
	MaxMetadataKeys   = 20
	MaxMetadataKey    = 64
	MaxMetadataValue  = 512
	MaxVariableValue  = 1024
	MaxLocaleBytes    = 35
	codeInvalidDialed = "invalid_dial_number"
)

var localeRE = regexp.MustCompile(`^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$`)

// checkInput bounds a call request's stored text and checks the numbers its flow would dial with
// its variables: E.164 only, sip: URIs and premium-rate numbers refused unless allowed.
func (s *Service) checkInput(req *CreateRequest, f *Flow) error {
	if req.Locale != "" && (len(req.Locale) > MaxLocaleBytes || !localeRE.MatchString(req.Locale)) {
		return invalid("invalid_locale", "locale must be a language tag such as en-US (at most %d bytes)", MaxLocaleBytes)
	}
	if len(req.Metadata) > MaxMetadataKeys {
		return invalid("invalid_metadata", "at most %d metadata keys", MaxMetadataKeys)
	}
	for k, v := range req.Metadata {
		if k == "" || len(k) > MaxMetadataKey || len(v) > MaxMetadataValue {
			return invalid("invalid_metadata", "metadata keys must be 1-%d bytes and values at most %d bytes", MaxMetadataKey, MaxMetadataValue)
		}
	}
	for k, v := range req.Variables {
		if len(v) > MaxVariableValue {
			return invalid("invalid_variable", "variable %q is over %d bytes", k, MaxVariableValue)
		}
	}
	names := make([]string, 0, len(f.States))
	for name := range f.States {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st := f.States[name]
		if st == nil || st.Dial == nil {
			continue
		}
		for _, tmpl := range st.Dial.Numbers {
			if err := s.checkDialed(render(tmpl, req.Variables)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDialed applies the dialing policy to one number a flow would dial.
func (s *Service) checkDialed(number string) error {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(number)), "sip:") {
		if s.cfg.DialAllowSIP {
			return nil
		}
		return invalid(codeInvalidDialed, "the flow would dial a sip: URI, which is refused unless dial_allow_sip is set")
	}
	e164, err := content.NormalizePhone(number)
	if err != nil || e164 != number {
		return invalid(codeInvalidDialed, "the flow would dial %q, which is not an E.164 number such as +14155550100", truncate(number, 24))
	}
	if !s.cfg.DialAllowPremium {
		if pn, err := phonenumbers.Parse(number, ""); err == nil && phonenumbers.GetNumberType(pn) == phonenumbers.PREMIUM_RATE {
			return invalid(codeInvalidDialed, "the flow would dial a premium-rate number, which is refused unless dial_allow_premium is set")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
