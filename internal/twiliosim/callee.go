package twiliosim

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosig"
)

// The simulated callee: it runs an answered call's TwiML verb by verb, as Twilio does, asking the
// application for more TwiML where Twilio would (Gather and Dial actions, Redirect, Enqueue and
// Record actions), each request signed with X-Twilio-Signature. It answers Gathers from the call's
// inputs (scripted, or given through POST /sim/v1/calls/{sid}/input) or stays silent.

// maxDocuments bounds how many TwiML documents one call runs, so that a flow redirecting to
// itself forever ends.
const maxDocuments = 200

// twimlNode is any TwiML element.
type twimlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr  `xml:",any,attr"`
	Text     string      `xml:",chardata"`
	Children []twimlNode `xml:",any"`
}

func (n *twimlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// ParseTwiML reads a <Response> document into its verbs.
func ParseTwiML(doc []byte) ([]twimlNode, error) {
	var root twimlNode
	if err := xml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("twiliosim: TwiML is not XML: %w", err)
	}
	if root.XMLName.Local != "Response" {
		return nil, fmt.Errorf("twiliosim: TwiML root is <%s>, not <Response>", root.XMLName.Local)
	}
	return root.Children, nil
}

func (s *Simulator) heard(c *call, line string) {
	s.voice.mu.Lock()
	c.Heard = append(c.Heard, line)
	s.voice.mu.Unlock()
}

// runCallee runs the call's TwiML from target (or the inline twiml) until the document ends, a
// Hangup, the call is stopped, or the application fails to answer.
func (s *Simulator) runCallee(c *call, target, inline string, machine bool) {
	var doc []byte
	if inline != "" {
		doc = []byte(inline)
	} else {
		var ok bool
		if doc, ok = s.fetchTwiMLMethod(c, target, nil, c.methodLocked(s)); !ok {
			return
		}
	}
	for range maxDocuments {
		if u, tw, ok := s.takeRedirect(c); ok { // redirected through the API meanwhile
			if doc, target, ok = s.redirectDoc(c, u, tw, target); !ok {
				return
			}
		}
		verbs, err := ParseTwiML(doc)
		if err != nil {
			s.heard(c, "error: "+err.Error())
			return
		}
		next, nextURL, params := s.runVerbs(c, verbs, target, machine)
		switch next {
		case stepEnd:
			return
		case stepRedirect:
			continue // the loop takes the redirect
		case stepFetch:
			target = nextURL
			var ok bool
			if doc, ok = s.fetchTwiML(c, target, params); !ok {
				return
			}
		}
	}
	s.heard(c, "error: too many TwiML documents")
}

type stepKind int

const (
	stepEnd      stepKind = iota // the call ends
	stepFetch                    // fetch nextURL with params and run it
	stepContinue                 // on to the next verb
	stepRedirect                 // the call was redirected through the API
)

// redirectDoc returns the document an API redirect leads to: the new TwiML, or the new Url's
// answer (requested with the call's Method).
func (s *Simulator) redirectDoc(c *call, u, tw, cur string) ([]byte, string, bool) {
	if tw != "" {
		s.heard(c, "redirect: twiml")
		return []byte(tw), cur, true
	}
	s.heard(c, "redirect: url")
	doc, ok := s.fetchTwiMLMethod(c, u, nil, c.methodLocked(s))
	return doc, u, ok
}

func (c *call) methodLocked(s *Simulator) string {
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	return c.method
}

// runVerbs runs one document's verbs. docURL resolves relative URLs and is a Gather's default
// action.
func (s *Simulator) runVerbs(c *call, verbs []twimlNode, docURL string, machine bool) (stepKind, string, url.Values) {
	for i := range verbs {
		v := &verbs[i]
		if s.redirectPending(c) {
			return stepRedirect, "", nil
		}
		select {
		case <-c.stop:
			return stepEnd, "", nil
		case <-s.done:
			return stepEnd, "", nil
		default:
		}
		switch v.XMLName.Local {
		case "Say":
			s.heard(c, "say: "+strings.TrimSpace(v.Text))
		case "Play":
			s.heard(c, "play: "+strings.TrimSpace(v.Text))
		case "Pause":
			s.heard(c, "pause: "+orString(v.attr("length"), "1"))
		case "Hangup", "Reject":
			s.heard(c, "hangup")
			return stepEnd, "", nil
		case "Redirect":
			s.heard(c, "redirect")
			return stepFetch, resolve(docURL, strings.TrimSpace(v.Text)), nil
		case "Gather":
			for _, child := range v.Children {
				switch child.XMLName.Local {
				case "Say":
					s.heard(c, "say: "+strings.TrimSpace(child.Text))
				case "Play":
					s.heard(c, "play: "+strings.TrimSpace(child.Text))
				}
			}
			in, ok := s.nextInput(c, v, machine)
			if !ok {
				return stepEnd, "", nil
			}
			if s.redirectPending(c) {
				s.heard(c, "gather interrupted")
				return stepRedirect, "", nil
			}
			params := url.Values{}
			switch {
			case in.Digits != "":
				s.heard(c, "press "+in.Digits)
				params.Set("Digits", strings.TrimSuffix(in.Digits, orString(v.attr("finishOnKey"), "#")))
			case in.Speech != "":
				s.heard(c, "say "+strconv.Quote(in.Speech))
				params.Set("SpeechResult", in.Speech)
				params.Set("Confidence", "0.92")
			default:
				s.heard(c, "silence")
				continue // no input: on to the next verb
			}
			action := v.attr("action")
			if action == "" {
				action = docURL
			}
			return stepFetch, resolve(docURL, action), params
		case "Dial":
			st, next, params := s.dial(c, v, docURL)
			if st == stepFetch {
				return st, next, params
			}
		case "Enqueue":
			s.heard(c, "enqueue: "+strings.TrimSpace(v.Text))
			if a := v.attr("action"); a != "" {
				p := url.Values{}
				p.Set("QueueResult", "bridged")
				p.Set("QueueSid", stableSID("QU", strings.TrimSpace(v.Text)))
				p.Set("QueueTime", "5")
				return stepFetch, resolve(docURL, a), p
			}
			return stepEnd, "", nil
		case "Record":
			s.heard(c, "record")
			a := v.attr("action")
			if a == "" {
				a = docURL
			}
			sid := newSID("RE")
			p := url.Values{}
			p.Set("RecordingSid", sid)
			p.Set("RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/"+c.AccountSID+"/Recordings/"+sid)
			p.Set("RecordingDuration", "3")
			p.Set("Digits", "hangup")
			return stepFetch, resolve(docURL, a), p
		default:
			s.heard(c, "ignored: <"+v.XMLName.Local+">")
		}
	}
	return stepEnd, "", nil
}

