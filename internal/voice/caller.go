package voice

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/content"
)

// Caller places calls that speak fixed TwiML: no flow, no state, nothing stored. A verification
// code read out when SMS fails is the use: the caller keeps its own record of the attempt.
// Its Call method has the signature other packages depend on through a one-method interface.
type Caller struct {
	Provider switchboard.CallProvider
	// RingTimeout is how long the phone rings (seconds; default 30).
	RingTimeout int
}

// MaxTwiML is Twilio's limit on inline TwiML.
const MaxTwiML = 4000

// Call places a call from from to to that runs twiml and returns the provider's call SID.
// The TwiML must be a <Response> document of at most MaxTwiML characters.
func (c *Caller) Call(ctx context.Context, to, from, twiml string) (string, error) {
	to, err := content.NormalizePhone(to)
	if err != nil {
		return "", err
	}
	if _, err := content.NormalizePhone(from); err != nil {
		return "", switchboard.Errorf(switchboard.EINVALID, "invalid_from", "from %q is not a phone number in E.164", from)
	}
	if err := checkTwiML(twiml); err != nil {
		return "", err
	}
	ring := c.RingTimeout
	if ring == 0 {
		ring = 30
	}
	pc, err := c.Provider.PlaceCall(ctx, &switchboard.PlaceCallRequest{To: to, From: from, TwiML: twiml, RingTimeout: ring})
	if err != nil {
		return "", err
	}
	return pc.SID, nil
}

// checkTwiML refuses text that is not one well-formed <Response> document within Twilio's limit.
func checkTwiML(s string) error {
	bad := func(why string) error {
		return switchboard.Errorf(switchboard.EINVALID, "invalid_twiml", "TwiML %s", why)
	}
	if len([]rune(s)) > MaxTwiML {
		return bad("is over 4000 characters")
	}
	dec := xml.NewDecoder(strings.NewReader(s))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bad("is not well-formed XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if t.Name.Local != "Response" {
					return bad("must have <Response> as its root")
				}
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return bad("must be one <Response> document")
	}
	return nil
}

// SayTwiML returns a document that says text (in language, repeated loop times) and hangs up:
// fixed TwiML for Caller, built from typed values so that text is escaped.
func SayTwiML(text, language string, loop int) (string, error) {
	verbs := []any{}
	for range max(loop, 1) {
		verbs = append(verbs, Say{Language: language, Text: text}, Pause{Length: 1})
	}
	verbs = append(verbs, Hangup{})
	doc, err := (&Response{Verbs: verbs}).Marshal()
	if err != nil {
		return "", err
	}
	if err := checkTwiML(string(doc)); err != nil {
		return "", err
	}
	return string(doc), nil
}
