package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// The operator's pages beyond messages: calls, verifications, conversations, endpoints, senders
// and recording consent. Each reads one page of an index-backed store query (newest first, by
// ID) and offers only actions the node wired.

// Circuit is the state of one provider circuit breaker, for the senders page.
type Circuit struct {
	Provider string
	State    string // closed, open or half_open
}

// listSize is how many rows the list pages show.
const listSize = 50

// callsData is the calls page.
type callsData struct {
	Status   switchboard.CallStatus
	Meta     string // KEY=VALUE of metadata, as typed
	Statuses []switchboard.CallStatus
	Calls    []*switchboard.Call
	NextLink string
}

var callStatuses = []switchboard.CallStatus{
	switchboard.CallQueued, switchboard.CallRinging, switchboard.CallInProgress, switchboard.CallCompleted,
	switchboard.CallBusy, switchboard.CallNoAnswer, switchboard.CallFailed, switchboard.CallCanceled,
}

func (s *Server) calls(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := callsData{Status: switchboard.CallStatus(q.Get("status")), Statuses: callStatuses}
	if d.Status != "" && !slices.Contains(callStatuses, d.Status) {
		s.renderError(w, r, sess, http.StatusBadRequest, "Unknown call status.")
		return
	}
	// KEY=VALUE lists the calls placed with that metadata pair, from its index.
	var meta *switchboard.MetadataMatch
	var ok bool
	if d.Meta, meta, ok = metaField(q.Get("meta")); !ok {
		s.renderError(w, r, sess, http.StatusBadRequest, metaFieldHelp)
		return
	}
	// The store lists calls newest first by ID; a status filter reads on until the page is full
	// or ten store pages were read, so that a rare status still answers quickly.
	cursor := q.Get("cursor")
	for reads := 0; reads < 10 && len(d.Calls) < listSize; reads++ {
		cs, err := s.cfg.Store.ListCalls(r.Context(), switchboard.CallFilter{Tenant: sess.Tenant, Metadata: meta, Before: cursor, Limit: listSize})
		if err != nil {
			s.fail(w, r, sess, err)
			return
		}
		for _, c := range cs {
			if d.Status == "" || c.Status == d.Status {
				d.Calls = append(d.Calls, c)
			}
			cursor = c.ID
			if len(d.Calls) == listSize {
				break
			}
		}
		if len(cs) < listSize {
			cursor = ""
			break
		}
	}
	if cursor != "" {
		d.NextLink = "/ui/calls?" + urlValues("status", string(d.Status), "meta", d.Meta, "cursor", cursor)
	}
	s.render(w, r, http.StatusOK, "calls", page{Title: "Calls", Nav: "calls", Session: sess, Data: d})
}

// metaFieldHelp says how to write the metadata field of the calls and verifications pages.
const metaFieldHelp = "Search metadata as KEY=VALUE, such as job_id=1042 (a key of 1 to 64 characters)."

// metaField reads the metadata field of a list page as typed: KEY=VALUE (the key ends at the
// first "=", both trimmed) within the limits of metadata, or nothing. ok is false for anything
// else; meta is nil when the field is empty.
func metaField(raw string) (typed string, meta *switchboard.MetadataMatch, ok bool) {
	if typed = strings.TrimSpace(raw); typed == "" {
		return "", nil, true
	}
	k, v, found := strings.Cut(typed, "=")
	if k = strings.TrimSpace(k); !found || k == "" || len(k) > switchboard.MaxMetadataKey || len(v) > switchboard.MaxMetadataValue {
		return typed, nil, false
	}
	return typed, &switchboard.MetadataMatch{Key: k, Value: strings.TrimSpace(v)}, true
}

// callData is a call's page.
type callData struct {
	C          *switchboard.Call
	Cancelable bool
}

func (s *Server) call(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showCall(w, r, sess, http.StatusOK, "")
}

