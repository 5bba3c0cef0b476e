package voice

import (
	"bytes"
	"encoding/xml"
)

// TwiML is generated from these typed values with encoding/xml: attributes come out in field
// order, so a document is byte-for-byte the same every time (twilio-go's twiml package orders
// attributes by map iteration, which is why it is not used here).

// Response is a TwiML document.
type Response struct {
	XMLName xml.Name `xml:"Response"`
	Verbs   []any
}

// Say speaks text.
type Say struct {
	XMLName  xml.Name `xml:"Say"`
	Voice    string   `xml:"voice,attr,omitempty"`
	Language string   `xml:"language,attr,omitempty"`
	Text     string   `xml:",chardata"`
}

// Play plays an audio file.
type Play struct {
	XMLName xml.Name `xml:"Play"`
	URL     string   `xml:",chardata"`
}

// Pause waits.
type Pause struct {
	XMLName xml.Name `xml:"Pause"`
	Length  int      `xml:"length,attr,omitempty"`
}

// GatherVerb collects digits or speech, then requests Action.
type GatherVerb struct {
	XMLName     xml.Name `xml:"Gather"`
	Input       string   `xml:"input,attr,omitempty"`
	Action      string   `xml:"action,attr"`
	Method      string   `xml:"method,attr"`
	Timeout     int      `xml:"timeout,attr,omitempty"`
	NumDigits   int      `xml:"numDigits,attr,omitempty"`
	FinishOnKey string   `xml:"finishOnKey,attr,omitempty"`
	Language    string   `xml:"language,attr,omitempty"`
	Hints       string   `xml:"hints,attr,omitempty"`
	Prompts     []any
}

// DialVerb connects the call to a number, then requests Action with DialCallStatus.
type DialVerb struct {
	XMLName  xml.Name `xml:"Dial"`
	Action   string   `xml:"action,attr"`
	Method   string   `xml:"method,attr"`
	Timeout  int      `xml:"timeout,attr,omitempty"`
	CallerID string   `xml:"callerId,attr,omitempty"`
	Record   string   `xml:"record,attr,omitempty"`
	Number   Number
}

// Number is a Dial's phone number.
type Number struct {
	XMLName xml.Name `xml:"Number"`
	Value   string   `xml:",chardata"`
}

// EnqueueVerb puts the caller in a queue, then requests Action.
type EnqueueVerb struct {
	XMLName xml.Name `xml:"Enqueue"`
	Action  string   `xml:"action,attr"`
	Method  string   `xml:"method,attr"`
	Name    string   `xml:",chardata"`
}

// RecordVerb records the caller, then requests Action.
type RecordVerb struct {
	XMLName   xml.Name `xml:"Record"`
	Action    string   `xml:"action,attr"`
	Method    string   `xml:"method,attr"`
	Timeout   int      `xml:"timeout,attr,omitempty"`
	MaxLength int      `xml:"maxLength,attr,omitempty"`
	PlayBeep  string   `xml:"playBeep,attr,omitempty"`
}

// Redirect requests another document.
type Redirect struct {
	XMLName xml.Name `xml:"Redirect"`
	Method  string   `xml:"method,attr"`
	URL     string   `xml:",chardata"`
}

// Hangup ends the call.
type Hangup struct {
	XMLName xml.Name `xml:"Hangup"`
}

// Marshal returns the document with its XML declaration.
func (r *Response) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(512)
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
