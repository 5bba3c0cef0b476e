package twiliosim

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the simulator's Calls API (POST/GET .../Calls.json, GET/POST .../Calls/{Sid}.json)
// and the lifecycle of a simulated call: queued, ringing, then the outcome scripted for the
// number called (see CallScript). An answered call runs its TwiML with a simulated callee
// (callee.go).

// Call outcomes a script may give a number.
const (
	OutcomeAnswer   = "answer"    // a person answers
	OutcomeBusy     = "busy"      // the line is busy
	OutcomeNoAnswer = "no-answer" // it rings until the timeout
	OutcomeMachine  = "machine"   // an answering machine picks up
	OutcomeFail     = "fail"      // the call cannot be connected
)

// Twilio's call statuses.
const (
	callQueued     = "queued"
	callRinging    = "ringing"
	callInProgress = "in-progress"
	callCompleted  = "completed"
	callBusy       = "busy"
	callNoAnswer   = "no-answer"
	callFailed     = "failed"
	callCanceled   = "canceled"
)

// Magic test numbers of Calls (twilio-facts §4).
var magicCallToErrors = map[string]int{
	"+15005550001": 21217,
	"+15005550002": 21214,
	"+15005550003": 21215,
	"+15005550004": 21216,
}

// CalleeInput is one answer of the simulated callee to a <Gather>: digits pressed, a phrase said,
// or silence until the Gather times out.
type CalleeInput struct {
	Digits  string `json:"digits,omitempty"`
	Speech  string `json:"speech,omitempty"`
	Timeout bool   `json:"timeout,omitempty"`
}

func (in CalleeInput) valid() bool {
	n := 0
	if in.Digits != "" {
		n++
		for _, c := range in.Digits {
			if !strings.ContainsRune("0123456789*#", c) {
				return false
			}
		}
	}
	if in.Speech != "" {
		n++
	}
	if in.Timeout {
		n++
	}
	return n == 1
}

// CallScript scripts the calls to one number: how the call ends up (Outcome, default answer)
// and, once answered, what the callee answers to each <Gather> in turn. Inputs run out into
// silence: a Gather then waits for POST /sim/v1/calls/{sid}/input until its timeout (or
// Config.CallInputWait).
type CallScript struct {
	Number  string        `json:"number"`
	Outcome string        `json:"outcome"`
	Inputs  []CalleeInput `json:"inputs,omitempty"`
}

// Call is the simulator's view of a call, the JSON shape of GET /sim/v1/calls.
type Call struct {
	SID              string     `json:"sid"`
	AccountSID       string     `json:"account_sid"`
	From             string     `json:"from"`
	To               string     `json:"to"`
	Status           string     `json:"status"`
	AnsweredBy       string     `json:"answered_by,omitempty"`
	URL              string     `json:"url,omitempty"`
	StatusCallback   string     `json:"status_callback,omitempty"`
	CallbackEvents   []string   `json:"status_callback_events,omitempty"`
	MachineDetection string     `json:"machine_detection,omitempty"`
	Timeout          int        `json:"timeout"`
	DateCreated      time.Time  `json:"date_created"`
	DateUpdated      time.Time  `json:"date_updated"`
	StartTime        *time.Time `json:"start_time,omitempty"`
	EndTime          *time.Time `json:"end_time,omitempty"`
	Duration         int        `json:"duration"`
	// Requests lists every URL the call requested from the application (TwiML, Gather and Dial
	// actions, Redirects), in order; status callbacks are not included.
	Requests []string `json:"requests"`
	// Heard is what the callee heard and did, one line each ("say: ...", "press 1", "dial ...").
	Heard []string `json:"heard"`
}

// call is a live or finished call. Its fields are guarded by voiceState.mu.
type call struct {
	Call
	twiml    string
	inputs   []CalleeInput
	inputCh  chan struct{} // signalled when an input is added
	stop     chan struct{} // closed when the call is canceled or hung up through the API
	stopOnce sync.Once
	redirect string // a new Url given through the API while the call is in progress
	// redirectTwiml is new TwiML given through the API while the call is in progress.
	redirectTwiml string
	method        string // Method: how the Url is requested (GET or POST)
	cbMethod      string // StatusCallbackMethod
	seq           int    // SequenceNumber of status callbacks
}

