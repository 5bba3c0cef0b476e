// Package voice runs outbound calls as explicit state machines ("flows", IVR): flows in YAML
// files, versioned like templates, linted; TwiML generated from typed values for each step of a
// call; the call's state kept in the store under an opaque token, so that any node answers the
// next request of a call; call placement with a per-sender calls-per-second limit and retries of
// busy or unanswered calls; events to applications and an SMS fallback.
package voice

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Flow is one version of an IVR flow: named states, each saying or playing things and then
// gathering input, dialing, enqueueing, recording or hanging up, with transitions between them.
type Flow struct {
	Name          string              `yaml:"name"`
	Version       int                 `yaml:"version"`
	Description   string              `yaml:"description"`
	DefaultLocale string              `yaml:"default_locale"`
	Voice         string              `yaml:"voice"`
	Variables     map[string]Variable `yaml:"variables"`
	Start         string              `yaml:"start"`
	States        map[string]*State   `yaml:"states"`
	Fallback      *Fallback           `yaml:"fallback"`
	File          string              `yaml:"-"`
	lines         map[string]int      // state name -> line in the file
	varsUsed      map[string]bool     // every variable any state refers to
}

// Variable declares a value a call of the flow supplies.
type Variable struct {
	// Sensitive values (names, dates of birth, diagnoses) may be used to route the call (a Dial
	// number) but never spoken: lint refuses a prompt that renders one.
	Sensitive   bool   `yaml:"sensitive"`
	Description string `yaml:"description"`
}

// Fallback is what happens when the call is busy, unanswered, reaches a machine or is
// interrupted at a menu: an SMS from a template, if the recipient's consent allows.
type Fallback struct {
	SMSTemplate string `yaml:"sms_template"`
	// On lists the outcomes that send it, of FallbackOutcomes (default: busy, no-answer,
	// machine). An answered call whose flow never ran (OutcomeFlowNotRun) counts as no-answer.
	On []string `yaml:"on"`
}

// Outcomes of a call that are not the name of a state: a machine answered, the flow never ran,
// or the call ended while its flow waited at a Gather. No state may be named after one.
const (
	OutcomeMachine = "machine"
	// OutcomeFlowNotRun is the outcome of a call that was answered while none of its flow's
	// steps was served: the person heard nothing of the flow, so the fallback for no-answer
	// applies.
	OutcomeFlowNotRun = "flow_not_run"
	// OutcomeInterrupted is the outcome of a call that ended (completed) while its flow waited
	// for input at a Gather state, which is never the end of a flow: the callee hung up at the
	// menu, or the Gather's action (or the Redirect after its silence) reached no node that
	// answered, and the provider ended the call. The state it stopped at is on its timeline.
	OutcomeInterrupted = "interrupted"
)

// FallbackOutcomes are the outcomes a flow's fallback.on may list.
var FallbackOutcomes = []string{"busy", "no-answer", OutcomeMachine, "failed", OutcomeInterrupted}

// State is one state of a flow. Its verbs run in this order: Say, Play, Pause, then at most one of
// Gather, Dial, Enqueue, Record or Hangup. A state with none of those goes on to Next (or ends the
// call when Next is empty).
type State struct {
	Say     Prompt  `yaml:"say"`
	Play    string  `yaml:"play"`
	Pause   int     `yaml:"pause"`
	Gather  *Gather `yaml:"gather"`
	Dial    *Dial   `yaml:"dial"`
	Enqueue string  `yaml:"enqueue"`
	Record  *Record `yaml:"record"`
	Hangup  bool    `yaml:"hangup"`
	// SMS names a template of the catalog texted to the callee when the state is entered (once
	// per call and template), with the call's variables: what the state promises ("we will text
	// you a link") is sent. The recipient's consent applies as to any message.
	SMS  string `yaml:"sms"`
	Next string `yaml:"next"`
	// Retries is how many times a Gather state is repeated on silence or unmatched input before
	// its no_input transition is taken.
	Retries int         `yaml:"retries"`
	On      Transitions `yaml:"on"`
}

