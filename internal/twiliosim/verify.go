package twiliosim

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/content"
)

// Twilio Verify v2 (https://verify.twilio.com/v2/...), as far as Switchboard uses it: services,
// verifications (create, resend, fetch, cancel/approve), verification checks. Fidelity notes:
//   - A verification lives 10 minutes from its creation. A create for a number that has a pending
//     verification in the service is a resend: same SID, same code, one more send_code_attempt,
//     until the fifth send; the sixth answers 429/60203.
//   - A check with the wrong code answers 200 status=pending valid=false; after 5 checks every
//     further check answers 429/60202. A check, fetch or update of a verification that is
//     approved, canceled or expired answers 404/20404 (Twilio deletes them).
//   - Two requests for one number at once answer 429/60212 (too many concurrent requests).
//   - The simulated phone "receives" the code: GET /sim/v1/verifications shows it.

// VerifyTTL is how long a simulated verification lives.
const VerifyTTL = 10 * time.Minute

// Verify limits, as Twilio's defaults.
const (
	verifyMaxSends  = 5
	verifyMaxChecks = 5
)

// Verification is the simulator's view of one Verify verification, the code included. It is the
// JSON shape of GET /sim/v1/verifications.
type Verification struct {
	SID        string    `json:"sid"`
	ServiceSID string    `json:"service_sid"`
	To         string    `json:"to"`
	Channel    string    `json:"channel"`
	Status     string    `json:"status"`
	Code       string    `json:"code"`
	Sends      int       `json:"sends"`
	Checks     int       `json:"checks"`
	Locale     string    `json:"locale,omitempty"`
	Created    time.Time `json:"date_created"`
	Updated    time.Time `json:"date_updated"`
	ExpiresAt  time.Time `json:"expires_at"`
}

type verifyService struct {
	sid, name         string
	codeLength        int
	customCodeEnabled bool
	created, updated  time.Time
}

type sendAttempt struct {
	sid, channel string
	at           time.Time
}

type verification struct {
	Verification
	attempts []sendAttempt
}

// verifyState is the simulator's Verify data.
type verifyState struct {
	mu       sync.Mutex
	services map[string]*verifyService
	vers     map[string]*verification // by SID
	order    []*verification
	inFlight map[string]int // requests in progress per number (60212)
}

func (st *verifyState) init() {
	if st.services == nil {
		st.services = map[string]*verifyService{}
		st.vers = map[string]*verification{}
		st.inFlight = map[string]int{}
	}
}

func (s *Simulator) verify() *verifyState {
	st := &s.verifyData
	st.mu.Lock()
	st.init()
	st.mu.Unlock()
	return st
}

// reset forgets every service and verification.
func (st *verifyState) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.services, st.vers, st.order, st.inFlight = nil, nil, nil, nil
	st.init()
}

// Verifications returns every verification the simulated account holds, oldest first, codes
// included.
func (s *Simulator) Verifications() []Verification {
	st := s.verify()
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Verification, 0, len(st.order))
	for _, v := range st.order {
		s.expireLocked(v)
		out = append(out, v.Verification)
	}
	return out
}

func (s *Simulator) expireLocked(v *verification) {
	if v.Status == "pending" && !s.now().Before(v.ExpiresAt) {
		v.Status, v.Updated = "expired", v.ExpiresAt
	}
}

func init() {
	controlRoutes["GET /sim/v1/verifications"] = func(s *Simulator, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		to, sid := q.Get("to"), q.Get("sid")
		out := []Verification{}
		for _, v := range s.Verifications() {
			if (to == "" || v.To == to) && (sid == "" || v.SID == sid) {
				out = append(out, v)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"verifications": out})
	}
}

func verifyTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Simulator) renderService(v *verifyService) map[string]any {
	url := "https://verify.twilio.com/v2/Services/" + v.sid
	return map[string]any{
		"sid": v.sid, "account_sid": s.cfg.AccountSID, "friendly_name": v.name, "code_length": v.codeLength,
		"lookup_enabled": false, "psd2_enabled": false, "skip_sms_to_landlines": false, "dtmf_input_required": false,
		"tts_name": nil, "do_not_share_warning_enabled": false, "custom_code_enabled": v.customCodeEnabled,
		"push": map[string]any{}, "totp": map[string]any{}, "default_template_sid": nil, "whatsapp": map[string]any{},
		"passkeys": map[string]any{}, "verify_event_subscription_enabled": false,
		"date_created": verifyTime(v.created), "date_updated": verifyTime(latest(v.created, v.updated)), "url": url,
		"links": map[string]any{"verifications": url + "/Verifications", "verification_checks": url + "/VerificationCheck"},
	}
}