// voiceState is the simulator's calls.
type voiceState struct {
	mu      sync.Mutex
	calls   map[string]*call
	order   []*call
	scripts map[string]CallScript
}

func (v *voiceState) init() {
	if v.calls == nil {
		v.calls = map[string]*call{}
		v.scripts = map[string]CallScript{}
	}
}

func (c *call) snapshot() Call {
	out := c.Call
	out.Requests = slices.Clone(c.Requests)
	out.Heard = slices.Clone(c.Heard)
	out.CallbackEvents = slices.Clone(c.CallbackEvents)
	return out
}

// Calls returns every call of the account, oldest first.
func (s *Simulator) Calls() []Call {
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	out := make([]Call, len(s.voice.order))
	for i, c := range s.voice.order {
		out[i] = c.snapshot()
	}
	return out
}

// Call returns one call by SID.
func (s *Simulator) Call(sid string) (Call, bool) {
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	c, ok := s.voice.calls[sid]
	if !ok {
		return Call{}, false
	}
	return c.snapshot(), true
}

// ScriptCalls sets how calls to sc.Number go (see CallScript); it applies to calls created
// afterwards.
func (s *Simulator) ScriptCalls(sc CallScript) error {
	if !isE164(sc.Number) {
		return errInvalidScript("number must be E.164")
	}
	if sc.Outcome == "" {
		sc.Outcome = OutcomeAnswer
	}
	switch sc.Outcome {
	case OutcomeAnswer, OutcomeBusy, OutcomeNoAnswer, OutcomeMachine, OutcomeFail:
	default:
		return errInvalidScript("outcome must be answer, busy, no-answer, machine or fail")
	}
	for _, in := range sc.Inputs {
		if !in.valid() {
			return errInvalidScript("each input is exactly one of digits (0-9, *, #), speech or timeout")
		}
	}
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	s.voice.scripts[sc.Number] = sc
	return nil
}

type errInvalidScript string

func (e errInvalidScript) Error() string { return "twiliosim: invalid call script: " + string(e) }

// Input gives a live call the callee's next answer to a Gather.
func (s *Simulator) Input(sid string, in CalleeInput) error {
	if !in.valid() {
		return errInvalidScript("an input is exactly one of digits (0-9, *, #), speech or timeout")
	}
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	c, ok := s.voice.calls[sid]
	if !ok {
		return errNoCall
	}
	c.inputs = append(c.inputs, in)
	select {
	case c.inputCh <- struct{}{}:
	default:
	}
	return nil
}

type simError string

func (e simError) Error() string { return string(e) }

const errNoCall = simError("twiliosim: no such call")

func (s *Simulator) resetCalls() {
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	for _, c := range s.voice.calls {
		c.stopOnce.Do(func() { close(c.stop) })
	}
	s.voice.calls = map[string]*call{}
	s.voice.order = nil
	s.voice.scripts = map[string]CallScript{}
}

// --- REST ---

// apiCall is the Call resource of the 2010-04-01 API, field for field.
type apiCall struct {
	AccountSID      string            `json:"account_sid"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	CallerName      *string           `json:"caller_name"`
	DateCreated     string            `json:"date_created"`
	DateUpdated     string            `json:"date_updated"`
	Direction       string            `json:"direction"`
	Duration        *string           `json:"duration"`
	EndTime         *string           `json:"end_time"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	GroupSID        *string           `json:"group_sid"`
	ParentCallSID   *string           `json:"parent_call_sid"`
	PhoneNumberSID  *string           `json:"phone_number_sid"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	QueueTime       string            `json:"queue_time"`
	SID             string            `json:"sid"`
	StartTime       *string           `json:"start_time"`
	Status          string            `json:"status"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	TrunkSID        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
}

