package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/export"
	"github.com/switchboard-gw/switchboard/internal/twiliosig"
	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	"github.com/switchboard-gw/switchboard/internal/verify"
	"github.com/switchboard-gw/switchboard/internal/voice"
	"github.com/switchboard-gw/switchboard/internal/webhook"
)

// openAPIDoc is the parsed OpenAPI document with the helpers the tests need.
type openAPIDoc struct {
	root map[string]any
}

func loadOpenAPI(t testing.TB) *openAPIDoc {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &openAPIDoc{root: root}
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns the documented operations by "METHOD /path".
func (d *openAPIDoc) operations() map[string]map[string]any {
	ops := map[string]map[string]any{}
	for path, item := range obj(d.root["paths"]) {
		for _, m := range httpMethods {
			if op, ok := obj(item)[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

// resolve follows a local $ref ("#/components/schemas/Message") to what it names.
func (d *openAPIDoc) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = d.root
	for _, part := range strings.Split(p, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		next, ok := obj(cur)[part]
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve (no %q)", ref, part)
		}
		cur = next
	}
	return cur, nil
}

// deref returns v, or what its $ref names.
func (d *openAPIDoc) deref(t testing.TB, v any) map[string]any {
	t.Helper()
	m := obj(v)
	if ref, ok := m["$ref"].(string); ok {
		r, err := d.resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		return obj(r)
	}
	return m
}

func (d *openAPIDoc) schema(name string) map[string]any {
	return obj(obj(obj(d.root["components"])["schemas"])[name])
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestOpenAPIDocumentsEveryRoute keeps the document true to the server: every route the API,
// the webhook ingress and the simulator serve is documented, and nothing else is.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	served := map[string]string{}
	for _, p := range api.New(api.Config{}).Routes() {
		if p == "/v1/" {
			continue // the problem+json 404 for unknown routes under /v1
		}
		if p == "GET /{$}" {
			p = "GET /" // the root alone, as OpenAPI says it
		}
		served[p] = "registered in internal/api"
	}
	// The node mounts the webhook ingress and the simulator beside the API (internal/node).
	served["POST "+webhook.StatusPath] = "served by internal/webhook"
	served["POST "+webhook.InboundPath] = "served by internal/webhook"
	served["POST "+voice.WebhookPath+"{token}/{kind}"] = "served by internal/voice"
	served["POST "+voice.WebhookPath+"{token}/status"] = "served by internal/voice"
	for _, p := range twiliosim.ControlRoutes() {
		served[p] = "served by internal/twiliosim"
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes found: %v", len(served), served)
	}
	ops := doc.operations()
	for _, p := range slices.Sorted(maps.Keys(served)) {
		if !strings.Contains(p, " ") {
			t.Errorf("route %q (%s) has no method: give it one so that it can be documented", p, served[p])
			continue
		}
		if _, ok := ops[p]; !ok {
			t.Errorf("route %s (%s) is not documented in internal/api/openapi.json", p, served[p])
		}
	}
	for _, p := range slices.Sorted(maps.Keys(ops)) {
		if _, ok := served[p]; !ok {
			t.Errorf("openapi.json documents %s, which nothing serves", p)
		}
	}
}

// TestOpenAPIDocumentIsValid checks the document's structure: OpenAPI 3.1, every $ref resolves,
// every operation has responses, path parameters and unique IDs, every schema uses only
// keywords the test validator understands, and the error codes agree with docs/errors.md.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if v, _ := doc.root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info := obj(doc.root["info"])
	if info["title"] != "Switchboard" || info["version"] == "" {
		t.Errorf("info: %v", info)
	}
	if _, ok := obj(obj(doc.root["components"])["securitySchemes"])["bearer"]; !ok {
		t.Error("no bearer security scheme")
	}

	// Every $ref resolves, wherever it is.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := doc.resolve(ref); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(path+"/"+strconv.Itoa(i), c)
			}
		}
	}
	walk("#", doc.root)

	tags := map[string]bool{}
	for _, tg := range doc.root["tags"].([]any) {
		tags[obj(tg)["name"].(string)] = true
	}
	ids := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for key, op := range doc.operations() {
		method, path, _ := strings.Cut(key, " ")
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] != "" {
			t.Errorf("%s: operationId %q missing or also used by %s", key, id, ids[id])
		}
		ids[id] = key
		for _, tg := range op["tags"].([]any) {
			if !tags[tg.(string)] {
				t.Errorf("%s: tag %q is not declared", key, tg)
			}
		}
		responses := obj(op["responses"])
		if len(responses) == 0 {
			t.Errorf("%s: no responses", key)
		}
		// Parameters of the path item and of the operation.
		params := map[string]map[string]any{}
		for _, list := range []any{obj(obj(doc.root["paths"])[path])["parameters"], op["parameters"]} {
			for _, p := range asSlice(list) {
				p := doc.deref(t, p)
				params[p["in"].(string)+":"+p["name"].(string)] = p
				checkSchemaKeywords(t, doc, key+" parameter "+p["name"].(string), p["schema"])
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if p := params["path:"+m[1]]; p == nil || p["required"] != true {
				t.Errorf("%s: path parameter %s is not documented as required", key, m[1])
			}
		}
		for k := range params {
			if name, ok := strings.CutPrefix(k, "path:"); ok && !strings.Contains(path, "{"+name+"}") {
				t.Errorf("%s: path parameter %s is not in the path", key, name)
			}
		}
		if rb := obj(op["requestBody"]); rb != nil {
			for mt, media := range obj(rb["content"]) {
				s := obj(media)["schema"]
				checkSchemaKeywords(t, doc, key+" request "+mt, s)
				// The API decodes JSON strictly (DisallowUnknownFields): its schemas must say so.
				if mt == "application/json" && strings.HasPrefix(path, "/v1/") {
					if doc.deref(t, s)["additionalProperties"] != false {
						t.Errorf("%s: the request schema must have additionalProperties false, as the server refuses unknown fields", key)
					}
				}
			}
		}
		authed := op["security"] == nil // the document's default: bearer
		for status, r := range responses {
			r := doc.deref(t, r)
			if r["description"] == "" {
				t.Errorf("%s %s: no description", key, status)
			}
			for mt, media := range obj(r["content"]) {
				checkSchemaKeywords(t, doc, key+" "+status+" "+mt, obj(media)["schema"])
			}
			if code, _ := strconv.Atoi(status); code >= 400 && authed && obj(r["content"])["application/problem+json"] == nil {
				t.Errorf("%s %s: an API error must be application/problem+json", key, status)
			}
		}
		if authed {
			if !strings.HasPrefix(path, "/v1/") {
				t.Errorf("%s: only /v1 needs an API key; set security: [] on it", key)
			}
			for _, want := range []string{"401", "500"} {
				if responses[want] == nil {
					t.Errorf("%s: a request with an API key can answer %s; document it", key, want)
				}
			}
			if method != "GET" && method != "DELETE" && op["requestBody"] != nil {
				for _, want := range []string{"400", "413"} {
					if responses[want] == nil {
						t.Errorf("%s: a request with a body can answer %s; document it", key, want)
					}
				}
			}
		} else if strings.HasPrefix(path, "/v1/") {
			t.Errorf("%s: every /v1 route needs an API key", key)
		}
	}
	for name, s := range obj(obj(doc.root["components"])["schemas"]) {
		checkSchemaKeywords(t, doc, "schema "+name, s)
	}

	// Error codes: each one the document names is in docs/errors.md, and each one there is named
	// in the document.
	errorsMD, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| [0-9]{3} \\|").FindAllStringSubmatch(string(errorsMD), -1) {
		documented[m[1]] = true
	}
	if len(documented) < 40 {
		t.Fatalf("found only %d codes in docs/errors.md", len(documented))
	}
	raw, _ := os.ReadFile("openapi.json")
	for key, op := range doc.operations() {
		for status, r := range obj(op["responses"]) {
			r := doc.deref(t, r)
			if obj(r["content"])["application/problem+json"] == nil {
				continue
			}
			cs := problemCodes(r)
			if len(cs) == 0 {
				t.Errorf("%s %s: the description names no error codes", key, status)
			}
			for _, c := range cs {
				if !documented[c] {
					t.Errorf("%s %s: code %q is not in docs/errors.md", key, status, c)
				}
			}
		}
	}
	for c := range documented {
		if !strings.Contains(string(raw), "`"+c+"`") {
			t.Errorf("docs/errors.md code %q is not named in openapi.json", c)
		}
	}
}

