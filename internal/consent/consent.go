// Package consent decides whether a recipient may be messaged and records consent changes:
// opt-outs (STOP, or the provider's 21610), opt-ins, with their source and evidence, in an
// append-only history.
//
// Consent is checked twice: when a message is accepted (refused with a problem code) and again
// right before it is handed to the provider, since an opt-out can arrive in between.
package consent

import (
	"context"
	"fmt"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
)

// Service checks and records consent.
type Service struct {
	Store Store
	Clock switchboard.Clock
	// RequireOptIn lists the categories that need a recorded opt-in (marketing by default).
	RequireOptIn map[switchboard.Category]bool
}

// New returns a Service that requires an opt-in for the given categories.
func New(store Store, clock switchboard.Clock, requireOptIn ...switchboard.Category) *Service {
	if clock == nil {
		clock = switchboard.SystemClock
	}
	s := &Service{Store: store, Clock: clock, RequireOptIn: map[switchboard.Category]bool{}}
	for _, c := range requireOptIn {
		s.RequireOptIn[c] = true
	}
	return s
}

// Scopes are the consent scopes that apply to a message from a pool.
func Scopes(pool string) []string {
	if pool == "" || pool == switchboard.ScopeAll {
		return []string{switchboard.ScopeAll}
	}
	return []string{pool, switchboard.ScopeAll}
}

// ReasonFor explains a blocking record in words for the timeline and the API, as tenant may read
// it: an opt-out binds every tenant that sends from the number, but its evidence (the inbound message's ID and SID, an operator's note) is the tenant's
// that recorded it, so another tenant reads only that one was recorded.
func ReasonFor(c *switchboard.ConsentRecord, tenant string) string {
	scope := "pool " + c.Scope
	if c.Scope == switchboard.ScopeAll {
		scope = "every pool"
	}
	evidence := c.Evidence
	if switchboard.TenantOr(c.Tenant) != switchboard.TenantOr(tenant) {
		evidence = "recorded for another tenant that sends from this number"
	}
	return fmt.Sprintf("the recipient opted out (%s, source %s, %s) for %s", c.At.Format("2006-01-02 15:04:05Z07:00"), c.Source, evidence, scope)
}

// CheckAccept refuses a new message to an opted-out recipient (EUNPROCESSABLE/recipient_opted_out)
// and a message of a category that needs an opt-in the recipient has not given
// (EUNPROCESSABLE/opt_in_required).
func (s *Service) CheckAccept(ctx context.Context, m *switchboard.Message) error {
	c, err := s.Store.LatestConsent(ctx, m.To, Scopes(m.Pool))
	if err != nil {
		return err
	}
	if c != nil && c.State == switchboard.ConsentOptedOut {
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "recipient_opted_out", "%s; they must text START before they can be messaged again", ReasonFor(c, m.Tenant))
	}
	if s.RequireOptIn[m.Category] && (c == nil || c.State != switchboard.ConsentOptedIn) {
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "opt_in_required", "%s messages need the recipient's recorded opt-in (PUT /v1/consent/{phone} with state opted_in, or their START)", m.Category)
	}
	return nil
}

// Record appends a consent change (of the default tenant).
func (s *Service) Record(ctx context.Context, phone, scope string, state switchboard.ConsentState, source switchboard.ConsentSource, evidence, actor string) (*switchboard.ConsentRecord, error) {
	return s.record(ctx, "", phone, scope, state, source, evidence, actor)
}

