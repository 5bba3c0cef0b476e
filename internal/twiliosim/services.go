package twiliosim

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Messaging Services (messaging.twilio.com/v1/Services), as twilio-go's MessagingV1 sees them:
// create, fetch, list, and a service's phone numbers (add, list, remove). Behaviours:
//   - a message with an unknown (well-formed) MessagingServiceSid is refused with 400/21701 "The
//     Messaging Service does not exist"; a malformed one with 21705 (Twilio's error catalogue);
//   - each service sends from its own numbers only; a service with no number refuses the create
//     with 400/21704 (the code is Twilio's for "no phone numbers"; refusing at create rather than
//     failing the message later is our choice);
//   - through the API a number belongs to at most one service (adding it to a second one:
//     400/21710, our best knowledge of Twilio's code); services given in Config may share;
//   - sticky sender (on by default, as on Twilio): the first sender picked for a recipient is
//     remembered and kept while it stays in the service, so adding numbers moves nobody;
//   - the service's status_callback is used for messages that set none (Twilio's Messaging
//     Service documentation); inbound messages to a service's number carry MessagingServiceSid.

// ServiceConfig is a Messaging Service the account has from the start.
type ServiceConfig struct {
	SID          string // MG + 32 hex digits; derived from FriendlyName when empty
	FriendlyName string
	// Numbers are the service's senders; they become owned numbers of the account.
	Numbers []string
}

type service struct {
	SID, FriendlyName, StatusCallback, InboundURL string
	DateCreated, DateUpdated                      time.Time
	numbers                                       []string          // E.164, in the order added
	sticky                                        map[string]string // recipient → sender
}

type serviceStore struct {
	mu    sync.Mutex
	bySID map[string]*service
	order []*service
	owner map[string]string // number → service SID
}

func (st *serviceStore) init() {
	st.bySID = map[string]*service{}
	st.owner = map[string]string{}
}

var (
	errServiceNotFound = errors.New("twiliosim: no such Messaging Service")
	errNumberInService = errors.New("twiliosim: number already in a Messaging Service")
)

// AddService creates a Messaging Service (or adds numbers to an existing one) and returns its
// SID. Its numbers become owned numbers of the account.
func (s *Simulator) AddService(c ServiceConfig) (string, error) {
	sid := c.SID
	if sid == "" {
		sid = newSID("MG")
	}
	if !isSID(sid, "MG", true) {
		return "", errors.New("twiliosim: a Messaging Service SID is MG and 32 lowercase hex digits")
	}
	now := s.now()
	s.svc.mu.Lock()
	if _, ok := s.svc.bySID[sid]; !ok {
		sv := &service{SID: sid, FriendlyName: c.FriendlyName, DateCreated: now, DateUpdated: now, sticky: map[string]string{}}
		s.svc.bySID[sid] = sv
		s.svc.order = append(s.svc.order, sv)
	}
	s.svc.mu.Unlock()
	for _, n := range c.Numbers {
		if _, err := s.AddNumber(n, ""); err != nil {
			return "", err
		}
		if err := s.addServiceNumber(sid, n, true); err != nil {
			return "", err
		}
	}
	return sid, nil
}

// addServiceNumber adds an owned number to a service. Unless shared, a number already in
// another service is refused (errNumberInService), as through Twilio's API; configured services
// (AddService) may share numbers, so that a development setup with several service senders
// works with one number (our choice).
func (s *Simulator) addServiceNumber(sid, number string, shared bool) error {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	sv, ok := s.svc.bySID[sid]
	if !ok {
		return errServiceNotFound
	}
	if slices.Contains(sv.numbers, number) {
		return nil
	}
	if _, taken := s.svc.owner[number]; taken && !shared {
		return errNumberInService
	}
	if _, taken := s.svc.owner[number]; !taken {
		s.svc.owner[number] = sid
	}
	sv.numbers = append(sv.numbers, number)
	sv.DateUpdated = s.now()
	return nil
}

// serviceOfNumber returns the SID of the Messaging Service an owned number belongs to, or "".
func (s *Simulator) serviceOfNumber(number string) string {
	_, number = splitChannel(number)
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	return s.svc.owner[number]
}

