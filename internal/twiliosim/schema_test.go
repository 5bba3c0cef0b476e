package twiliosim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// loadSpec returns the excerpt of Twilio's OpenAPI description of the 2010-04-01 API
// (testdata/openapi, from twilio-oai).
func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	return loadExcerpt(t, "twilio_api_v2010.json")
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
}

// obj walks a path of keys through the spec.
func obj(t *testing.T, v any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("spec: %v is not an object at %q", keys, k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("spec: no %q in %v", k, keys)
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("spec: %v is not an object", keys)
	}
	return m
}

// responseSchema finds the JSON schema of one operation's answer.
func responseSchema(t *testing.T, path, method, status string) map[string]any {
	return obj(t, loadSpec(t), "paths", path, method, "responses", status, "content", "application/json", "schema")
}

// schemaChecker validates a decoded JSON value against an OpenAPI schema: types (with
// nullable), enums, patterns, lengths, RFC 2822 dates; objects must carry every property the
// schema lists (Twilio always sends them all) and nothing it does not.
type schemaChecker struct {
	t        *testing.T
	patterns map[string]*regexp.Regexp
	errs     []string
	// root is the specification $refs resolve in (default: the 2010 API's).
	root map[string]any
}

func (c *schemaChecker) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *schemaChecker) resolve(s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		root := c.root
		if root == nil {
			root = loadSpec(c.t)
		}
		s = obj(c.t, root, "components", "schemas", name)
	}
}