func strPtr(s string) *string { return &s }

func (s *Simulator) renderCall(c *Call) apiCall {
	base := "/2010-04-01/Accounts/" + c.AccountSID + "/Calls/" + c.SID
	a := apiCall{
		AccountSID: c.AccountSID, APIVersion: apiVersion, DateCreated: rfc2822(c.DateCreated),
		DateUpdated: rfc2822(c.DateUpdated), Direction: directionOutboundAPI, From: c.From, FromFormatted: c.From,
		PriceUnit: "USD", QueueTime: "0", SID: c.SID, Status: c.Status, To: c.To, ToFormatted: c.To, URI: base + ".json",
		SubresourceURIs: map[string]string{
			"notifications": base + "/Notifications.json", "recordings": base + "/Recordings.json",
			"payments": base + "/Payments.json", "events": base + "/Events.json",
		},
	}
	if c.AnsweredBy != "" {
		a.AnsweredBy = strPtr(c.AnsweredBy)
	}
	if c.StartTime != nil {
		a.StartTime = strPtr(rfc2822(*c.StartTime))
	}
	if c.EndTime != nil {
		a.EndTime = strPtr(rfc2822(*c.EndTime))
		a.Duration = strPtr(strconv.Itoa(c.Duration))
	}
	return a
}

// fetchCall answers GET Calls/{Sid}.json.
func (s *Simulator) fetchCall(w http.ResponseWriter, r *http.Request) *apiError {
	c, ok := s.Call(r.PathValue("Sid"))
	if !ok || c.AccountSID != r.PathValue("AccountSid") {
		return notFound(r.URL.Path)
	}
	writeJSON(w, http.StatusOK, s.renderCall(&c))
	return nil
}

const maxTwiMLChars = 4000

// createCallWithFaults applies the REST faults to a call create as to a message create: 429
// creates nothing, 500 is ambiguous (a coin flip decides whether the call was placed), a
// timeout holds the answer of a call that was placed.
func (s *Simulator) createCallWithFaults(w http.ResponseWriter, r *http.Request) *apiError {
	f := s.faults.Load()
	if f.Status429Ratio > 0 && rand.Float64() < f.Status429Ratio {
		return tooManyRequests(w)
	}
	fault500 := f.Status500Ratio > 0 && rand.Float64() < f.Status500Ratio
	if fault500 && rand.IntN(2) == 0 {
		return errorf(http.StatusInternalServerError, 20500, "An internal server error has occurred")
	}
	if !fault500 && f.TimeoutRatio > 0 && rand.Float64() < f.TimeoutRatio {
		s.hold(r, time.Duration(orDefault(f.TimeoutMS, 15000))*time.Millisecond)
	}
	if fault500 {
		_ = s.createCall(discardWriter{}, r)
		return errorf(http.StatusInternalServerError, 20500, "An internal server error has occurred")
	}
	return s.createCall(w, r)
}

// discardWriter is a ResponseWriter that forgets the answer (a call placed behind a 500).
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// httpMethod reads a Method/StatusCallbackMethod parameter: GET or POST (default).
func httpMethod(f url.Values, name string) (string, *apiError) {
	switch m := strings.ToUpper(strings.TrimSpace(f.Get(name))); m {
	case "", http.MethodPost:
		return http.MethodPost, nil
	case http.MethodGet:
		return http.MethodGet, nil
	default:
		return "", invalidParam(name, m)
	}
}