// serviceInfo returns what a message create needs of a service: whether it exists, whether it
// has numbers, and its status callback.
func (s *Simulator) serviceInfo(sid string) (exists, hasNumbers bool, statusCallback string) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	sv, ok := s.svc.bySID[sid]
	if !ok {
		return false, false, ""
	}
	return true, len(sv.numbers) > 0, sv.StatusCallback
}

// pickSender chooses the sender of a Messaging Service message: the recipient's sticky sender
// while it is still in the service, else a number of the service chosen by a hash of the
// recipient, remembered from then on. It returns "" when the service has no number left.
func (s *Simulator) pickSender(serviceSID, to string) string {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	sv, ok := s.svc.bySID[serviceSID]
	if !ok || len(sv.numbers) == 0 {
		return ""
	}
	if n, ok := sv.sticky[to]; ok && slices.Contains(sv.numbers, n) {
		return n
	}
	var h uint32 = 2166136261
	for i := 0; i < len(to); i++ {
		h = (h ^ uint32(to[i])) * 16777619
	}
	n := sv.numbers[int(h%uint32(len(sv.numbers)))]
	sv.sticky[to] = n
	return n
}

// forgetNumberInServices removes a released number from every service.
func (s *Simulator) forgetNumberInServices(number string) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	delete(s.svc.owner, number)
	for _, sv := range s.svc.order {
		sv.numbers = slices.DeleteFunc(sv.numbers, func(n string) bool { return n == number })
	}
}

// removeServiceNumber removes a number from one service.
func (s *Simulator) removeServiceNumber(sid, number string) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	sv := s.svc.bySID[sid]
	if sv == nil {
		return
	}
	sv.numbers = slices.DeleteFunc(sv.numbers, func(n string) bool { return n == number })
	if s.svc.owner[number] == sid {
		delete(s.svc.owner, number)
		for _, o := range s.svc.order { // a configured service sharing it becomes its owner
			if slices.Contains(o.numbers, number) {
				s.svc.owner[number] = o.SID
				break
			}
		}
	}
}

// --- REST: /v1/Services ---

type apiService struct {
	SID                       string            `json:"sid"`
	AccountSID                string            `json:"account_sid"`
	FriendlyName              string            `json:"friendly_name"`
	DateCreated               string            `json:"date_created"`
	DateUpdated               string            `json:"date_updated"`
	InboundRequestURL         *string           `json:"inbound_request_url"`
	InboundMethod             string            `json:"inbound_method"`
	FallbackURL               *string           `json:"fallback_url"`
	FallbackMethod            string            `json:"fallback_method"`
	StatusCallback            *string           `json:"status_callback"`
	StickySender              bool              `json:"sticky_sender"`
	MMSConverter              bool              `json:"mms_converter"`
	SmartEncoding             bool              `json:"smart_encoding"`
	ScanMessageContent        string            `json:"scan_message_content"`
	FallbackToLongCode        bool              `json:"fallback_to_long_code"`
	AreaCodeGeomatch          bool              `json:"area_code_geomatch"`
	SynchronousValidation     bool              `json:"synchronous_validation"`
	ValidityPeriod            int               `json:"validity_period"`
	URL                       string            `json:"url"`
	Links                     map[string]string `json:"links"`
	Usecase                   string            `json:"usecase"`
	USAppToPersonRegistered   bool              `json:"us_app_to_person_registered"`
	UseInboundWebhookOnNumber bool              `json:"use_inbound_webhook_on_number"`
}

type apiServiceNumber struct {
	SID          string   `json:"sid"`
	AccountSID   string   `json:"account_sid"`
	ServiceSID   string   `json:"service_sid"`
	DateCreated  string   `json:"date_created"`
	DateUpdated  string   `json:"date_updated"`
	PhoneNumber  string   `json:"phone_number"`
	CountryCode  string   `json:"country_code"`
	Capabilities []string `json:"capabilities"`
	URL          string   `json:"url"`
}

// v1Meta is the paging block of Twilio's v1 APIs.
type v1Meta struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	URL             string  `json:"url"`
	NextPageURL     *string `json:"next_page_url"`
	Key             string  `json:"key"`
}

const messagingBase = "https://messaging.twilio.com/v1/Services"

