package templates

import (
	"sort"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Rules of the Content SID mapping (WhatsApp content templates).
const (
	// RuleContentSIDChannel (warning): content_sid on a template that is not whatsapp, where it
	// is never used.
	RuleContentSIDChannel = "content_sid_not_whatsapp"
	// RuleContentSIDShared (error): templates of different locales, or with different content
	// variables, map to one content_sid; a Twilio content template has one language and one set
	// of {{1}}… placeholders.
	RuleContentSIDShared = "content_sid_shared"
	// RuleContentNoVariables (warning): a content template mapping whose variables are all
	// sensitive, so none can be sent as ContentVariables.
	RuleContentNoVariables = "content_variables_missing"
)

// lintContent checks the Content SID mapping and the variables of a catalog as tenant sees it
// (ts: the effective templates, sorted; tenant "" for the shared catalog). For a tenant, only
// what concerns its own templates is reported: the shared catalog's findings are reported once,
// for the shared catalog.
func lintContent(ts []*Template, tenant string) []Finding {
	var fs []Finding
	bySID := map[string][]*Template{}
	for _, t := range ts {
		bySID[t.ContentSID] = append(bySID[t.ContentSID], t)
		if t.Tenant != tenant {
			continue
		}
		if t.Fallback != "" && t.Channel != switchboard.ChannelWhatsApp {
			fs = append(fs, t.finding(t.Line, RuleContentSIDChannel, SeverityWarning,
				"fallback applies to whatsapp templates only; this one is %s", channelOf(t)))
		}
		if t.ContentSID == "" {
			continue
		}
		if t.Channel != switchboard.ChannelWhatsApp {
			fs = append(fs, t.finding(t.Line, RuleContentSIDChannel, SeverityWarning,
				"content_sid %s is only used for whatsapp templates; this one is %s", t.ContentSID, channelOf(t)))
		}
		if len(t.Variables) > 0 && len(t.ContentPlaceholders()) == 0 {
			fs = append(fs, t.finding(t.Line, RuleContentNoVariables, SeverityWarning,
				"content template %s gets no ContentVariables: every variable is sensitive, and sensitive values never go to the provider", t.ContentSID))
		}
	}
	delete(bySID, "")
	sids := make([]string, 0, len(bySID))
	for s := range bySID {
		sids = append(sids, s)
	}
	sort.Strings(sids)
	for _, sid := range sids {
		mapped := bySID[sid]
		first := mapped[0]
		for _, t := range mapped[1:] {
			at, other := t, first
			switch {
			case t.Tenant == tenant:
			case first.Tenant == tenant: // a shared template clashes with the tenant's: report it on the tenant's
				at, other = first, t
			default:
				continue // both shared, seen in a tenant's catalog: reported for the shared catalog
			}
			switch {
			case at.Locale != other.Locale:
				fs = append(fs, at.finding(at.Line, RuleContentSIDShared, SeverityError,
					"content_sid %s is also mapped from %s%s (locale %s): a content template has one language; give each locale its own",
					sid, other, sharedNote(other, tenant), other.Locale))
			case contentSignature(at) != contentSignature(other):
				fs = append(fs, at.finding(at.Line, RuleContentSIDShared, SeverityError,
					"content_sid %s is also mapped from %s%s, whose content variables differ ({{n}}: %s here, %s there)",
					sid, other, sharedNote(other, tenant), contentSignature(at), contentSignature(other)))
			}
		}
	}
	return fs
}

// sharedNote says that a template of a tenant's catalog is the shared catalog's.
func sharedNote(t *Template, tenant string) string {
	if tenant != "" && t.Tenant == "" {
		return " of the shared catalog"
	}
	return ""
}

func channelOf(t *Template) switchboard.Channel {
	if t.Channel == "" {
		return switchboard.ChannelSMS
	}
	return t.Channel
}

// contentSignature lists the variables behind {{1}}, {{2}}…, for comparing two mappings.
func contentSignature(t *Template) string {
	var names []string
	for _, v := range t.ContentPlaceholders() {
		names = append(names, v.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
