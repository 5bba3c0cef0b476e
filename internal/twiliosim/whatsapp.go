package twiliosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// WhatsApp in the simulator.
//
// The 24-hour customer-service window is tracked per (our number, their number) from inbound
// WhatsApp messages (POST /sim/v1/inbound with a "whatsapp:" From, or channel "whatsapp"). A
// WhatsApp message with a Body or MediaUrl to a person whose window is closed is created (201,
// queued) and then fails with 63016, as on Twilio: the error arrives in the status callback, not
// in the create answer. A ContentSid message goes whatever the window; its ContentSid must name
// a content template of the account (registered through POST /sim/v1/content), else the create
// answers 400/21655.
//
// Scripting through magic numbers (WhatsApp To only; SMS to the same numbers is unaffected):
//
//	whatsapp:+15005550010  the person has no WhatsApp account: failed, 63003
//	whatsapp:+15005550011  the WhatsApp channel rate limit is exhausted: failed, 63018
//	whatsapp:+15005550012  accepted and sent, never delivered (for delivery timeouts)
//
// and, for any number, through the whatsapp_errors fault (a mix of 63xxx codes, so that a
// traffic profile can script "WhatsApp rate-limits us for ten minutes"): a drawn message fails
// while sending, with the code in its status callback, as the magic numbers do.
//
// Delivered WhatsApp messages move on to read, with a callback, like a person opening them.
const (
	WhatsAppNoAccount   = "+15005550010"
	WhatsAppRateLimited = "+15005550011"
	WhatsAppNeverRead   = "+15005550012"
)

// whatsappError draws the error a WhatsApp message fails with while sending from the channel's
// error mix (Faults.WhatsAppErrors, e.g. 63018 during a rate-limit incident), or 0: SMS and MMS,
// an empty mix and a draw outside the mix go on.
func (s *Simulator) whatsappError(f *Faults, m *message) int {
	if len(f.WhatsAppErrors) == 0 || !strings.HasPrefix(m.To, "whatsapp:") {
		return 0
	}
	return carrierError(f.WhatsAppErrors, s.draw(m.drawKey, drawWhatsApp))
}

// Window is the customer-service window of the simulator's WhatsApp conversations.
const Window = 24 * time.Hour

// Content is a content template of the simulated account (Twilio's Content API).
type Content struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Language     string `json:"language"`
	// Body is the twilio/text body, with {{1}}-style placeholders.
	Body string `json:"body"`
	// Variables are the placeholders' default values, {"1": "Ann"}.
	Variables   map[string]string `json:"variables"`
	DateCreated time.Time         `json:"date_created"`
	// types are the content types as created through the Content API (nil: twilio/text).
	types map[string]any
}

var (
	contentSIDRE  = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)
	placeholderRE = regexp.MustCompile(`\{\{\s*([0-9]+)\s*\}\}`)
)

// whatsapp is the simulator's WhatsApp state.
type whatsapp struct {
	mu      sync.RWMutex
	windows map[string]time.Time // "ours|theirs" -> last inbound
	content map[string]*Content
}

func (w *whatsapp) init() {
	w.windows = map[string]time.Time{}
	w.content = map[string]*Content{}
}

func windowKey(ours, theirs string) string {
	_, o := splitChannel(ours)
	_, t := splitChannel(theirs)
	return o + "|" + t
}

// openWindow records an inbound WhatsApp message from theirs to ours at at.
func (s *Simulator) openWindow(ours, theirs string, at time.Time) {
	s.wa.mu.Lock()
	defer s.wa.mu.Unlock()
	k := windowKey(ours, theirs)
	if at.After(s.wa.windows[k]) {
		s.wa.windows[k] = at
	}
}

// WindowOpen reports whether the WhatsApp window between ours and theirs is open at the
// simulator's now.
func (s *Simulator) WindowOpen(ours, theirs string) bool {
	s.wa.mu.RLock()
	last, ok := s.wa.windows[windowKey(ours, theirs)]
	s.wa.mu.RUnlock()
	return ok && s.now().Before(last.Add(Window))
}