// record appends a consent change recorded by tenant ("": the default tenant).
func (s *Service) record(ctx context.Context, tenant, phone, scope string, state switchboard.ConsentState, source switchboard.ConsentSource, evidence, actor string) (*switchboard.ConsentRecord, error) {
	c := &switchboard.ConsentRecord{Phone: phone, Scope: scope, State: state, Source: source, Evidence: evidence, Actor: actor, At: s.Clock(), Tenant: tenant}
	if err := s.Store.RecordConsent(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// ReplyToKey is the metadata key of a keyword reply that names the inbound message (its
// provider SID) it answers. The confirmation of an opt-out is the one message an opted-out
// recipient still gets: Blocked lets it through because the opt-out's evidence names the same
// inbound message.
const ReplyToKey = "reply_to"

// BlocksMessage returns why a message must not be sent now, or "" when it may: an opt-out
// (except for the reply to the very keyword that opted the recipient out: the confirmation is the
// one message an opted-out recipient still gets), or a missing opt-in for its category.
func (s *Service) BlocksMessage(ctx context.Context, m *switchboard.Message) (string, error) {
	c, err := s.Store.LatestConsent(ctx, m.To, Scopes(m.Pool))
	if err != nil {
		return "", err
	}
	if c != nil && c.State == switchboard.ConsentOptedOut {
		if sid := m.Metadata[ReplyToKey]; sid != "" && c.Source == switchboard.ConsentFromKeyword && strings.Contains(c.Evidence, sid) {
			return "", nil
		}
		return ReasonFor(c, m.Tenant) + "; it was not sent", nil
	}
	if s.RequireOptIn[m.Category] && (c == nil || c.State != switchboard.ConsentOptedIn) {
		return fmt.Sprintf("%s messages need a recorded opt-in and the recipient's was withdrawn or never given; it was not sent", m.Category), nil
	}
	return "", nil
}

// BlocksCall returns why the callee of a call of tenant from a sender of pool must not be called, or ""
// when they may be. Voice has no consent scope of its own: a person's consent is per sender pool
// whatever the channel, so a STOP texted to a pool's number (or STOPALL, or the provider's 21610)
// also stops calls from that pool's numbers, and START resumes both.
func (s *Service) BlocksCall(ctx context.Context, to, pool, tenant string) (string, error) {
	c, err := s.Store.LatestConsent(ctx, to, Scopes(pool))
	if err != nil {
		return "", err
	}
	if c != nil && c.State == switchboard.ConsentOptedOut {
		return ReasonFor(c, tenant), nil
	}
	return "", nil
}

// HandleInbound applies a keyword an inbound message is (STOP, START, HELP…): it records the
// consent change with the inbound message as evidence, in the inbound message's tenant (whom the
// person answered, so that tenant sees it), and returns the match, whose Reply the
// caller sends when Switchboard replies itself. It is idempotent: a webhook delivered again finds
// its own record and records nothing more. It returns nil for a message that is no keyword.
func (s *Service) HandleInbound(ctx context.Context, in *switchboard.InboundMessage, pool string, kw *Keywords) (*Match, error) {
	m := kw.Match(pool, in.Body)
	if m == nil || m.Action == ActionHelp {
		return m, nil
	}
	scope := pool
	if m.AllPools || pool == "" {
		scope = switchboard.ScopeAll
	}
	state := switchboard.ConsentOptedOut
	if m.Action == ActionOptIn {
		state = switchboard.ConsentOptedIn
	}
	evidence := fmt.Sprintf("inbound %s (%s) texted %q to %s", in.ID, in.ProviderSID, m.Keyword, in.To)
	last, err := s.Store.LatestConsent(ctx, in.From, []string{scope})
	if err != nil {
		return nil, err
	}
	if last != nil && strings.Contains(last.Evidence, "("+in.ProviderSID+")") {
		return m, nil // this webhook was applied before
	}
	if _, err := s.record(ctx, in.Tenant, in.From, scope, state, switchboard.ConsentFromKeyword, evidence, "keyword:"+m.Keyword); err != nil {
		return nil, err
	}
	return m, nil
}

// CheckSend is the dispatcher's consent check right before a message goes: an opt-out that
// arrived after acceptance blocks it (the opted_out class: the provider's code for it goes on the timeline).
func (s *Service) CheckSend(ctx context.Context, m *switchboard.Message) (*switchboard.PolicyBlock, error) {
	reason, err := s.BlocksMessage(ctx, m)
	if err != nil || reason == "" {
		return nil, err
	}
	return &switchboard.PolicyBlock{Class: switchboard.ClassOptedOut, Reason: reason}, nil
}

// RecordProviderOptOut records that the provider refused m because its recipient opted out
// (code 21610): the opt-out covers m's pool from now on, recorded in m's tenant.
func (s *Service) RecordProviderOptOut(ctx context.Context, m *switchboard.Message, code int) error {
	_, err := s.record(ctx, m.Tenant, m.To, m.Pool, switchboard.ConsentOptedOut, switchboard.ConsentFromProviderError,
		fmt.Sprintf("message %s refused by the provider with %d", m.ID, code), "dispatcher")
	return err
}
