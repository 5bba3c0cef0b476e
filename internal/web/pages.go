package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
	"github.com/switchboard-gw/switchboard/internal/export"
)

var funcs = template.FuncMap{
	"mask": content.MaskPhone,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"timep": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"statusClass": func(s switchboard.Status) string {
		switch s {
		case switchboard.StatusDelivered, switchboard.StatusRead:
			return "ok"
		case switchboard.StatusFailed, switchboard.StatusUndelivered, switchboard.StatusBlocked, switchboard.StatusExpired:
			return "bad"
		}
		return "neutral"
	},
	"statuses": func() []switchboard.Status { return switchboard.Statuses },
	"nonce":    nonce,
	"callClass": func(s switchboard.CallStatus) string {
		switch s {
		case switchboard.CallCompleted:
			return "ok"
		case switchboard.CallBusy, switchboard.CallNoAnswer, switchboard.CallFailed, switchboard.CallCanceled:
			return "bad"
		}
		return "neutral"
	},
}

// overviewData is the overview page.
type overviewData struct {
	// Health is the node's one-line health (clock offsets), when the node gives one.
	Health      string
	Queues      []SenderQueue
	QueuesError string
	Failures    []failureRow
	Since       time.Time
	// TenantOnly is the tenant of a session that sees one: the cross-tenant queues and failures
	// are not shown to it.
	TenantOnly string
}

type failureRow struct {
	switchboard.FailureCount
	Info CodeInfo
	Link string
}

func (s *Server) failureRows(r *http.Request, since, until time.Time) ([]failureRow, error) {
	counts, err := s.cfg.Store.FailuresByCode(r.Context(), since, until)
	if err != nil {
		return nil, err
	}
	rows := make([]failureRow, 0, len(counts))
	for _, c := range counts {
		row := failureRow{FailureCount: c}
		if c.ErrorCode != 0 {
			row.Info = s.cfg.ExplainCode(c.ErrorCode)
			row.Link = "/ui/messages?" + searchForm{Code: fmt.Sprint(c.ErrorCode), From: since.Format(time.DateOnly)}.values("").Encode()
		} else {
			row.Info = CodeInfo{Title: "No error code", Explanation: "The provider gave no error code; open the messages' timelines."}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, sess *session) {
	now := s.cfg.Clock()
	d := overviewData{Since: now.Add(-24 * time.Hour)}
	if s.cfg.Health != nil {
		d.Health = s.cfg.Health()
	}
	if !sess.AllTenants() {
		// Queues and failures count every tenant's messages: for all-tenant sessions only.
		d.TenantOnly = sess.Tenant
		s.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Session: sess, Data: d})
		return
	}
	if s.cfg.QueueStats == nil {
		d.QueuesError = "Queue depth is not available on this node."
	} else if q, err := s.cfg.QueueStats(r.Context()); err != nil {
		s.cfg.Logger.Error("dashboard: queue stats", "err", err)
		d.QueuesError = "Queue depth could not be read; see the node's log."
	} else {
		d.Queues = q
	}
	var err error
	if d.Failures, err = s.failureRows(r, d.Since, now.Add(time.Microsecond)); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Session: sess, Data: d})
}

// messagesData is the messages page.
type messagesData struct {
	Form      searchForm
	Senders   []string
	Messages  []*switchboard.Message
	NextLink  string
	FirstLink string
	CSVLink   string
}