func (s *Simulator) createCall(w http.ResponseWriter, r *http.Request) *apiError {
	f := r.Form
	to, from := f.Get("To"), f.Get("From")
	if to == "" {
		return errorf(http.StatusBadRequest, 21201, "No 'To' number is specified")
	}
	if from == "" {
		return errorf(http.StatusBadRequest, 21213, "No 'From' number is specified")
	}
	if from == "+15005550001" || !isE164(from) {
		return errorf(http.StatusBadRequest, 21212, "The 'From' number %s is not a valid phone number or client ID.", from)
	}
	acct := r.PathValue("AccountSid")
	if s.ownerOf(from) != acct {
		return errorf(http.StatusBadRequest, 21210, "The source phone number provided, %s, is not yet verified for your account.", from)
	}
	if code, ok := magicCallToErrors[to]; ok {
		return errorf(http.StatusBadRequest, code, "The 'To' number %s cannot be called (code %d).", to, code)
	}
	if !isE164(to) {
		return errorf(http.StatusBadRequest, 21217, "The 'To' number %s is not a valid phone number.", to)
	}
	u, twiml := f.Get("Url"), f.Get("Twiml")
	switch {
	case u == "" && twiml == "":
		return errorf(http.StatusBadRequest, 21205, "Url parameter is required.")
	case u != "" && !validCallbackURL(u):
		return errorf(http.StatusBadRequest, 21205, "Url is not a valid URL: %s", u)
	case len([]rune(twiml)) > maxTwiMLChars:
		return errorf(http.StatusBadRequest, 21208, "Twiml is longer than %d characters", maxTwiMLChars)
	}
	sc := f.Get("StatusCallback")
	if sc != "" && !validCallbackURL(sc) {
		return invalidParam("StatusCallback", sc)
	}
	timeout := 60
	if v := f.Get("Timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 600 {
			return invalidParam("Timeout", v)
		}
		timeout = n
	}
	method, aerr := httpMethod(f, "Method")
	if aerr != nil {
		return aerr
	}
	cbMethod, aerr := httpMethod(f, "StatusCallbackMethod")
	if aerr != nil {
		return aerr
	}
	md := f.Get("MachineDetection")
	if md != "" && md != "Enable" && md != "DetectMessageEnd" {
		return invalidParam("MachineDetection", md)
	}
	var events []string
	for _, v := range f["StatusCallbackEvent"] {
		for _, e := range strings.Fields(v) {
			switch e {
			case "initiated", "ringing", "answered", "completed":
				if !slices.Contains(events, e) {
					events = append(events, e)
				}
			default:
				return invalidParam("StatusCallbackEvent", e)
			}
		}
	}
	if len(events) == 0 {
		events = []string{"completed"}
	}
	now := s.now()
	c := &call{Call: Call{
		SID: newSID("CA"), AccountSID: acct, From: from, To: to, Status: callQueued, URL: u,
		StatusCallback: sc, CallbackEvents: events, MachineDetection: md, Timeout: timeout,
		DateCreated: now, DateUpdated: now, Requests: []string{}, Heard: []string{},
	}, twiml: twiml, inputCh: make(chan struct{}, 1), stop: make(chan struct{}), method: method, cbMethod: cbMethod}
	s.voice.mu.Lock()
	sc2, ok := s.voice.scripts[to]
	if !ok {
		sc2 = CallScript{Number: to, Outcome: OutcomeAnswer}
	}
	c.inputs = slices.Clone(sc2.Inputs)
	s.voice.calls[c.SID] = c
	s.voice.order = append(s.voice.order, c)
	s.callbackLocked(c, "initiated", now)
	snap := c.snapshot()
	s.voice.mu.Unlock()

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runCall(c, sc2.Outcome)
	}()
	writeJSON(w, http.StatusCreated, s.renderCall(&snap))
	return nil
}

var callFilters = []string{"To", "From", "Status", "StartTime", "StartTime>", "StartTime<", "EndTime", "EndTime>", "EndTime<"}