func iso8601(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func (s *Simulator) renderMessagingService(sv *service) apiService {
	u := messagingBase + "/" + sv.SID
	return apiService{
		SID: sv.SID, AccountSID: s.cfg.AccountSID, FriendlyName: sv.FriendlyName,
		DateCreated: iso8601(sv.DateCreated), DateUpdated: iso8601(sv.DateUpdated),
		InboundRequestURL: optString(sv.InboundURL), InboundMethod: "POST", FallbackMethod: "POST",
		StatusCallback: optString(sv.StatusCallback), StickySender: true, MMSConverter: true,
		SmartEncoding: true, ScanMessageContent: "inherit", FallbackToLongCode: true,
		SynchronousValidation: true, ValidityPeriod: maxValidityPeriod, URL: u,
		Links: map[string]string{
			"phone_numbers": u + "/PhoneNumbers", "short_codes": u + "/ShortCodes",
			"alpha_senders": u + "/AlphaSenders", "us_app_to_person": u + "/Compliance/Usa2p",
			"us_app_to_person_usecases": u + "/Compliance/Usa2p/Usecases", "channel_senders": u + "/ChannelSenders",
		},
		Usecase: "undeclared",
	}
}

func (s *Simulator) renderServiceNumber(sv *service, n string) apiServiceNumber {
	pn := stableSID("PN", s.cfg.AccountSID+"/"+n)
	cc := "US"
	if !strings.HasPrefix(n, "+1") {
		cc = "ZZ"
	}
	return apiServiceNumber{
		SID: pn, AccountSID: s.cfg.AccountSID, ServiceSID: sv.SID,
		DateCreated: iso8601(sv.DateCreated), DateUpdated: iso8601(sv.DateUpdated),
		PhoneNumber: n, CountryCode: cc, Capabilities: []string{"SMS", "MMS", "Voice"},
		URL: messagingBase + "/" + sv.SID + "/PhoneNumbers/" + pn,
	}
}

func v1Page(r *http.Request, key string, size, page, total int) v1Meta {
	base := "https://" + hostOf(r) + r.URL.Path
	pageURL := func(p int) string {
		v := url.Values{"PageSize": {strconv.Itoa(size)}, "Page": {strconv.Itoa(p)}}
		return base + "?" + v.Encode()
	}
	m := v1Meta{Page: page, PageSize: size, FirstPageURL: pageURL(0), URL: pageURL(page), Key: key}
	if (page+1)*size < total {
		next := pageURL(page + 1)
		m.NextPageURL = &next
	}
	if page > 0 {
		prev := pageURL(page - 1)
		m.PreviousPageURL = &prev
	}
	return m
}

func hostOf(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	return "messaging.twilio.com"
}

func pageSlice[T any](all []T, size, page int) []T {
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	out := all[start:end:end]
	if out == nil {
		out = []T{}
	}
	return out
}

// serviceRESTH answers /v1/Services/{Sid} (fetch, update, delete).
func (s *Simulator) serviceRESTH(w http.ResponseWriter, r *http.Request) *apiError {
	return s.serviceREST(w, r, r.PathValue("Sid"))
}

// serviceNumbersH answers /v1/Services/{ServiceSid}/PhoneNumbers and …/PhoneNumbers/{Sid}.
func (s *Simulator) serviceNumbersH(w http.ResponseWriter, r *http.Request) *apiError {
	pn := r.PathValue("Sid")
	if pn == "" && strings.HasSuffix(r.URL.Path, "/") {
		return notFound(r.URL.Path)
	}
	return s.serviceNumbersREST(w, r, r.PathValue("ServiceSid"), pn)
}

func (s *Simulator) createServiceREST(w http.ResponseWriter, r *http.Request) *apiError {
	name := strings.TrimSpace(r.Form.Get("FriendlyName"))
	if name == "" || len(name) > 64 {
		return errorf(http.StatusBadRequest, 20001, "Missing required parameter FriendlyName in the post body")
	}
	cb := strings.TrimSpace(r.Form.Get("StatusCallback"))
	in := strings.TrimSpace(r.Form.Get("InboundRequestUrl"))
	for k, v := range map[string]string{"StatusCallback": cb, "InboundRequestUrl": in} {
		if v != "" && !validCallbackURL(v) {
			return invalidParam(k, v)
		}
	}
	sid, err := s.AddService(ServiceConfig{FriendlyName: name})
	if err != nil {
		return errorf(http.StatusInternalServerError, 20500, "%v", err)
	}
	s.svc.mu.Lock()
	sv := s.svc.bySID[sid]
	sv.StatusCallback, sv.InboundURL = cb, in
	out := s.renderMessagingService(sv)
	s.svc.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Simulator) listServicesREST(w http.ResponseWriter, r *http.Request) *apiError {
	size, page, aerr := readPage(r.Form)
	if aerr != nil {
		return aerr
	}
	s.svc.mu.Lock()
	all := make([]apiService, len(s.svc.order))
	for i, sv := range s.svc.order {
		all[i] = s.renderMessagingService(sv)
	}
	s.svc.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"services": pageSlice(all, size, page),
		"meta":     v1Page(r, "services", size, page, len(all)),
	})
	return nil
}

