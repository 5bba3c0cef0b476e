package voice

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	switchboard "github.com/switchboard-gw/switchboard"
)

// WebhookPath is where Twilio asks for a call's TwiML and reports its status:
// WebhookPath + token + "/" + kind + "?s=" + step, and WebhookPath + token + "/status". The
// token is opaque; nothing else about the call is in a URL.
const WebhookPath = "/webhooks/twilio/voice/"

// Request kinds: which TwiML request of a call this is.
const (
	KindAnswer   = "answer"   // the call was answered: the first document
	KindGather   = "gather"   // a Gather's action: digits or speech
	KindSilence  = "silence"  // the Gather got nothing and fell through to our Redirect
	KindDial     = "dial"     // a Dial's action: DialCallStatus
	KindEnqueue  = "enqueue"  // an Enqueue's action: the caller left the queue
	KindRecord   = "record"   // a Record's action: the recording ended
	KindContinue = "continue" // a Redirect to go on with the current state
)

// Input is one TwiML request of a call.
type Input struct {
	Kind       string
	Step       int
	CallSID    string
	AnsweredBy string
	Digits     string
	Speech     string
	DialStatus string
	// Recording* are a Record's action parameters: the recording Twilio made.
	RecordingSID      string
	RecordingURL      string
	RecordingDuration string
	At                time.Time
}

// maxInline bounds how many states one document runs before it redirects.
const maxInline = 16

// errStaleStep is the answer to a request for a step that is neither the current nor the last.
var errStaleStep = switchboard.Errorf(switchboard.ECONFLICT, "stale_step", "this request is for an old step of the call")

// Advance moves call c through flow f on request in and returns the TwiML to answer with. It
// changes c (state, step, path, inputs, timeline) and nothing else. base is the public URL plus
// WebhookPath plus the call's token. A repeat of the last step's request (Twilio retries a
// webhook) gets the same document again and changes nothing.
func Advance(f *Flow, c *switchboard.Call, in Input, base string) ([]byte, error) {
	if in.Step == c.Step-1 && c.LastTwiML != "" {
		return []byte(c.LastTwiML), nil
	}
	if in.Step != c.Step {
		return nil, errStaleStep
	}
	e := &engine{f: f, c: c, at: in.At, base: base}
	c.Step++
	if c.Fails == nil {
		c.Fails = map[string]int{}
	}
	switch in.Kind {
	case KindAnswer:
		if in.AnsweredBy != "" {
			c.AnsweredBy = in.AnsweredBy
		}
		if isMachine(c.AnsweredBy) {
			c.Outcome = OutcomeMachine
			c.AddEvent(switchboard.CallEvent{At: in.At, Type: switchboard.CallEventStep, Detail: "answered by a machine (" + c.AnsweredBy + "): hanging up"})
			e.verbs = append(e.verbs, Hangup{})
			break
		}
		e.enter(f.Start)
	case KindGather, KindSilence:
		st := f.States[c.State]
		if st == nil || st.Gather == nil {
			return nil, fmt.Errorf("voice: call %s: %s request in state %q, which gathers nothing", c.ID, in.Kind, c.State)
		}
		e.gathered(st, in)
	case KindDial:
		st := f.States[c.State]
		if st == nil || st.Dial == nil {
			return nil, fmt.Errorf("voice: call %s: dial result in state %q, which dials nothing", c.ID, c.State)
		}
		e.dialed(st, in.DialStatus)
	case KindEnqueue, KindRecord:
		st := f.States[c.State]
		if st == nil {
			return nil, fmt.Errorf("voice: call %s: no state %q", c.ID, c.State)
		}
		if in.Kind == KindRecord {
			e.recorded(in)
		}
		e.enter(st.Next)
	case KindContinue:
		e.enter(c.State)
	default:
		return nil, fmt.Errorf("voice: unknown request kind %q", in.Kind)
	}
	doc, err := (&Response{Verbs: e.verbs}).Marshal()
	if err != nil {
		return nil, err
	}
	c.LastTwiML = string(doc)
	c.UpdatedAt = in.At
	return doc, nil
}