// listCalls lists calls newest first, PageSize at a time (default 50, at most 1000), as Twilio
// pages its lists. Filters: To, From, Status, and StartTime and EndTime as DateSent of messages
// (that day; > on or after; < on or before; a date is a whole UTC day); a call that has not
// started (or ended) has no start_time (end_time) and matches no filter on it, as on Twilio.
func (s *Simulator) listCalls(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.Form
	size, page, aerr := readPage(q)
	if aerr != nil {
		return aerr
	}
	starts, aerr := dateFilters(q, "StartTime")
	if aerr != nil {
		return aerr
	}
	ends, aerr := dateFilters(q, "EndTime")
	if aerr != nil {
		return aerr
	}
	all := []apiCall{}
	calls := s.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		c := calls[i]
		if c.AccountSID == r.PathValue("AccountSid") && (q.Get("To") == "" || q.Get("To") == c.To) && (q.Get("From") == "" || q.Get("From") == c.From) &&
			(q.Get("Status") == "" || q.Get("Status") == c.Status) && matchDates(starts, c.StartTime) && matchDates(ends, c.EndTime) {
			all = append(all, s.renderCall(&c))
		}
	}
	writeJSON(w, http.StatusOK, listPage(r, "calls", all, size, page, callFilters))
	return nil
}

// updateCall: Status=canceled ends a call not yet answered, Status=completed hangs up one in
// progress (and cancels one not answered); the answer already shows the final status (Twilio's
// Call resource documentation). Url or Twiml redirects a call in progress at once, interrupting
// the verb it is in (a Gather included), as Twilio's live call modification does; Method sets
// how the new Url is requested.
func (s *Simulator) updateCall(w http.ResponseWriter, r *http.Request, sid string) *apiError {
	status, newURL, newTwiml := r.Form.Get("Status"), r.Form.Get("Url"), r.Form.Get("Twiml")
	if status != "" && status != callCanceled && status != callCompleted {
		return invalidParam("Status", status)
	}
	if newURL != "" && !validCallbackURL(newURL) {
		return invalidParam("Url", newURL)
	}
	if len([]rune(newTwiml)) > maxTwiMLChars {
		return errorf(http.StatusBadRequest, 21208, "Twiml is longer than %d characters", maxTwiMLChars)
	}
	method, aerr := httpMethod(r.Form, "Method")
	if aerr != nil {
		return aerr
	}
	s.voice.mu.Lock()
	c, ok := s.voice.calls[sid]
	if !ok || c.AccountSID != r.PathValue("AccountSid") {
		s.voice.mu.Unlock()
		return notFound(r.URL.Path)
	}
	now := s.now()
	switch {
	case status == callCanceled && (c.Status == callQueued || c.Status == callRinging),
		status == callCompleted && (c.Status == callQueued || c.Status == callRinging):
		s.finishLocked(c, callCanceled, now)
		c.stopOnce.Do(func() { close(c.stop) })
	case status == callCompleted && c.Status == callInProgress:
		s.finishLocked(c, callCompleted, now)
		c.stopOnce.Do(func() { close(c.stop) })
	case (newURL != "" || newTwiml != "") && c.Status == callInProgress:
		c.redirect, c.redirectTwiml = newURL, newTwiml
		if newURL != "" {
			c.method = method
		}
		select {
		case c.inputCh <- struct{}{}:
		default:
		}
	}
	snap := c.snapshot()
	s.voice.mu.Unlock()
	writeJSON(w, http.StatusOK, s.renderCall(&snap))
	return nil
}

// --- lifecycle ---

// sleep waits d, or until the call is stopped or the simulator closes; false means stopped.
func (s *Simulator) sleep(c *call, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stop:
	case <-s.done:
	}
	return false
}

