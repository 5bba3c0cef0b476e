package twilio

import (
	"context"
	"net/http"

	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	switchboard "github.com/switchboard-gw/switchboard"
)

// verifyAPI returns a twilio-go Verify v2 client bound to ctx (see api).
func (p *Provider) verifyAPI(ctx context.Context) (*verifyv2.ApiService, *callTrace) {
	tr := &callTrace{}
	c := &client.Client{
		Credentials: client.NewCredentials(p.username, p.password),
		HTTPClient: &http.Client{
			Transport:     &callTransport{ctx: ctx, timeout: p.timeout, next: p.transport, trace: tr},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		UserAgentExtensions: []string{"switchboard/" + switchboard.Version},
	}
	c.SetAccountSid(p.accountSID)
	h := client.NewRequestHandler(c)
	h.Edge, h.Region = "", ""
	return verifyv2.NewApiService(h), tr
}

// CreateVerifyService creates a Twilio Verify service and returns its SID (VA…). The node does
// this at start-up with the simulator, where no service exists beforehand.
func (p *Provider) CreateVerifyService(ctx context.Context, name string, codeLength int) (string, error) {
	api, tr := p.verifyAPI(ctx)
	params := (&verifyv2.CreateServiceParams{}).SetFriendlyName(name)
	if codeLength > 0 {
		params.SetCodeLength(codeLength)
	}
	s, err := api.CreateService(params)
	if err != nil {
		return "", classify(err, tr)
	}
	return deref(s.Sid), nil
}

// VerifyClient is one Twilio Verify service, a switchboard.VerifyProvider: the twilio backend of
// internal/verify. Its errors are *switchboard.ProviderError with the class of Twilio's code.
type VerifyClient struct {
	p       *Provider
	service string
}

var _ switchboard.VerifyProvider = (*VerifyClient)(nil)

// Verify returns the client of the Verify service sid.
func (p *Provider) Verify(serviceSID string) *VerifyClient {
	return &VerifyClient{p: p, service: serviceSID}
}

// StartVerification creates a verification (or resends the pending one to the same number).
func (v *VerifyClient) StartVerification(ctx context.Context, to, channel, locale string) (string, string, error) {
	api, tr := v.p.verifyAPI(ctx)
	params := (&verifyv2.CreateVerificationParams{}).SetTo(to).SetChannel(channel)
	if locale != "" {
		params.SetLocale(locale)
	}
	r, err := api.CreateVerification(v.service, params)
	if err != nil {
		return "", "", classify(err, tr)
	}
	v.p.log.Info("twilio verify: verification started", "verification_sid", deref(r.Sid), "status", deref(r.Status))
	return deref(r.Sid), deref(r.Status), nil
}

// CheckVerification checks code against the verification sid.
func (v *VerifyClient) CheckVerification(ctx context.Context, sid, code string) (string, error) {
	api, tr := v.p.verifyAPI(ctx)
	r, err := api.CreateVerificationCheck(v.service, (&verifyv2.CreateVerificationCheckParams{}).SetVerificationSid(sid).SetCode(code))
	if err != nil {
		return "", classify(err, tr)
	}
	return deref(r.Status), nil
}

// CancelVerification cancels the verification sid.
func (v *VerifyClient) CancelVerification(ctx context.Context, sid string) (string, error) {
	api, tr := v.p.verifyAPI(ctx)
	r, err := api.UpdateVerification(v.service, sid, (&verifyv2.UpdateVerificationParams{}).SetStatus("canceled"))
	if err != nil {
		return "", classify(err, tr)
	}
	return deref(r.Status), nil
}
