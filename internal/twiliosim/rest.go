package twiliosim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

const maxRequestBody = 1 << 20

// Handler serves Twilio's REST APIs (the routes of routes.go) and the simulator's control API (under
// /sim/v1/, where a trailing slash is ignored).
func (s *Simulator) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > len("/sim/v1/") && strings.HasPrefix(p, "/sim/v1/") && strings.HasSuffix(p, "/") {
			r.URL.Path, r.URL.RawPath = strings.TrimSuffix(p, "/"), ""
		}
		s.mux.ServeHTTP(w, r)
	})
}

// tooManyRequests is the 429/20429 answer; it carries Retry-After: 1 (Twilio's 429s ask for a
// backoff without documenting a header value; one second is our choice).
func tooManyRequests(w http.ResponseWriter) *apiError {
	w.Header().Set("Retry-After", "1")
	return errorf(http.StatusTooManyRequests, 20429, "Too Many Requests")
}

func notFound(path string) *apiError {
	return errorf(http.StatusNotFound, 20404, "The requested resource %s was not found", path)
}

func methodNotAllowed() *apiError {
	return errorf(http.StatusMethodNotAllowed, 20004, "Method not allowed")
}

// hold waits for d, or until the client goes away or the simulator closes.
func (s *Simulator) hold(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-s.done:
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type apiErrorBody struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, apiErrorBody{
		Code:     e.Code,
		Message:  e.Message,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(e.Code),
		Status:   e.Status,
		Detail:   e.Detail,
	})
}

// --- Messages ---

// apiMessage is the Message resource of the 2010-04-01 API, field for field.
type apiMessage struct {
	AccountSID          string          `json:"account_sid"`
	APIVersion          string          `json:"api_version"`
	Body                string          `json:"body"`
	DateCreated         string          `json:"date_created"`
	DateSent            *string         `json:"date_sent"`
	DateUpdated         string          `json:"date_updated"`
	Direction           string          `json:"direction"`
	ErrorCode           *int            `json:"error_code"`
	ErrorMessage        *string         `json:"error_message"`
	From                *string         `json:"from"`
	MessagingServiceSID *string         `json:"messaging_service_sid"`
	NumMedia            string          `json:"num_media"`
	NumSegments         string          `json:"num_segments"`
	Price               *string         `json:"price"`
	PriceUnit           string          `json:"price_unit"`
	SID                 string          `json:"sid"`
	Status              string          `json:"status"`
	SubresourceURIs     subresourceURIs `json:"subresource_uris"`
	To                  string          `json:"to"`
	URI                 string          `json:"uri"`
}

type subresourceURIs struct {
	Media    string `json:"media"`
	Feedback string `json:"feedback"`
}

func (s *Simulator) renderMessage(m *Message) apiMessage {
	base := "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID
	a := apiMessage{
		AccountSID:  m.AccountSID,
		APIVersion:  apiVersion,
		Body:        m.Body,
		DateCreated: rfc2822(m.DateCreated),
		DateUpdated: rfc2822(m.DateUpdated),
		Direction:   m.Direction,
		NumMedia:    strconv.Itoa(m.NumMedia),
		NumSegments: strconv.Itoa(m.NumSegments),
		PriceUnit:   "USD",
		SID:         m.SID,
		Status:      m.Status,
		SubresourceURIs: subresourceURIs{
			Media:    base + "/Media.json",
			Feedback: base + "/Feedback.json",
		},
		To:  m.To,
		URI: base + ".json",
	}
	if m.DateSent != nil {
		d := rfc2822(*m.DateSent)
		a.DateSent = &d
		a.Price = priceOf(m)
	}
	if m.ErrorCode != 0 {
		code, msg := m.ErrorCode, m.ErrorMessage
		a.ErrorCode, a.ErrorMessage = &code, &msg
	}
	if m.From != "" {
		from := m.From
		a.From = &from
	}
	if m.MessagingServiceSID != "" {
		mg := m.MessagingServiceSID
		a.MessagingServiceSID = &mg
	}
	return a
}

// Simulated prices in USD, negative as Twilio shows charges: per SMS segment, per MMS, per
// inbound SMS segment (Twilio's pricing pages list such rates per country; these fixed US-like
// values are our choice).
const (
	priceSMSSegment = 0.0079
	priceMMS        = 0.0200
)