// visibleCall loads call id if the session sees its tenant; another tenant's is not found.
func (s *Server) visibleCall(ctx context.Context, sess *session, id string) (*switchboard.Call, error) {
	c, err := s.cfg.Store.GetCall(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sess.sees(c.Tenant) {
		return nil, switchboard.CallNotFound(id)
	}
	return c, nil
}

func (s *Server) showCall(w http.ResponseWriter, r *http.Request, sess *session, status int, flash string) {
	c, err := s.visibleCall(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	if flash == "" && r.URL.Query().Get("done") == "canceled" {
		flash = "Call canceled."
	}
	d := callData{C: c, Cancelable: s.cfg.CancelCall != nil && !c.Status.Terminal() && sess.CanAct()}
	s.render(w, r, status, "call", page{Title: "Call " + c.ID, Nav: "calls", Session: sess, Flash: flash, Data: d})
}

func (s *Server) cancelCall(w http.ResponseWriter, r *http.Request, sess *session) {
	if s.cfg.CancelCall == nil {
		s.renderError(w, r, sess, http.StatusNotFound, "Calls are not configured on this node.")
		return
	}
	id := r.PathValue("id")
	if _, err := s.visibleCall(r.Context(), sess, id); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	if err := s.cfg.CancelCall(r.Context(), id); err != nil {
		if k := switchboard.ErrorKindOf(err); k == switchboard.ECONFLICT || k == switchboard.EUNPROCESSABLE {
			s.showCall(w, r, sess, http.StatusConflict, "Not canceled: "+switchboard.ErrorMessage(err))
			return
		}
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: call canceled", "call_id", id, "subject", sess.Subject)
	http.Redirect(w, r, "/ui/calls/"+id+"?done=canceled", http.StatusSeeOther)
}

// verificationsData is the verifications page: never a code, only statuses and refusals.
type verificationsData struct {
	To       string
	Meta     string // KEY=VALUE of metadata, as typed
	Status   switchboard.VerificationStatus
	Statuses []switchboard.VerificationStatus
	Items    []*switchboard.Verification
	NextLink string
	Refusals []*switchboard.Refusal
}

func (s *Server) verifications(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := verificationsData{Status: switchboard.VerificationStatus(q.Get("status")), Statuses: switchboard.VerificationStatuses}
	if d.Status != "" && !d.Status.Valid() {
		s.renderError(w, r, sess, http.StatusBadRequest, "Unknown verification status.")
		return
	}
	if to := strings.TrimSpace(q.Get("to")); to != "" {
		phone, err := content.NormalizePhone(to)
		if err != nil {
			s.render(w, r, http.StatusBadRequest, "verifications", page{Title: "Verifications", Nav: "verifications", Session: sess,
				Error: switchboard.ErrorMessage(err), Data: d})
			return
		}
		d.To = phone
	}
	// KEY=VALUE lists the verifications started with that metadata pair, from its index.
	var meta *switchboard.MetadataMatch
	var ok bool
	if d.Meta, meta, ok = metaField(q.Get("meta")); !ok {
		s.render(w, r, http.StatusBadRequest, "verifications", page{Title: "Verifications", Nav: "verifications", Session: sess,
			Error: metaFieldHelp, Data: d})
		return
	}
	vs, next, err := s.cfg.Store.ListVerifications(r.Context(), switchboard.VerificationFilter{Tenant: sess.Tenant,
		To: d.To, Status: d.Status, Metadata: meta, Cursor: q.Get("cursor"), Limit: listSize})
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	d.Items = vs
	if next != "" {
		d.NextLink = "/ui/verifications?" + urlValues("to", d.To, "status", string(d.Status), "meta", d.Meta, "cursor", next)
	}
	// The session's tenant's refused starts (every tenant's for a session of every tenant).
	if d.Refusals, _, err = s.cfg.Store.ListRefusals(r.Context(), switchboard.RefusalFilter{Tenant: sess.Tenant, To: d.To, Limit: 20}); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.render(w, r, http.StatusOK, "verifications", page{Title: "Verifications", Nav: "verifications", Session: sess, Data: d})
}

// conversationsData is the conversations page.
type conversationsData struct {
	Items    []*switchboard.Conversation
	NextLink string
}

func (s *Server) conversations(w http.ResponseWriter, r *http.Request, sess *session) {
	cs, next, err := s.cfg.Store.ListConversations(r.Context(), switchboard.ConversationFilter{Tenant: sess.Tenant, Cursor: r.URL.Query().Get("cursor"), Limit: listSize})
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	d := conversationsData{Items: cs}
	if next != "" {
		d.NextLink = "/ui/conversations?" + urlValues("cursor", next)
	}
	s.render(w, r, http.StatusOK, "conversations", page{Title: "Conversations", Nav: "conversations", Session: sess, Data: d})
}

// conversationData is one thread, oldest first.
type conversationData struct {
	C        *switchboard.Conversation
	Messages []*switchboard.ConversationMessage
	Older    string
	CanReply bool
	Body     string
}

func (s *Server) conversation(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showConversation(w, r, sess, http.StatusOK, "", "")
}

func (s *Server) showConversation(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg, body string) {
	id := r.PathValue("id")
	c, err := s.visibleConversation(r.Context(), sess, id)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	// The store pages a thread newest first; the page shows it oldest first, as a phone does.
	msgs, next, err := s.cfg.Store.ConversationMessages(r.Context(), id, r.URL.Query().Get("cursor"), listSize)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	slices.Reverse(msgs)
	d := conversationData{C: c, Messages: msgs, CanReply: s.cfg.Reply != nil && sess.CanAct(), Body: body}
	if next != "" {
		d.Older = "/ui/conversations/" + id + "?" + urlValues("cursor", next)
	}
	flash := ""
	if r.URL.Query().Get("done") == "replied" {
		flash = "Reply accepted; it is on its way."
	}
	s.render(w, r, status, "conversation", page{Title: "Conversation with " + content.MaskPhone(c.TheirNumber), Nav: "conversations",
		Session: sess, Flash: flash, Error: errMsg, Data: d})
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, sess *session) {
	if s.cfg.Reply == nil {
		s.renderError(w, r, sess, http.StatusNotFound, "Replies are not configured on this node.")
		return
	}
	c, err := s.visibleConversation(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	body := strings.TrimSpace(r.PostFormValue("body"))
	if body == "" {
		s.showConversation(w, r, sess, http.StatusBadRequest, "Write the reply first.", "")
		return
	}
	// The form's token makes a double submit one message: the idempotency key is per form view.
	idem := "dashboard-reply:" + r.PostFormValue("nonce")
	m, err := s.cfg.Reply(r.Context(), c, body, "dashboard:"+sess.Subject, idem)
	if err != nil {
		if switchboard.ErrorKindOf(err) != switchboard.EINTERNAL {
			s.showConversation(w, r, sess, http.StatusUnprocessableEntity, "Not sent: "+switchboard.ErrorMessage(err), body)
			return
		}
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: reply accepted", "conversation_id", c.ID, "message_id", m.ID, "subject", sess.Subject)
	http.Redirect(w, r, "/ui/conversations/"+c.ID+"?done=replied", http.StatusSeeOther)
}

// endpointRow is an endpoint with its state in words.
type endpointRow struct {
	*switchboard.Endpoint
	State string
}

func endpointState(e *switchboard.Endpoint) string {
	switch {
	case e.DisabledAt != nil:
		return "disabled"
	case e.FailingSince != nil:
		return "failing"
	}
	return "healthy"
}

func (s *Server) endpoints(w http.ResponseWriter, r *http.Request, sess *session) {
	eps, err := s.cfg.Store.ListEndpoints(r.Context(), sess.Tenant)
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	rows := make([]endpointRow, 0, len(eps))
	for _, e := range eps {
		rows = append(rows, endpointRow{Endpoint: e, State: endpointState(e)})
	}
	s.render(w, r, http.StatusOK, "endpoints", page{Title: "Endpoints", Nav: "endpoints", Session: sess, Data: rows})
}

// endpointData is an endpoint's page.
type endpointData struct {
	E          endpointRow
	Recent     []deliveryRow
	Dead       []deliveryRow
	DeadMore   bool
	CanRotate  bool
	CanReplay  bool
	NewSecret  string
	SecretsNow int
}

// deliveryRow is a delivery with how long its last attempt took to be answered, when known.
type deliveryRow struct {
	*switchboard.Delivery
	EventType switchboard.AppEventType
}

func deliveryRows(ds []*switchboard.Delivery) []deliveryRow {
	out := make([]deliveryRow, 0, len(ds))
	for _, d := range ds {
		row := deliveryRow{Delivery: d}
		if d.Event != nil {
			row.EventType = d.Event.Type
		}
		out = append(out, row)
	}
	return out
}

func (s *Server) endpoint(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showEndpoint(w, r, sess, http.StatusOK, "", "")
}

// visibleConversation loads conversation id if the session sees its tenant; another tenant's
// is not found.
func (s *Server) visibleConversation(ctx context.Context, sess *session, id string) (*switchboard.Conversation, error) {
	c, err := s.cfg.Store.GetConversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sess.sees(c.Tenant) {
		return nil, switchboard.ErrConversationNotFound(id)
	}
	return c, nil
}

// visibleEndpoint loads endpoint id if the session sees its tenant; another tenant's is not
// found.
func (s *Server) visibleEndpoint(ctx context.Context, sess *session, id string) (*switchboard.Endpoint, error) {
	e, err := s.cfg.Store.GetEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if !sess.sees(e.Tenant) {
		return nil, switchboard.ErrEndpointNotFound(id)
	}
	return e, nil
}

func (s *Server) showEndpoint(w http.ResponseWriter, r *http.Request, sess *session, status int, flash, newSecret string) {
	e, err := s.visibleEndpoint(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	recent, _, err := s.cfg.Store.ListDeliveries(r.Context(), switchboard.DeliveryFilter{Tenant: sess.Tenant, EndpointID: e.ID, Limit: 20})
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	dead, next, err := s.cfg.Store.ListDeliveries(r.Context(), switchboard.DeliveryFilter{Tenant: sess.Tenant, EndpointID: e.ID, Status: switchboard.DeliveryDead, Limit: 20})
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	now := s.cfg.Clock()
	active := 0
	for _, sec := range e.Secrets {
		if sec.ExpiresAt == nil || sec.ExpiresAt.After(now) {
			active++
		}
	}
	if flash == "" {
		switch r.URL.Query().Get("done") {
		case "replayed":
			flash = "Dead letters replayed: they are pending again."
		}
	}
	d := endpointData{E: endpointRow{Endpoint: e, State: endpointState(e)}, Recent: deliveryRows(recent), Dead: deliveryRows(dead),
		DeadMore: next != "", CanRotate: e.Source == "api" && s.cfg.NewSecret != nil && sess.CanAct(), CanReplay: len(dead) > 0 && sess.CanAct(),
		NewSecret: newSecret, SecretsNow: active}
	s.render(w, r, status, "endpoint", page{Title: "Endpoint " + e.ID, Nav: "endpoints", Session: sess, Flash: flash, Data: d})
}

func (s *Server) replayEndpoint(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	if _, err := s.visibleEndpoint(r.Context(), sess, id); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	n, err := s.cfg.Store.ReplayDeadLetters(r.Context(), id, s.cfg.Clock())
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: dead letters replayed", "endpoint_id", id, "deliveries", n, "subject", sess.Subject)
	if s.cfg.OnReplay != nil {
		s.cfg.OnReplay()
	}
	http.Redirect(w, r, "/ui/endpoints/"+id+"?done=replayed", http.StatusSeeOther)
}

// rotateEndpoint adds a new secret and keeps the previous one signing for a day, as the API's
// rotate does; the new secret is shown once, on the answer to this POST.
func (s *Server) rotateEndpoint(w http.ResponseWriter, r *http.Request, sess *session) {
	if s.cfg.NewSecret == nil {
		s.renderError(w, r, sess, http.StatusNotFound, "Secret rotation is not configured on this node.")
		return
	}
	e, err := s.visibleEndpoint(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, sess, err)
		return
	}
	if e.Source != "api" {
		s.showEndpoint(w, r, sess, http.StatusConflict, "This endpoint comes from the configuration file: rotate its secret_env or secret_file there.", "")
		return
	}
	secret := s.cfg.NewSecret()
	now := s.cfg.Clock()
	if _, err := s.cfg.Store.RotateEndpointSecret(r.Context(), e.ID, secret, now.Add(24*time.Hour), now); err != nil {
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: endpoint secret rotated", "endpoint_id", e.ID, "subject", sess.Subject)
	s.showEndpoint(w, r, sess, http.StatusOK, "New secret added; the previous one keeps signing for 24 hours.", secret)
}

// senderRow is one configured sender with its queue and the provider's circuit.
type senderRow struct {
	switchboard.Sender
	Queue *SenderQueue
}

type sendersData struct {
	Senders     []senderRow
	QueuesError string
	Circuits    []Circuit
	Extra       []SenderQueue
}

func (s *Server) sendersPage(w http.ResponseWriter, r *http.Request, sess *session) {
	d := sendersData{}
	queues := map[string]SenderQueue{}
	if s.cfg.QueueStats == nil {
		d.QueuesError = "Queue depth is not available on this node."
	} else if qs, err := s.cfg.QueueStats(r.Context()); err != nil {
		s.cfg.Logger.Error("dashboard: queue stats", "err", err)
		d.QueuesError = "Queue depth could not be read; see the node's log."
	} else {
		for _, q := range qs {
			queues[q.From] = q
		}
	}
	for _, snd := range s.cfg.Senders {
		row := senderRow{Sender: snd}
		if q, ok := queues[snd.From]; ok {
			row.Queue = &q
			delete(queues, snd.From)
		}
		d.Senders = append(d.Senders, row)
	}
	// Queues of senders no longer configured still hold messages an operator must see.
	for _, q := range queues {
		d.Extra = append(d.Extra, q)
	}
	slices.SortFunc(d.Extra, func(a, b SenderQueue) int { return strings.Compare(a.From, b.From) })
	if s.cfg.Circuits != nil {
		d.Circuits = s.cfg.Circuits()
	}
	s.render(w, r, http.StatusOK, "senders", page{Title: "Senders and pools", Nav: "senders", Session: sess, Data: d})
}

// recordConsent records an opt-out or opt-in with evidence, source dashboard, from the
// opt-outs page's form.
func (s *Server) recordConsent(w http.ResponseWriter, r *http.Request, sess *session) {
	phone, err := content.NormalizePhone(strings.TrimSpace(r.PostFormValue("phone")))
	if err != nil {
		s.showOptouts(w, r, sess, http.StatusBadRequest, "", switchboard.ErrorMessage(err))
		return
	}
	state := switchboard.ConsentState(r.PostFormValue("state"))
	if state != switchboard.ConsentOptedOut && state != switchboard.ConsentOptedIn {
		s.showOptouts(w, r, sess, http.StatusBadRequest, "", "Choose opt-out or opt-in.")
		return
	}
	scope := r.PostFormValue("scope")
	if scope == "" {
		scope = switchboard.ScopeAll
	}
	if scope != switchboard.ScopeAll && !slices.Contains(s.pools(), scope) {
		s.showOptouts(w, r, sess, http.StatusBadRequest, "", fmt.Sprintf("Scope %q is neither every sender nor a configured pool.", scope))
		return
	}
	evidence := strings.TrimSpace(r.PostFormValue("evidence"))
	if evidence == "" || len(evidence) > 1024 {
		s.showOptouts(w, r, sess, http.StatusBadRequest, "", "Say how the person gave or withdrew consent (evidence, at most 1024 bytes): it is the record a compliance review reads.")
		return
	}
	c := &switchboard.ConsentRecord{Phone: phone, Scope: scope, State: state, Source: switchboard.ConsentFromDashboard,
		Evidence: evidence, Actor: "dashboard:" + sess.Subject, At: s.cfg.Clock(), Tenant: switchboard.TenantOr(sess.Tenant)}
	if err := s.cfg.Store.RecordConsent(r.Context(), c); err != nil {
		if switchboard.ErrorKindOf(err) == switchboard.EINVALID {
			s.showOptouts(w, r, sess, http.StatusBadRequest, "", switchboard.ErrorMessage(err))
			return
		}
		s.fail(w, r, sess, err)
		return
	}
	s.cfg.Logger.Info("dashboard: consent recorded", "phone", content.MaskPhone(phone), "scope", scope, "state", state, "subject", sess.Subject)
	s.showOptouts(w, r, sess, http.StatusOK, fmt.Sprintf("Recorded: %s %s for %s.", content.MaskPhone(phone), strings.ReplaceAll(string(state), "_", " "), scopeName(scope)), "")
}

func scopeName(scope string) string {
	if scope == switchboard.ScopeAll {
		return "every sender"
	}
	return "pool " + scope
}

// pools are the configured pools, the scopes consent can be recorded for besides "*".
func (s *Server) pools() []string {
	var out []string
	for _, snd := range s.cfg.Senders {
		if snd.Pool != "" && !slices.Contains(out, snd.Pool) {
			out = append(out, snd.Pool)
		}
	}
	slices.Sort(out)
	return out
}

// urlValues encodes key, value pairs, leaving out empty values.
func urlValues(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+"="+url.QueryEscape(kv[i+1]))
		}
	}
	return strings.Join(parts, "&")
}

// nonce is a random token for a form view: a reply form's idempotency key, so that a double
// submit makes one message.
func nonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
