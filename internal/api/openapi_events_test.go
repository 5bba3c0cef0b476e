package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	switchboard "github.com/switchboard-gw/switchboard"
)

var update = flag.Bool("update", false, "rewrite openapi.json's generated event schemas (TestOpenAPIEvents)")

// TestOpenAPIEvents keeps the typed events of openapi.json (the webhooks key, one entry per event
// type, and the schemas of their payloads) generated from the Go types of switchboard.AppEventPayloads
// and their doc comments. After changing an event's payload, run
//
//	go test ./internal/api -run TestOpenAPIEvents -update
func TestOpenAPIEvents(t *testing.T) {
	const path = "openapi.json"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseOrdered(src)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := goDocs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if err := generateEvents(doc, docs); err != nil {
		t.Fatal(err)
	}
	out := doc.encode()
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(out, src) {
		t.Fatalf("openapi.json's event schemas differ from the Go types; run: go test ./internal/api -run TestOpenAPIEvents -update")
	}
}

// TestEveryEventTypeRegistered fails when the root package declares an AppEventType constant that
// AppEventPayloads does not list (NewAppEvent would refuse it at run time).
func TestEveryEventTypeRegistered(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, _ := filepath.Glob("../../*.go")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				id, ok := vs.Type.(*ast.Ident)
				if !ok || id.Name != "AppEventType" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						continue
					}
					n++
					typ := switchboard.AppEventType(strings.Trim(lit.Value, `"`))
					if _, ok := switchboard.AppEventPayloads[typ]; !ok {
						t.Errorf("%s: event type %s is not in switchboard.AppEventPayloads", f, typ)
					}
				}
			}
		}
	}
	if n != len(switchboard.AppEventPayloads) {
		t.Errorf("%d AppEventType constants, %d registered payloads", n, len(switchboard.AppEventPayloads))
	}
}

// TestNewAppEventRefusesUntypedPayloads: an event whose type or payload the document does not
// describe is never written.
func TestNewAppEventRefusesUntypedPayloads(t *testing.T) {
	t.Parallel()
	at := time.Unix(0, 0)
	if _, err := switchboard.NewAppEvent("message.deleted", at, struct{}{}); err == nil {
		t.Error("an unregistered event type was accepted")
	}
	if _, err := switchboard.NewAppEvent(switchboard.AppMessageReceived, at, map[string]string{"body": "x"}); err == nil {
		t.Error("a payload of another type was accepted")
	}
	if _, err := switchboard.NewAppEvent(switchboard.AppMediaStored, at, &switchboard.MediaData{}); err != nil {
		t.Errorf("a pointer to the registered payload type was refused: %v", err)
	}
}

// --- generation ---

// typeDocs are a Go struct type's doc comment and its fields' comments.
type typeDocs struct {
	doc    string
	fields map[string]string
}

// goDocs reads the doc comments of the struct types and AppEventType constants in dir.
func goDocs(dir string) (map[string]typeDocs, error) {
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	out := map[string]typeDocs{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range gd.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					st, ok := s.Type.(*ast.StructType)
					if !ok {
						continue
					}
					td := typeDocs{doc: comment(s.Doc, gd.Doc), fields: map[string]string{}}
					for _, fl := range st.Fields.List {
						for _, name := range fl.Names {
							td.fields[name.Name] = comment(fl.Doc, fl.Comment)
						}
					}
					out[s.Name.Name] = td
				case *ast.ValueSpec:
					if id, ok := s.Type.(*ast.Ident); !ok || id.Name != "AppEventType" {
						continue
					}
					groups := []*ast.CommentGroup{s.Doc, s.Comment}
					if len(gd.Specs) == 1 {
						groups = append(groups, gd.Doc)
					}
					for i, name := range s.Names {
						if i < len(s.Values) {
							if lit, ok := s.Values[i].(*ast.BasicLit); ok {
								out["event:"+strings.Trim(lit.Value, `"`)] = typeDocs{doc: strings.TrimPrefix(comment(groups...), name.Name+": ")}
							}
						}
					}
				}
			}
		}
	}
	return out, nil
}

// comment is the first non-empty comment group's text on one line.
func comment(groups ...*ast.CommentGroup) string {
	for _, g := range groups {
		if t := strings.Join(strings.Fields(g.Text()), " "); t != "" {
			return t
		}
	}
	return ""
}

// eventSchemaName is the name of the envelope schema of typ: message.status_changed →
// MessageStatusChangedEvent.
func eventSchemaName(typ switchboard.AppEventType) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(string(typ), func(r rune) bool { return r == '.' || r == '_' }) {
		r := []rune(part)
		b.WriteRune(unicode.ToUpper(r[0]))
		b.WriteString(string(r[1:]))
	}
	return b.String() + "Event"
}