// Transitions name the next state by what happened.
type Transitions struct {
	Digits map[string]string `yaml:"digits"`
	Speech map[string]string `yaml:"speech"`
	// Timeout: the caller said nothing (retries remain). NoMatch: the input matched nothing
	// (retries remain; default: the same state). NoInput: retries are used up.
	Timeout string `yaml:"timeout"`
	NoMatch string `yaml:"no_match"`
	NoInput string `yaml:"no_input"`
	// Answered: a Dial was answered and the bridged call ended (default: the call ends).
	// Failed: every Dial number failed (default: the call ends).
	Answered string `yaml:"answered"`
	Failed   string `yaml:"failed"`
}

// Gather collects digits or speech.
type Gather struct {
	Input       string `yaml:"input"` // dtmf (default), speech, or "dtmf speech"
	NumDigits   int    `yaml:"num_digits"`
	Timeout     int    `yaml:"timeout"` // seconds (default 5)
	FinishOnKey string `yaml:"finish_on_key"`
	Hints       string `yaml:"hints"`
	Prompt      Prompt `yaml:"prompt"`
}

// Dial connects the caller to a number, trying the fallback numbers in order when one is busy,
// unanswered or fails.
type Dial struct {
	Numbers []string `yaml:"numbers"`
	Timeout int      `yaml:"timeout"` // ring seconds per number (default 30)
	Record  bool     `yaml:"record"`
}

// Record records the caller.
type Record struct {
	MaxLength int  `yaml:"max_length"` // seconds (default 3600)
	Timeout   int  `yaml:"timeout"`    // seconds of silence that end it (default 5)
	PlayBeep  bool `yaml:"play_beep"`
}

// Prompt is localized text: locale -> text. A plain string in YAML is the default locale's.
type Prompt map[string]string

// UnmarshalYAML accepts a string or a map of locales.
func (p *Prompt) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = Prompt{"": n.Value}
		return nil
	}
	m := map[string]string{}
	if err := n.Decode(&m); err != nil {
		return err
	}
	*p = m
	return nil
}

// Text picks the prompt's text for locale: exact, then its language, then the default locale
// (and its language), then a plain string; it returns the text and the locale it is in.
func (p Prompt) Text(locale, defaultLocale string) (string, string) {
	for _, l := range []string{locale, language(locale), defaultLocale, language(defaultLocale)} {
		if t, ok := p[l]; ok && l != "" {
			return t, l
		}
	}
	if t, ok := p[""]; ok {
		return t, defaultLocale
	}
	for _, k := range sortedKeys(p) {
		return p[k], k
	}
	return "", ""
}

func language(locale string) string {
	l, _, _ := strings.Cut(locale, "-")
	return l
}

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	stateRE    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	variableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	digitsRE   = regexp.MustCompile(`^[0-9*#]{1,10}$`)
	placeRE    = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
)