// priceOf is the price of a message once sent (or received): null before.
func priceOf(m *Message) *string {
	var p float64
	switch {
	case m.NumMedia > 0:
		p = priceMMS
	default:
		p = priceSMSSegment * float64(max(m.NumSegments, 1))
	}
	v := strconv.FormatFloat(-p, 'f', 5, 64)
	return &v
}

// segmentsFor is num_segments: the SMS segment count of the body; 1 for media or a template.
func segmentsFor(body string, numMedia int, contentSID string) int {
	if numMedia > 0 || (body == "" && contentSID != "") {
		return 1
	}
	n, _ := switchboard.Segments(body)
	return max(n, 1)
}

func (s *Simulator) createMessage(w http.ResponseWriter, r *http.Request) {
	f := s.faults.Load()
	key := s.createKey(r.Form) // seeded draws while a traffic profile runs (profile_run.go)
	if f.Status429Ratio > 0 && s.draw(key, draw429) < f.Status429Ratio {
		writeAPIError(w, tooManyRequests(w))
		return
	}
	fault500 := f.Status500Ratio > 0 && s.draw(key, draw500) < f.Status500Ratio
	if fault500 && s.draw(key, draw500Created) < 0.5 {
		s.log.Debug("twiliosim: injected 500 before create")
		writeAPIError(w, errorf(http.StatusInternalServerError, 20500, "An internal server error has occurred"))
		return
	}
	timeout := !fault500 && f.TimeoutRatio > 0 && s.draw(key, drawTimeout) < f.TimeoutRatio

	m, aerr := s.create(r.PathValue("AccountSid"), r.Form, f, key)
	if fault500 {
		if aerr == nil {
			s.log.Debug("twiliosim: injected 500 after create", "sid", m.SID)
		}
		writeAPIError(w, errorf(http.StatusInternalServerError, 20500, "An internal server error has occurred"))
		return
	}
	if timeout {
		d := 15 * time.Second
		if f.TimeoutMS > 0 {
			d = time.Duration(f.TimeoutMS) * time.Millisecond
		}
		s.hold(r, d)
	}
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusCreated, s.renderMessage(&m))
}

// create validates and stores a new outbound message of account acct and starts its lifecycle.
func (s *Simulator) create(acct string, form url.Values, f *Faults, key uint64) (Message, *apiError) {
	now := s.now()
	if acct == "" {
		acct = s.cfg.AccountSID
	}
	req, aerr := s.parseCreate(form, now)
	if aerr != nil {
		return Message{}, aerr
	}
	if req.From != "" {
		if _, from := splitChannel(req.From); s.ownerOf(from) != acct {
			return Message{}, fromError(21606, req.From) // another account's number
		}
	} else if acct != s.cfg.AccountSID {
		return Message{}, notFound("/2010-04-01/Accounts/" + acct + "/Messages.json") // services are the main account's
	}
	if req.From != "" && req.SendAt == nil && s.backlogFull(f, req.From, time.Now()) {
		return Message{}, fromError(21611, req.From) // the sender's queue is full (throughput.go)
	}
	prefix := "SM"
	if len(req.MediaURLs) > 0 {
		prefix = "MM"
	}
	m := &message{Message: Message{
		SID:                 newSID(prefix),
		AccountSID:          acct,
		MessagingServiceSID: req.MessagingServiceSID,
		Direction:           directionOutboundAPI,
		From:                req.From,
		To:                  req.To,
		Body:                req.Body,
		MediaURLs:           req.MediaURLs,
		ContentSID:          req.ContentSID,
		NumMedia:            len(req.MediaURLs),
		StatusCallback:      req.StatusCallback,
		ValidityPeriod:      req.ValidityPeriod,
		SendAt:              req.SendAt,
		DateCreated:         now,
		DateUpdated:         now,
	}, drawKey: key}
	if aerr := s.whatsappCreate(req, m, form.Get("ContentVariables")); aerr != nil {
		return Message{}, aerr
	}
	switch {
	case req.SendAt != nil:
		m.Status = statusScheduled
		m.NumSegments = segmentsFor(m.Body, m.NumMedia, m.ContentSID)
	case req.From == "":
		m.Status = statusAccepted // the Messaging Service has not picked a sender yet
	default:
		m.Status = statusQueued
		m.NumSegments = segmentsFor(m.Body, m.NumMedia, m.ContentSID)
	}
	snap := m.snapshot()
	s.mu.Lock()
	s.insertLocked(m)
	s.startLifecycleLocked(m)
	s.mu.Unlock()
	return snap, nil
}