// problemCodes returns the codes a problem response's description lists after "Codes:".
func problemCodes(r map[string]any) []string {
	desc, _ := r["description"].(string)
	_, list, ok := strings.Cut(desc, "Codes:")
	if !ok {
		return nil
	}
	var out []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(list, -1) {
		out = append(out, m[1])
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// jsonFields lists typ's fields as encoding/json sees them: an embedded struct without a JSON
// name (verify.CheckResult's *Verification) contributes its own fields.
func jsonFields(typ reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				out = append(out, jsonFields(et)...)
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// TestOpenAPISchemasMatchGoTypes holds the schemas to the Go types whose JSON they describe:
// the same properties, the same JSON types, required exactly when the field is always encoded
// (no omitempty), and the enums of the domain's named types.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	for _, c := range []struct {
		schema string
		typ    reflect.Type
		// exact: required is exactly the fields without omitempty. Otherwise (a schema used both
		// as a request and an answer) required only names fields without omitempty.
		exact bool
	}{
		{"Message", reflect.TypeFor[switchboard.Message](), true},
		{"Event", reflect.TypeFor[switchboard.Event](), true},
		{"ConsentRecord", reflect.TypeFor[switchboard.ConsentRecord](), true},
		{"SendRequest", reflect.TypeFor[api.SendRequest](), true},
		{"MessageList", reflect.TypeFor[api.MessageList](), true},
		{"ConsentView", reflect.TypeFor[api.ConsentView](), true},
		{"ConsentChange", reflect.TypeFor[api.ConsentChange](), true},
		{"ImportResult", reflect.TypeFor[api.ImportResult](), true},
		{"Problem", reflect.TypeFor[api.Problem](), true},
		{"EndpointRequest", reflect.TypeFor[api.EndpointRequest](), true},
		{"TenantCredentialsRequest", reflect.TypeFor[api.CredentialsRequest](), true},
		{"TenantCredentials", reflect.TypeFor[api.CredentialsView](), true},
		{"Endpoint", reflect.TypeFor[api.EndpointView](), true},
		{"EndpointList", reflect.TypeFor[api.EndpointList](), true},
		{"RotateRequest", reflect.TypeFor[api.RotateRequest](), true},
		{"DeadLetterList", reflect.TypeFor[api.DeadLetterList](), true},
		{"ReplayResult", reflect.TypeFor[api.ReplayResult](), true},
		{"Delivery", reflect.TypeFor[switchboard.Delivery](), true},
		{"AppEvent", reflect.TypeFor[switchboard.AppEvent](), true},
		{"Trace", reflect.TypeFor[api.Trace](), true},
		{"MessageAppEvent", reflect.TypeFor[switchboard.MessageAppEvent](), true},
		{"SimMessage", reflect.TypeFor[twiliosim.Message](), true},
		{"SimNumber", reflect.TypeFor[twiliosim.Number](), true},
		{"SimStats", reflect.TypeFor[twiliosim.Stats](), true},
		{"SimInboundResult", reflect.TypeFor[twiliosim.InboundResult](), true},
		{"SimFaults", reflect.TypeFor[twiliosim.Faults](), false},
		{"Verification", reflect.TypeFor[switchboard.Verification](), true},
		{"VerificationSend", reflect.TypeFor[switchboard.VerificationSend](), true},
		{"VerificationRequest", reflect.TypeFor[verify.StartRequest](), true},
		{"CheckRequest", reflect.TypeFor[api.CheckRequest](), true},
		{"CheckResult", reflect.TypeFor[verify.CheckResult](), true},
		{"Refusal", reflect.TypeFor[switchboard.Refusal](), true},
		{"RefusalList", reflect.TypeFor[api.RefusalList](), true},
		{"SimVerification", reflect.TypeFor[twiliosim.Verification](), true},
		{"Call", reflect.TypeFor[switchboard.Call](), true},
		{"CallEvent", reflect.TypeFor[switchboard.CallEvent](), true},
		{"CallInput", reflect.TypeFor[switchboard.CallInput](), true},
		{"CallList", reflect.TypeFor[api.CallList](), true},
		{"Tenant", reflect.TypeFor[switchboard.Tenant](), true},
		{"TenantRequest", reflect.TypeFor[api.TenantRequest](), true},
		{"TenantPatch", reflect.TypeFor[api.TenantPatch](), true},
		{"TenantList", reflect.TypeFor[api.TenantList](), true},
		{"APIKey", reflect.TypeFor[switchboard.APIKey](), true},
		{"KeyRequest", reflect.TypeFor[api.KeyRequest](), true},
		{"CreatedKey", reflect.TypeFor[api.CreatedKey](), true},
		{"KeyList", reflect.TypeFor[api.KeyList](), true},
		{"UsageList", reflect.TypeFor[api.UsageList](), true},
		{"UsageRow", reflect.TypeFor[export.UsageRow](), true},
		{"SimCall", reflect.TypeFor[twiliosim.Call](), true},
		{"SimCallScript", reflect.TypeFor[twiliosim.CallScript](), false},
		{"SimCalleeInput", reflect.TypeFor[twiliosim.CalleeInput](), true},
		{"Sender", reflect.TypeFor[switchboard.Sender](), true},
		{"SenderList", reflect.TypeFor[api.SenderList](), true},
		{"SenderRequest", reflect.TypeFor[api.SenderRequest](), true},
		{"SenderUpdate", reflect.TypeFor[switchboard.SenderUpdate](), true},
	} {
		s := doc.schema(c.schema)
		if s == nil {
			t.Errorf("no schema %s", c.schema)
			continue
		}
		props := obj(s["properties"])
		required := map[string]bool{}
		for _, r := range asSlice(s["required"]) {
			required[r.(string)] = true
		}
		fields := map[string]bool{}
		for _, f := range jsonFields(c.typ) {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = true
			p, ok := props[name]
			if !ok {
				t.Errorf("%s: field %s.%s (%s) is not documented", c.schema, c.typ, f.Name, name)
				continue
			}
			omitempty := strings.Contains(opts, "omitempty")
			if c.exact && required[name] == omitempty || !c.exact && required[name] && omitempty {
				t.Errorf("%s.%s: required is %v, but the field has omitempty=%v", c.schema, name, required[name], omitempty)
			}
			if msg := schemaFits(t, doc, obj(p), f.Type); msg != "" {
				t.Errorf("%s.%s: %s", c.schema, name, msg)
			}
		}
		for name := range props {
			if !fields[name] {
				t.Errorf("%s: property %s is not a field of %s", c.schema, name, c.typ)
			}
		}
		for name := range required {
			if !fields[name] {
				t.Errorf("%s: required %s is not a field of %s", c.schema, name, c.typ)
			}
		}
	}

	// Enums: every value is valid, and every known value is listed.
	enums := []struct {
		schema string
		want   []string
		valid  func(string) bool
	}{
		{"Status", strs(switchboard.Statuses...), func(v string) bool { return switchboard.Status(v).Valid() }},
		{"VerificationStatus", strs(switchboard.VerificationStatuses...), func(v string) bool { return switchboard.VerificationStatus(v).Valid() }},
		{"VerifyChannel", strs(switchboard.VerifySMS, switchboard.VerifyWhatsApp, switchboard.VerifyCall), func(v string) bool { return switchboard.VerifyChannel(v).Valid() }},
		{"Channel", strs(switchboard.ChannelSMS, switchboard.ChannelMMS, switchboard.ChannelWhatsApp), func(v string) bool { return switchboard.Channel(v).Valid() }},
		{"Category", strs(switchboard.CategoryTransactional, switchboard.CategoryMarketing, switchboard.CategoryOTP), func(v string) bool { return switchboard.Category(v).Valid() }},
		{"ConsentState", strs(switchboard.ConsentOptedOut, switchboard.ConsentOptedIn, switchboard.ConsentCleared), func(v string) bool { return switchboard.ConsentState(v).Valid() }},
		{"Encoding", strs(switchboard.EncodingGSM7, switchboard.EncodingUCS2), nil},
		{"EventType", strs(switchboard.EventCreated, switchboard.EventStatusChanged, switchboard.EventAttempt, switchboard.EventProviderError,
			switchboard.EventRetry, switchboard.EventCallback, switchboard.EventReconcile, switchboard.EventNote, switchboard.EventNeedsReview), nil},
		{"ConsentSource", strs(switchboard.ConsentFromKeyword, switchboard.ConsentFromProviderError, switchboard.ConsentFromAPI,
			switchboard.ConsentFromImport, switchboard.ConsentFromDashboard), nil},
	}
	for _, e := range enums {
		var got []string
		for _, v := range asSlice(doc.schema(e.schema)["enum"]) {
			got = append(got, v.(string))
			if e.valid != nil && !e.valid(v.(string)) {
				t.Errorf("%s: enum value %q is not valid", e.schema, v)
			}
		}
		if !slices.Equal(got, e.want) {
			t.Errorf("%s: enum %v, want %v", e.schema, got, e.want)
		}
	}
}

func strs[S ~string](vs ...S) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schemaFits says how a property schema disagrees with the JSON encoding of a Go type, or "".
func schemaFits(t testing.TB, doc *openAPIDoc, s map[string]any, typ reflect.Type) string {
	if ref, ok := s["$ref"].(string); ok {
		r, err := doc.resolve(ref)
		if err != nil {
			return err.Error()
		}
		s = obj(r)
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := ""
	switch {
	case typ == timeType:
		if s["format"] != "date-time" {
			return "a time must be a string of format date-time"
		}
		want = "string"
	case typ == rawType:
		if s["type"] != nil {
			return "raw JSON must not constrain its type"
		}
		return ""
	default:
		switch typ.Kind() {
		case reflect.String:
			want = "string"
		case reflect.Bool:
			want = "boolean"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "integer"
		case reflect.Float32, reflect.Float64:
			want = "number"
		case reflect.Slice:
			want = "array"
			if msg := schemaFits(t, doc, obj(s["items"]), typ.Elem()); msg != "" {
				return "items: " + msg
			}
		case reflect.Map:
			want = "object"
			if msg := schemaFits(t, doc, obj(s["additionalProperties"]), typ.Elem()); msg != "" {
				return "values: " + msg
			}
		case reflect.Struct:
			want = "object"
		}
	}
	if s["type"] != want {
		return fmt.Sprintf("type %v, want %s for Go %s", s["type"], want, typ)
	}
	return ""
}

// --- a JSON Schema subset, enough for this document ---

// schemaKeywords are the keywords validate understands; annotations it ignores are listed too.
var schemaKeywords = map[string]bool{
	"$ref": true, "type": true, "enum": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "format": true, "pattern": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "maxItems": true,
	"maxProperties": true,
	// annotations
	"description": true, "default": true, "example": true, "examples": true, "title": true,
}

// checkSchemaKeywords fails on a keyword the validator would silently ignore.
func checkSchemaKeywords(t testing.TB, doc *openAPIDoc, where string, v any) {
	t.Helper()
	s := obj(v)
	if v != nil && s == nil {
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: a schema must be an object or a boolean", where)
		}
		return
	}
	for k, c := range s {
		if !schemaKeywords[k] {
			t.Errorf("%s: schema keyword %q is not supported by the test's validator; extend it", where, k)
		}
		switch k {
		case "properties":
			for name, p := range obj(c) {
				checkSchemaKeywords(t, doc, where+"."+name, p)
			}
		case "items", "additionalProperties":
			checkSchemaKeywords(t, doc, where+"/"+k, c)
		}
	}
}

// validate checks v (decoded JSON) against schema s. strict treats an object schema with
// properties and no additionalProperties as closed, so that an answer cannot carry a field the
// document does not name.
func validate(doc *openAPIDoc, s any, v any, strict bool, path string) []string {
	if b, ok := s.(bool); ok {
		if !b {
			return []string{path + ": not allowed"}
		}
		return nil
	}
	sm := obj(s)
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := sm["$ref"].(string); ok {
		r, err := doc.resolve(ref)
		if err != nil {
			return []string{path + ": " + err.Error()}
		}
		errs = append(errs, validate(doc, r, v, strict, path)...)
	}
	if typ, ok := sm["type"]; ok {
		var types []string
		switch typ := typ.(type) {
		case string:
			types = []string{typ}
		case []any:
			for _, x := range typ {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(want string) bool { return jsonType(v, want) }) {
			fail("%s is not of type %v", short(v), types)
			return errs
		}
	}
	if enum, ok := sm["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%s is not one of %v", short(v), enum)
	}
	switch v := v.(type) {
	case string:
		if p, ok := sm["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			fail("%q does not match %s", v, p)
		}
		n := float64(len([]rune(v)))
		if m, ok := sm["maxLength"].(float64); ok && n > m {
			fail("longer than %v", m)
		}
		if m, ok := sm["minLength"].(float64); ok && n < m {
			fail("shorter than %v", m)
		}
		switch sm["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				fail("%q is not an RFC 3339 date-time", v)
			}
		case "uri":
			if u, err := url.Parse(v); err != nil || u.Scheme == "" {
				fail("%q is not an absolute URI", v)
			}
		case "uri-reference":
			if _, err := url.Parse(v); err != nil {
				fail("%q is not a URI reference", v)
			}
		}
	case float64:
		if m, ok := sm["minimum"].(float64); ok && v < m {
			fail("%v is under the minimum %v", v, m)
		}
		if m, ok := sm["maximum"].(float64); ok && v > m {
			fail("%v is over the maximum %v", v, m)
		}
	case []any:
		if m, ok := sm["maxItems"].(float64); ok && float64(len(v)) > m {
			fail("more than %v items", m)
		}
		if items, ok := sm["items"]; ok {
			for i, x := range v {
				errs = append(errs, validate(doc, items, x, strict, path+"/"+strconv.Itoa(i))...)
			}
		}
	case map[string]any:
		if m, ok := sm["maxProperties"].(float64); ok && float64(len(v)) > m {
			fail("more than %v properties", m)
		}
		for _, r := range asSlice(sm["required"]) {
			if _, ok := v[r.(string)]; !ok {
				fail("required property %q is missing", r)
			}
		}
		props := obj(sm["properties"])
		extra, hasExtra := sm["additionalProperties"]
		if !hasExtra && strict && props != nil {
			extra, hasExtra = false, true
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if p, ok := props[k]; ok {
				errs = append(errs, validate(doc, p, v[k], strict, path+"/"+k)...)
			} else if hasExtra {
				errs = append(errs, validate(doc, extra, v[k], strict, path+"/"+k)...)
			}
		}
	}
	return errs
}

