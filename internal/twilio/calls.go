package twilio

import (
	"context"
	"log/slog"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

var _ switchboard.CallProvider = (*Provider)(nil)

// callEvents are the status callbacks a call asks for: every move, so that the timeline shows
// ringing and answered as well as the end.
var callEvents = []string{"initiated", "ringing", "answered", "completed"}

// PlaceCall creates a call (POST .../Calls.json). Failures are classified as for messages.
func (p *Provider) PlaceCall(ctx context.Context, req *switchboard.PlaceCallRequest) (*switchboard.ProviderCall, error) {
	if req == nil {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_call", "no call request")
	}
	params := &openapi.CreateCallParams{}
	params.SetTo(req.To)
	params.SetFrom(req.From)
	if req.TwiML != "" {
		params.SetTwiml(req.TwiML)
	} else {
		params.SetUrl(req.URL)
	}
	if req.StatusCallback != "" {
		params.SetStatusCallback(req.StatusCallback)
		params.SetStatusCallbackEvent(callEvents)
	}
	if req.RingTimeout > 0 {
		params.SetTimeout(req.RingTimeout)
	}
	if req.MachineDetection {
		params.SetMachineDetection("Enable")
	}
	start := time.Now()
	api, tr := p.api(ctx)
	c, err := api.CreateCall(params)
	attrs := []slog.Attr{
		slog.String("call_id", req.CallID),
		slog.String("to", content.MaskPhone(req.To)),
		slog.Duration("elapsed", time.Since(start)),
	}
	if err != nil {
		pe := classify(err, tr)
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio call failed", append(attrs,
			slog.Int("http_status", pe.HTTPStatus), slog.Int("code", pe.Code), slog.String("outcome", pe.Outcome.String()))...)
		return nil, pe
	}
	out := &switchboard.ProviderCall{}
	if c.Sid != nil {
		out.SID = *c.Sid
	}
	if c.Status != nil {
		out.ProviderStatus = *c.Status
		out.Status, _ = switchboard.ParseCallStatus(*c.Status)
	}
	if out.SID == "" {
		return nil, &switchboard.ProviderError{Outcome: switchboard.OutcomeAmbiguous, HTTPStatus: int(tr.status.Load()), Class: switchboard.ClassNone,
			Message: "response without a call SID", Explanation: "Twilio's answer did not name the created call."}
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "twilio call created", append(attrs, slog.String("sid", out.SID))...)
	return out, nil
}

// EndCall cancels a call that is not answered yet, or hangs up one in progress.
func (p *Provider) EndCall(ctx context.Context, sid string) error {
	api, tr := p.api(ctx)
	c, err := api.FetchCall(sid, &openapi.FetchCallParams{})
	if err != nil {
		return classify(err, tr)
	}
	status := "canceled"
	if c.Status != nil && *c.Status == "in-progress" {
		status = "completed"
	}
	api, tr = p.api(ctx)
	if _, err := api.UpdateCall(sid, (&openapi.UpdateCallParams{}).SetStatus(status)); err != nil {
		return classify(err, tr)
	}
	return nil
}

// FetchCall returns a call's current status (GET .../Calls/{Sid}.json).
func (p *Provider) FetchCall(ctx context.Context, sid string) (*switchboard.ProviderCall, error) {
	if sid == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_sid", "no call SID to fetch")
	}
	api, tr := p.api(ctx)
	c, err := api.FetchCall(sid, &openapi.FetchCallParams{})
	if err != nil {
		pe := classify(err, tr)
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio call fetch failed", slog.String("sid", sid),
			slog.Int("http_status", pe.HTTPStatus), slog.Int("code", pe.Code), slog.String("reason", reason(pe)))
		return nil, pe
	}
	out := &switchboard.ProviderCall{SID: sid}
	if c.Sid != nil {
		out.SID = *c.Sid
	}
	if c.Status != nil {
		out.ProviderStatus = *c.Status
		out.Status, _ = switchboard.ParseCallStatus(*c.Status)
	}
	if c.AnsweredBy != nil {
		out.AnsweredBy = *c.AnsweredBy
	}
	return out, nil
}

// FindCalls implements switchboard.CallProvider: the calls from q.From to q.To created at or
// after q.Since (less a minute of clock slack, on Twilio's date_created), for reconciling an
// attempt whose outcome is unknown. At most MaxFind calls are returned; when Twilio lists that
// many, the ones found come with an EUNAVAILABLE error coded switchboard.CodeFindIncomplete,
// since the list may have stopped before the call looked for.
//
// The request filters by To and From only. Twilio's StartTime filters are not used: a call
// Twilio has not dialed yet (still queued behind the account's calls per second) has no
// start_time, and a filter on it would miss exactly the call looked for — placing it twice.
func (p *Provider) FindCalls(ctx context.Context, q switchboard.CallQuery) ([]*switchboard.ProviderCall, error) {
	if q.To == "" || q.From == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "invalid_find", "finding calls needs a To and a From")
	}
	params := &openapi.ListCallParams{}
	params.SetTo(q.To)
	params.SetFrom(q.From)
	params.SetPageSize(MaxFind)
	params.SetLimit(MaxFind)
	var cutoff time.Time
	if !q.Since.IsZero() {
		cutoff = q.Since.Add(-findSlack)
	}
	api, tr := p.api(ctx)
	list, err := api.ListCall(params)
	if err != nil {
		pe := classify(err, tr)
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio call find failed", slog.String("to", content.MaskPhone(q.To)),
			slog.String("from", content.MaskPhone(q.From)), slog.Int("http_status", pe.HTTPStatus),
			slog.Int("code", pe.Code), slog.String("reason", reason(pe)))
		return nil, pe
	}
	out := make([]*switchboard.ProviderCall, 0, len(list))
	for i := range list {
		c := &list[i]
		pc := &switchboard.ProviderCall{SID: deref(c.Sid), ProviderStatus: deref(c.Status), AnsweredBy: deref(c.AnsweredBy),
			To: deref(c.To), From: deref(c.From), CreatedAt: parseTime(deref(c.DateCreated))}
		pc.Status, _ = switchboard.ParseCallStatus(pc.ProviderStatus)
		// A call whose date cannot be read is kept: missing a call that was placed means placing
		// it twice.
		if !cutoff.IsZero() && !pc.CreatedAt.IsZero() && pc.CreatedAt.Before(cutoff) {
			continue
		}
		out = append(out, pc)
	}
	if len(list) >= MaxFind {
		p.log.LogAttrs(ctx, slog.LevelWarn, "twilio call find truncated", slog.Int("limit", MaxFind),
			slog.String("to", content.MaskPhone(q.To)), slog.String("from", content.MaskPhone(q.From)))
		return out, switchboard.Errorf(switchboard.EUNAVAILABLE, switchboard.CodeFindIncomplete,
			"the provider listed at least %d calls for this pair; the list may not hold the one looked for", MaxFind)
	}
	return out, nil
}