// RegisterContent adds or replaces a content template of the account; an empty SID gets a new
// one. It fails when the SID is malformed or the body empty.
func (s *Simulator) RegisterContent(c Content) (Content, error) {
	if c.SID == "" {
		c.SID = newSID("HX")
	}
	if !contentSIDRE.MatchString(c.SID) {
		return Content{}, fmt.Errorf("twiliosim: content sid %q is not HX and 32 hex digits", truncate(c.SID, 40))
	}
	if strings.TrimSpace(c.Body) == "" {
		return Content{}, fmt.Errorf("twiliosim: content %s has no body", c.SID)
	}
	if c.Language == "" {
		c.Language = "en"
	}
	if c.FriendlyName == "" {
		c.FriendlyName = c.SID
	}
	if c.Variables == nil {
		c.Variables = map[string]string{}
	}
	c.DateCreated = s.now().UTC().Truncate(time.Second)
	s.wa.mu.Lock()
	s.wa.content[c.SID] = &c
	s.wa.mu.Unlock()
	return c, nil
}

// ContentTemplate returns a content template by SID.
func (s *Simulator) ContentTemplate(sid string) (Content, bool) {
	s.wa.mu.RLock()
	defer s.wa.mu.RUnlock()
	c, ok := s.wa.content[sid]
	if !ok {
		return Content{}, false
	}
	return *c, true
}

// renderContent fills a content body's placeholders from ContentVariables (a JSON object), or
// from the template's defaults. It fails (21656) when the variables are not a JSON object of
// strings.
func renderContent(c Content, varsJSON string) (string, *apiError) {
	vars := map[string]string{}
	if varsJSON != "" {
		if err := json.Unmarshal([]byte(varsJSON), &vars); err != nil {
			return "", errorf(400, 21656, "The ContentVariables Parameter is invalid")
		}
	}
	return placeholderRE.ReplaceAllStringFunc(c.Body, func(p string) string {
		n := placeholderRE.FindStringSubmatch(p)[1]
		if v, ok := vars[n]; ok {
			return v
		}
		return c.Variables[n]
	}), nil
}

// whatsappCreate applies WhatsApp's rules to a validated create: the content template, the
// window and the magic numbers. It sets the message's body from a content template and how it
// ends (failCode, noDelivery). Callers do not hold mu.
func (s *Simulator) whatsappCreate(req *createRequest, m *message, contentVars string) *apiError {
	toChan, to := splitChannel(req.To)
	if toChan != "whatsapp:" {
		if req.ContentSID != "" {
			c, ok := s.ContentTemplate(req.ContentSID)
			if !ok {
				// An unregistered template is refused on SMS as on WhatsApp (Twilio's Content
				// API: a ContentSid must name a template of the account).
				return errorf(400, 21655, "The ContentSid is Invalid")
			}
			if m.Body == "" {
				body, aerr := renderContent(c, contentVars)
				if aerr != nil {
					return aerr
				}
				m.Body = body
			}
		}
		return nil
	}
	if req.ContentSID != "" {
		c, ok := s.ContentTemplate(req.ContentSID)
		if !ok {
			return errorf(400, 21655, "The ContentSid is Invalid")
		}
		body, aerr := renderContent(c, contentVars)
		if aerr != nil {
			return aerr
		}
		m.Body, m.MediaURLs, m.NumMedia = body, nil, 0
	}
	switch to {
	case WhatsAppNoAccount:
		m.failCode = 63003
	case WhatsAppRateLimited:
		m.failCode = 63018
	case WhatsAppNeverRead:
		m.noDelivery = true
	}
	if m.failCode == 0 && req.ContentSID == "" && !s.WindowOpen(req.From, req.To) {
		m.failCode = 63016
	}
	return nil
}

// --- Content API (https://content.twilio.com/v1/Content/{Sid}) ---

type apiContent struct {
	DateCreated  string            `json:"date_created"`
	DateUpdated  string            `json:"date_updated"`
	SID          string            `json:"sid"`
	AccountSID   string            `json:"account_sid"`
	FriendlyName string            `json:"friendly_name"`
	Language     string            `json:"language"`
	Variables    map[string]string `json:"variables"`
	Types        map[string]any    `json:"types"`
	URL          string            `json:"url"`
	Links        map[string]string `json:"links"`
}

func (s *Simulator) renderContentResource(c Content) apiContent {
	u := "https://content.twilio.com/v1/Content/" + c.SID
	date := c.DateCreated.UTC().Format(time.RFC3339)
	if c.types == nil {
		c.types = map[string]any{"twilio/text": map[string]string{"body": c.Body}}
	}
	return apiContent{
		DateCreated: date, DateUpdated: date, SID: c.SID, AccountSID: s.cfg.AccountSID,
		FriendlyName: c.FriendlyName, Language: c.Language, Variables: c.Variables,
		Types: c.types,
		URL:   u,
		Links: map[string]string{
			"approval_create": u + "/ApprovalRequests/whatsapp",
			"approval_fetch":  u + "/ApprovalRequests",
		},
	}
}