// placeholders returns the variable names text refers to as {{name}}.
func placeholders(text string) []string {
	var out []string
	for _, m := range placeRE.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// render fills text's placeholders from vars.
func render(text string, vars map[string]string) string {
	if !strings.Contains(text, "{{") {
		return text
	}
	return placeRE.ReplaceAllStringFunc(text, func(m string) string {
		return vars[placeRE.FindStringSubmatch(m)[1]]
	})
}

// Kind is what a state ends with.
func (s *State) Kind() string {
	switch {
	case s.Gather != nil:
		return "gather"
	case s.Dial != nil:
		return "dial"
	case s.Enqueue != "":
		return "enqueue"
	case s.Record != nil:
		return "record"
	case s.Hangup:
		return "hangup"
	}
	return "next"
}

// targets lists the states s may go to, with the transition's name.
func (s *State) targets() [][2]string {
	var out [][2]string
	add := func(label, to string) {
		if to != "" {
			out = append(out, [2]string{label, to})
		}
	}
	for _, k := range sortedKeys(s.On.Digits) {
		add("digits "+k, s.On.Digits[k])
	}
	for _, k := range sortedKeys(s.On.Speech) {
		add("speech "+strconvQuote(k), s.On.Speech[k])
	}
	add("timeout", s.On.Timeout)
	add("no_match", s.On.NoMatch)
	add("no_input", s.On.NoInput)
	add("answered", s.On.Answered)
	add("failed", s.On.Failed)
	add("next", s.Next)
	return out
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// StateNames returns the flow's states, sorted.
func (f *Flow) StateNames() []string { return sortedKeys(f.States) }

// UsedVariables returns every variable the flow's prompts and numbers refer to, sorted.
func (f *Flow) UsedVariables() []string { return sortedKeys(f.varsUsed) }

// Line returns the line of state name in the flow's file, or 0.
func (f *Flow) Line(name string) int { return f.lines[name] }

// texts calls fn with every text of a state that may hold placeholders; spoken reports whether
// the text is said to the callee.
func (s *State) texts(fn func(where, text string, spoken bool)) {
	for _, l := range sortedKeys(s.Say) {
		fn("say", s.Say[l], true)
	}
	if s.Gather != nil {
		for _, l := range sortedKeys(s.Gather.Prompt) {
			fn("gather prompt", s.Gather.Prompt[l], true)
		}
	}
	if s.Play != "" {
		fn("play", s.Play, false)
	}
	if s.Dial != nil {
		for _, n := range s.Dial.Numbers {
			fn("dial number", n, false)
		}
	}
	if s.Enqueue != "" {
		fn("enqueue", s.Enqueue, false)
	}
}

// ParseFlow reads one flow from YAML and checks its structure (the errors Load refuses: unknown
// fields, bad names, transitions to states that do not exist, malformed verbs). The lint rules
// (Lint) are separate: a flow that parses may still fail lint.
func ParseFlow(file string, data []byte) (*Flow, error) {
	var f Flow
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	f.File = file
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		f.lines = stateLines(&root)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{file}, args...)...))
	}
	if !nameRE.MatchString(f.Name) {
		bad("name %q must be lower case letters, digits, '_', '.', '-' (1-64, starting with a letter)", f.Name)
	}
	if f.Version < 1 {
		bad("version must be a positive integer")
	}
	if f.DefaultLocale == "" {
		f.DefaultLocale = "en-US"
	}
	for name := range f.Variables {
		if !variableRE.MatchString(name) {
			bad("variable name %q is not a valid name", name)
		}
	}
	if len(f.States) == 0 {
		bad("a flow needs states")
	}
	if _, ok := f.States[f.Start]; !ok {
		bad("start %q is not a state", f.Start)
	}
	f.varsUsed = map[string]bool{}
	for _, name := range f.StateNames() {
		s := f.States[name]
		where := func(format string, args ...any) { bad("state %s: "+format, append([]any{name}, args...)...) }
		if s == nil {
			where("is empty")
			continue
		}
		if !stateRE.MatchString(name) {
			where("name must be lower case letters, digits and '_'")
		}
		if name == OutcomeMachine || name == OutcomeFlowNotRun || name == OutcomeInterrupted {
			where("name is reserved: %q is a call outcome of its own (rename the state)", name)
		}
		n := 0
		for _, b := range []bool{s.Gather != nil, s.Dial != nil, s.Enqueue != "", s.Record != nil, s.Hangup} {
			if b {
				n++
			}
		}
		if n > 1 {
			where("has more than one of gather, dial, enqueue, record, hangup")
		}
		kind := s.Kind()
		if s.Pause < 0 || s.Pause > 600 {
			where("pause must be 0-600 seconds")
		}
		if s.Retries < 0 || s.Retries > 10 {
			where("retries must be 0-10")
		}
		if g := s.Gather; g != nil {
			switch g.Input {
			case "":
				g.Input = "dtmf"
			case "dtmf", "speech", "dtmf speech", "speech dtmf":
			default:
				where("gather input must be dtmf, speech or \"dtmf speech\"")
			}
			if g.Timeout == 0 {
				g.Timeout = 5
			}
			if g.Timeout < 1 || g.Timeout > 60 || g.NumDigits < 0 || g.NumDigits > 20 {
				where("gather timeout must be 1-60 s and num_digits 0-20")
			}
		}
		if d := s.Dial; d != nil {
			if len(d.Numbers) == 0 {
				where("dial needs numbers")
			}
			if d.Timeout == 0 {
				d.Timeout = 30
			}
			if d.Timeout < 5 || d.Timeout > 600 {
				where("dial timeout must be 5-600 s")
			}
		}
		if r := s.Record; r != nil {
			if r.MaxLength == 0 {
				r.MaxLength = 3600
			}
			if r.Timeout == 0 {
				r.Timeout = 5
			}
		}
		if s.SMS != "" && !nameRE.MatchString(s.SMS) {
			where("sms %q is not a template name", s.SMS)
		}
		for k := range s.On.Digits {
			if !digitsRE.MatchString(k) {
				where("digits transition %q must be 1-10 of 0-9, * and #", k)
			}
		}
		if (len(s.On.Digits) > 0 || len(s.On.Speech) > 0 || s.On.Timeout != "" || s.On.NoMatch != "" || s.On.NoInput != "") && kind != "gather" {
			where("digits, speech, timeout, no_match and no_input transitions need a gather")
		}
		if (s.On.Answered != "" || s.On.Failed != "") && kind != "dial" {
			where("answered and failed transitions need a dial")
		}
		if s.Next != "" && (kind == "gather" || kind == "dial" || kind == "hangup") {
			where("next does not apply after %s (use its transitions)", kind)
		}
		for _, t := range s.targets() {
			if _, ok := f.States[t[1]]; !ok {
				where("%s goes to %q, which is not a state", t[0], t[1])
			}
		}
		s.texts(func(_, text string, _ bool) {
			for _, v := range placeholders(text) {
				f.varsUsed[v] = true
			}
		})
	}
	if fb := f.Fallback; fb != nil {
		if fb.SMSTemplate == "" {
			bad("fallback needs sms_template")
		}
		if len(fb.On) == 0 {
			fb.On = []string{"busy", "no-answer", "machine"}
		}
		for _, o := range fb.On {
			if !slices.Contains(FallbackOutcomes, o) {
				bad("fallback on %q: must be one of %s", o, strings.Join(FallbackOutcomes, ", "))
			}
		}
	}
	if len(errs) > 0 {
		return &f, errors.Join(errs...)
	}
	return &f, nil
}