func (s *Simulator) renderVerification(v *verification) map[string]any {
	attempts := make([]any, 0, len(v.attempts))
	for _, a := range v.attempts {
		attempts = append(attempts, map[string]any{"attempt_sid": a.sid, "channel": a.channel, "time": verifyTime(a.at)})
	}
	return map[string]any{
		"sid": v.SID, "service_sid": v.ServiceSID, "account_sid": s.cfg.AccountSID, "to": v.To, "channel": v.Channel,
		"status": v.Status, "valid": v.Status == "approved", "lookup": map[string]any{}, "amount": nil, "payee": nil,
		"send_code_attempts": attempts, "date_created": verifyTime(v.Created), "date_updated": verifyTime(v.Updated),
		"sna": nil, "url": "https://verify.twilio.com/v2/Services/" + v.ServiceSID + "/Verifications/" + v.SID,
	}
}

func (s *Simulator) renderCheck(v *verification) map[string]any {
	return map[string]any{
		"sid": v.SID, "service_sid": v.ServiceSID, "account_sid": s.cfg.AccountSID, "to": v.To, "channel": v.Channel,
		"status": v.Status, "valid": v.Status == "approved", "amount": nil, "payee": nil,
		"date_created": verifyTime(v.Created), "date_updated": verifyTime(v.Updated), "sna_attempts_error_codes": []any{},
	}
}

func verifyParam(name string) *apiError {
	return errorf(http.StatusBadRequest, 60200, "Invalid parameter `%s`", name)
}

// verifyServiceOneH answers /v2/Services/{Sid} (fetch, update, delete).
func (s *Simulator) verifyServiceOneH(w http.ResponseWriter, r *http.Request) *apiError {
	return s.verifyServiceOne(w, r, s.verify(), r.PathValue("Sid"))
}

// listVerifyServices lists the Verify services, oldest first, with v2's meta paging.
func (s *Simulator) listVerifyServices(w http.ResponseWriter, r *http.Request, st *verifyState) *apiError {
	size, page, aerr := readPage(r.Form)
	if aerr != nil {
		return aerr
	}
	st.mu.Lock()
	svcs := make([]*verifyService, 0, len(st.services))
	for _, v := range st.services {
		svcs = append(svcs, v)
	}
	st.mu.Unlock()
	slices.SortFunc(svcs, func(a, b *verifyService) int { return a.created.Compare(b.created) })
	all := make([]map[string]any, len(svcs))
	for i, v := range svcs {
		all[i] = s.renderService(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"services": pageSlice(all, size, page),
		"meta":     v1Page(r, "services", size, page, len(all)),
	})
	return nil
}