func isMachine(answeredBy string) bool {
	return strings.HasPrefix(answeredBy, "machine") || answeredBy == "fax"
}

type engine struct {
	f     *Flow
	c     *switchboard.Call
	at    time.Time
	base  string
	verbs []any
}

func (e *engine) url(kind string) string {
	return e.base + "/" + kind + "?s=" + strconv.Itoa(e.c.Step)
}

func (e *engine) gathered(st *State, in Input) {
	name := e.c.State
	input := switchboard.CallInput{State: name, Digits: in.Digits, Speech: in.Speech}
	target, matched := "", false
	if in.Kind == KindGather {
		if in.Digits != "" {
			target, matched = st.On.Digits[in.Digits]
		}
		if !matched && in.Speech != "" {
			target, matched = matchSpeech(st.On.Speech, in.Speech)
		}
	}
	ev := switchboard.CallEvent{At: e.at, Type: switchboard.CallEventInput, State: name, Digits: in.Digits, Speech: in.Speech}
	switch {
	case matched:
		input.Result, ev.Detail = "matched", "matched: going to "+target
	case in.Kind == KindSilence || (in.Digits == "" && in.Speech == ""):
		input.Result, ev.Detail = "timeout", "no input before the timeout"
	default:
		input.Result, ev.Detail = "no_match", "input matched no transition"
	}
	e.c.Inputs = append(e.c.Inputs, input)
	e.c.AddEvent(ev)
	if matched {
		e.enter(target)
		return
	}
	e.c.Fails[name]++
	if e.c.Fails[name] > st.Retries {
		e.c.AddEvent(switchboard.CallEvent{At: e.at, Type: switchboard.CallEventStep, State: name,
			Detail: fmt.Sprintf("no usable input %d times: taking no_input", e.c.Fails[name])})
		e.enter(st.On.NoInput)
		return
	}
	next := st.On.NoMatch
	if input.Result == "timeout" {
		next = st.On.Timeout
	}
	if next == "" {
		next = name
	}
	e.enter(next)
}

// recorded keeps the recording a Record state made (its SID, URL and length), for the call's
// resource and its call.completed event. A Record that ended with nothing recorded says so.
func (e *engine) recorded(in Input) {
	if in.RecordingURL == "" {
		e.c.AddEvent(switchboard.CallEvent{At: e.at, Type: switchboard.CallEventRecording, State: e.c.State, Detail: "nothing was recorded"})
		return
	}
	secs, _ := strconv.Atoi(in.RecordingDuration)
	e.c.Recordings = append(e.c.Recordings, switchboard.CallRecording{State: e.c.State, SID: in.RecordingSID,
		URL: in.RecordingURL, DurationSeconds: max(secs, 0), At: e.at})
	e.c.AddEvent(switchboard.CallEvent{At: e.at, Type: switchboard.CallEventRecording, State: e.c.State,
		Detail: fmt.Sprintf("recording %s (%d s)", in.RecordingSID, max(secs, 0))})
}

// matchSpeech finds the transition whose phrase the speech contains (case-insensitive); the
// longest phrase wins, so that "not sure" beats "sure".
func matchSpeech(phrases map[string]string, speech string) (string, bool) {
	s := strings.ToLower(speech)
	best, target := "", ""
	for _, p := range sortedKeys(phrases) {
		if strings.Contains(s, strings.ToLower(p)) && len(p) > len(best) {
			best, target = p, phrases[p]
		}
	}
	return target, best != ""
}

func (e *engine) dialed(st *State, status string) {
	name := e.c.State
	e.c.AddEvent(switchboard.CallEvent{At: e.at, Type: switchboard.CallEventStep, State: name,
		Detail: fmt.Sprintf("dial %d of %d: %s", e.c.DialIndex+1, len(st.Dial.Numbers), status)})
	if status == "completed" || status == "answered" {
		e.enter(st.On.Answered)
		return
	}
	e.c.DialIndex++
	if e.c.DialIndex < len(st.Dial.Numbers) {
		e.verbs = append(e.verbs, e.dialVerb(st))
		return
	}
	e.enter(st.On.Failed)
}