// stateLines finds each state's line in a parsed YAML document.
func stateLines(root *yaml.Node) map[string]int {
	out := map[string]int{}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return out
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "states" && top.Content[i+1].Kind == yaml.MappingNode {
			st := top.Content[i+1]
			for j := 0; j+1 < len(st.Content); j += 2 {
				out[st.Content[j].Value] = st.Content[j].Line
			}
		}
	}
	return out
}

// Catalog is a loaded set of flows, every version of each. It never changes after Load.
type Catalog struct {
	flows map[string][]*Flow // by name, versions ascending
}

// Load reads every *.yaml and *.yml file under dir, one flow a file. Problems of all files are
// returned together; the catalog holds the flows that parsed.
func Load(dir string) (*Catalog, error) {
	c := &Catalog{flows: map[string][]*Flow{}}
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != dir {
			return filepath.SkipDir
		}
		if d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := ParseFlow(path, data)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if c.Get(f.Name, f.Version) != nil {
			errs = append(errs, fmt.Errorf("%s: flow %s version %d is defined twice", path, f.Name, f.Version))
			return nil
		}
		c.flows[f.Name] = append(c.flows[f.Name], f)
		slices.SortFunc(c.flows[f.Name], func(a, b *Flow) int { return a.Version - b.Version })
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("flows: %w", err)
	}
	return c, errors.Join(errs...)
}

// NewCatalog returns a catalog of the given flows (tests, and flows built in code).
func NewCatalog(flows ...*Flow) *Catalog {
	c := &Catalog{flows: map[string][]*Flow{}}
	for _, f := range flows {
		c.flows[f.Name] = append(c.flows[f.Name], f)
		slices.SortFunc(c.flows[f.Name], func(a, b *Flow) int { return a.Version - b.Version })
	}
	return c
}

// Get returns a flow's version (0: the latest), or nil.
func (c *Catalog) Get(name string, version int) *Flow {
	if c == nil {
		return nil
	}
	vs := c.flows[name]
	if len(vs) == 0 {
		return nil
	}
	if version == 0 {
		return vs[len(vs)-1]
	}
	for _, f := range vs {
		if f.Version == version {
			return f
		}
	}
	return nil
}

// Flows returns every flow, by name then version.
func (c *Catalog) Flows() []*Flow {
	var out []*Flow
	for _, n := range sortedKeys(c.flows) {
		out = append(out, c.flows[n]...)
	}
	return out
}