func (s *Simulator) fetchMessage(w http.ResponseWriter, acct, sid, path string) *apiError {
	m, ok := s.Message(sid)
	if !ok || (acct != "" && m.AccountSID != acct) {
		return notFound(path)
	}
	writeJSON(w, http.StatusOK, s.renderMessage(&m))
	return nil
}

func (s *Simulator) updateMessage(w http.ResponseWriter, r *http.Request, sid, path string) *apiError {
	status, hasStatus := r.Form["Status"]
	body, hasBody := r.Form["Body"]
	if hasStatus && (len(status) != 1 || status[0] != statusCanceled) {
		return invalidParam("Status", strings.Join(status, ","))
	}
	if hasBody && (len(body) != 1 || body[0] != "") {
		// The API only redacts: the new Body must be empty.
		return invalidParam("Body", strings.Join(body, ","))
	}
	f := s.faults.Load()
	s.mu.Lock()
	m, ok := s.msgs[sid]
	if !ok || m.AccountSID != r.PathValue("AccountSid") {
		s.mu.Unlock()
		return notFound(path)
	}
	var posts []*callbackPost
	now := s.now()
	if hasStatus {
		if m.Status != statusScheduled {
			s.mu.Unlock()
			return errorf(http.StatusBadRequest, 30409, "This message cannot be canceled")
		}
		m.Status = statusCanceled
		m.DateUpdated = now
		posts = s.statusCallbackLocked(m, now, f)
	}
	if hasBody {
		m.Body = ""
		m.DateUpdated = now
	}
	snap := m.snapshot()
	s.mu.Unlock()
	s.enqueueCallbacksAsync(posts)
	writeJSON(w, http.StatusOK, s.renderMessage(&snap))
	return nil
}

func (s *Simulator) deleteMessage(w http.ResponseWriter, acct, sid, path string) *apiError {
	s.mu.Lock()
	m, ok := s.msgs[sid]
	ok = ok && m.AccountSID == acct
	if ok {
		delete(s.msgs, sid)
		if i := s.indexOfSeqLocked(m.seq); i >= 0 {
			s.order = slices.Delete(s.order, i, i+1)
		}
	}
	s.mu.Unlock()
	if !ok {
		return notFound(path)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- Listing ---

// page reads PageSize and Page; PageSize defaults to 50 and is capped at 1000.
func readPage(q url.Values) (size, page int, aerr *apiError) {
	size = 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, invalidParam("PageSize", v)
		}
		size = min(n, 1000)
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, invalidParam("Page", v)
		}
		page = n
	}
	return size, page, nil
}

// pageURI builds a list URI keeping the filters of q.
// listPage is a 2010-04-01 list answer: one page of all under key, in Twilio's paging envelope
// (first, next and previous page URIs keep the filters named).
func listPage[T any](r *http.Request, key string, all []T, size, page int, filters []string) map[string]any {
	items := pageSlice(all, size, page)
	p, q := r.URL.Path, r.Form
	out := map[string]any{
		key: items, "end": page*size + max(len(items)-1, 0),
		"first_page_uri": pageURI(p, q, filters, size, 0, ""), "next_page_uri": nil,
		"page": page, "page_size": size, "previous_page_uri": nil, "start": page * size,
		"uri": pageURI(p, q, filters, size, page, ""),
	}
	if (page+1)*size < len(all) {
		out["next_page_uri"] = pageURI(p, q, filters, size, page+1, "")
	}
	if page > 0 {
		out["previous_page_uri"] = pageURI(p, q, filters, size, page-1, "")
	}
	return out
}

func pageURI(path string, q url.Values, filters []string, size, page int, token string) string {
	v := url.Values{}
	for _, k := range filters {
		if x := q.Get(k); x != "" {
			v.Set(k, x)
		}
	}
	v.Set("PageSize", strconv.Itoa(size))
	v.Set("Page", strconv.Itoa(page))
	if token != "" {
		v.Set("PageToken", token)
	}
	return path + "?" + v.Encode()
}

