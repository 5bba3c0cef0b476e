package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// maxAccountNumbers bounds how many numbers SyncAccountWebhooks lists: a tenant's subaccount
// holds its own senders, far fewer.
const maxAccountNumbers = 1000

// AccountSID is the account this provider sends from.
func (p *Provider) AccountSID() string { return p.accountSID }

// usesAPIKey says whether the provider authenticates with an API key rather than the token.
func (p *Provider) usesAPIKey() bool { return p.username != p.accountSID }

// CheckAccount asks Twilio whether the credentials work for their account: with the auth token,
// it fetches the Account resource (the usual credential check) and insists that it is active;
// with an API key, which Twilio does not let read the Accounts resource, it lists one of the
// account's numbers. A refusal is an error that says what is wrong in words fit for an API
// answer, never quoting a secret: EUNPROCESSABLE/credentials_rejected when Twilio refused them,
// EUNAVAILABLE/provider_unreachable when Twilio could not be asked.
func (p *Provider) CheckAccount(ctx context.Context) error {
	api, tr := p.api(ctx)
	var err error
	if p.usesAPIKey() {
		params := &openapi.ListIncomingPhoneNumberParams{}
		params.SetPageSize(1)
		params.SetLimit(1)
		_, err = api.ListIncomingPhoneNumber(params)
	} else {
		var acct *openapi.ApiV2010Account
		acct, err = api.FetchAccount(p.accountSID)
		if err == nil && deref(acct.Status) != "active" {
			return switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected",
				"Twilio account %s is %s, not active", p.accountSID, orUnknown(deref(acct.Status)))
		}
	}
	if err == nil {
		return nil
	}
	pe := classify(err, tr)
	p.log.LogAttrs(ctx, slog.LevelWarn, "twilio credential check failed", slog.String("account_sid", p.accountSID),
		slog.Int("http_status", pe.HTTPStatus), slog.Int("code", pe.Code))
	switch {
	case pe.HTTPStatus == http.StatusUnauthorized || pe.Code == 20003:
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected",
			"Twilio refused these credentials for account %s (HTTP 401, code 20003): check the account SID and the %s", p.accountSID, p.secretName())
	case pe.HTTPStatus == http.StatusNotFound || pe.HTTPStatus == http.StatusForbidden:
		return switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected",
			"Twilio answered HTTP %d for account %s with these credentials: the %s does not belong to that account", pe.HTTPStatus, p.accountSID, p.secretName())
	case pe.HTTPStatus == 0 || pe.HTTPStatus >= 500 || pe.HTTPStatus == http.StatusTooManyRequests:
		return switchboard.Errorf(switchboard.EUNAVAILABLE, "provider_unreachable",
			"could not ask Twilio about account %s (%s); nothing was changed, try again", p.accountSID, reason(pe))
	}
	return switchboard.Errorf(switchboard.EUNPROCESSABLE, "credentials_rejected",
		"Twilio refused the credential check for account %s: HTTP %d, code %d", p.accountSID, pe.HTTPStatus, pe.Code)
}

func (p *Provider) secretName() string {
	if p.usesAPIKey() {
		return "API key and its secret"
	}
	return "auth token"
}

func orUnknown(s string) string {
	if s == "" {
		return "of unknown status"
	}
	return s
}

// SyncAccountWebhooks points the inbound SMS webhook (SmsUrl, method POST) of every phone number
// of the account at smsURL, as SyncWebhooks does for the node's configured senders, changing
// only numbers that differ. It returns how many numbers the account has and how many were
// changed; every number is tried and the errors, each naming its number, are joined.
func (p *Provider) SyncAccountWebhooks(ctx context.Context, smsURL string) (numbers, changed int, err error) {
	if smsURL == "" {
		return 0, 0, errors.New("twilio: no SMS webhook URL to sync (is SWITCHBOARD_PUBLIC_URL set?)")
	}
	params := &openapi.ListIncomingPhoneNumberParams{}
	params.SetPageSize(maxAccountNumbers)
	params.SetLimit(maxAccountNumbers)
	api, tr := p.api(ctx)
	list, err := api.ListIncomingPhoneNumber(params)
	if err != nil {
		return 0, 0, fmt.Errorf("twilio: listing the numbers of account %s: %w", p.accountSID, classify(err, tr))
	}
	var errs []error
	for i := range list {
		n := &list[i]
		sid := deref(n.Sid)
		if sid == "" {
			continue
		}
		numbers++
		if deref(n.SmsUrl) == smsURL && strings.EqualFold(deref(n.SmsMethod), http.MethodPost) {
			continue
		}
		update := &openapi.UpdateIncomingPhoneNumberParams{}
		update.SetSmsUrl(smsURL)
		update.SetSmsMethod(http.MethodPost)
		api, tr := p.api(ctx)
		if _, err := api.UpdateIncomingPhoneNumber(sid, update); err != nil {
			errs = append(errs, fmt.Errorf("twilio: setting the SMS webhook of %s: %w", content.MaskPhone(deref(n.PhoneNumber)), classify(err, tr)))
			continue
		}
		changed++
		p.log.LogAttrs(ctx, slog.LevelInfo, "twilio webhook updated", slog.String("account_sid", p.accountSID),
			slog.String("from", content.MaskPhone(deref(n.PhoneNumber))), slog.String("sid", sid))
	}
	return numbers, changed, errors.Join(errs...)
}