func (c *schemaChecker) check(where string, s map[string]any, v any) {
	s = c.resolve(s)
	if v == nil {
		if s["nullable"] != true {
			c.errorf("%s: null, but the schema is not nullable", where)
		}
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			c.errorf("%s: %v is not one of %v", where, v, enum)
		}
	}
	switch s["type"] {
	case "string":
		str, ok := v.(string)
		if !ok {
			c.errorf("%s: %v (%T) is not a string", where, v, v)
			return
		}
		if p, ok := s["pattern"].(string); ok {
			re := c.patterns[p]
			if re == nil {
				re = regexp.MustCompile(p)
				c.patterns[p] = re
			}
			if !re.MatchString(str) {
				c.errorf("%s: %q does not match %s", where, str, p)
			}
		}
		if n, ok := s["minLength"].(float64); ok && len(str) < int(n) {
			c.errorf("%s: %q shorter than %v", where, str, n)
		}
		if n, ok := s["maxLength"].(float64); ok && len(str) > int(n) {
			c.errorf("%s: %q longer than %v", where, str, n)
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				c.errorf("%s: %q is not an RFC 3339 date: %v", where, str, err)
			}
		case "date-time-rfc-2822":
			if _, err := time.Parse(time.RFC1123Z, str); err != nil {
				c.errorf("%s: %q is not an RFC 2822 date: %v", where, str, err)
			}
		case "uri":
			if _, err := url.Parse(str); err != nil {
				c.errorf("%s: %q is not a URI: %v", where, str, err)
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			c.errorf("%s: %v (%T) is not an integer", where, v, v)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			c.errorf("%s: %v (%T) is not a number", where, v, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			c.errorf("%s: %v (%T) is not a boolean", where, v, v)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			c.errorf("%s: %v (%T) is not an array", where, v, v)
			return
		}
		items, _ := s["items"].(map[string]any)
		for i, it := range arr {
			if items != nil {
				c.check(fmt.Sprintf("%s[%d]", where, i), items, it)
			}
		}
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			c.errorf("%s: %v (%T) is not an object", where, v, v)
			return
		}
		if req, ok := s["required"].([]any); ok {
			for _, name := range req {
				if _, present := o[fmt.Sprint(name)]; !present {
					c.errorf("%s: required property %q missing", where, name)
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		if len(props) == 0 {
			return // a free-form object, such as subresource_uris
		}
		for name, ps := range props {
			pv, present := o[name]
			if !present {
				c.errorf("%s: property %q missing", where, name)
				continue
			}
			c.check(where+"."+name, ps.(map[string]any), pv)
		}
		var extra []string
		for name := range o {
			if _, ok := props[name]; !ok {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			c.errorf("%s: properties not in the schema: %v", where, extra)
		}
	}
}

// validate checks a raw response body against the schema of path/method/status.
func validate(t *testing.T, path, method string, status int, body []byte) map[string]any {
	t.Helper()
	schema := responseSchema(t, path, method, fmt.Sprint(status))
	var v map[string]any
	mustJSON(t, body, &v)
	c := &schemaChecker{t: t, patterns: map[string]*regexp.Regexp{}}
	c.check(method+" "+path, schema, v)
	for _, e := range c.errs {
		t.Error(e)
	}
	return v
}

// The checker itself must catch drift from the spec.
func TestSchemaCheckerCatchesDrift(t *testing.T) {
	t.Parallel()
	schema := responseSchema(t, "/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", "201")
	good := `{"account_sid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","api_version":"2010-04-01","body":"hi",
		"date_created":"Thu, 30 Jul 2015 20:12:31 +0000","date_sent":null,"date_updated":"Thu, 30 Jul 2015 20:12:31 +0000",
		"direction":"outbound-api","error_code":null,"error_message":null,"from":"+15005550006",
		"messaging_service_sid":null,"num_media":"0","num_segments":"1","price":null,"price_unit":"USD",
		"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"queued","subresource_uris":{"media":"/x"},
		"to":"+14155550100","uri":"/x.json"}`
	check := func(body string) []string {
		var v map[string]any
		mustJSON(t, []byte(body), &v)
		c := &schemaChecker{t: t, patterns: map[string]*regexp.Regexp{}}
		c.check("msg", schema, v)
		return c.errs
	}
	if errs := check(good); len(errs) != 0 {
		t.Fatalf("a valid message was refused: %v", errs)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"num_segments":"1"`, `"num_segments":1`, "msg.num_segments"},
		{`"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`, `"sid":"XXaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`, "msg.sid"},
		{`"status":"queued"`, `"status":"pending"`, "msg.status"},
		{`"date_created":"Thu, 30 Jul 2015 20:12:31 +0000"`, `"date_created":"2015-07-30T20:12:31Z"`, "msg.date_created"},
		{`"error_code":null`, `"error_code":"30003"`, "msg.error_code"},
		{`"uri":"/x.json"`, `"url":"/x.json"`, "uri"},
		{`"direction":"outbound-api"`, `"direction":null`, "msg.direction"},
		{`"price_unit":"USD",`, ``, `"price_unit" missing`},
		{`"num_media":"0"`, `"num_media":0`, "msg.num_media"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		errs := check(bad)
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tc.want) }) {
			t.Errorf("%s -> %s: errors %v, want one about %s", tc.from, tc.to, errs, tc.want)
		}
	}
}

func TestResponsesMatchTwilioOpenAPI(t *testing.T) {
	t.Parallel()
	loadSpec(t)
	e := newEnv(t, twiliosim.Config{Numbers: []string{"+14155550199"},
		Services: []twiliosim.ServiceConfig{{SID: "MG" + strings.Repeat("ab", 16), Numbers: []string{"+14155550199"}}}})
	rcv := newReceiver(t, e.sim)
	acct := "/2010-04-01/Accounts/" + e.sim.AccountSID()
	const (
		messages    = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
		message     = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
		numbersList = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"
		numberOne   = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json"
	)
	expect := func(what string, code, want int, body []byte) {
		t.Helper()
		if code != want {
			t.Fatalf("%s: HTTP %d, want %d: %s", what, code, want, body)
		}
	}

	// Create: plain SMS, MMS, Messaging Service, scheduled.
	forms := []url.Values{
		{"To": {"+14155550100"}, "From": {twiliosim.MagicFrom}, "Body": {"Hello! 👍"}, "StatusCallback": {rcv.srv.URL + "/s"}},
		{"To": {"+14155550100"}, "From": {"+14155550199"}, "MediaUrl": {"https://example.com/a.png", "https://example.com/b.jpg"}},
		{"To": {"+14155550100"}, "MessagingServiceSid": {"MG" + strings.Repeat("ab", 16)}, "Body": {"svc"}},
		{"To": {"+14155550100"}, "MessagingServiceSid": {"MG" + strings.Repeat("ab", 16)}, "Body": {"later"},
			"ScheduleType": {"fixed"}, "SendAt": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}},
	}
	var sids []string
	for _, f := range forms {
		code, body := e.do(t, http.MethodPost, acct+"/Messages.json", f)
		expect("create", code, http.StatusCreated, body)
		v := validate(t, messages, "post", code, body)
		sids = append(sids, v["sid"].(string))
	}
	// A failed message carries an integer error_code and a string error_message.
	e.sim.SetFaults(twiliosim.Faults{UndeliveredRatio: 1})
	code, body := e.do(t, http.MethodPost, acct+"/Messages.json", forms[0])
	expect("create", code, http.StatusCreated, body)
	var created map[string]any
	mustJSON(t, body, &created)
	failedSID := created["sid"].(string)
	waitStatus(t, e.sim, failedSID, "undelivered")
	e.sim.SetFaults(twiliosim.Faults{})
	// Inbound messages appear in the list too.
	if _, err := e.sim.AddNumber("+14155550199", rcv.srv.URL+"/in"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Inbound(ctx(t), "+14155550123", "+14155550199", "hi there"); err != nil {
		t.Fatal(err)
	}

	for _, sid := range append(sids, failedSID) {
		code, body := e.do(t, http.MethodGet, acct+"/Messages/"+sid+".json", nil)
		expect("fetch", code, http.StatusOK, body)
		v := validate(t, message, "get", code, body)
		if sid == failedSID {
			if v["error_code"] != json.Number("30003") || v["error_message"] == nil {
				t.Errorf("undelivered message: error_code %v error_message %v", v["error_code"], v["error_message"])
			}
		}
	}

	code, body = e.do(t, http.MethodGet, acct+"/Messages.json", url.Values{"PageSize": {"2"}})
	expect("list", code, http.StatusOK, body)
	page := validate(t, messages, "get", code, body)
	next, _ := page["next_page_uri"].(string)
	if next == "" {
		t.Fatalf("no next_page_uri on a full first page: %s", body)
	}
	code, body = e.do(t, http.MethodGet, next, nil)
	expect("list page 2", code, http.StatusOK, body)
	page2 := validate(t, messages, "get", code, body)
	if page2["page"] != json.Number("1") || page2["previous_page_uri"] == nil || page2["start"] != json.Number("2") {
		t.Errorf("second page envelope: page %v previous %v start %v", page2["page"], page2["previous_page_uri"], page2["start"])
	}
	// Walking every page by next_page_uri visits every message once, newest first.
	seen := map[string]bool{}
	for uri := acct + "/Messages.json?PageSize=2"; uri != ""; {
		code, body := e.do(t, http.MethodGet, uri, nil)
		expect("walk", code, http.StatusOK, body)
		var p struct {
			Messages    []struct{ Sid string }
			NextPageURI *string `json:"next_page_uri"`
		}
		mustJSON(t, body, &p)
		for _, m := range p.Messages {
			if seen[m.Sid] {
				t.Errorf("message %s listed twice", m.Sid)
			}
			seen[m.Sid] = true
		}
		uri = ""
		if p.NextPageURI != nil {
			uri = *p.NextPageURI
		}
	}
	if len(seen) != len(e.sim.Messages()) {
		t.Errorf("paging saw %d messages, the account has %d", len(seen), len(e.sim.Messages()))
	}

	code, body = e.do(t, http.MethodPost, acct+"/Messages/"+sids[3]+".json", url.Values{"Status": {"canceled"}})
	expect("cancel", code, http.StatusOK, body)
	validate(t, message, "post", code, body)

	code, body = e.do(t, http.MethodGet, acct+"/IncomingPhoneNumbers.json", url.Values{"PhoneNumber": {"+14155550199"}})
	expect("numbers", code, http.StatusOK, body)
	list := validate(t, numbersList, "get", code, body)
	nums := list["incoming_phone_numbers"].([]any)
	if len(nums) != 1 {
		t.Fatalf("PhoneNumber filter: %d numbers", len(nums))
	}
	pn := nums[0].(map[string]any)["sid"].(string)
	code, body = e.do(t, http.MethodGet, acct+"/IncomingPhoneNumbers/"+pn+".json", nil)
	expect("number fetch", code, http.StatusOK, body)
	validate(t, numberOne, "get", code, body)
	code, body = e.do(t, http.MethodPost, acct+"/IncomingPhoneNumbers/"+pn+".json",
		url.Values{"SmsUrl": {rcv.srv.URL + "/sms"}, "SmsMethod": {"GET"}})
	expect("number update", code, http.StatusOK, body)
	validate(t, numberOne, "post", code, body)
	code, body = e.do(t, http.MethodPost, acct+"/IncomingPhoneNumbers.json", url.Values{"PhoneNumber": {"+14155550166"}})
	expect("number create", code, http.StatusCreated, body)
	validate(t, numbersList, "post", code, body)
}

// Errors follow Twilio's error JSON: {"code","message","more_info","status"}.
func TestErrorShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	code, body := e.do(t, http.MethodPost, e.messagesPath(), url.Values{"To": {"+15005550001"}, "From": {twiliosim.MagicFrom}, "Body": {"x"}})
	if code != http.StatusBadRequest {
		t.Fatalf("HTTP %d", code)
	}
	var got map[string]any
	mustJSON(t, body, &got)
	want := map[string]any{
		"code": json.Number("21211"), "status": json.Number("400"),
		"more_info": "https://www.twilio.com/docs/errors/21211",
		"message":   "The 'To' number +15005550001 is not a valid phone number.",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, tc := range []struct {
		method, path string
		status, code int
	}{
		{http.MethodGet, e.messagesPath()[:len(e.messagesPath())-len("Messages.json")] + "Nope.json", 404, 20404},
		{http.MethodPut, e.messagesPath(), 405, 20004},
		{http.MethodGet, e.messagesPath() + "?PageSize=zero", 400, 20001},
		{http.MethodGet, e.messagesPath() + "?DateSent%3E=yesterday", 400, 20001},
		{http.MethodGet, e.messagesPath() + "?PageToken=PAnope", 400, 20001},
	} {
		code, body := e.do(t, tc.method, tc.path, nil)
		var got struct{ Code, Status int }
		mustJSON(t, body, &got)
		if code != tc.status || got.Code != tc.code || got.Status != tc.status {
			t.Errorf("%s %s: HTTP %d %s, want %d/%d", tc.method, tc.path, code, body, tc.status, tc.code)
		}
	}
}
