package twiliosim

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The router: every endpoint of Twilio's APIs the simulator serves, as Go ServeMux method
// patterns, and the control API's routes (controlRoutes, control.go).
//
// A route's pattern spells its path as Twilio's OpenAPI description does ("{Sid}.json" included),
// so that it names the operation whose response schema the simulator's answer must match
// (conformance_test.go checks every route through twilio-go). ServeMux wildcards fill whole path
// segments, so "{Sid}.json" is registered as "{Sid}" and the ".json" is required and stripped
// before the handler runs.

// family is the API a route belongs to: it decides authentication and request parsing.
type family int

const (
	famAccounts  family = iota // /2010-04-01/Accounts.json and /Accounts/{Sid}.json (account.go)
	famREST                    // the account's 2010-04-01 resources
	famMessaging               // Messaging Services (messaging.twilio.com), services.go
	famContent                 // Content API (content.twilio.com), whatsapp.go
	famLookup                  // Lookup v2 (lookups.twilio.com), lookup.go
	famVerify                  // Verify v2 (verify.twilio.com), verify.go
)

type handlerFunc func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError

type route struct {
	pattern string // "METHOD /path", the path as in Twilio's OpenAPI description
	fam     family
	h       handlerFunc
}

const acctPath = "/2010-04-01/Accounts/{AccountSid}"