// dateBound is one date filter (DateSent of messages, StartTime and EndTime of calls).
type dateBound struct {
	from, to time.Time // from inclusive, to exclusive; zero means unbounded
}

func (b dateBound) match(t time.Time) bool {
	return (b.from.IsZero() || !t.Before(b.from)) && (b.to.IsZero() || t.Before(b.to))
}

// parseDate accepts Twilio's YYYY-MM-DD and the timestamps twilio-go and others send.
func parseDate(v string) (t time.Time, dateOnly bool, ok bool) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true, true
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC1123Z, time.RFC1123, time.DateTime, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), false, true
		}
	}
	return time.Time{}, false, false
}

// dateFilters reads the filters on the date field name: name (that day), name> (on or after)
// and name< (on or before), as DateSent of messages. A date means the whole UTC day; a
// timestamp is taken as is (name alone: its day).
func dateFilters(q url.Values, name string) ([]dateBound, *apiError) {
	var out []dateBound
	const day = 24 * time.Hour
	for _, k := range []string{name, name + ">", name + "<"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		t, dateOnly, ok := parseDate(v)
		if !ok {
			return nil, invalidParam(k, v)
		}
		switch k {
		case name:
			d := t.Truncate(day)
			out = append(out, dateBound{from: d, to: d.Add(day)})
		case name + ">":
			out = append(out, dateBound{from: t})
		case name + "<":
			if dateOnly {
				out = append(out, dateBound{to: t.Add(day)})
			} else {
				out = append(out, dateBound{to: t.Add(time.Nanosecond)})
			}
		}
	}
	return out, nil
}

// matchDates reports whether t is within every bound; a missing date (a message not sent yet,
// a call not started or not ended) matches no bound.
func matchDates(bounds []dateBound, t *time.Time) bool {
	if len(bounds) == 0 {
		return true
	}
	if t == nil {
		return false
	}
	for _, b := range bounds {
		if !b.match(*t) {
			return false
		}
	}
	return true
}

type messageList struct {
	End             int          `json:"end"`
	FirstPageURI    string       `json:"first_page_uri"`
	NextPageURI     *string      `json:"next_page_uri"`
	Page            int          `json:"page"`
	PageSize        int          `json:"page_size"`
	PreviousPageURI *string      `json:"previous_page_uri"`
	Start           int          `json:"start"`
	URI             string       `json:"uri"`
	Messages        []apiMessage `json:"messages"`
}

// pageToken is "PA" (the page after) or "PB" (the page before) followed by the anchor
// message's SID and its sequence number: Twilio's tokens are opaque and start with PA/PB.
func pageToken(dir, sid string, seq uint64) string {
	return dir + sid + "-" + strconv.FormatUint(seq, 10)
}