func (s *Server) senderNames() []string {
	out := make([]string, 0, len(s.cfg.Senders))
	for _, snd := range s.cfg.Senders {
		out = append(out, snd.From)
	}
	return out
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request, sess *session) {
	q, err := parseSearch(r.URL.Query())
	d := messagesData{Senders: s.senderNames()}
	if q != nil {
		d.Form = q.Form
	}
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "messages", page{Title: "Messages", Nav: "messages", Session: sess, Error: switchboard.ErrorMessage(err), Data: d})
		return
	}
	switch {
	case q.MessageID != "" || q.ProviderSID != "":
		var m *switchboard.Message
		if q.MessageID != "" {
			m, err = s.cfg.Store.GetMessage(r.Context(), q.MessageID)
		} else {
			m, err = s.cfg.Store.GetMessageByProviderSID(r.Context(), q.ProviderSID)
		}
		if err != nil && !switchboard.IsKind(err, switchboard.ENOTFOUND) {
			s.fail(w, r, sess, err)
			return
		}
		if m != nil && sess.sees(m.Tenant) {
			d.Messages = []*switchboard.Message{m}
		}
	default:
		q.Query.Tenant = sess.Tenant
		msgs, next, err := s.cfg.Store.SearchMessages(r.Context(), q.Query)
		if err != nil {
			s.fail(w, r, sess, err)
			return
		}
		d.Messages = msgs
		if next != "" {
			d.NextLink = "/ui/messages?" + q.Form.values(next).Encode()
		}
		if q.Form.Cursor != "" {
			d.FirstLink = "/ui/messages?" + q.Form.values("").Encode()
		}
	}
	d.CSVLink = "/ui/messages.csv?" + q.Form.values("").Encode()
	if s.cfg.Annotate != nil {
		for _, m := range d.Messages {
			if m.WhatsApp != nil {
				if err := s.cfg.Annotate(r.Context(), m); err != nil {
					s.fail(w, r, sess, err)
					return
				}
			}
		}
	}
	s.render(w, r, http.StatusOK, "messages", page{Title: "Messages", Nav: "messages", Session: sess, Data: d})
}