func (s *Simulator) dial(c *call, v *twimlNode, docURL string) (stepKind, string, url.Values) {
	var number string
	for _, child := range v.Children {
		if child.XMLName.Local == "Number" {
			number = strings.TrimSpace(child.Text)
			break
		}
	}
	if number == "" {
		number = strings.TrimSpace(v.Text)
	}
	s.voice.mu.Lock()
	outcome := OutcomeAnswer
	if sc, ok := s.voice.scripts[number]; ok {
		outcome = sc.Outcome
	}
	s.voice.mu.Unlock()
	status := map[string]string{OutcomeAnswer: "completed", OutcomeMachine: "completed", OutcomeBusy: "busy",
		OutcomeNoAnswer: "no-answer", OutcomeFail: "failed"}[outcome]
	s.heard(c, "dial "+maskNumber(number)+": "+status)
	a := v.attr("action")
	if a == "" {
		return stepContinue, "", nil
	}
	p := url.Values{}
	p.Set("DialCallStatus", status)
	p.Set("DialCallSid", newSID("CA"))
	dur := "0"
	if status == "completed" {
		dur = "42"
	}
	p.Set("DialCallDuration", dur)
	return stepFetch, resolve(docURL, a), p
}

// nextInput returns the callee's answer to a Gather: the next scripted or posted input, or
// silence after the Gather's timeout (or Config.CallInputWait). A machine never answers.
// ok is false when the call was stopped meanwhile.
func (s *Simulator) nextInput(c *call, g *twimlNode, machine bool) (CalleeInput, bool) {
	if machine {
		return CalleeInput{Timeout: true}, true
	}
	wait := 5 * time.Second
	if n, err := strconv.Atoi(g.attr("timeout")); err == nil && n >= 0 {
		wait = time.Duration(n) * time.Second
	}
	wait = min(wait, DefaultCallInputWait)
	if s.cfg.CallInputWait > 0 {
		wait = s.cfg.CallInputWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.voice.mu.Lock()
		if c.redirect != "" || c.redirectTwiml != "" {
			s.voice.mu.Unlock()
			return CalleeInput{}, true // redirected through the API: the Gather ends at once
		}
		if len(c.inputs) > 0 {
			in := c.inputs[0]
			c.inputs = c.inputs[1:]
			s.voice.mu.Unlock()
			return in, true
		}
		s.voice.mu.Unlock()
		select {
		case <-c.inputCh:
		case <-deadline.C:
			return CalleeInput{Timeout: true}, true
		case <-c.stop:
			return CalleeInput{}, false
		case <-s.done:
			return CalleeInput{}, false
		}
	}
}

func (s *Simulator) takeRedirect(c *call) (string, string, bool) {
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	u, tw := c.redirect, c.redirectTwiml
	c.redirect, c.redirectTwiml = "", ""
	return u, tw, u != "" || tw != ""
}

func (s *Simulator) redirectPending(c *call) bool {
	s.voice.mu.Lock()
	defer s.voice.mu.Unlock()
	return c.redirect != "" || c.redirectTwiml != ""
}

// fetchTwiML posts the call's parameters (and extra) to target, signed, and returns the answer.
// A failed request ends the call, as Twilio's "application error" does.
func (s *Simulator) fetchTwiML(c *call, target string, extra url.Values) ([]byte, bool) {
	return s.fetchTwiMLMethod(c, target, extra, http.MethodPost)
}

// fetchTwiMLMethod is fetchTwiML with the method: with GET the parameters go to the query
// string and the signature covers that URL (Twilio's Method=GET).
func (s *Simulator) fetchTwiMLMethod(c *call, target string, extra url.Values, method string) ([]byte, bool) {
	s.voice.mu.Lock()
	params := s.callParams(c)
	c.Requests = append(c.Requests, target)
	s.voice.mu.Unlock()
	for k, vs := range extra {
		params[k] = vs
	}
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		full := target + sep + params.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
		if err == nil {
			setWebhookHeaders(req, twiliosig.Sign(s.tokenOf(c.AccountSID), full, nil), randHex32())
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(params.Encode()))
		if err == nil {
			setWebhookHeaders(req, twiliosig.Sign(s.tokenOf(c.AccountSID), target, params), randHex32())
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		s.heard(c, "error: "+err.Error())
		return nil, false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.heard(c, "error: application unreachable")
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		s.heard(c, fmt.Sprintf("error: application answered %d", resp.StatusCode))
		return nil, false
	}
	return body, true
}

func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

func orString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