func jsonType(v any, want string) bool {
	switch want {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

func TestValidatorCatchesMistakes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	problem := map[string]any{"$ref": "#/components/schemas/Problem"}
	good := map[string]any{"type": "urn:switchboard:error:x", "title": "Bad Request", "status": 400.0, "detail": "d", "code": "x"}
	if errs := validate(doc, problem, good, true, "#"); len(errs) != 0 {
		t.Fatalf("a good problem is refused: %v", errs)
	}
	for name, mutate := range map[string]func(m map[string]any){
		"missing required": func(m map[string]any) { delete(m, "code") },
		"wrong type":       func(m map[string]any) { m["status"] = "400" },
		"not an integer":   func(m map[string]any) { m["status"] = 400.5 },
		"under minimum":    func(m map[string]any) { m["status"] = 200.0 },
		"pattern":          func(m map[string]any) { m["type"] = "about:blank" },
		"extra property":   func(m map[string]any) { m["extra"] = true },
	} {
		m := maps.Clone(good)
		mutate(m)
		if errs := validate(doc, problem, m, true, "#"); len(errs) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	msg := map[string]any{"$ref": "#/components/schemas/Message"}
	for name, v := range map[string]any{
		"enum":      map[string]any{"status": "lost"},
		"date-time": map[string]any{"created_at": "yesterday"},
		"items":     map[string]any{"events": []any{map[string]any{"id": "one"}}},
		"map value": map[string]any{"metadata": map[string]any{"k": 1.0}},
	} {
		errs := validate(doc, msg, v, true, "#")
		if !slices.ContainsFunc(errs, func(e string) bool { return !strings.Contains(e, "required property") }) {
			t.Errorf("%s: not caught: %v", name, errs)
		}
	}
}

// --- real answers against the document ---

// openAPICheck sends requests and validates each answer against the operation's documented
// response: status, content type, body schema (closed objects) and, for a problem, its code.
type openAPICheck struct {
	t    *testing.T
	doc  *openAPIDoc
	base string
	seen map[string]bool
}

type call struct {
	op      string // "METHOD /documented/{path}"
	path    string // the request's path and query
	body    string
	ctype   string
	headers []string
	status  int
}

func (c *openAPICheck) do(rq call) map[string]any {
	t := c.t
	t.Helper()
	method, _, _ := strings.Cut(rq.op, " ")
	req, _ := http.NewRequest(method, c.base+rq.path, strings.NewReader(rq.body))
	if rq.ctype != "" {
		req.Header.Set("Content-Type", rq.ctype)
	}
	for i := 0; i+1 < len(rq.headers); i += 2 {
		req.Header.Set(rq.headers[i], rq.headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if rq.status != 0 && resp.StatusCode != rq.status {
		t.Errorf("%s %s: status %d, want %d: %s", method, rq.path, resp.StatusCode, rq.status, raw)
	}
	op := c.doc.operations()[rq.op]
	if op == nil {
		t.Fatalf("%s is not documented", rq.op)
	}
	where := fmt.Sprintf("%s → %d", rq.op, resp.StatusCode)
	c.seen[fmt.Sprintf("%s %d", rq.op, resp.StatusCode)] = true

	// A successful request body fits the documented request schema.
	if rb := obj(op["requestBody"]); resp.StatusCode < 300 && rq.body != "" && rb != nil {
		media := obj(obj(rb["content"])[mediaType(rq.ctype)])
		if media == nil {
			t.Errorf("%s: request content type %q is not documented", where, rq.ctype)
		} else if mediaType(rq.ctype) == "application/json" {
			var v any
			if err := json.Unmarshal([]byte(rq.body), &v); err != nil {
				t.Fatal(err)
			}
			for _, e := range validate(c.doc, media["schema"], v, false, "request") {
				t.Errorf("%s: a request the server accepted does not fit the documented schema: %s", where, e)
			}
		}
	}

	r, ok := obj(op["responses"])[strconv.Itoa(resp.StatusCode)]
	if !ok {
		t.Errorf("%s: status not documented: %s", where, raw)
		return nil
	}
	rm := c.doc.deref(t, r)
	for _, h := range []string{"Location", "Idempotent-Replayed", "WWW-Authenticate"} {
		if resp.Header.Get(h) != "" && obj(rm["headers"])[h] == nil {
			t.Errorf("%s: header %s is sent but not documented", where, h)
		}
	}
	content := obj(rm["content"])
	if len(content) == 0 {
		if len(raw) != 0 {
			t.Errorf("%s: documented without a body, but has %q", where, raw)
		}
		return nil
	}
	ct := mediaType(resp.Header.Get("Content-Type"))
	media, ok := content[ct]
	if !ok {
		t.Errorf("%s: content type %q is not documented (%v)", where, ct, slices.Collect(maps.Keys(content)))
		return nil
	}
	if ct != "application/json" && ct != "application/problem+json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("%s: not JSON: %v", where, err)
		return nil
	}
	for _, e := range validate(c.doc, obj(media)["schema"], v, true, "#") {
		t.Errorf("%s: answer does not fit the documented schema: %s", where, e)
	}
	m, _ := v.(map[string]any)
	if ct == "application/problem+json" {
		code, _ := m["code"].(string)
		if !slices.Contains(problemCodes(rm), code) {
			t.Errorf("%s: code %q is not among the response's documented codes %v", where, code, problemCodes(rm))
		}
	}
	return m
}

func mediaType(ct string) string {
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

// TestOpenAPIMatchesAnswers sends real requests of every kind and checks every answer against
// the document.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	f := newFixture(t)
	c := &openAPICheck{t: t, doc: doc, base: f.srv.URL, seen: map[string]bool{}}
	auth := []string{"Authorization", "Bearer " + secret}
	j := "application/json"
	withAuth := func(h ...string) []string { return append(slices.Clone(auth), h...) }

	c.do(call{op: "GET /", path: "/", status: 200})
	c.do(call{op: "GET /healthz", path: "/healthz", status: 200})
	c.do(call{op: "GET /readyz", path: "/readyz", status: 200})
	c.do(call{op: "GET /openapi.json", path: "/openapi.json", status: 200})

	full := `{"to":"+1 (415) 555-0100","body":"Your code is 123456","from":"+15005550006","channel":"sms",
		"category":"transactional","send_at":"2026-03-01T13:00:00Z","validity_seconds":3600,
		"metadata":{"order":"A-1"},"timezone":"America/Los_Angeles"}`
	m := c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: full, ctype: j,
		headers: withAuth("Idempotency-Key", "k-1"), status: 202})
	id, _ := m["id"].(string)
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: full, ctype: j,
		headers: withAuth("Idempotency-Key", "k-1"), status: 202})
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550100","body":"other"}`, ctype: j,
		headers: withAuth("Idempotency-Key", "k-1"), status: 422})
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", ctype: j, headers: withAuth(), status: 202,
		body: `{"to":"+14155550101","media_urls":["https://example.com/a.png"],"pool":"alerts","category":"otp"}`})
	for _, bad := range []struct {
		body   string
		status int
	}{
		{`{"to":"+15555550100","body":"x"}`, 400},
		{`{"body":"x"}`, 400},
		{`{"to":"+14155550100","body":"x","bodyy":"y"}`, 400},
		{`{"to":`, 400},
		{`{"to":"+14155550100","body":5}`, 400},
		{`{"to":"+14155550100","body":"x","channel":"whatsapp"}`, 422},
		{`{"to":"+14155550100","body":"x","from":"+14155550199"}`, 422},
		{`{"to":"+14155550100","template":"welcome"}`, 422},
		{`{"to":"+14155550100","body":"` + strings.Repeat("b", 5000) + `"}`, 413},
	} {
		c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: bad.body, ctype: j, headers: withAuth(), status: bad.status})
	}
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550100","body":"x"}`, ctype: "text/plain", headers: withAuth(), status: 415})
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550100","body":"x"}`, ctype: j,
		headers: withAuth("Idempotency-Key", strings.Repeat("k", 256)), status: 400})
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550100","body":"x"}`, ctype: j, status: 401})
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550100","body":"x","category":"marketing"}`, ctype: j, headers: withAuth(), status: 422})

	got := c.do(call{op: "GET /v1/messages/{id}", path: "/v1/messages/" + id, headers: auth, status: 200})
	if evs, _ := got["events"].([]any); len(evs) == 0 {
		t.Errorf("the message has no events: %v", got)
	}
	c.do(call{op: "GET /v1/messages/{id}", path: "/v1/messages/msg_nope", headers: auth, status: 404})
	c.do(call{op: "GET /v1/messages/{id}", path: "/v1/messages/" + id, status: 401})
	c.do(call{op: "GET /v1/messages", path: "/v1/messages?status=queued,scheduled&limit=1", headers: auth, status: 200})
	c.do(call{op: "GET /v1/messages", path: "/v1/messages?status=lost", headers: auth, status: 400})
	c.do(call{op: "GET /v1/messages", path: "/v1/messages?to=123", headers: auth, status: 400})
	c.do(call{op: "POST /v1/messages/{id}/cancel", path: "/v1/messages/" + id + "/cancel", headers: auth, status: 200})
	c.do(call{op: "POST /v1/messages/{id}/cancel", path: "/v1/messages/" + id + "/cancel", headers: auth, status: 409})
	c.do(call{op: "POST /v1/messages/{id}/cancel", path: "/v1/messages/msg_nope/cancel", headers: auth, status: 404})

	// A message that went to the provider and failed, with a raw payload on its timeline.
	sent := c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550102","body":"hello"}`, ctype: j, headers: withAuth(), status: 202})
	sid, code, emsg, inFlight := "SM0123456789abcdef0123456789abcdef", 30003, "Unreachable destination handset", false
	if _, err := f.store.UpdateMessage(context.Background(), switchboard.MessageUpdate{
		ID: sent["id"].(string), Status: switchboard.StatusUndelivered, ProviderSID: &sid, ErrorCode: &code,
		ErrorMessage: &emsg, AttemptInFlight: &inFlight, IncAttempts: true, At: now,
		Events: []*switchboard.Event{{Type: switchboard.EventCallback, Status: switchboard.StatusUndelivered, Actor: "twilio",
			ErrorCode: code, Detail: emsg, Payload: json.RawMessage(`{"MessageStatus":"undelivered","ErrorCode":"30003"}`), At: now}},
	}); err != nil {
		t.Fatal(err)
	}
	c.do(call{op: "GET /v1/messages/{id}", path: "/v1/messages/" + sent["id"].(string), headers: auth, status: 200})
	c.do(call{op: "GET /v1/provider-messages/{sid}", path: "/v1/provider-messages/" + sid, headers: auth, status: 200})
	c.do(call{op: "GET /v1/provider-messages/{sid}", path: "/v1/provider-messages/SM0000000000000000000000000000beef", headers: auth, status: 404})
	c.do(call{op: "GET /v1/provider-messages/{sid}", path: "/v1/provider-messages/msg_1", headers: auth, status: 400})
	c.do(call{op: "GET /v1/messages/{id}/trace", path: "/v1/messages/" + sent["id"].(string) + "/trace", headers: auth, status: 200})
	c.do(call{op: "GET /v1/messages/{id}/trace", path: "/v1/messages/msg_nope/trace", headers: auth, status: 404})

	phone := "/v1/consent/%2B14155550103"
	c.do(call{op: "GET /v1/consent/{phone}", path: phone, headers: auth, status: 200})
	c.do(call{op: "PUT /v1/consent/{phone}", path: phone, body: `{"state":"opted_out","scope":"*","evidence":"asked by phone"}`, ctype: j, headers: withAuth(), status: 200})
	c.do(call{op: "PUT /v1/consent/{phone}", path: phone, body: `{"state":"opted_in","scope":"alerts"}`, ctype: j, headers: withAuth(), status: 200})
	c.do(call{op: "PUT /v1/consent/{phone}", path: phone, body: `{"state":"cleared"}`, ctype: j, headers: withAuth(), status: 400})
	c.do(call{op: "PUT /v1/consent/{phone}", path: phone, body: `{"state":"opted_in","scope":"nope"}`, ctype: j, headers: withAuth(), status: 400})
	c.do(call{op: "PUT /v1/consent/{phone}", path: "/v1/consent/123", body: `{"state":"opted_in"}`, ctype: j, headers: withAuth(), status: 400})
	c.do(call{op: "PUT /v1/consent/{phone}", path: phone, body: `{"state":"opted_in","evidence":"` + strings.Repeat("e", 5000) + `"}`, ctype: j, headers: withAuth(), status: 413})
	c.do(call{op: "GET /v1/consent/{phone}", path: phone, headers: auth, status: 200})
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550103","body":"x"}`, ctype: j, headers: withAuth(), status: 422})
	c.do(call{op: "DELETE /v1/consent/{phone}", path: phone + "?scope=*", headers: auth, status: 200})
	c.do(call{op: "DELETE /v1/consent/{phone}", path: phone + "?scope=nope", headers: auth, status: 400})
	c.do(call{op: "POST /v1/consent/import", path: "/v1/consent/import", body: "phone,state,scope,evidence\n+14155550104,opted_out,*,paper form\n",
		ctype: "text/csv", headers: auth, status: 200})
	c.do(call{op: "POST /v1/consent/import", path: "/v1/consent/import", body: "phone,state\n+14155550104,maybe\n", ctype: "text/csv", headers: auth, status: 400})
	c.do(call{op: "POST /v1/consent/import", path: "/v1/consent/import", body: "{}", ctype: j, headers: auth, status: 415})

	// Quotas and usage: tenant default over its daily messages answers 429 with Retry-After.
	ctx := context.Background()
	def, err := f.store.GetTenant(ctx, switchboard.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	def.DailyMessages = 1
	if err := f.store.UpdateTenant(ctx, def); err != nil {
		t.Fatal(err)
	}
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", body: `{"to":"+14155550105","body":"one too many"}`, ctype: j, headers: withAuth(), status: 429})
	def.DailyMessages = 0
	if err := f.store.UpdateTenant(ctx, def); err != nil {
		t.Fatal(err)
	}
	c.do(call{op: "GET /v1/usage", path: "/v1/usage", headers: auth, status: 200})
	c.do(call{op: "GET /v1/usage", path: "/v1/usage?from=2026-01-01&to=2026-12-31&format=csv", headers: auth, status: 200})
	c.do(call{op: "GET /v1/usage", path: "/v1/usage?from=2026-1-1", headers: auth, status: 400})
	reader, readerSecret, err := switchboard.NewAPIKey("reader", now)
	if err != nil {
		t.Fatal(err)
	}
	reader.Role = switchboard.RoleRead
	if err := f.store.CreateAPIKey(ctx, reader); err != nil {
		t.Fatal(err)
	}
	c.do(call{op: "GET /v1/usage", path: "/v1/usage", headers: []string{"Authorization", "Bearer " + readerSecret}, status: 403})

	// Conversations: the thread of the sent message above, a reply from the person, an answer in
	// the thread.
	if _, err := f.store.CreateInbound(context.Background(), &switchboard.InboundMessage{ID: switchboard.NewID("in"),
		ProviderSID: "SMconversation", Channel: switchboard.ChannelSMS, From: "+14155550102", To: sent["from"].(string),
		Body: "thanks", ReceivedAt: now}); err != nil {
		t.Fatal(err)
	}
	cl := c.do(call{op: "GET /v1/conversations", path: "/v1/conversations?their_number=%2B14155550102&limit=5", headers: auth, status: 200})
	convs, _ := cl["conversations"].([]any)
	if len(convs) != 1 {
		t.Fatalf("conversations: %v", cl)
	}
	convID, _ := convs[0].(map[string]any)["id"].(string)
	c.do(call{op: "GET /v1/conversations", path: "/v1/conversations?channel=fax", headers: auth, status: 400})
	c.do(call{op: "GET /v1/conversations", path: "/v1/conversations?cursor=nope", headers: auth, status: 400})
	c.do(call{op: "GET /v1/conversations/{id}", path: "/v1/conversations/" + convID, headers: auth, status: 200})
	c.do(call{op: "GET /v1/conversations/{id}", path: "/v1/conversations/conv_nope", headers: auth, status: 404})
	c.do(call{op: "GET /v1/conversations/{id}", path: "/v1/conversations/" + convID, status: 401})
	c.do(call{op: "POST /v1/conversations/{id}/messages", path: "/v1/conversations/" + convID + "/messages", body: `{"body":"see you at 3"}`,
		ctype: j, headers: withAuth(), status: 202})
	c.do(call{op: "POST /v1/conversations/{id}/messages", path: "/v1/conversations/" + convID + "/messages", body: `{"to":"+14155550109","body":"x"}`,
		ctype: j, headers: withAuth(), status: 400})
	c.do(call{op: "POST /v1/conversations/{id}/messages", path: "/v1/conversations/" + convID + "/messages", body: `{"body":"x","category":"marketing"}`,
		ctype: j, headers: withAuth(), status: 422})
	c.do(call{op: "POST /v1/conversations/{id}/messages", path: "/v1/conversations/conv_nope/messages", body: `{"body":"x"}`,
		ctype: j, headers: withAuth(), status: 404})
	thread := c.do(call{op: "GET /v1/conversations/{id}/messages", path: "/v1/conversations/" + convID + "/messages", headers: auth, status: 200})
	if items, _ := thread["messages"].([]any); len(items) != 3 {
		t.Errorf("thread of %d messages, want the message, the inbound reply and the answer: %v", len(items), thread)
	}
	c.do(call{op: "GET /v1/conversations/{id}/messages", path: "/v1/conversations/" + convID + "/messages?cursor=x", headers: auth, status: 400})
	c.do(call{op: "GET /v1/conversations/{id}/messages", path: "/v1/conversations/conv_nope/messages", headers: auth, status: 404})

	// Event endpoints: register, read, rotate, dead letters and their replay, refusals.
	ep := c.do(call{op: "POST /v1/endpoints", path: "/v1/endpoints", ctype: j, headers: withAuth(), status: 201,
		body: `{"url":"https://93.184.216.34/hooks","event_types":["message.*","consent.changed"],"description":"orders"}`})
	epID, _ := ep["id"].(string)
	c.do(call{op: "POST /v1/endpoints", path: "/v1/endpoints", ctype: j, headers: withAuth(), status: 400, body: `{"url":"http://127.0.0.1:9/hooks"}`})
	c.do(call{op: "POST /v1/endpoints", path: "/v1/endpoints", ctype: j, headers: withAuth(), status: 400, body: `{"url":"https://93.184.216.34/","event_types":["message."]}`})
	c.do(call{op: "POST /v1/endpoints", path: "/v1/endpoints", ctype: j, headers: withAuth(), status: 400, body: `{"url":"https://93.184.216.34/","secret":"whsec_x"}`})
	c.do(call{op: "GET /v1/endpoints", path: "/v1/endpoints", headers: auth, status: 200})
	c.do(call{op: "GET /v1/endpoints/{id}", path: "/v1/endpoints/" + epID, headers: auth, status: 200})
	c.do(call{op: "GET /v1/endpoints/{id}", path: "/v1/endpoints/ep_nope", headers: auth, status: 404})

	// Senders: list, add, read, change, remove, refusals.
	c.do(call{op: "GET /v1/senders", path: "/v1/senders", headers: auth, status: 200})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, headers: withAuth(), status: 201,
		body: `{"from":"+14155550177","kind":"toll_free","rate":2.5,"burst":4,"pool":"alerts","tenants":["default"]}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, headers: withAuth(), status: 409, body: `{"from":"+14155550177"}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, headers: withAuth(), status: 400, body: `{"from":"+14155550178","rate":-2}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, headers: withAuth(), status: 400, body: `{"from":"MG123","pool":"x"}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, headers: withAuth(), status: 400, body: `{"from":"+14155550178","rte":1}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: "text/plain", headers: withAuth(), status: 415, body: `{}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, headers: withAuth(), status: 413,
		body: `{"from":"+14155550178","pool":"` + strings.Repeat("p", 5000) + `"}`})
	c.do(call{op: "POST /v1/senders", path: "/v1/senders", ctype: j, status: 401, body: `{"from":"+14155550178"}`})
	c.do(call{op: "GET /v1/senders/{from}", path: "/v1/senders/%2B14155550177", headers: auth, status: 200})
	c.do(call{op: "GET /v1/senders/{from}", path: "/v1/senders/+14155550179", headers: auth, status: 404})
	c.do(call{op: "PATCH /v1/senders/{from}", path: "/v1/senders/+14155550177", ctype: j, headers: withAuth(), status: 200, body: `{"rate":-1}`})
	c.do(call{op: "PATCH /v1/senders/{from}", path: "/v1/senders/+14155550177", ctype: j, headers: withAuth(), status: 400, body: `{"kind":"messaging_service"}`})
	c.do(call{op: "PATCH /v1/senders/{from}", path: "/v1/senders/+14155550179", ctype: j, headers: withAuth(), status: 404, body: `{"rate":1}`})
	c.do(call{op: "PATCH /v1/senders/{from}", path: "/v1/senders/+14155550177", ctype: "text/plain", headers: withAuth(), status: 415, body: `{}`})
	c.do(call{op: "PATCH /v1/senders/{from}", path: "/v1/senders/+14155550177", ctype: j, headers: withAuth(), status: 413,
		body: `{"pool":"` + strings.Repeat("p", 5000) + `"}`})
	c.do(call{op: "DELETE /v1/senders/{from}", path: "/v1/senders/+15005550006", headers: auth, status: 409}) // the messages above are queued
	c.do(call{op: "DELETE /v1/senders/{from}", path: "/v1/senders/+14155550177", headers: auth, status: 204})
	c.do(call{op: "DELETE /v1/senders/{from}", path: "/v1/senders/+14155550177", headers: auth, status: 404})
	c.do(call{op: "POST /v1/endpoints/{id}/rotate", path: "/v1/endpoints/" + epID + "/rotate", ctype: j, headers: withAuth(), status: 200,
		body: `{"expire_previous_after_seconds":3600}`})
	c.do(call{op: "POST /v1/endpoints/{id}/rotate", path: "/v1/endpoints/" + epID + "/rotate", ctype: j, headers: withAuth(), status: 400,
		body: `{"expire_previous_after_seconds":-1}`})
	if err := f.store.SyncEndpoints(context.Background(), []*switchboard.Endpoint{{ID: "ep_crm", URL: "https://93.184.216.34/crm",
		EventTypes: []string{"*"}, Secrets: []switchboard.EndpointSecret{{Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}}, now); err != nil {
		t.Fatal(err)
	}
	c.do(call{op: "POST /v1/endpoints/{id}/rotate", path: "/v1/endpoints/ep_crm/rotate", headers: auth, status: 409})
	c.do(call{op: "DELETE /v1/endpoints/{id}", path: "/v1/endpoints/ep_crm", headers: auth, status: 409})
	// A dead letter: the consent changes above, fanned out, failed for the last time.
	if _, err := f.store.FanOutEvents(context.Background(), now, 100); err != nil {
		t.Fatal(err)
	}
	ds, err := f.store.ClaimDeliveries(context.Background(), switchboard.DeliveryClaim{Owner: "test", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100})
	if err != nil || len(ds) == 0 {
		t.Fatalf("claimed %d deliveries: %v", len(ds), err)
	}
	for _, d := range ds {
		if _, err := f.store.FinishDelivery(context.Background(), switchboard.DeliveryResult{ID: d.ID, Owner: "test", At: now, StatusCode: 500, Error: "HTTP 500"}); err != nil {
			t.Fatal(err)
		}
	}
	dl := c.do(call{op: "GET /v1/endpoints/{id}/dead-letters", path: "/v1/endpoints/" + epID + "/dead-letters?limit=1", headers: auth, status: 200})
	if l, _ := dl["dead_letters"].([]any); len(l) != 1 {
		t.Errorf("dead letters: %v", dl)
	}
	c.do(call{op: "GET /v1/endpoints/{id}/dead-letters", path: "/v1/endpoints/" + epID + "/dead-letters?limit=0", headers: auth, status: 400})
	c.do(call{op: "GET /v1/endpoints/{id}/dead-letters", path: "/v1/endpoints/ep_nope/dead-letters", headers: auth, status: 404})
	c.do(call{op: "POST /v1/endpoints/{id}/replay", path: "/v1/endpoints/" + epID + "/replay", headers: auth, status: 200})
	c.do(call{op: "POST /v1/endpoints/{id}/replay", path: "/v1/endpoints/ep_nope/replay", headers: auth, status: 404})
	c.do(call{op: "DELETE /v1/endpoints/{id}", path: "/v1/endpoints/" + epID, headers: auth, status: 204})
	c.do(call{op: "DELETE /v1/endpoints/{id}", path: "/v1/endpoints/" + epID, headers: auth, status: 404})

	// A tenant's own Twilio account (the fixture's fake accepts secrets starting with "good").
	cred := "/v1/tenants/default/credentials"
	acct := "AC" + strings.Repeat("a", 32)
	c.do(call{op: "GET /v1/tenants/{id}/credentials", path: cred, headers: auth, status: 404})
	c.do(call{op: "PUT /v1/tenants/{id}/credentials", path: cred, ctype: j, headers: withAuth(), status: 422,
		body: `{"account_sid":"` + acct + `","auth_token":"badtoken123"}`})
	c.do(call{op: "PUT /v1/tenants/{id}/credentials", path: cred, ctype: j, headers: withAuth(), status: 400,
		body: `{"account_sid":"AC1","auth_token":"goodtoken123"}`})
	c.do(call{op: "PUT /v1/tenants/{id}/credentials", path: "/v1/tenants/nosuch/credentials", ctype: j, headers: withAuth(), status: 404,
		body: `{"account_sid":"` + acct + `","auth_token":"goodtoken123"}`})
	c.do(call{op: "PUT /v1/tenants/{id}/credentials", path: "/v1/tenants/Bad_ID/credentials", ctype: j, headers: withAuth(), status: 400,
		body: `{"account_sid":"` + acct + `","auth_token":"goodtoken123"}`})
	c.do(call{op: "PUT /v1/tenants/{id}/credentials", path: cred, ctype: j, headers: withAuth(), status: 200,
		body: `{"account_sid":"` + acct + `","api_key_sid":"SK` + strings.Repeat("b", 32) + `","api_key_secret":"goodsecret123","auth_token":"hooktoken123"}`})
	if got := c.do(call{op: "GET /v1/tenants/{id}/credentials", path: cred, headers: auth, status: 200}); got["auth_kind"] != "api_key" ||
		got["webhooks_verifiable"] != true || strings.Contains(fmt.Sprint(got), "goodsecret") {
		t.Errorf("credentials: %v", got)
	}
	c.do(call{op: "DELETE /v1/tenants/{id}/credentials", path: cred, headers: auth, status: 204})
	c.do(call{op: "DELETE /v1/tenants/{id}/credentials", path: cred, headers: auth, status: 404})

	// Verifications: start, resend, check, cancel, refusals.
	ver := c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 201,
		body: `{"to":"+14155550160","channel":"sms","locale":"en","user_ref":"u-1","client_ip":"203.0.113.9","metadata":{"job_id":"1042"}}`})
	verID, _ := ver["id"].(string)
	if vs := c.do(call{op: "GET /v1/verifications", path: "/v1/verifications?metadata%5Bjob_id%5D=1042&status=pending&limit=10", headers: auth, status: 200}); fmt.Sprint(vs["verifications"]) == "[]" {
		t.Errorf("GET /v1/verifications?metadata[job_id]=1042 found nothing: %v", vs)
	}
	c.do(call{op: "GET /v1/verifications", path: "/v1/verifications?metadata=job_id:1042", headers: auth, status: 400})
	c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 200, body: `{"to":"+14155550160"}`})
	c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 400, body: `{"to":"+14155550160","channel":"fax"}`})
	c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 403, body: `{"to":"+442071838750"}`})
	c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 422, body: `{"to":"+14155550161","channel":"whatsapp"}`})
	for range 3 {
		c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 200, body: `{"to":"+14155550160"}`})
	}
	refused := c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 429, body: `{"to":"+14155550160"}`})
	if ref, _ := refused["support_reference"].(string); !strings.HasPrefix(ref, "ref_") {
		t.Errorf("refusal without a support reference: %v", refused)
	}
	c.do(call{op: "GET /v1/verifications/{id}", path: "/v1/verifications/" + verID, headers: auth, status: 200})
	c.do(call{op: "GET /v1/verifications/{id}", path: "/v1/verifications/ver_nope", headers: auth, status: 404})
	chk := c.do(call{op: "POST /v1/verifications/{id}/check", path: "/v1/verifications/" + verID + "/check", ctype: j, headers: withAuth(), status: 200, body: `{"code":"0000000000"}`})
	if chk["valid"] != false {
		t.Errorf("check: %v", chk)
	}
	c.do(call{op: "POST /v1/verifications/{id}/check", path: "/v1/verifications/" + verID + "/check", ctype: j, headers: withAuth(), status: 400, body: `{"code":"12"}`})
	c.do(call{op: "POST /v1/verifications/{id}/check", path: "/v1/verifications/ver_nope/check", ctype: j, headers: withAuth(), status: 404, body: `{"code":"123456"}`})
	c.do(call{op: "GET /v1/verifications/refusals", path: "/v1/verifications/refusals?limit=10&reason=max_sends_reached", headers: auth, status: 200})
	c.do(call{op: "GET /v1/verifications/refusals", path: "/v1/verifications/refusals?limit=0", headers: auth, status: 400})
	c.do(call{op: "POST /v1/verifications/{id}/cancel", path: "/v1/verifications/" + verID + "/cancel", headers: auth, status: 200})
	c.do(call{op: "POST /v1/verifications/{id}/cancel", path: "/v1/verifications/" + verID + "/cancel", headers: auth, status: 409})
	c.do(call{op: "POST /v1/verifications/{id}/check", path: "/v1/verifications/" + verID + "/check", ctype: j, headers: withAuth(), status: 409, body: `{"code":"123456"}`})
	mx := c.do(call{op: "POST /v1/verifications", path: "/v1/verifications", ctype: j, headers: withAuth(), status: 201, body: `{"to":"+14155550162"}`})
	for range 4 {
		c.do(call{op: "POST /v1/verifications/{id}/check", path: "/v1/verifications/" + mx["id"].(string) + "/check", ctype: j, headers: withAuth(), status: 200, body: `{"code":"0000000000"}`})
	}
	c.do(call{op: "POST /v1/verifications/{id}/check", path: "/v1/verifications/" + mx["id"].(string) + "/check", ctype: j, headers: withAuth(), status: 429, body: `{"code":"0000000000"}`})

	// Tenants and keys, with a platform key; roles refused with 403.
	pkey, psecret, err := switchboard.NewAPIKey("platform", now)
	if err != nil {
		t.Fatal(err)
	}
	pkey.Role = switchboard.RolePlatform
	if err := f.store.CreateAPIKey(context.Background(), pkey); err != nil {
		t.Fatal(err)
	}
	pauth := []string{"Authorization", "Bearer " + psecret}
	c.do(call{op: "GET /v1/tenants", path: "/v1/tenants", headers: auth, status: 403})
	c.do(call{op: "GET /v1/tenants", path: "/v1/tenants", headers: pauth, status: 200})
	tn := c.do(call{op: "POST /v1/tenants", path: "/v1/tenants", ctype: j, headers: pauth, status: 201,
		body: `{"id":"acme","name":"Acme","environment":"staging","allowed_recipients":["+14155550170"],"daily_messages":1000,"daily_segments":2000,"daily_spend_cents":5000}`})
	if tn["staging_mode"] != "allowlist" {
		t.Errorf("a staging tenant without a mode: %v", tn)
	}
	c.do(call{op: "POST /v1/tenants", path: "/v1/tenants", ctype: j, headers: pauth, status: 409, body: `{"id":"acme"}`})
	c.do(call{op: "POST /v1/tenants", path: "/v1/tenants", ctype: j, headers: pauth, status: 400, body: `{"id":"Acme!"}`})
	c.do(call{op: "POST /v1/tenants", path: "/v1/tenants", ctype: j, headers: pauth, status: 400, body: `{"id":"b","environment":"moon"}`})
	c.do(call{op: "POST /v1/tenants", path: "/v1/tenants", ctype: j, headers: withAuth(), status: 403, body: `{"id":"b"}`})
	c.do(call{op: "GET /v1/tenants/{id}", path: "/v1/tenants/acme", headers: pauth, status: 200})
	c.do(call{op: "GET /v1/tenants/{id}", path: "/v1/tenants/nope", headers: pauth, status: 404})
	c.do(call{op: "PATCH /v1/tenants/{id}", path: "/v1/tenants/acme", ctype: j, headers: pauth, status: 200, body: `{"environment":"production","allowed_recipients":[]}`})
	c.do(call{op: "PATCH /v1/tenants/{id}", path: "/v1/tenants/acme", ctype: j, headers: pauth, status: 400, body: `{"daily_messages":-1}`})
	c.do(call{op: "PATCH /v1/tenants/{id}", path: "/v1/tenants/nope", ctype: j, headers: pauth, status: 404, body: `{"name":"x"}`})
	nk := c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: pauth, status: 201, body: `{"name":"acme-app","role":"send","tenant":"acme"}`})
	if nk["tenant"] != "acme" || nk["role"] != "send" || nk["secret"] == "" {
		t.Errorf("created key: %v", nk)
	}
	c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: withAuth(), status: 403, body: `{"name":"up","role":"platform"}`})
	c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: withAuth(), status: 403, body: `{"name":"x","role":"read","tenant":"acme"}`})
	c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: withAuth(), status: 400, body: `{"name":"x","role":"owner"}`})
	c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: withAuth(), status: 400, body: `{"name":"","role":"read"}`})
	c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: pauth, status: 422, body: `{"name":"x","role":"read","tenant":"nope"}`})
	mine := c.do(call{op: "POST /v1/keys", path: "/v1/keys", ctype: j, headers: withAuth(), status: 201, body: `{"name":"reporting","role":"read"}`})
	ks := c.do(call{op: "GET /v1/keys", path: "/v1/keys", headers: auth, status: 200})
	if list, _ := ks["keys"].([]any); len(list) < 2 {
		t.Errorf("keys of default: %v", ks)
	}
	c.do(call{op: "GET /v1/keys", path: "/v1/keys?tenant=acme", headers: auth, status: 403})
	c.do(call{op: "GET /v1/keys", path: "/v1/keys?tenant=acme", headers: pauth, status: 200})
	// A read key is refused what changes anything.
	c.do(call{op: "POST /v1/messages", path: "/v1/messages", ctype: j, status: 403, body: `{"to":"+14155550100","body":"x"}`,
		headers: []string{"Authorization", "Bearer " + mine["secret"].(string)}})
	c.do(call{op: "DELETE /v1/keys/{id}", path: "/v1/keys/" + nk["id"].(string), headers: auth, status: 404})
	c.do(call{op: "DELETE /v1/keys/{id}", path: "/v1/keys/" + pkey.ID, headers: auth, status: 403})
	c.do(call{op: "DELETE /v1/keys/{id}", path: "/v1/keys/" + mine["id"].(string), headers: auth, status: 204})
	c.do(call{op: "DELETE /v1/keys/{id}", path: "/v1/keys/" + nk["id"].(string), headers: pauth, status: 204})

	// Not ready: a draining node.
	draining := api.New(api.Config{Store: f.store})
	draining.SetDraining(true)
	dsrv := httptest.NewServer(draining.Handler())
	defer dsrv.Close()
	(&openAPICheck{t: t, doc: doc, base: dsrv.URL, seen: c.seen}).do(call{op: "GET /readyz", path: "/readyz", status: 503})

	// The webhook ingress.
	const token, public = "webhook-test-token", "https://sb.example.com"
	wsrv := httptest.NewServer(webhook.New(webhook.Config{Store: f.store, AuthToken: token, PublicURL: public, Clock: func() time.Time { return now }}))
	defer wsrv.Close()
	w := &openAPICheck{t: t, doc: doc, base: wsrv.URL, seen: c.seen}
	signed := func(path string, form url.Values) call {
		return call{path: path, body: form.Encode(), ctype: "application/x-www-form-urlencoded",
			headers: []string{twiliosig.Header, twiliosig.Sign(token, public+path, form)}}
	}
	status := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "AccountSid": {"AC1"}}
	rq := signed(webhook.StatusPath+"?m="+sent["id"].(string), status)
	rq.op, rq.status = "POST "+webhook.StatusPath, 204
	w.do(rq)
	rq = signed(webhook.StatusPath, url.Values{"MessageSid": {sid}})
	rq.op, rq.status = "POST "+webhook.StatusPath, 400
	w.do(rq)
	w.do(call{op: "POST " + webhook.StatusPath, path: webhook.StatusPath, body: status.Encode(), ctype: "application/x-www-form-urlencoded", status: 403})
	inbound := url.Values{"MessageSid": {"SM1"}, "From": {"+14155550105"}, "To": {"+15005550006"}, "Body": {"hi"}, "NumMedia": {"0"}}
	rq = signed(webhook.InboundPath, inbound)
	rq.op, rq.status = "POST "+webhook.InboundPath, 200
	w.do(rq)
	w.do(call{op: "POST " + webhook.InboundPath, path: webhook.InboundPath, body: inbound.Encode(), ctype: "application/x-www-form-urlencoded", status: 403})

	// The simulator's control API.
	sim := twiliosim.New(twiliosim.Config{})
	defer sim.Close()
	ssrv := httptest.NewServer(sim.Handler())
	defer ssrv.Close()
	replier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<Response><Message>Thanks!</Message></Response>`)
	}))
	defer replier.Close()
	s := &openAPICheck{t: t, doc: doc, base: ssrv.URL, seen: c.seen}
	s.do(call{op: "GET /sim/v1/numbers", path: "/sim/v1/numbers", status: 200})
	s.do(call{op: "POST /sim/v1/content", path: "/sim/v1/content", body: `{"friendly_name":"shipped","body":"Hi {{1}}","variables":{"1":"Ann"}}`, ctype: j, status: 201})
	s.do(call{op: "POST /sim/v1/content", path: "/sim/v1/content", body: `{"sid":"HX1","body":"x"}`, ctype: j, status: 400})
	s.do(call{op: "GET /sim/v1/content", path: "/sim/v1/content", status: 200})
	s.do(call{op: "POST /sim/v1/numbers", path: "/sim/v1/numbers", body: `{"number":"+14155550106","sms_url":"` + replier.URL + `"}`, ctype: j, status: 201})
	s.do(call{op: "POST /sim/v1/numbers", path: "/sim/v1/numbers", body: "number=%2B14155550106&friendly_name=shop", ctype: "application/x-www-form-urlencoded", status: 200})
	s.do(call{op: "POST /sim/v1/numbers", path: "/sim/v1/numbers", body: `{"number":"12"}`, ctype: j, status: 400})
	s.do(call{op: "POST /sim/v1/inbound", path: "/sim/v1/inbound", body: `{"from":"+14155550107","to":"+14155550106","body":"hi"}`, ctype: j, status: 200})
	s.do(call{op: "POST /sim/v1/inbound", path: "/sim/v1/inbound", body: `{"from":"+14155550107","to":"+14155550199","body":"hi"}`, ctype: j, status: 404})
	s.do(call{op: "POST /sim/v1/inbound", path: "/sim/v1/inbound", body: `{"from":"+14155550107","to":"` + twiliosim.MagicFrom + `","body":"hi"}`, ctype: j, status: 409})
	s.do(call{op: "POST /sim/v1/inbound", path: "/sim/v1/inbound", body: `{"from":"+14155550107"}`, ctype: j, status: 400})
	s.do(call{op: "POST /sim/v1/numbers", path: "/sim/v1/numbers", body: `{"number":"+14155550108","sms_url":"` + wsrv.URL + webhook.InboundPath + `"}`, ctype: j, status: 201})
	s.do(call{op: "POST /sim/v1/inbound", path: "/sim/v1/inbound", body: `{"from":"+14155550107","to":"+14155550108","body":"hi"}`, ctype: j, status: 502})
	s.do(call{op: "GET /sim/v1/messages", path: "/sim/v1/messages?direction=outbound-reply", status: 200})
	s.do(call{op: "GET /sim/v1/messages", path: "/sim/v1/messages", status: 200})
	s.do(call{op: "POST /sim/v1/faults", path: "/sim/v1/faults", body: `{"failed_ratio":0.5,"failed_code":30008,"callback_shuffle":true}`, ctype: j, status: 200})
	s.do(call{op: "POST /sim/v1/faults", path: "/sim/v1/faults", body: `{"failed_ratio":2}`, ctype: j, status: 400})
	s.do(call{op: "GET /sim/v1/faults", path: "/sim/v1/faults", status: 200})
	s.do(call{op: "GET /sim/v1/stats", path: "/sim/v1/stats", status: 200})
	s.do(call{op: "GET /sim/v1/verifications", path: "/sim/v1/verifications?to=%2B14155550100", status: 200})
	s.do(call{op: "GET /sim/v1/profile", path: "/sim/v1/profile", status: 404})
	s.do(call{op: "POST /sim/v1/profile", path: "/sim/v1/profile?time_scale=60&seed=7", body: "name: drill\nphases:\n  - at: 10m\n    faults: {carriers: [{prefixes: [\"+1206555\"], delivery_delay_ms: 600000}]}\n", ctype: "application/yaml", status: 200})
	s.do(call{op: "POST /sim/v1/profile", path: "/sim/v1/profile", body: `{"phases":[{"at":"1m","faults":{"status_500_ratio":1}}]}`, ctype: j, status: 200})
	s.do(call{op: "POST /sim/v1/profile", path: "/sim/v1/profile", body: "phases: [{at: 1m, faults: {latency: 5}}]", ctype: "application/yaml", status: 400})
	s.do(call{op: "GET /sim/v1/profile", path: "/sim/v1/profile", status: 200})
	s.do(call{op: "DELETE /sim/v1/profile", path: "/sim/v1/profile", status: 200})
	s.do(call{op: "POST /sim/v1/reset", path: "/sim/v1/reset", status: 200})

	checkCallAnswers(t, doc, c.seen)

	// Every documented 2xx answer was seen: the successes above cover the whole surface.
	for key, op := range doc.operations() {
		for st := range obj(op["responses"]) {
			if strings.HasPrefix(st, "2") && !c.seen[key+" "+st] {
				t.Errorf("%s %s is documented but no request above got it", key, st)
			}
		}
	}
}

// A full message, every field set, fits the Message schema: formats and patterns included.
func TestOpenAPIFullMessage(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	at := now
	m := &switchboard.Message{
		ID: switchboard.NewID("msg"), Status: switchboard.StatusDelivered, Channel: switchboard.ChannelMMS,
		Category: switchboard.CategoryMarketing, To: "+14155550100", From: "+15005550006", Pool: "default",
		Body: "hello", MediaURLs: []string{"https://example.com/a.png"}, Segments: 1, Encoding: switchboard.EncodingGSM7,
		Metadata: map[string]string{"k": "v"}, SendAt: &at, ValidUntil: &at, ProviderSID: "MM1", ErrorCode: 30003,
		ErrorMessage: "x", Attempts: 2, NextAttemptAt: at, AttemptInFlight: true, AttemptStartedAt: &at,
		APIKeyID: "key_1", Timezone: "America/New_York", Template: "welcome", TemplateVersion: 3,
		BodySHA256: strings.Repeat("ab", 32), BodyLength: 5, RedactedAt: &at, CreatedAt: at, UpdatedAt: at,
		Events: []*switchboard.Event{{ID: 1, MessageID: "msg_1", Type: switchboard.EventCallback, Status: switchboard.StatusDelivered,
			Actor: "twilio", ErrorCode: 1, Detail: "d", Payload: json.RawMessage(`{"a":"b"}`), At: at}},
	}
	raw, _ := json.Marshal(m)
	var v any
	_ = json.Unmarshal(raw, &v)
	for _, e := range validate(doc, map[string]any{"$ref": "#/components/schemas/Message"}, v, true, "#") {
		t.Error(e)
	}
}

// GET /openapi.json serves the embedded document, unauthenticated, with the server's version.
func TestServeOpenAPI(t *testing.T) {
	// Not parallel: it sets switchboard.Version.
	old := switchboard.Version
	switchboard.Version = "v1.2.3-test"
	t.Cleanup(func() { switchboard.Version = old })
	srv := httptest.NewServer(api.New(api.Config{}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var served map[string]any
	if err := json.Unmarshal(raw, &served); err != nil {
		t.Fatal(err)
	}
	if v := obj(served["info"])["version"]; v != "v1.2.3-test" {
		t.Fatalf("info.version = %v", v)
	}
	// Nothing else changed.
	want := loadOpenAPI(t).root
	obj(want["info"])["version"] = "v1.2.3-test"
	if !reflect.DeepEqual(served, want) {
		t.Fatal("the served document differs from openapi.json beyond info.version")
	}
}
