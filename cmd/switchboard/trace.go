package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/twilio"
)

// providerSID matches a Twilio message SID.
var providerSID = regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`)

func newTraceCmd(getenv env) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "trace ID|SID",
		Short: "Print a message's story from API call to handset",
		Long: "Prints what happened to a message, by its ID (msg_…) or its provider SID (SM…/MM…): how it was\n" +
			"accepted (API key, idempotency key, sender, segments, consent), every timeline event with its time and\n" +
			"the time since the one before, the provider's answers and what their error codes mean, the status\n" +
			"callbacks (including the late and out-of-order ones that changed nothing), and the events that told\n" +
			"applications about it with their deliveries. It reads the HTTP API with an API key, like `messages get`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client(getenv)
			if err != nil {
				return err
			}
			ref := strings.TrimSpace(args[0])
			id := ref
			if providerSID.MatchString(ref) {
				m, err := c.GetBySID(cmd.Context(), ref)
				if err != nil {
					return fmt.Errorf("looking up provider SID %s: %w", ref, err)
				}
				id = m.ID
			} else if !strings.HasPrefix(ref, "msg_") {
				return errors.New("give a message ID (msg_…) or a provider SID (SM or MM and 32 hex digits)")
			}
			tr, err := c.Trace(cmd.Context(), id)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), tr)
			}
			return writeTrace(cmd.OutOrStdout(), tr)
		},
	}
	cf.bind(cmd)
	return cmd
}

// writeTrace prints a trace for people.
func writeTrace(w io.Writer, tr *client.Trace) error {
	m := tr.Message
	if m == nil {
		return errors.New("the trace has no message")
	}
	p := &printer{w: w}
	p.f("Message %s\n", m.ID)
	sid := m.ProviderSID
	if sid == "" {
		sid = "(none: never accepted by the provider)"
	}
	p.f("  status      %s\n", statusLine(m))
	p.f("  provider    %s\n", sid)
	p.f("  route       %s %s from %s to %s\n", m.Channel, m.Category, senderOf(m), m.To)
	p.f("  content     %d segment(s), %s, %d character(s)%s\n", m.Segments, m.Encoding, m.BodyLength, templateOf(m))
	if m.SendAt != nil {
		p.f("  send at     %s\n", fmtTime(*m.SendAt))
	}
	if m.ValidUntil != nil {
		p.f("  valid until %s\n", fmtTime(*m.ValidUntil))
	}
	p.f("  attempts    %d\n", m.Attempts)
	if wa := m.WhatsApp; wa != nil {
		if wa.FallbackOf != "" {
			p.f("  sms leg of  %s (WhatsApp message it stands in for)\n", wa.FallbackOf)
		}
		if wa.Fallback != "" {
			leg := wa.FallbackMessageID
			if leg == "" {
				leg = "not sent"
			}
			p.f("  fallback    %s; SMS leg %s\n", wa.Fallback, leg)
		}
		if wa.ReachedBy != "" {
			p.f("  reached by  %s\n", wa.ReachedBy)
		}
	}
	if m.RedactedAt != nil {
		p.f("  redacted    %s (body and raw payloads removed by retention)\n", fmtTime(*m.RedactedAt))
	}

	// Acceptance: the created event explains it.
	p.f("\nAccepted\n")
	var created *switchboard.Event
	for _, e := range m.Events {
		if e.Type == switchboard.EventCreated {
			created = e
			break
		}
	}
	if created == nil {
		p.f("  (no creation event on the timeline)\n")
	} else {
		p.f("  %s by %s\n", fmtTime(created.At), created.Actor)
		for _, part := range strings.Split(created.Detail, "; ") {
			p.f("  - %s\n", part)
		}
	}

	// The timeline, with deltas.
	p.f("\nTimeline (time, since the previous event, since acceptance)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var prev, first time.Time
	for i, e := range m.Events {
		at := e.At.UTC()
		if i == 0 {
			prev, first = at, at
		}
		detail := e.Detail
		if e.ErrorCode != 0 && !strings.Contains(detail, fmt.Sprint(e.ErrorCode)) {
			detail = fmt.Sprintf("error %d; %s", e.ErrorCode, detail)
		}
		fmt.Fprintf(tw, "  %s\t+%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(at), delta(at.Sub(prev)), delta(at.Sub(first)),
			e.Type, dash(string(e.Status)), e.Actor, detail)
		prev = at
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// The provider: attempts and errors, with what each code means.
	p.f("\nProvider\n")
	attempts, codes := 0, map[int]bool{}
	for _, e := range m.Events {
		switch e.Type {
		case switchboard.EventAttempt:
			attempts++
		case switchboard.EventProviderError:
			codes[e.ErrorCode] = true
		case switchboard.EventCallback, switchboard.EventStatusChanged:
			if e.ErrorCode != 0 {
				codes[e.ErrorCode] = true
			}
		}
	}
	if m.ErrorCode != 0 {
		codes[m.ErrorCode] = true
	}
	p.f("  %d attempt(s) handed to the provider", attempts)
	if m.ProviderSID != "" {
		p.f(", accepted as %s", m.ProviderSID)
	}
	p.f("\n")
	delete(codes, 0)
	if len(codes) == 0 {
		p.f("  no provider error\n")
	}
	for _, code := range sortedCodes(codes) {
		info := twilio.LookupCode(code)
		p.f("  error %d: %s\n", code, info.Title)
		p.f("    %s\n", info.Explanation)
		p.f("    %s\n", info.DocURL())
	}

	// Callbacks: applied, ignored (late, out of order) and adopted.
	p.f("\nStatus callbacks\n")
	applied, ignored := 0, 0
	for _, e := range m.Events {
		if e.Type != switchboard.EventCallback {
			continue
		}
		status := providerStatusOf(e)
		if strings.HasPrefix(e.Detail, "ignored") {
			ignored++
			p.f("  %s  %-12s ignored: %s\n", fmtTime(e.At), status, strings.TrimPrefix(strings.TrimPrefix(e.Detail, "ignored: "), "ignored"))
		} else {
			applied++
			p.f("  %s  %-12s applied: %s\n", fmtTime(e.At), status, e.Detail)
		}
	}
	if applied+ignored == 0 {
		p.f("  none received\n")
	} else {
		p.f("  %d applied, %d ignored (late or out of order); exact duplicates are dropped at ingest and only counted in switchboard_status_callbacks_total{result=\"duplicate\"}\n", applied, ignored)
	}

	// Events to applications.
	p.f("\nEvents to applications\n")
	if len(tr.AppEvents) == 0 {
		p.f("  none\n")
	}
	for _, me := range tr.AppEvents {
		e := me.Event
		var d switchboard.MessageStatusChangedData
		_ = json.Unmarshal(e.Data, &d)
		p.f("  %s  %s %s → %s  (%s)\n", fmtTime(e.At), e.Type, d.OldStatus, d.Status, e.ID)
		if len(me.Deliveries) == 0 {
			p.f("    no endpoint subscribed\n")
		}
		for _, dl := range me.Deliveries {
			p.f("    → %s  %s\n", dl.EndpointID, deliveryLine(dl))
		}
	}
	if tr.AppEventsTruncated {
		p.f("  (the event log around this message is too long to search whole: some events may be missing)\n")
	}

	p.f("\nOutcome\n  %s\n", outcomeLine(m, first))
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func statusLine(m *switchboard.Message) string {
	s := string(m.Status)
	if m.ErrorCode != 0 {
		s += fmt.Sprintf(" (error %d: %s)", m.ErrorCode, m.ErrorMessage)
	}
	return s
}

func senderOf(m *switchboard.Message) string {
	if m.Pool != "" {
		return fmt.Sprintf("%s (pool %s)", m.From, m.Pool)
	}
	return m.From
}

func templateOf(m *switchboard.Message) string {
	if m.Template == "" {
		return ""
	}
	return fmt.Sprintf(", template %s v%d", m.Template, m.TemplateVersion)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// delta prints a duration to the millisecond, compactly.
func delta(d time.Duration) string {
	if d < 0 {
		return "-" + delta(-max(d, -math.MaxInt64)) // -MinInt64 overflows
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func sortedCodes(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// providerStatusOf reads the provider's status word from a callback's raw payload.
func providerStatusOf(e *switchboard.Event) string {
	var form map[string]any
	if json.Unmarshal(e.Payload, &form) == nil {
		for _, k := range []string{"MessageStatus", "SmsStatus"} {
			v := form[k]
			if list, ok := v.([]any); ok && len(list) > 0 {
				v = list[0]
			}
			if s, ok := v.(string); ok && s != "" {
				return s
			}
		}
	}
	return dash(string(e.Status))
}

func deliveryLine(d *switchboard.Delivery) string {
	var s string
	switch d.Status {
	case switchboard.DeliveryDelivered:
		s = "delivered"
	case switchboard.DeliveryDead:
		s = "dead letter"
	default:
		s = "pending, next attempt " + fmtTime(d.NextAttemptAt)
	}
	s += fmt.Sprintf(" after %d attempt(s)", d.Attempts)
	if d.LastStatusCode != 0 {
		s += fmt.Sprintf(", last answer HTTP %d", d.LastStatusCode)
	}
	if d.LastError != "" {
		s += ", last error: " + d.LastError
	}
	if d.LastAttemptAt != nil {
		s += " at " + fmtTime(*d.LastAttemptAt)
	}
	return s
}

func outcomeLine(m *switchboard.Message, accepted time.Time) string {
	end := m.UpdatedAt.UTC()
	took := ""
	if !accepted.IsZero() {
		took = " " + delta(end.Sub(accepted)) + " after acceptance"
	}
	switch m.Status {
	case switchboard.StatusDelivered, switchboard.StatusRead:
		return fmt.Sprintf("%s: the handset confirmed it%s.", m.Status, took)
	case switchboard.StatusQueued, switchboard.StatusScheduled:
		return fmt.Sprintf("%s: still waiting, due %s.", m.Status, fmtTime(m.NextAttemptAt))
	case switchboard.StatusSending, switchboard.StatusSent:
		return fmt.Sprintf("%s: with the provider or carrier, no delivery receipt yet (last change%s).", m.Status, took)
	}
	if m.ErrorCode != 0 {
		return fmt.Sprintf("%s%s: error %d, %s.", m.Status, took, m.ErrorCode, twilio.LookupCode(m.ErrorCode).Title)
	}
	return fmt.Sprintf("%s%s.", m.Status, took)
}