// routes lists every Twilio endpoint the simulator serves. A new endpoint needs a route here, its
// operation in testdata/openapi and a case in conformance_test.go.
var routes = []route{
	{"GET /2010-04-01/Accounts.json", famAccounts, noErr((*Simulator).listAccounts)},
	{"POST /2010-04-01/Accounts.json", famAccounts, noErr((*Simulator).createSubaccount)},
	{"GET /2010-04-01/Accounts/{Sid}.json", famAccounts, (*Simulator).accountOneH},
	{"POST /2010-04-01/Accounts/{Sid}.json", famAccounts, (*Simulator).accountOneH},

	{"GET " + acctPath + "/Messages.json", famREST, (*Simulator).listMessages},
	{"POST " + acctPath + "/Messages.json", famREST, noErr((*Simulator).createMessage)},
	{"GET " + acctPath + "/Messages/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.fetchMessage(w, r.PathValue("AccountSid"), r.PathValue("Sid"), r.URL.Path)
	}},
	{"POST " + acctPath + "/Messages/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.updateMessage(w, r, r.PathValue("Sid"), r.URL.Path)
	}},
	{"DELETE " + acctPath + "/Messages/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.deleteMessage(w, r.PathValue("AccountSid"), r.PathValue("Sid"), r.URL.Path)
	}},
	{"POST " + acctPath + "/Messages/{MessageSid}/Feedback.json", famREST, (*Simulator).messageFeedback},
	{"GET " + acctPath + "/Messages/{MessageSid}/Media.json", famREST, (*Simulator).listMedia},
	{"GET " + acctPath + "/Messages/{MessageSid}/Media/{Sid}.json", famREST, (*Simulator).mediaOne},
	{"DELETE " + acctPath + "/Messages/{MessageSid}/Media/{Sid}.json", famREST, (*Simulator).mediaOne},

	{"GET " + acctPath + "/Keys.json", famREST, (*Simulator).keysList},
	{"POST " + acctPath + "/Keys.json", famREST, (*Simulator).keysList},
	{"GET " + acctPath + "/Keys/{Sid}.json", famREST, (*Simulator).keyOne},
	{"POST " + acctPath + "/Keys/{Sid}.json", famREST, (*Simulator).keyOne},
	{"DELETE " + acctPath + "/Keys/{Sid}.json", famREST, (*Simulator).keyOne},
	{"GET " + acctPath + "/Balance.json", famREST, (*Simulator).serveBalance},

	{"GET " + acctPath + "/Calls.json", famREST, (*Simulator).listCalls},
	{"POST " + acctPath + "/Calls.json", famREST, (*Simulator).createCallWithFaults},
	{"GET " + acctPath + "/Calls/{Sid}.json", famREST, (*Simulator).fetchCall},
	{"POST " + acctPath + "/Calls/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.updateCall(w, r, r.PathValue("Sid"))
	}},

	{"GET " + acctPath + "/IncomingPhoneNumbers.json", famREST, (*Simulator).listNumbers},
	{"POST " + acctPath + "/IncomingPhoneNumbers.json", famREST, (*Simulator).createNumber},
	{"GET " + acctPath + "/IncomingPhoneNumbers/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.fetchNumber(w, r.PathValue("AccountSid"), r.PathValue("Sid"), r.URL.Path)
	}},
	{"POST " + acctPath + "/IncomingPhoneNumbers/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.updateNumber(w, r, r.PathValue("Sid"), r.URL.Path)
	}},
	{"DELETE " + acctPath + "/IncomingPhoneNumbers/{Sid}.json", famREST, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.deleteNumber(w, r.PathValue("AccountSid"), r.PathValue("Sid"), r.URL.Path)
	}},

	{"GET /v1/Services", famMessaging, (*Simulator).listServicesREST},
	{"POST /v1/Services", famMessaging, (*Simulator).createServiceREST},
	{"GET /v1/Services/{Sid}", famMessaging, (*Simulator).serviceRESTH},
	{"POST /v1/Services/{Sid}", famMessaging, (*Simulator).serviceRESTH},
	{"DELETE /v1/Services/{Sid}", famMessaging, (*Simulator).serviceRESTH},
	{"GET /v1/Services/{ServiceSid}/PhoneNumbers", famMessaging, (*Simulator).serviceNumbersH},
	{"POST /v1/Services/{ServiceSid}/PhoneNumbers", famMessaging, (*Simulator).serviceNumbersH},
	{"GET /v1/Services/{ServiceSid}/PhoneNumbers/{Sid}", famMessaging, (*Simulator).serviceNumbersH},
	{"DELETE /v1/Services/{ServiceSid}/PhoneNumbers/{Sid}", famMessaging, (*Simulator).serviceNumbersH},

	{"GET /v1/Content", famContent, (*Simulator).listContent},
	{"POST /v1/Content", famContent, (*Simulator).createContent},
	{"GET /v1/Content/{Sid}", famContent, (*Simulator).contentOne},
	{"DELETE /v1/Content/{Sid}", famContent, (*Simulator).contentOne},

	{"GET /v2/PhoneNumbers/{PhoneNumber}", famLookup, (*Simulator).lookupPhoneNumber},

	{"GET /v2/Services", famVerify, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.listVerifyServices(w, r, s.verify())
	}},
	{"POST /v2/Services", famVerify, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.createService(w, r, s.verify())
	}},
	{"GET /v2/Services/{Sid}", famVerify, (*Simulator).verifyServiceOneH},
	{"POST /v2/Services/{Sid}", famVerify, (*Simulator).verifyServiceOneH},
	{"DELETE /v2/Services/{Sid}", famVerify, (*Simulator).verifyServiceOneH},
	{"POST /v2/Services/{ServiceSid}/Verifications", famVerify, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.createVerification(w, r, s.verify(), r.PathValue("ServiceSid"))
	}},
	{"GET /v2/Services/{ServiceSid}/Verifications/{Sid}", famVerify, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.fetchVerification(w, r, s.verify(), r.PathValue("ServiceSid"), r.PathValue("Sid"))
	}},
	{"POST /v2/Services/{ServiceSid}/Verifications/{Sid}", famVerify, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.updateVerification(w, r, s.verify(), r.PathValue("ServiceSid"), r.PathValue("Sid"))
	}},
	{"POST /v2/Services/{ServiceSid}/VerificationCheck", famVerify, func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		return s.checkVerification(w, r, s.verify(), r.PathValue("ServiceSid"))
	}},
}

// Routes returns the Twilio endpoints the simulator serves as "METHOD /path" (the path as in
// Twilio's OpenAPI description), sorted; the conformance test holds its cases to this list.
func Routes() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	slices.Sort(out)
	return out
}

func noErr(f func(*Simulator, http.ResponseWriter, *http.Request)) handlerFunc {
	return func(s *Simulator, w http.ResponseWriter, r *http.Request) *apiError {
		f(s, w, r)
		return nil
	}
}

// muxPath turns an OpenAPI path into a ServeMux path: "{Sid}.json" becomes "{Sid}"; jsonVars
// names the wildcards whose value must end in ".json".
func muxPath(path string) (mux string, jsonVars []string) {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if name, ok := strings.CutSuffix(seg, "}.json"); ok && strings.HasPrefix(name, "{") {
			segs[i] = name + "}"
			jsonVars = append(jsonVars, name[1:])
		}
	}
	return strings.Join(segs, "/"), jsonVars
}