// verifyServiceOne fetches, updates (FriendlyName, CodeLength, CustomCodeEnabled) or deletes a
// Verify service.
func (s *Simulator) verifyServiceOne(w http.ResponseWriter, r *http.Request, st *verifyState, sid string) *apiError {
	st.mu.Lock()
	defer st.mu.Unlock()
	svc, ok := st.services[sid]
	if !ok {
		return notFound(r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		if v, ok := r.PostForm["FriendlyName"]; ok {
			if v[0] == "" || len(v[0]) > 64 {
				return verifyParam("FriendlyName")
			}
			svc.name = v[0]
		}
		if v := r.PostForm.Get("CodeLength"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 4 || n > 10 {
				return verifyParam("CodeLength")
			}
			svc.codeLength = n
		}
		if v := r.PostForm.Get("CustomCodeEnabled"); v != "" {
			svc.customCodeEnabled = v == "true"
		}
		svc.updated = s.now()
	case http.MethodDelete:
		delete(st.services, sid)
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return methodNotAllowed()
	}
	writeJSON(w, http.StatusOK, s.renderService(svc))
	return nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *Simulator) createService(w http.ResponseWriter, r *http.Request, st *verifyState) *apiError {
	name := r.PostForm.Get("FriendlyName")
	if name == "" || len(name) > 64 {
		return verifyParam("FriendlyName")
	}
	n := 6
	if v := r.PostForm.Get("CodeLength"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 4 || n > 10 {
			return verifyParam("CodeLength")
		}
	}
	svc := &verifyService{sid: newSID("VA"), name: name, codeLength: n, created: s.now(),
		customCodeEnabled: r.PostForm.Get("CustomCodeEnabled") == "true"}
	st.mu.Lock()
	st.services[svc.sid] = svc
	st.mu.Unlock()
	writeJSON(w, http.StatusCreated, s.renderService(svc))
	return nil
}

// enter counts a request for number in flight; more than one at once answers 60212.
func (st *verifyState) enter(number string) (leave func(), aerr *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inFlight[number] > 0 {
		return nil, errorf(http.StatusTooManyRequests, 60212, "Too many concurrent requests for phone number %s", maskNumber(number))
	}
	st.inFlight[number]++
	return func() {
		st.mu.Lock()
		st.inFlight[number]--
		st.mu.Unlock()
	}, nil
}

func (s *Simulator) createVerification(w http.ResponseWriter, r *http.Request, st *verifyState, service string) *apiError {
	to, err := content.NormalizePhone(r.PostForm.Get("To"))
	if err != nil {
		return verifyParam("To")
	}
	channel := r.PostForm.Get("Channel")
	switch channel {
	case "sms", "call", "whatsapp", "email", "sna":
	default:
		return verifyParam("Channel")
	}
	leave, aerr := st.enter(to)
	if aerr != nil {
		return aerr
	}
	defer leave()
	if f := s.faults.Load(); f.LatencyMS > 0 {
		s.hold(r, time.Duration(f.LatencyMS)*time.Millisecond) // the request is in flight meanwhile
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	svc, ok := st.services[service]
	if !ok {
		return notFound(r.URL.Path)
	}
	now := s.now()
	for _, v := range st.order {
		s.expireLocked(v)
		if v.ServiceSID == service && v.To == to && v.Status == "pending" {
			if v.Sends >= verifyMaxSends {
				return errorf(http.StatusTooManyRequests, 60203, "Max send attempts reached")
			}
			v.Sends++
			v.Channel, v.Updated = channel, now
			v.attempts = append(v.attempts, sendAttempt{sid: newSID("VL"), channel: channel, at: now})
			s.log.Info("twiliosim: verification code sent again", "verification_sid", v.SID, "to", maskNumber(to), "channel", channel)
			writeJSON(w, http.StatusCreated, s.renderVerification(v))
			return nil
		}
	}
	code := make([]byte, svc.codeLength)
	for i := range code {
		code[i] = byte('0' + rand.IntN(10))
	}
	if custom := r.PostForm.Get("CustomCode"); custom != "" {
		// A pre-generated code of 4 to 10 characters, for a service with custom codes enabled
		// (Twilio's Verification resource; Twilio enables the feature on request, the
		// simulator with CustomCodeEnabled; refusing it otherwise with 60200 is our choice).
		if !svc.customCodeEnabled || len(custom) < 4 || len(custom) > 10 {
			return verifyParam("CustomCode")
		}
		code = []byte(custom)
	}
	v := &verification{Verification: Verification{
		SID: newSID("VE"), ServiceSID: service, To: to, Channel: channel, Status: "pending", Code: string(code), Sends: 1,
		Locale: r.PostForm.Get("Locale"), Created: now, Updated: now, ExpiresAt: now.Add(VerifyTTL),
	}}
	v.attempts = []sendAttempt{{sid: newSID("VL"), channel: channel, at: now}}
	st.vers[v.SID] = v
	st.order = append(st.order, v)
	s.log.Info("twiliosim: verification created", "verification_sid", v.SID, "to", maskNumber(to), "channel", channel)
	writeJSON(w, http.StatusCreated, s.renderVerification(v))
	return nil
}

// liveVerification returns a pending verification of service, or 20404.
func (s *Simulator) liveVerification(st *verifyState, service, sid, path string) (*verification, *apiError) {
	v, ok := st.vers[sid]
	if !ok || v.ServiceSID != service {
		return nil, notFound(path)
	}
	s.expireLocked(v)
	if v.Status != "pending" {
		return nil, notFound(path) // Twilio deletes approved, canceled and expired verifications
	}
	return v, nil
}

func (s *Simulator) fetchVerification(w http.ResponseWriter, r *http.Request, st *verifyState, service, sid string) *apiError {
	st.mu.Lock()
	defer st.mu.Unlock()
	v, aerr := s.liveVerification(st, service, sid, r.URL.Path)
	if aerr != nil {
		return aerr
	}
	writeJSON(w, http.StatusOK, s.renderVerification(v))
	return nil
}

func (s *Simulator) updateVerification(w http.ResponseWriter, r *http.Request, st *verifyState, service, sid string) *apiError {
	status := r.PostForm.Get("Status")
	if status != "canceled" && status != "approved" {
		return verifyParam("Status")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	v, aerr := s.liveVerification(st, service, sid, r.URL.Path)
	if aerr != nil {
		return aerr
	}
	v.Status, v.Updated = status, s.now()
	writeJSON(w, http.StatusOK, s.renderVerification(v))
	return nil
}

func (s *Simulator) checkVerification(w http.ResponseWriter, r *http.Request, st *verifyState, service string) *apiError {
	code := r.PostForm.Get("Code")
	if len(code) < 4 || len(code) > 10 {
		return verifyParam("Code")
	}
	sid, to := r.PostForm.Get("VerificationSid"), r.PostForm.Get("To")
	if sid == "" && to == "" {
		return verifyParam("VerificationSid")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if sid == "" {
		for _, v := range st.order {
			if v.ServiceSID == service && v.To == to && v.Status == "pending" {
				sid = v.SID
			}
		}
	}
	v, aerr := s.liveVerification(st, service, sid, r.URL.Path)
	if aerr != nil {
		return aerr
	}
	if v.Checks >= verifyMaxChecks {
		return errorf(http.StatusTooManyRequests, 60202, "Max check attempts reached")
	}
	v.Checks++
	v.Updated = s.now()
	if code == v.Code {
		v.Status = "approved"
	}
	writeJSON(w, http.StatusOK, s.renderCheck(v))
	return nil
}