// parsePageToken returns the anchor sequence of a token ("" is no token).
func parsePageToken(token string) (uint64, bool) {
	if token == "" {
		return 0, false
	}
	if !strings.HasPrefix(token, "PA") && !strings.HasPrefix(token, "PB") {
		return 0, false
	}
	_, seq, ok := strings.Cut(token[2:], "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return n, err == nil && n > 0
}

var messageFilters = []string{"To", "From", "DateSent", "DateSent<", "DateSent>"}

// listMessages lists messages newest first. PageToken "PA<sid>" continues after sid (next page);
// "PB<sid>" returns the page before sid; without a token, Page skips Page*PageSize messages.
func (s *Simulator) listMessages(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.Form
	size, page, aerr := readPage(q)
	if aerr != nil {
		return aerr
	}
	bounds, aerr := dateFilters(q, "DateSent")
	if aerr != nil {
		return aerr
	}
	to, from, acct := q.Get("To"), q.Get("From"), r.PathValue("AccountSid")
	match := func(m *message) bool {
		if m.AccountSID != acct || (to != "" && m.To != to) || (from != "" && m.From != from) {
			return false
		}
		return matchDates(bounds, m.DateSent)
	}

	token := q.Get("PageToken")
	items := make([]Message, 0, min(size, 64))
	var seqs []uint64
	var hasNext, hasPrev bool
	anchorSeq, tokenOK := parsePageToken(token)
	if token != "" && !tokenOK {
		return invalidParam("PageToken", token)
	}
	s.mu.RLock()
	// A token names its anchor by sequence, so that it still works when the anchor was deleted
	// meanwhile (a twilio-go stream that deletes as it goes).
	firstAfter := sort.Search(len(s.order), func(i int) bool { return s.order[i].seq > anchorSeq })
	if strings.HasPrefix(token, "PB") {
		// The page before the token's message: the size matching messages just newer than it.
		for i := firstAfter; i < len(s.order); i++ {
			if m := s.order[i]; match(m) {
				if len(items) == size {
					hasPrev = true
					break
				}
				items, seqs = append(items, m.snapshot()), append(seqs, m.seq)
			}
		}
		slices.Reverse(items)
		slices.Reverse(seqs)
		hasNext = true // the anchor itself is on a later page
	} else {
		start, skip := len(s.order)-1, page*size
		if token != "" {
			// Older than the anchor: everything before the first message not newer than it.
			start = sort.Search(len(s.order), func(i int) bool { return s.order[i].seq >= anchorSeq }) - 1
			skip = 0
		}
		for i := start; i >= 0; i-- {
			if m := s.order[i]; match(m) {
				if skip > 0 {
					skip--
					continue
				}
				if len(items) == size {
					hasNext = true
					break
				}
				items, seqs = append(items, m.snapshot()), append(seqs, m.seq)
			}
		}
		hasPrev = page > 0 || token != ""
	}
	s.mu.RUnlock()

	path := r.URL.Path
	out := messageList{
		FirstPageURI: pageURI(path, q, messageFilters, size, 0, ""),
		Page:         page,
		PageSize:     size,
		Start:        page * size,
		URI:          pageURI(path, q, messageFilters, size, page, token),
		Messages:     make([]apiMessage, len(items)),
	}
	out.End = out.Start + max(len(items)-1, 0)
	for i := range items {
		out.Messages[i] = s.renderMessage(&items[i])
	}
	if hasNext && len(items) > 0 {
		next := pageURI(path, q, messageFilters, size, page+1, pageToken("PA", items[len(items)-1].SID, seqs[len(seqs)-1]))
		out.NextPageURI = &next
	}
	if hasPrev && len(items) > 0 {
		prev := pageURI(path, q, messageFilters, size, max(page-1, 0), pageToken("PB", items[0].SID, seqs[0]))
		out.PreviousPageURI = &prev
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- IncomingPhoneNumbers ---

type apiCapabilities struct {
	Voice bool `json:"voice"`
	SMS   bool `json:"sms"`
	MMS   bool `json:"mms"`
	Fax   bool `json:"fax"`
}

// apiNumber is the IncomingPhoneNumber resource of the 2010-04-01 API.
type apiNumber struct {
	AccountSID             string          `json:"account_sid"`
	AddressSID             *string         `json:"address_sid"`
	AddressRequirements    string          `json:"address_requirements"`
	APIVersion             string          `json:"api_version"`
	Beta                   bool            `json:"beta"`
	Capabilities           apiCapabilities `json:"capabilities"`
	DateCreated            string          `json:"date_created"`
	DateUpdated            string          `json:"date_updated"`
	FriendlyName           string          `json:"friendly_name"`
	IdentitySID            *string         `json:"identity_sid"`
	PhoneNumber            string          `json:"phone_number"`
	Origin                 string          `json:"origin"`
	SID                    string          `json:"sid"`
	SMSApplicationSID      *string         `json:"sms_application_sid"`
	SMSFallbackMethod      string          `json:"sms_fallback_method"`
	SMSFallbackURL         string          `json:"sms_fallback_url"`
	SMSMethod              string          `json:"sms_method"`
	SMSURL                 string          `json:"sms_url"`
	StatusCallback         string          `json:"status_callback"`
	StatusCallbackMethod   string          `json:"status_callback_method"`
	TrunkSID               *string         `json:"trunk_sid"`
	URI                    string          `json:"uri"`
	VoiceReceiveMode       string          `json:"voice_receive_mode"`
	VoiceApplicationSID    *string         `json:"voice_application_sid"`
	VoiceCallerIDLookup    bool            `json:"voice_caller_id_lookup"`
	VoiceFallbackMethod    string          `json:"voice_fallback_method"`
	VoiceFallbackURL       string          `json:"voice_fallback_url"`
	VoiceMethod            string          `json:"voice_method"`
	VoiceURL               string          `json:"voice_url"`
	EmergencyStatus        string          `json:"emergency_status"`
	EmergencyAddressSID    *string         `json:"emergency_address_sid"`
	EmergencyAddressStatus string          `json:"emergency_address_status"`
	BundleSID              *string         `json:"bundle_sid"`
	Status                 string          `json:"status"`
	Type                   string          `json:"type"`
}

func (s *Simulator) renderNumber(n *number) apiNumber {
	return apiNumber{
		AccountSID:             n.AccountSID,
		AddressRequirements:    "none",
		APIVersion:             apiVersion,
		Capabilities:           apiCapabilities{Voice: true, SMS: true, MMS: true},
		DateCreated:            rfc2822(n.DateCreated),
		DateUpdated:            rfc2822(n.DateUpdated),
		FriendlyName:           n.FriendlyName,
		PhoneNumber:            n.PhoneNumber,
		Origin:                 "twilio",
		SID:                    n.SID,
		SMSFallbackMethod:      n.SMSFallbackMethod,
		SMSFallbackURL:         n.SMSFallbackURL,
		SMSMethod:              n.SMSMethod,
		SMSURL:                 n.SMSURL,
		StatusCallback:         n.StatusCallback,
		StatusCallbackMethod:   n.StatusCallbackMethod,
		URI:                    "/2010-04-01/Accounts/" + n.AccountSID + "/IncomingPhoneNumbers/" + n.SID + ".json",
		VoiceReceiveMode:       "voice",
		VoiceFallbackMethod:    n.VoiceFallbackMethod,
		VoiceFallbackURL:       n.VoiceFallbackURL,
		VoiceMethod:            n.VoiceMethod,
		VoiceURL:               n.VoiceURL,
		EmergencyStatus:        "Inactive",
		EmergencyAddressStatus: "unregistered",
		Status:                 "in-use",
		Type:                   "local",
	}
}

type numberList struct {
	End                  int         `json:"end"`
	FirstPageURI         string      `json:"first_page_uri"`
	NextPageURI          *string     `json:"next_page_uri"`
	Page                 int         `json:"page"`
	PageSize             int         `json:"page_size"`
	PreviousPageURI      *string     `json:"previous_page_uri"`
	Start                int         `json:"start"`
	URI                  string      `json:"uri"`
	IncomingPhoneNumbers []apiNumber `json:"incoming_phone_numbers"`
}

var numberFilters = []string{"PhoneNumber", "FriendlyName", "Beta", "Origin"}

// matchPhone matches Twilio's PhoneNumber filter: a partial number, '*' matching any digit.
func matchPhone(pattern, number string) bool {
	pattern = strings.TrimSpace(pattern)
	if pattern == "" {
		return true
	}
	for i := 0; i+len(pattern) <= len(number); i++ {
		ok := true
		for j := 0; j < len(pattern); j++ {
			if c := pattern[j]; c != '*' && c != number[i+j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// listNumbers lists owned numbers in the order they were added, with offset paging.
func (s *Simulator) listNumbers(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.Form
	size, page, aerr := readPage(q)
	if aerr != nil {
		return aerr
	}
	phone, friendly, acct := q.Get("PhoneNumber"), q.Get("FriendlyName"), r.PathValue("AccountSid")
	var all []apiNumber
	s.numMu.RLock()
	for _, n := range s.numOrder {
		if n.AccountSID == acct && matchPhone(phone, n.PhoneNumber) && (friendly == "" || n.FriendlyName == friendly) {
			all = append(all, s.renderNumber(n))
		}
	}
	s.numMu.RUnlock()

	start := min(page*size, len(all))
	end := min(start+size, len(all))
	path := r.URL.Path
	out := numberList{
		FirstPageURI:         pageURI(path, q, numberFilters, size, 0, ""),
		Page:                 page,
		PageSize:             size,
		Start:                page * size,
		URI:                  pageURI(path, q, numberFilters, size, page, ""),
		IncomingPhoneNumbers: all[start:end:end],
	}
	if out.IncomingPhoneNumbers == nil {
		out.IncomingPhoneNumbers = []apiNumber{}
	}
	out.End = out.Start + max(end-start-1, 0)
	if end < len(all) {
		next := pageURI(path, q, numberFilters, size, page+1, "PA"+all[end-1].SID)
		out.NextPageURI = &next
	}
	if page > 0 {
		prev := pageURI(path, q, numberFilters, size, page-1, "")
		out.PreviousPageURI = &prev
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// numberBySID finds a number of account acct ("": any account) by its SID.
func (s *Simulator) numberBySID(acct, sid string) (*number, bool) {
	for _, n := range s.numOrder {
		if n.SID == sid && (acct == "" || n.AccountSID == acct) {
			return n, true
		}
	}
	return nil, false
}

func (s *Simulator) fetchNumber(w http.ResponseWriter, acct, sid, path string) *apiError {
	s.numMu.RLock()
	n, ok := s.numberBySID(acct, sid)
	var out apiNumber
	if ok {
		out = s.renderNumber(n)
	}
	s.numMu.RUnlock()
	if !ok {
		return notFound(path)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// numberUpdateFromForm reads the IncomingPhoneNumber update parameters present in form.
func numberUpdateFromForm(form url.Values) numberUpdate {
	var u numberUpdate
	get := func(k string) *string {
		if vs, ok := form[k]; ok && len(vs) > 0 {
			v := strings.TrimSpace(vs[0])
			return &v
		}
		return nil
	}
	u.SMSURL, u.SMSMethod = get("SmsUrl"), get("SmsMethod")
	u.SMSFallbackURL, u.SMSFallbackMethod = get("SmsFallbackUrl"), get("SmsFallbackMethod")
	u.VoiceURL, u.VoiceMethod = get("VoiceUrl"), get("VoiceMethod")
	u.VoiceFallbackURL, u.VoiceFallbackMethod = get("VoiceFallbackUrl"), get("VoiceFallbackMethod")
	u.StatusCallback, u.StatusCallbackMethod = get("StatusCallback"), get("StatusCallbackMethod")
	u.FriendlyName = get("FriendlyName")
	return u
}

func (s *Simulator) updateNumber(w http.ResponseWriter, r *http.Request, sid, path string) *apiError {
	s.numMu.RLock()
	n, ok := s.numberBySID(r.PathValue("AccountSid"), sid)
	var phone string
	if ok {
		phone = n.PhoneNumber
	}
	s.numMu.RUnlock()
	if !ok {
		return notFound(path)
	}
	updated, _, err := s.upsertNumber(phone, numberUpdateFromForm(r.Form))
	if err != nil {
		return errorf(http.StatusBadRequest, 20001, "Invalid parameter: %v", err)
	}
	writeJSON(w, http.StatusOK, s.renderNumber(&updated))
	return nil
}

// createNumber "buys" a number: PhoneNumber becomes owned.
func (s *Simulator) createNumber(w http.ResponseWriter, r *http.Request) *apiError {
	phone := strings.TrimSpace(r.Form.Get("PhoneNumber"))
	if !isE164(phone) {
		return errorf(http.StatusBadRequest, 21421, "PhoneNumber is invalid")
	}
	if s.owned(phone) {
		return errorf(http.StatusBadRequest, 21422, "PhoneNumber %s is not available", phone)
	}
	n, _, err := s.upsertNumberIn(r.PathValue("AccountSid"), phone, numberUpdateFromForm(r.Form))
	if err != nil {
		return errorf(http.StatusBadRequest, 20001, "Invalid parameter: %v", err)
	}
	writeJSON(w, http.StatusCreated, s.renderNumber(&n))
	return nil
}

func (s *Simulator) deleteNumber(w http.ResponseWriter, acct, sid, path string) *apiError {
	s.numMu.Lock()
	n, ok := s.numberBySID(acct, sid)
	if ok {
		delete(s.numbers, n.PhoneNumber)
		s.numOrder = slices.DeleteFunc(s.numOrder, func(x *number) bool { return x == n })
	}
	s.numMu.Unlock()
	if ok {
		s.forgetNumberInServices(n.PhoneNumber)
	}
	if !ok {
		return notFound(path)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