func (s *Simulator) runCall(c *call, outcome string) {
	if !s.sleep(c, s.cfg.CallRingDelay) {
		return
	}
	s.voice.mu.Lock()
	if c.Status != callQueued {
		s.voice.mu.Unlock()
		return
	}
	c.Status, c.DateUpdated = callRinging, s.now()
	s.callbackLocked(c, "ringing", c.DateUpdated)
	s.voice.mu.Unlock()
	if !s.sleep(c, s.cfg.CallAnswerDelay) {
		return
	}
	s.voice.mu.Lock()
	if c.Status != callRinging {
		s.voice.mu.Unlock()
		return
	}
	now := s.now()
	switch outcome {
	case OutcomeBusy:
		s.finishLocked(c, callBusy, now)
		s.voice.mu.Unlock()
		return
	case OutcomeNoAnswer:
		s.finishLocked(c, callNoAnswer, now)
		s.voice.mu.Unlock()
		return
	case OutcomeFail:
		s.finishLocked(c, callFailed, now)
		s.voice.mu.Unlock()
		return
	}
	c.Status, c.DateUpdated, c.StartTime = callInProgress, now, &now
	if c.MachineDetection != "" {
		c.AnsweredBy = "human"
		if outcome == OutcomeMachine {
			c.AnsweredBy = "machine_start"
			if c.MachineDetection == "DetectMessageEnd" {
				c.AnsweredBy = "machine_end_beep"
			}
		}
	}
	s.callbackLocked(c, "answered", now)
	twiml, target := c.twiml, c.URL
	s.voice.mu.Unlock()

	s.runCallee(c, target, twiml, outcome == OutcomeMachine)

	s.voice.mu.Lock()
	if c.Status == callInProgress {
		s.finishLocked(c, callCompleted, s.now())
	}
	s.voice.mu.Unlock()
}

// finishLocked ends a call with a final status and posts its completed callback.
func (s *Simulator) finishLocked(c *call, status string, now time.Time) {
	if c.Status != callInProgress && c.Status != callQueued && c.Status != callRinging {
		return
	}
	c.Status, c.DateUpdated, c.EndTime = status, now, &now
	if c.StartTime != nil {
		c.Duration = max(int(now.Sub(*c.StartTime).Seconds()), 1)
	}
	s.callbackLocked(c, "completed", now)
}

// callbackLocked posts a signed call status callback when the call asked for event ev.
func (s *Simulator) callbackLocked(c *call, ev string, now time.Time) {
	if c.StatusCallback == "" || !slices.Contains(c.CallbackEvents, ev) {
		return
	}
	v := s.callParams(c)
	if ev == "initiated" {
		v.Set("CallStatus", "initiated") // the initiated event reports itself (Twilio's call status callbacks)
	}
	v.Set("CallbackSource", "call-progress-events")
	v.Set("SequenceNumber", strconv.Itoa(c.seq))
	v.Set("Timestamp", rfc2822(now))
	if ev == "completed" {
		v.Set("CallDuration", strconv.Itoa(c.Duration))
		v.Set("Duration", strconv.Itoa((c.Duration+59)/60))
	}
	c.seq++
	e := s.newCallbackEvent(c.StatusCallback, v)
	if c.cbMethod == http.MethodGet {
		e.asGET(s.tokenOf(c.AccountSID), v)
	}
	e.sid, e.status = c.SID, c.Status
	// The callback faults apply to calls as to messages (drop, duplicates, delay; shuffle is
	// left to messages). The callbacks of one call may arrive out of order, as Twilio's may.
	f := s.faults.Load()
	if f.CallbackDropRatio > 0 && rand.Float64() < f.CallbackDropRatio {
		s.stats.dropped.Add(1)
		return
	}
	at := time.Now()
	if f.CallbackDelayMS > 0 {
		at = at.Add(time.Duration(f.CallbackDelayMS) * time.Millisecond)
	}
	for range 1 + max(f.CallbackDuplicates, 0) {
		s.sched.push(event{at: at, kind: evCallback, post: &callbackPost{ev: e}})
	}
}

// callParams are the parameters of every request about a call. Callers hold voice.mu.
func (s *Simulator) callParams(c *call) url.Values {
	v := url.Values{}
	v.Set("CallSid", c.SID)
	v.Set("AccountSid", c.AccountSID)
	v.Set("From", c.From)
	v.Set("To", c.To)
	v.Set("Caller", c.From)
	v.Set("Called", c.To)
	v.Set("CallStatus", c.Status)
	v.Set("Direction", directionOutboundAPI)
	v.Set("ApiVersion", apiVersion)
	if c.AnsweredBy != "" {
		v.Set("AnsweredBy", c.AnsweredBy)
	}
	return v
}