func (s *Simulator) serviceREST(w http.ResponseWriter, r *http.Request, sid string) *apiError {
	s.svc.mu.Lock()
	sv, ok := s.svc.bySID[sid]
	if !ok {
		s.svc.mu.Unlock()
		return notFound(r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		if v, ok := r.Form["FriendlyName"]; ok && strings.TrimSpace(v[0]) != "" {
			sv.FriendlyName = strings.TrimSpace(v[0])
		}
		if v, ok := r.Form["StatusCallback"]; ok {
			if v[0] != "" && !validCallbackURL(v[0]) {
				s.svc.mu.Unlock()
				return invalidParam("StatusCallback", v[0])
			}
			sv.StatusCallback = v[0]
		}
		sv.DateUpdated = s.now()
	case http.MethodDelete:
		delete(s.svc.bySID, sid)
		s.svc.order = slices.DeleteFunc(s.svc.order, func(x *service) bool { return x == sv })
		for _, n := range sv.numbers {
			delete(s.svc.owner, n)
		}
		s.svc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		s.svc.mu.Unlock()
		return methodNotAllowed()
	}
	out := s.renderMessagingService(sv)
	s.svc.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// serviceNumbersREST serves a service's PhoneNumbers list (pn == "") or one of them.
func (s *Simulator) serviceNumbersREST(w http.ResponseWriter, r *http.Request, sid, pn string) *apiError {
	s.svc.mu.Lock()
	sv, ok := s.svc.bySID[sid]
	var numbers []string
	if ok {
		numbers = slices.Clone(sv.numbers)
	}
	s.svc.mu.Unlock()
	if !ok {
		return notFound(r.URL.Path)
	}
	if pn == "" {
		switch r.Method {
		case http.MethodGet:
			size, page, aerr := readPage(r.Form)
			if aerr != nil {
				return aerr
			}
			all := make([]apiServiceNumber, len(numbers))
			for i, n := range numbers {
				all[i] = s.renderServiceNumber(sv, n)
			}
			writeJSON(w, http.StatusOK, map[string]any{
				"phone_numbers": pageSlice(all, size, page),
				"meta":          v1Page(r, "phone_numbers", size, page, len(all)),
			})
			return nil
		case http.MethodPost:
			want := strings.TrimSpace(r.Form.Get("PhoneNumberSid"))
			s.numMu.RLock()
			n, found := s.numberBySID(s.cfg.AccountSID, want)
			var phone string
			if found {
				phone = n.PhoneNumber
			}
			s.numMu.RUnlock()
			if !found {
				return errorf(http.StatusBadRequest, 21421, "PhoneNumber is invalid")
			}
			if err := s.addServiceNumber(sid, phone, false); err != nil {
				if errors.Is(err, errNumberInService) {
					return errorf(http.StatusBadRequest, 21710, "Phone Number is already in a Messaging Service")
				}
				return notFound(r.URL.Path)
			}
			writeJSON(w, http.StatusCreated, s.renderServiceNumber(sv, phone))
			return nil
		default:
			return methodNotAllowed()
		}
	}
	var phone string
	for _, n := range numbers {
		if stableSID("PN", s.cfg.AccountSID+"/"+n) == pn {
			phone = n
		}
	}
	if phone == "" {
		return notFound(r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.renderServiceNumber(sv, phone))
	case http.MethodDelete:
		s.removeServiceNumber(sid, phone)
		w.WriteHeader(http.StatusNoContent)
	default:
		return methodNotAllowed()
	}
	return nil
}