// The Content API (content.twilio.com/v1/Content): list and create (JSON body, as twilio-go's
// ContentV1 sends it), fetch and delete. Every content type is stored and shown as given; the text
// a message carries is the first of twilio/text, twilio/media, twilio/quick-reply,
// twilio/call-to-action, twilio/list-picker body, or twilio/card title (choice: the simulator
// renders no rich content).

func (s *Simulator) listContent(w http.ResponseWriter, r *http.Request) *apiError {
	size, page, aerr := readPage(r.Form)
	if aerr != nil {
		return aerr
	}
	s.wa.mu.RLock()
	list := make([]Content, 0, len(s.wa.content))
	for _, c := range s.wa.content {
		list = append(list, *c)
	}
	s.wa.mu.RUnlock()
	slices.SortFunc(list, func(a, b Content) int {
		if c := a.DateCreated.Compare(b.DateCreated); c != 0 {
			return c
		}
		return strings.Compare(a.SID, b.SID)
	})
	all := make([]apiContent, len(list))
	for i, c := range list {
		all[i] = s.renderContentResource(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"contents": pageSlice(all, size, page),
		"meta":     v1Page(r, "contents", size, page, len(all)),
	})
	return nil
}

func (s *Simulator) createContent(w http.ResponseWriter, r *http.Request) *apiError {
	var in struct {
		FriendlyName string            `json:"friendly_name"`
		Language     string            `json:"language"`
		Variables    map[string]string `json:"variables"`
		Types        map[string]any    `json:"types"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return errorf(http.StatusBadRequest, 20001, "Invalid JSON body")
	}
	body := contentText(in.Types)
	if body == "" || in.Language == "" {
		return errorf(http.StatusBadRequest, 20001, "language and a content type with a body are required")
	}
	c, err := s.RegisterContent(Content{FriendlyName: in.FriendlyName, Language: in.Language, Variables: in.Variables, Body: body})
	if err != nil {
		return errorf(http.StatusBadRequest, 20001, "%v", err)
	}
	s.wa.mu.Lock()
	s.wa.content[c.SID].types = in.Types
	c.types = in.Types
	s.wa.mu.Unlock()
	writeJSON(w, http.StatusCreated, s.renderContentResource(c))
	return nil
}

// contentOne answers GET and DELETE /v1/Content/{Sid}.
func (s *Simulator) contentOne(w http.ResponseWriter, r *http.Request) *apiError {
	sid := r.PathValue("Sid")
	c, found := s.ContentTemplate(sid)
	if !found {
		return notFound(r.URL.Path)
	}
	if r.Method == http.MethodDelete {
		s.wa.mu.Lock()
		delete(s.wa.content, sid)
		s.wa.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, s.renderContentResource(c))
	return nil
}

// contentText is the text a message of these content types carries.
func contentText(types map[string]any) string {
	field := func(typ, key string) string {
		m, _ := types[typ].(map[string]any)
		v, _ := m[key].(string)
		return strings.TrimSpace(v)
	}
	for _, typ := range []string{"twilio/text", "twilio/media", "twilio/quick-reply", "twilio/call-to-action", "twilio/list-picker"} {
		if b := field(typ, "body"); b != "" {
			return b
		}
	}
	return field("twilio/card", "title")
}

// --- control API ---

func (s *Simulator) controlContent(w http.ResponseWriter, r *http.Request) {
	var in Content
	if err := decodeBody(r, &in); err != nil {
		writeControlError(w, http.StatusBadRequest, "invalid body: %v", err)
		return
	}
	c, err := s.RegisterContent(in)
	if err != nil {
		writeControlError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Simulator) controlListContent(w http.ResponseWriter, _ *http.Request) {
	s.wa.mu.RLock()
	out := make([]Content, 0, len(s.wa.content))
	for _, c := range s.wa.content {
		out = append(out, *c)
	}
	s.wa.mu.RUnlock()
	slices.SortFunc(out, func(a, b Content) int { return strings.Compare(a.SID, b.SID) })
	writeJSON(w, http.StatusOK, map[string]any{"content": out})
}

func init() {
	controlRoutes["POST /sim/v1/content"] = (*Simulator).controlContent
	controlRoutes["GET /sim/v1/content"] = (*Simulator).controlListContent
}

// whatsappAddress prefixes a number with "whatsapp:" unless it already is.
func whatsappAddress(n string) string {
	n = strings.TrimSpace(n)
	if n == "" || strings.HasPrefix(n, "whatsapp:") {
		return n
	}
	return "whatsapp:" + n
}