// newMux registers every route, a 405 answer for a known path with another method, the control
// API, and Twilio's JSON 404 for everything else.
func (s *Simulator) newMux() *http.ServeMux {
	mux := http.NewServeMux()
	paths := map[string]route{}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		mp, jsonVars := muxPath(path)
		mux.HandleFunc(method+" "+mp, s.serveRoute(rt.fam, jsonVars, rt.h))
		if _, ok := paths[mp]; !ok {
			paths[mp] = route{pattern: mp, fam: rt.fam}
			mux.HandleFunc(mp, s.serveRoute(rt.fam, jsonVars, func(*Simulator, http.ResponseWriter, *http.Request) *apiError {
				return methodNotAllowed()
			}))
		}
	}
	for pattern, h := range controlRoutes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
			h(s, w, r)
		})
	}
	mux.HandleFunc("/sim/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeControlError(w, http.StatusNotFound, "no such control endpoint: %s %s", r.Method, r.URL.Path)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, notFound(r.URL.Path))
	})
	return mux
}

// serveRoute checks a request as its API family does (credentials, account, body size, form),
// then runs h.
func (s *Simulator) serveRoute(fam family, jsonVars []string, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, name := range jsonVars {
			v, ok := strings.CutSuffix(r.PathValue(name), ".json")
			if !ok || v == "" {
				writeAPIError(w, notFound(r.URL.Path))
				return
			}
			r.SetPathValue(name, v)
		}
		if !s.admit(fam, w, r) {
			return
		}
		if aerr := h(s, w, r); aerr != nil {
			writeAPIError(w, aerr)
		}
	}
}

// admit authenticates r for its API family and parses its form; it reports false when it has
// already answered.
func (s *Simulator) admit(fam family, w http.ResponseWriter, r *http.Request) bool {
	switch fam {
	case famAccounts:
		who, sub := s.authenticate(r)
		switch who {
		case principalNone, principalKey:
			writeUnauthorized(w) // standard API keys cannot use the Accounts resource
			return false
		case principalSubaccount:
			if r.PathValue("Sid") != sub || r.Method != http.MethodGet {
				writeAPIError(w, notFound(r.URL.Path))
				return false
			}
		}
	case famREST:
		who, acct := s.authenticate(r)
		if who == principalNone {
			writeUnauthorized(w)
			return false
		}
		if r.PathValue("AccountSid") != acct || (acct != s.cfg.AccountSID && !subaccountPath(r.Pattern)) {
			// Twilio answers a valid credential used on another account's path with 404/20404.
			writeAPIError(w, notFound(r.URL.Path))
			return false
		}
		w.Header().Set("Twilio-Request-Id", newSID("RQ"))
		if f := s.faults.Load(); f.LatencyMS > 0 {
			s.hold(r, time.Duration(f.LatencyMS)*time.Millisecond)
		}
	case famVerify:
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeAPIError(w, &apiError{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
			return false
		}
		if f := s.faults.Load(); f.LatencyMS > 0 {
			s.hold(r, time.Duration(f.LatencyMS)*time.Millisecond)
		}
	case famLookup:
		if !s.authorized(r) {
			writeUnauthorized(w)
			return false
		}
	default: // famMessaging, famContent
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeAPIError(w, &apiError{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
			return false
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if fam == famContent && r.Method == http.MethodPost {
		return true // a JSON body, read by the handler
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeAPIError(w, errorf(http.StatusRequestEntityTooLarge, 20001, "Request body too large"))
			return false
		}
		writeAPIError(w, errorf(http.StatusBadRequest, 20001, "Invalid request: %v", err))
		return false
	}
	return true
}

// subaccountPath reports whether a route serves subaccounts too: their Messages and
// IncomingPhoneNumbers (account.go).
func subaccountPath(pattern string) bool {
	if strings.Contains(pattern, "/Media") || strings.Contains(pattern, "/Feedback") {
		return false
	}
	return strings.Contains(pattern, "/Messages") || strings.Contains(pattern, "/IncomingPhoneNumbers") || strings.Contains(pattern, "/Calls")
}