// generateEvents writes the webhooks key (after paths) and the event schemas into doc.
func generateEvents(doc *onode, docs map[string]typeDocs) error {
	schemas := doc.get("components").get("schemas")
	if schemas == nil {
		return fmt.Errorf("no components.schemas")
	}
	types := make([]switchboard.AppEventType, 0, len(switchboard.AppEventPayloads))
	for typ := range switchboard.AppEventPayloads {
		types = append(types, typ)
	}
	slices.Sort(types)

	names := make([]any, len(types))
	for i, typ := range types {
		names[i] = string(typ)
	}
	schemas.set("AppEventType", obj2(
		"type", "string",
		"description", "The type of an event applications receive; the document's `webhooks` describes each one's payload.",
		"enum", names,
	))
	if app := schemas.get("AppEvent"); app != nil {
		props := app.get("properties")
		props.set("type", obj2("$ref", "#/components/schemas/AppEventType"))
		if data := props.get("data"); data != nil {
			data.set("description", "The payload; its shape depends on `type` (the document's `webhooks` has one schema per type).")
		}
	}

	tags := doc.get("tags")
	if !slices.ContainsFunc(tags.vals, func(t *onode) bool { return string(t.get("name").raw) == `"events"` }) {
		tags.vals = append(tags.vals, obj2("name", "events", "description",
			"What Switchboard posts to applications' endpoints (signed, Standard Webhooks), one entry of `webhooks` per event type."))
	}

	g := &schemaGen{schemas: schemas, docs: docs, done: map[reflect.Type]bool{}}
	webhooks := &onode{kind: '{'}
	for _, typ := range types {
		payload := reflect.TypeOf(switchboard.AppEventPayloads[typ])
		dataRef := g.ref(payload)
		envelope := eventSchemaName(typ)
		desc := docs["event:"+string(typ)].doc
		if desc == "" {
			return fmt.Errorf("event type %s has no doc comment", typ)
		}
		desc = strings.ToUpper(desc[:1]) + desc[1:]
		schemas.set(envelope, obj2(
			"type", "object",
			"description", fmt.Sprintf("The `%s` event. %s", typ, desc),
			"required", []any{"id", "type", "version", "timestamp", "data"},
			"properties", obj2(
				"id", obj2("type", "string", "description", "The event ID (`evt_…`), also the `webhook-id` header: the same on every retry, to deduplicate on."),
				"type", obj2("type", "string", "enum", []any{string(typ)}),
				"version", obj2("type", "integer", "enum", []any{json.Number(fmt.Sprint(switchboard.AppEventVersion))}, "description", "The version of `data`'s shape."),
				"timestamp", obj2("type", "string", "format", "date-time", "description", "When the change happened."),
				"data", dataRef,
			),
		))
		headers := []any{}
		for _, h := range []struct{ name, desc string }{
			{"webhook-id", "The event ID; the same on every retry."},
			{"webhook-timestamp", "Seconds since the Unix epoch when this attempt was signed."},
			{"webhook-signature", "`v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<body>` with the endpoint's secret (Standard Webhooks); several separated by spaces while a secret is rotated."},
		} {
			headers = append(headers, obj2("name", h.name, "in", "header", "required", true, "description", h.desc, "schema", obj2("type", "string")))
		}
		webhooks.set(string(typ), obj2("post", obj2(
			"summary", desc,
			"operationId", "event_"+strings.NewReplacer(".", "_").Replace(string(typ)),
			"tags", []any{"events"},
			"security", []any{},
			"parameters", headers,
			"requestBody", obj2("required", true, "content", obj2("application/json", obj2("schema", obj2("$ref", "#/components/schemas/"+envelope)))),
			"responses", obj2("2XX", obj2("description", "Received. Any other answer, or none within the endpoint's timeout, is retried with backoff until it becomes a dead letter.")),
		)))
	}
	doc.setAfter("webhooks", webhooks, "paths")
	return nil
}

// schemaGen writes the schemas of Go struct types into components.schemas.
type schemaGen struct {
	schemas *onode
	docs    map[string]typeDocs
	done    map[reflect.Type]bool
}

// ref returns a reference to typ's schema, generating it (and those it needs) the first time.
// A schema the document already has by hand under the Go type's name is referenced as it is.
func (g *schemaGen) ref(typ reflect.Type) *onode {
	name := typ.Name()
	ref := obj2("$ref", "#/components/schemas/"+name)
	if g.done[typ] {
		return ref
	}
	g.done[typ] = true
	if handWritten[name] {
		return ref
	}
	td := g.docs[name]
	props := &onode{kind: '{'}
	required := []any{}
	for f := range typ.Fields() {
		jname, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || jname == "-" {
			continue
		}
		if jname == "" {
			jname = f.Name
		}
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			required = append(required, jname)
		}
		p := g.property(f.Type)
		if d := td.fields[f.Name]; d != "" {
			p.set("description", d)
		}
		props.set(jname, p)
	}
	s := obj2("type", "object")
	if td.doc != "" {
		s.set("description", td.doc)
	}
	s.set("required", required)
	s.set("properties", props)
	g.schemas.set(name, s)
	return ref
}