func (e *engine) dialVerb(st *State) DialVerb {
	d := st.Dial
	v := DialVerb{Action: e.url(KindDial), Method: "POST", Timeout: d.Timeout, CallerID: e.c.From,
		Number: Number{Value: render(d.Numbers[e.c.DialIndex], e.c.Variables)}}
	if d.Record {
		v.Record = "record-from-answer"
	}
	return v
}

func (e *engine) say(p Prompt) (Say, bool) {
	if len(p) == 0 {
		return Say{}, false
	}
	text, locale := p.Text(e.c.Locale, e.f.DefaultLocale)
	return Say{Voice: e.f.Voice, Language: locale, Text: render(text, e.c.Variables)}, true
}

// enter runs state name and the states it leads to without input, until one needs the caller
// (Gather, Dial, Enqueue, Record), hangs up or the flow ends.
func (e *engine) enter(name string) {
	seen := map[string]bool{}
	for range maxInline {
		if name == "" {
			e.c.AddEvent(switchboard.CallEvent{At: e.at, Type: switchboard.CallEventStep, Detail: "flow ended"})
			e.verbs = append(e.verbs, Hangup{})
			return
		}
		if seen[name] {
			break
		}
		seen[name] = true
		st := e.f.States[name]
		e.c.State, e.c.Outcome, e.c.DialIndex = name, name, 0
		e.c.Path = append(e.c.Path, name)
		e.c.AddEvent(switchboard.CallEvent{At: e.at, Type: switchboard.CallEventStep, State: name})
		if st.SMS != "" && !e.c.HasSMS(st.SMS) {
			// Sent by the service once the step is decided (see Service.sendTexts).
			e.c.SMS = append(e.c.SMS, switchboard.CallSMS{State: name, Template: st.SMS, At: e.at})
		}
		if v, ok := e.say(st.Say); ok {
			e.verbs = append(e.verbs, v)
		}
		if st.Play != "" {
			e.verbs = append(e.verbs, Play{URL: render(st.Play, e.c.Variables)})
		}
		if st.Pause > 0 {
			e.verbs = append(e.verbs, Pause{Length: st.Pause})
		}
		switch st.Kind() {
		case "gather":
			g := st.Gather
			gv := GatherVerb{Input: g.Input, Action: e.url(KindGather), Method: "POST", Timeout: g.Timeout,
				NumDigits: g.NumDigits, FinishOnKey: g.FinishOnKey, Hints: g.Hints}
			if v, ok := e.say(g.Prompt); ok {
				gv.Prompts = append(gv.Prompts, v)
				if strings.Contains(g.Input, "speech") {
					gv.Language = v.Language
				}
			}
			e.verbs = append(e.verbs, gv, Redirect{Method: "POST", URL: e.url(KindSilence)})
			return
		case "dial":
			e.verbs = append(e.verbs, e.dialVerb(st))
			return
		case "enqueue":
			e.verbs = append(e.verbs, EnqueueVerb{Action: e.url(KindEnqueue), Method: "POST", Name: render(st.Enqueue, e.c.Variables)})
			return
		case "record":
			r := st.Record
			rv := RecordVerb{Action: e.url(KindRecord), Method: "POST", Timeout: r.Timeout, MaxLength: r.MaxLength, PlayBeep: "false"}
			if r.PlayBeep {
				rv.PlayBeep = "true"
			}
			e.verbs = append(e.verbs, rv)
			return
		case "hangup":
			e.verbs = append(e.verbs, Hangup{})
			return
		}
		name = st.Next
	}
	// A run of states without input came back to itself or ran long: go on in a new request,
	// so that the loop costs the caller time rather than this server a stack.
	e.c.State = name
	e.verbs = append(e.verbs, Redirect{Method: "POST", URL: e.url(KindContinue)})
}