// exportCSV writes every message of the current search (all pages) as the audit export's CSV.
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request, sess *session) {
	q, err := parseSearch(r.URL.Query())
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	query := q.Query
	query.Limit, query.Cursor, query.Tenant = 500, "", sess.Tenant
	pages := func(ctx context.Context, cursor string) ([]*switchboard.Message, string, error) {
		query.Cursor = cursor
		return s.cfg.Store.SearchMessages(ctx, query)
	}
	if q.MessageID != "" || q.ProviderSID != "" {
		pages = func(ctx context.Context, _ string) ([]*switchboard.Message, string, error) {
			var m *switchboard.Message
			if q.MessageID != "" {
				m, err = s.cfg.Store.GetMessage(ctx, q.MessageID)
			} else {
				m, err = s.cfg.Store.GetMessageByProviderSID(ctx, q.ProviderSID)
			}
			if switchboard.IsKind(err, switchboard.ENOTFOUND) {
				return nil, "", nil
			}
			if err != nil {
				return nil, "", err
			}
			if !sess.sees(m.Tenant) {
				return nil, "", nil
			}
			return []*switchboard.Message{m}, "", nil
		}
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="messages-`+s.cfg.Clock().Format("20060102-150405")+`.csv"`)
	n, err := export.MessagesFrom(r.Context(), s.cfg.Store, w, export.CSV, pages)
	if err != nil {
		// The header is sent; the truncated file ends without its last rows. Say so in the log.
		s.cfg.Logger.Error("dashboard: CSV export failed", "rows", n, "err", err)
		return
	}
	s.cfg.Logger.Info("dashboard: CSV export", "subject", sess.Subject, "rows", n)
}

// messageData is the message page.
type messageData struct {
	M          *switchboard.Message
	Events     []eventRow
	Code       *CodeInfo
	Cancelable bool
	Retryable  bool
	RetryNote  string
	RetryOf    string
	// Window is WhatsApp's customer-service window of the message's conversation (WhatsApp only).
	Window *whatsAppWindow
}

// whatsAppWindow says whether free-form WhatsApp messages may go to the person now.
type whatsAppWindow struct {
	Open     bool
	ClosesAt *time.Time // nil when the person never wrote
}

// whatsAppWindowSpan is WhatsApp's customer-service window after a person's last message.
const whatsAppWindowSpan = 24 * time.Hour

// windowOf returns the WhatsApp window of m's conversation, or nil for other channels.
func (s *Server) windowOf(r *http.Request, m *switchboard.Message) *whatsAppWindow {
	if m.Channel != switchboard.ChannelWhatsApp {
		return nil
	}
	w := &whatsAppWindow{}
	cs, _, err := s.cfg.Store.ListConversations(r.Context(), switchboard.ConversationFilter{Tenant: switchboard.TenantOr(m.Tenant), OurNumber: m.From,
		TheirNumber: m.To, Channel: switchboard.ChannelWhatsApp, Limit: 1})
	if err == nil && len(cs) == 1 && cs[0].LastInboundAt != nil {
		closes := cs[0].LastInboundAt.Add(whatsAppWindowSpan)
		w.ClosesAt, w.Open = &closes, s.cfg.Clock().Before(closes)
	}
	return w
}

type eventRow struct {
	*switchboard.Event
	Payload string
	// Detail is the event's text with every phone number but our senders' masked, as the header
	// masks the recipient.
	Detail string
	Code   *CodeInfo
}

// retryable are the statuses a message may be retried from: it did not reach the handset and
// nothing more will happen to it. Never delivered, read, sent or still in the queue.
var retryable = []switchboard.Status{switchboard.StatusFailed, switchboard.StatusUndelivered, switchboard.StatusExpired,
	switchboard.StatusCanceled, switchboard.StatusBlocked}

// done messages are the flashes an action may redirect with (by key: nothing of the request is
// echoed).
var done = map[string]string{
	"canceled": "The message was canceled.",
	"retried":  "This is the retry of the message you were looking at.",
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showMessage(w, r, sess, r.PathValue("id"), http.StatusOK, "")
}

// visibleMessage loads message id if the session sees its tenant; another tenant's is not found.
func (s *Server) visibleMessage(ctx context.Context, sess *session, id string) (*switchboard.Message, error) {
	m, err := s.cfg.Store.GetMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sess.sees(m.Tenant) {
		return nil, switchboard.ErrMessageNotFound(id)
	}
	return m, nil
}

func (s *Server) showMessage(w http.ResponseWriter, r *http.Request, sess *session, id string, status int, errMsg string) {
	m, err := s.visibleMessage(r.Context(), sess, id)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	if m.WhatsApp != nil && s.cfg.Annotate != nil {
		if err := s.cfg.Annotate(r.Context(), m); err != nil {
			s.fail(w, r, sess, err)
			return
		}
	}
	d := messageData{M: m, RetryOf: m.Metadata[retryOfKey], Window: s.windowOf(r, m)}
	d.Cancelable = (m.Status == switchboard.StatusQueued || m.Status == switchboard.StatusScheduled) && !m.AttemptInFlight
	if d.Retryable, d.RetryNote, err = s.canRetry(r.Context(), m); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	if !sess.CanAct() {
		// Offer only what the role may do: a read session sees no buttons.
		d.Cancelable, d.Retryable, d.RetryNote = false, false, ""
	}
	if m.ErrorCode != 0 {
		ci := s.cfg.ExplainCode(m.ErrorCode)
		d.Code = &ci
	}
	for _, e := range m.Events {
		row := eventRow{Event: e, Payload: maskPayload(e.Payload), Detail: s.maskText(e.Detail)}
		if e.ErrorCode != 0 {
			ci := s.cfg.ExplainCode(e.ErrorCode)
			row.Code = &ci
		}
		d.Events = append(d.Events, row)
	}
	s.render(w, r, status, "message", page{Title: "Message " + m.ID, Nav: "messages", Session: sess,
		Flash: done[r.URL.Query().Get("done")], Error: errMsg, Data: d})
}

// canRetry says whether m may be retried, and why not. m is annotated (reached_by) first. A retry
// is refused where it cannot help (the person opted out, the number cannot receive it: the error
// catalog's NoRetry) and where it would reach the person twice (a WhatsApp message whose SMS leg
// reached them or is still on its way, or a leg whose WhatsApp message reached them).
func (s *Server) canRetry(ctx context.Context, m *switchboard.Message) (bool, string, error) {
	switch {
	case s.cfg.Messages == nil:
		return false, "This dashboard cannot send messages.", nil
	case !slices.Contains(retryable, m.Status):
		return false, fmt.Sprintf("A %s message is not retried: only failed, undelivered, expired, canceled or blocked ones are, so that nothing is sent twice.", m.Status), nil
	case m.RedactedAt != nil:
		return false, "Its body was removed by the retention policy, so it cannot be sent again.", nil
	case s.cfg.LiveSenders.Load().Len() > 0 && !s.isSender(m.From):
		return false, fmt.Sprintf("Its sender %s is no longer configured.", m.From), nil
	}
	if m.ErrorCode != 0 {
		if why := s.cfg.ExplainCode(m.ErrorCode).NoRetry; why != "" {
			return false, why, nil
		}
	}
	if wa := m.WhatsApp; wa != nil {
		if s.cfg.Annotate != nil && wa.ReachedBy == "" {
			if err := s.cfg.Annotate(ctx, m); err != nil {
				return false, "", err
			}
		}
		if wa.ReachedBy != "" {
			return false, fmt.Sprintf("The person was reached (reached_by %s): a retry would reach them twice.", wa.ReachedBy), nil
		}
		if wa.FallbackMessageID != "" {
			leg, err := s.cfg.Store.GetMessage(ctx, wa.FallbackMessageID)
			if err != nil && !switchboard.IsKind(err, switchboard.ENOTFOUND) {
				return false, "", err
			}
			if leg != nil && !slices.Contains(retryable, leg.Status) {
				return false, fmt.Sprintf("Its SMS fallback %s is %s: a retry could text the person twice.", leg.ID, leg.Status), nil
			}
		}
	}
	return true, "", nil
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	if _, err := s.visibleMessage(r.Context(), sess, id); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	_, err := switchboard.CancelMessage(r.Context(), s.cfg.Store, id, "dashboard:"+sess.Subject,
		"canceled from the dashboard before it was handed to the provider", s.cfg.Clock())
	if err != nil {
		if switchboard.IsKind(err, switchboard.ECONFLICT) {
			s.showMessage(w, r, sess, id, http.StatusConflict, switchboard.ErrorMessage(err))
			return
		}
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: message canceled", "message_id", id, "subject", sess.Subject)
	http.Redirect(w, r, "/ui/messages/"+id+"?done=canceled", http.StatusSeeOther)
}

// isSender reports whether from is one of the current senders.
func (s *Server) isSender(from string) bool {
	_, ok := s.cfg.LiveSenders.Load().Get(from)
	return ok
}

// e164 finds E.164 numbers in free text, behind an optional channel prefix (whatsapp:).
var e164 = regexp.MustCompile(`(?:[a-z]{1,16}:)?\+[1-9][0-9]{6,14}`)

// maskText masks the phone numbers in a timeline text, but for our own senders' (shown whole in
// the header too).
func (s *Server) maskText(t string) string {
	return e164.ReplaceAllStringFunc(t, func(n string) string {
		if s.isSender(n[strings.IndexByte(n, '+'):]) {
			return n
		}
		return content.MaskPhone(n)
	})
}

// retryOfKey is the metadata key that links a retry to its original.
const retryOfKey = "retry_of"

// retry sends a failed message again as a new message linked to the original (metadata retry_of,
// and a note on the original's timeline). It is idempotent per original: the new message is
// created under the idempotency key "retry:<original ID>", so a double click, or two operators at
// once, make one retry.
func (s *Server) retry(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	orig, err := s.visibleMessage(r.Context(), sess, id)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	ok, why, err := s.canRetry(r.Context(), orig)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	if !ok {
		s.showMessage(w, r, sess, id, http.StatusConflict, why)
		return
	}
	now := s.cfg.Clock()
	meta := map[string]string{}
	for k, v := range orig.Metadata {
		meta[k] = v
	}
	meta[retryOfKey] = orig.ID
	spec := switchboard.MessageSpec{
		Channel: orig.Channel, Category: orig.Category, To: orig.To, From: orig.From, Pool: orig.Pool, Body: orig.Body,
		MediaURLs: orig.MediaURLs, Metadata: meta, Validity: s.cfg.DefaultValidity, Timezone: orig.Timezone,
		Template: orig.Template, TemplateVersion: orig.TemplateVersion,
		Actor: "dashboard:" + sess.Subject, Detail: "accepted as a retry of " + orig.ID + " from the dashboard",
		Tenant: switchboard.TenantOr(orig.Tenant),
	}
	if wa := orig.WhatsApp; wa != nil && orig.Channel == switchboard.ChannelWhatsApp {
		// The retry keeps the WhatsApp content template and the fallback policy; its own SMS leg,
		// if any, is made for it.
		spec.WhatsApp = &switchboard.WhatsAppOptions{ContentSID: wa.ContentSID, ContentVariables: wa.ContentVariables,
			Fallback: wa.Fallback, FallbackAfterSeconds: wa.FallbackAfterSeconds}
	}
	idem := &switchboard.Idempotency{APIKeyID: "dashboard", Key: "retry:" + orig.ID, RequestHash: "retry"}
	stored, replayed, err := s.cfg.Messages.CreateChecked(r.Context(), spec, idem)
	if err != nil {
		if k := switchboard.ErrorKindOf(err); k != switchboard.EINTERNAL {
			s.showMessage(w, r, sess, id, http.StatusConflict, "Not retried: "+switchboard.ErrorMessage(err))
			return
		}
		s.fail(w, r, sess, err)
		return
	}
	if !replayed {
		if _, err := s.cfg.Store.UpdateMessage(r.Context(), switchboard.MessageUpdate{ID: orig.ID, At: now,
			Events: []*switchboard.Event{{Type: switchboard.EventNote, Actor: "dashboard:" + sess.Subject,
				Detail: "retried as " + stored.ID}}}); err != nil {
			s.cfg.Logger.Error("dashboard: noting a retry on the original", "message_id", orig.ID, "err", err)
		}
		s.cfg.Logger.Info("dashboard: message retried", "message_id", orig.ID, "retry_id", stored.ID, "subject", sess.Subject,
			"to", content.MaskPhone(stored.To))
	}
	http.Redirect(w, r, "/ui/messages/"+stored.ID+"?done=retried", http.StatusSeeOther)
}

// failuresData is the failures page.
type failuresData struct {
	Ranges []chartRange
	Range  chartRange
	Rows   []failureRow
}

func (s *Server) failures(w http.ResponseWriter, r *http.Request, sess *session) {
	rg := rangeOf(r.URL.Query().Get("range"))
	now := s.cfg.Clock()
	rows, err := s.failureRows(r, now.Add(-rg.Period), now.Add(time.Microsecond))
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "failures", page{Title: "Failures by error code", Nav: "failures", Session: sess,
		Data: failuresData{Ranges: chartRanges, Range: rg, Rows: rows}})
}

// chartsData is the charts page.
type chartsData struct {
	Ranges []chartRange
	Range  chartRange
	Series []*series
}

func (s *Server) charts(w http.ResponseWriter, r *http.Request, sess *session) {
	rg := rangeOf(r.URL.Query().Get("range"))
	now := s.cfg.Clock()
	since := now.Add(-rg.Period).Truncate(rg.Bucket)
	stats, err := s.cfg.Store.DeliveryStats(r.Context(), since, now.Add(time.Microsecond), rg.Bucket)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "charts", page{Title: "Delivery", Nav: "charts", Session: sess,
		Data: chartsData{Ranges: chartRanges, Range: rg, Series: buildSeries(stats, since, rg)}})
}

func (s *Server) inbound(w http.ResponseWriter, r *http.Request, sess *session) {
	msgs, _, err := s.cfg.Store.ListInbound(r.Context(), switchboard.InboundFilter{Tenant: sess.Tenant, Limit: 100})
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "inbound", page{Title: "Inbound messages", Nav: "inbound", Session: sess, Data: msgs})
}

// optoutsData is the opt-outs page: the list and the form that records a consent change.
type optoutsData struct {
	Records []*switchboard.ConsentRecord
	Pools   []string
}

func (s *Server) optouts(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showOptouts(w, r, sess, http.StatusOK, "", "")
}

func (s *Server) showOptouts(w http.ResponseWriter, r *http.Request, sess *session, status int, flash, errMsg string) {
	recs, err := s.cfg.Store.OptedOut(r.Context(), 500)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	// A tenant's session sees the choices its tenant recorded (an opt-out binds every tenant on
	// the number, but who said what is the tenant's own).
	recs = slices.DeleteFunc(recs, func(c *switchboard.ConsentRecord) bool { return !sess.sees(c.Tenant) })
	for _, c := range recs {
		c.Phone = content.MaskPhone(c.Phone)
		c.Evidence = maskEvidence(c.Evidence)
	}
	s.render(w, r, status, "optouts", page{Title: "Opt-outs", Nav: "optouts", Session: sess, Flash: flash, Error: errMsg,
		Data: optoutsData{Records: recs, Pools: s.pools()}})
}

// maskEvidence masks the phone numbers in a consent record's evidence text.
func maskEvidence(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		trimmed := strings.TrimRight(f, ",;.:")
		if phoneLike.MatchString(trimmed) {
			fields[i] = strings.Replace(f, trimmed, content.MaskPhone(trimmed), 1)
		}
	}
	return strings.Join(fields, " ")
}