var timeType2 = reflect.TypeFor[time.Time]()

// handWritten are schemas that payloads share with the API, kept as written by hand (with enums
// the Go types cannot express); TestOpenAPISchemasMatchGoTypes holds them to their Go types.
var handWritten = map[string]bool{"CallInput": true}

// property is the schema of a field of Go type typ.
func (g *schemaGen) property(typ reflect.Type) *onode {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == timeType2:
		return obj2("type", "string", "format", "date-time")
	case typ.Kind() == reflect.String:
		if typ.Name() != "string" && g.schemas.get(typ.Name()) != nil {
			return obj2("$ref", "#/components/schemas/"+typ.Name())
		}
		return obj2("type", "string")
	case typ.Kind() == reflect.Bool:
		return obj2("type", "boolean")
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		return obj2("type", "integer")
	case typ.Kind() == reflect.Float32 || typ.Kind() == reflect.Float64:
		return obj2("type", "number")
	case typ.Kind() == reflect.Slice:
		return obj2("type", "array", "items", g.property(typ.Elem()))
	case typ.Kind() == reflect.Map:
		return obj2("type", "object", "additionalProperties", g.property(typ.Elem()))
	case typ.Kind() == reflect.Struct:
		return g.ref(typ)
	}
	panic(fmt.Sprintf("no schema for Go type %s", typ))
}

// --- an order-keeping JSON tree, written as Python's json.dumps(indent=2) writes it ---

// onode is a JSON value that keeps its object keys in order.
type onode struct {
	kind byte // '{', '[', or 0 for a scalar
	keys []string
	vals []*onode
	raw  []byte // a scalar's JSON text
}

// obj2 builds an object from key, value pairs; values are *onode, []any or scalars.
func obj2(kv ...any) *onode {
	n := &onode{kind: '{'}
	for i := 0; i < len(kv); i += 2 {
		n.set(kv[i].(string), toNode(kv[i+1]))
	}
	return n
}

func toNode(v any) *onode {
	switch v := v.(type) {
	case *onode:
		return v
	case []any:
		n := &onode{kind: '['}
		for _, e := range v {
			n.vals = append(n.vals, toNode(e))
		}
		return n
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		return &onode{raw: bytes.TrimSpace(b.Bytes())}
	}
}

func (n *onode) get(key string) *onode {
	if n == nil {
		return nil
	}
	if i := slices.Index(n.keys, key); i >= 0 {
		return n.vals[i]
	}
	return nil
}

// set replaces key's value in place, or appends it.
func (n *onode) set(key string, v any) {
	if i := slices.Index(n.keys, key); i >= 0 {
		n.vals[i] = toNode(v)
		return
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, toNode(v))
}

// setAfter replaces key's value in place, or inserts it after the key after.
func (n *onode) setAfter(key string, v *onode, after string) {
	if i := slices.Index(n.keys, key); i >= 0 {
		n.vals[i] = v
		return
	}
	i := slices.Index(n.keys, after) + 1
	n.keys = slices.Insert(n.keys, i, key)
	n.vals = slices.Insert(n.vals, i, v)
}

func parseOrdered(src []byte) (*onode, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	return decodeNode(dec)
}

func decodeNode(dec *json.Decoder) (*onode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		n := &onode{kind: '{'}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeNode(dec)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.(string))
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token()
		return n, err
	case json.Delim('['):
		n := &onode{kind: '['}
		for dec.More() {
			v, err := decodeNode(dec)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token()
		return n, err
	default:
		return toNode(tok), nil
	}
}

func (n *onode) encode() []byte {
	var b bytes.Buffer
	n.write(&b, 0)
	b.WriteByte('\n')
	return b.Bytes()
}

func (n *onode) write(b *bytes.Buffer, depth int) {
	indent := func(d int) { b.WriteString("\n" + strings.Repeat("  ", d)) }
	switch n.kind {
	case '{':
		if len(n.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			indent(depth + 1)
			b.Write(toNode(k).raw)
			b.WriteString(": ")
			n.vals[i].write(b, depth+1)
		}
		indent(depth)
		b.WriteByte('}')
	case '[':
		if len(n.vals) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			indent(depth + 1)
			v.write(b, depth+1)
		}
		indent(depth)
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}
