package verify

import (
	"context"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/templates"
)

// whatsappTemplate returns the catalog template that carries codes on WhatsApp in locale (the
// closest translation), or EUNPROCESSABLE/channel_not_enabled saying what to set. The template
// must be a whatsapp one with a content_sid (WhatsApp allows only an approved template outside
// the 24-hour window, and a code is usually sent outside it) and exactly one variable, the code.
// The template is tenant's override of that name when it has one, else the shared template.
func (s *Service) whatsappTemplate(tenant, locale string) (*templates.Template, error) {
	name := s.cfg.WhatsAppTemplate
	if name == "" {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled",
			"the whatsapp channel is not enabled on this installation: set verify_whatsapp_template (SWITCHBOARD_VERIFY_WHATSAPP_TEMPLATE) to a catalog template with a content_sid whose one variable is the code")
	}
	var cat *templates.Catalog
	if s.cfg.Templates != nil {
		cat = s.cfg.Templates()
	}
	if cat == nil {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled",
			"the whatsapp channel needs the template catalog (templates_dir) holding verify_whatsapp_template %q", name)
	}
	tenant = switchboard.TenantOr(tenant)
	t, err := cat.LookupTenant(tenant, name, 0, locale)
	if err != nil && locale != "" {
		t, err = cat.LookupTenant(tenant, name, 0, "")
	}
	if err != nil {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled",
			"the whatsapp channel is not usable: verify_whatsapp_template: %s", switchboard.ErrorMessage(err))
	}
	if t.Channel != switchboard.ChannelWhatsApp || t.ContentSID == "" || len(t.Variables) != 1 {
		return nil, switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled",
			"the whatsapp channel is not usable: verify_whatsapp_template %s must be a whatsapp template with a content_sid and exactly one variable, the code", t)
	}
	return t, nil
}

// enqueueWhatsApp puts the otp message of a code into the outbox as a WhatsApp message of the
// configured template: free form inside the 24-hour window, its content template (the code as
// its one variable) outside it. No fallback policy: the verification's own fallback and resends
// handle a code that does not arrive.
func (s *Service) enqueueWhatsApp(ctx context.Context, v *switchboard.Verification, id, code string, now time.Time) error {
	t, err := s.whatsappTemplate(v.Tenant, v.Locale)
	if err != nil {
		return err
	}
	vars := map[string]string{t.Variables[0].Name: code}
	body, err := t.Render(vars)
	if err != nil {
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "channel_not_enabled",
			"the whatsapp channel is not usable: verify_whatsapp_template %s does not take a %d-digit code (its one variable must accept it)", t, len(code))
	}
	wa := &switchboard.WhatsAppOptions{ContentSID: t.ContentSID, ContentVariables: t.ContentVariables(vars), Fallback: switchboard.FallbackNone}
	return s.enqueue(ctx, v, id, switchboard.ChannelWhatsApp, body, wa, t, now)
}
