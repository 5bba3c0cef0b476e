package twiliosim_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// fakeClock is an injectable clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustParse(t *testing.T, doc string) *twiliosim.Profile {
	t.Helper()
	p, err := twiliosim.ParseProfile([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Untrusted YAML is parsed strictly: every unknown field, wrong type, impossible offset or
// fault setting a phase would make invalid is refused with an error that says what and where.
func TestParseProfileStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "", "empty document"},
		{"unknown top-level field", "name: x\nsead: 4\n", "line 2: field sead not found"},
		{"unknown phase field", "phases:\n  - at: 1m\n    until: 2m\n    faults: {}\n", "line 3: field until not found"},
		{"unknown fault field", "phases:\n  - at: 1m\n    faults: {stauts_500_ratio: 1}\n", `line 3: faults: unknown field "stauts_500_ratio"`},
		{"unknown carrier field", "faults:\n  carriers: [{prefixes: [\"+1\"], delay: 5}]\n", `unknown field "delay"`},
		{"wrong fault type", "faults: {status_500_ratio: often}\n", "line 1: faults: cannot unmarshal string"},
		{"faults not a mapping", "faults: [1, 2]\n", "line 1: faults must be a mapping"},
		{"bad offset", "phases:\n  - at: ten minutes\n    faults: {}\n", `line 2: "ten minutes" is not a duration`},
		{"negative offset", "phases:\n  - at: -5m\n    faults: {}\n", "must be between 0 and"},
		{"missing at", "phases:\n  - faults: {latency_ms: 5}\n", "phases[0]: at is required"},
		{"missing faults", "phases:\n  - at: 5m\n", "phases[0]: faults is required"},
		{"ratio out of range", "phases:\n  - at: 5m\n    faults: {status_500_ratio: 2}\n", "at 5m0s: status_500_ratio must be between 0 and 1"},
		{"overlapping mixes add up over 1", "faults: {carrier_errors: {30003: 0.6}}\nphases:\n  - at: 1m\n    faults: {carriers: [{prefixes: [\"+1415\"], carrier_errors: {30007: 0.7, 30003: 0.4}}]}\n", "carriers[0]: carrier_errors: the probabilities add up to more than 1"},
		{"bad prefix", "faults: {carriers: [{prefixes: [\"1415\"]}]}\n", `prefix "1415": a + and up to 15 digits`},
		{"time scale zero", "time_scale: 0\n", "time_scale must be above 0"},
		{"two documents", "name: a\n---\nname: b\n", "one YAML document expected"},
		{"not a mapping", "- 1\n", "cannot unmarshal"},
		{"scaled out of range", "time_scale: 10\nfaults: {throughput_scale: 200000}\n", "throughput_scale must be between"},
		{"whatsapp code out of range", "phases:\n  - at: 1m\n    faults: {whatsapp_errors: {30007: 0.5}}\n", "whatsapp_errors: 30007: a 63xxx code"},
		{"whatsapp mix over 1", "faults: {whatsapp_errors: {63018: 0.7, 63003: 0.4}}\n", "whatsapp_errors: the probabilities add up to more than 1"},
		{"too many phases", "phases:\n" + strings.Repeat("  - {at: 1m, faults: {}}\n", 201), "201 phases, at most 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := twiliosim.ParseProfile([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseProfile: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The faults in force follow the profile on the simulator's clock: the profile's own faults,
// each active phase's fields laid over them in file order, a phase's end restoring what was
// under it. time_scale compresses offsets and the faults' delays and speeds up throughput.
func TestProfileFollowsTheClock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEnv(t, twiliosim.Config{Now: clock.Now})
	p := mustParse(t, `
name: timeline
seed: 7
faults: {carrier_errors: {30003: 0.1}, latency_ms: 10}
phases:
  - name: outage
    at: 10m
    for: 2m
    faults: {status_500_ratio: 1, latency_ms: 600}
  - name: slow carrier
    at: 11m
    faults:
      carriers: [{name: a, prefixes: ["+1206555"], delivery_delay_ms: 60000}]
      throughput_scale: 1
`)
	if _, err := e.sim.RunProfile(p); err != nil {
		t.Fatal(err)
	}
	type view struct {
		s500    float64
		latency int
		mix     map[int]float64
		carrier int
		tput    float64
	}
	at := func() view {
		f := e.sim.Faults()
		v := view{s500: f.Status500Ratio, latency: f.LatencyMS, mix: f.CarrierErrors, tput: f.ThroughputScale}
		if len(f.Carriers) > 0 {
			v.carrier = f.Carriers[0].DeliveryDelayMS
		}
		return v
	}
	steps := []struct {
		advance time.Duration
		want    view
		phases  []string
	}{
		{0, view{0, 10, map[int]float64{30003: 0.1}, 0, 0}, nil},
		{10*time.Minute - time.Nanosecond, view{0, 10, map[int]float64{30003: 0.1}, 0, 0}, nil},
		{time.Nanosecond, view{1, 600, map[int]float64{30003: 0.1}, 0, 0}, []string{"outage"}},
		{time.Minute, view{1, 600, map[int]float64{30003: 0.1}, 60000, 1}, []string{"outage", "slow carrier"}},
		{time.Minute, view{0, 10, map[int]float64{30003: 0.1}, 60000, 1}, []string{"slow carrier"}},
		{24 * time.Hour, view{0, 10, map[int]float64{30003: 0.1}, 60000, 1}, []string{"slow carrier"}},
	}
	for i, st := range steps {
		clock.Add(st.advance)
		if got := at(); fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("step %d: faults %+v, want %+v", i, got, st.want)
		}
		ps, ok := e.sim.ProfileStatus()
		if !ok || ps.Seed != 7 || !slices.Equal(ps.ActivePhases, st.phases) {
			t.Fatalf("step %d: status %+v, want phases %v", i, ps, st.phases)
		}
	}

	// A 60 times faster replay: 10 s of clock is 10 minutes of profile; delays shrink 60 times
	// and the throughput model runs 60 times faster.
	p.TimeScale = 60
	if _, err := e.sim.RunProfile(p); err != nil {
		t.Fatal(err)
	}
	clock.Add(10 * time.Second)
	if got, want := at(), (view{1, 10, map[int]float64{30003: 0.1}, 0, 0}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scaled, at 10 s: %+v, want %+v", got, want)
	}
	clock.Add(time.Minute)
	if got, want := at(), (view{0, 0, map[int]float64{30003: 0.1}, 1000, 60}); fmt.Sprint(got.carrier) != fmt.Sprint(want.carrier) || got.tput != want.tput || got.s500 != 0 {
		t.Fatalf("scaled, at 70 s: %+v, want %+v", got, want)
	}

	// POST /sim/v1/faults takes the control back: the profile stops.
	e.sim.SetFaults(twiliosim.Faults{LatencyMS: 1})
	if _, ok := e.sim.ProfileStatus(); ok {
		t.Fatal("a profile still runs after SetFaults")
	}
	if f := e.sim.Faults(); f.LatencyMS != 1 || f.Status500Ratio != 0 {
		t.Fatalf("faults after SetFaults: %+v", f)
	}
}

// outcome is what a client sees of one message create: the HTTP status and, for a created
// message, its final status and error code at the simulator.
type outcome struct {
	HTTP   int
	Status string
	Code   int
}

// replay sends the same 60 creates in the given order (concurrently, eight at a time) to a
// fresh simulator running profile p, and returns the outcomes of each body's creates.
func replay(t *testing.T, p *twiliosim.Profile, order []int) map[string]string {
	t.Helper()
	clock := newFakeClock()
	e := newEnv(t, twiliosim.Config{Now: clock.Now})
	if _, err := e.sim.RunProfile(p); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute) // inside the phase
	var mu sync.Mutex
	var sent []struct {
		body, sid string
		http      int
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, i := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// Every message is sent twice with the same body: the second create of one
			// identity is its own draw.
			body := fmt.Sprintf("message %d", i/2)
			to := fmt.Sprintf("+1415555%04d", i/2)
			if i/2%3 == 0 {
				to = fmt.Sprintf("+1206555%04d", i/2)
			}
			code, raw := e.do(t, http.MethodPost, e.messagesPath(), url.Values{"To": {to}, "From": {twiliosim.MagicFrom}, "Body": {body}})
			var m struct {
				SID string `json:"sid"`
			}
			_ = json.Unmarshal(raw, &m)
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, struct {
				body, sid string
				http      int
			}{body, m.SID, code})
		}()
	}
	wg.Wait()
	byBody := map[string][]string{}
	for _, c := range sent {
		o := outcome{HTTP: c.http}
		if c.sid != "" {
			var m twiliosim.Message
			eventually(t, 5*time.Second, "message "+c.sid+" to end", func() bool {
				m, _ = e.sim.Message(c.sid)
				return m.Status == "delivered" || m.Status == "undelivered" || m.Status == "failed"
			})
			o.Status, o.Code = m.Status, m.ErrorCode
		}
		byBody[c.body] = append(byBody[c.body], o.String())
	}
	out := map[string]string{}
	for body, os := range byBody {
		slices.Sort(os) // the two creates of one body are interchangeable
		out[body] = strings.Join(os, " + ")
	}
	return out
}

func (o outcome) String() string { return fmt.Sprintf("%d %s %d", o.HTTP, o.Status, o.Code) }

// Same seed + same requests = same outcomes, whatever order concurrent requests arrive in;
// another seed gives other outcomes. Without this, a rehearsal could not be replayed and a test
// could not assert on it.
func TestProfileReplayIsDeterministic(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
seed: 42
phases:
  - at: 30s
    faults:
      status_429_ratio: 0.2
      failed_ratio: 0.1
      carrier_errors: {30003: 0.2, 30005: 0.1}
      carriers: [{prefixes: ["+1206555"], carrier_errors: {30007: 0.5}}]
`)
	forward := make([]int, 60)
	for i := range forward {
		forward[i] = i
	}
	backward := slices.Clone(forward)
	slices.Reverse(backward)

	a, b := replay(t, p, forward), replay(t, p, backward)
	if !maps.Equal(a, b) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", a, b)
	}
	// The draws did something: every kind of outcome occurs.
	kinds := map[string]bool{}
	for _, o := range a {
		for _, k := range strings.Split(o, " + ") {
			kinds[k] = true
		}
	}
	for _, want := range []string{"429  0", "201 delivered 0", "201 failed 30008", "201 undelivered 30007"} {
		if !kinds[want] {
			t.Errorf("no %q outcome among %v", want, kinds)
		}
	}
	p.Seed = 43
	if c := replay(t, p, forward); maps.Equal(a, c) {
		t.Fatal("seeds 42 and 43 give the same 60 outcomes")
	}
}

// A carrier's delivery delay holds its messages in "sent" while other recipients' messages are
// delivered.
func TestProfileSlowCarrier(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	p := mustParse(t, `
faults:
  carriers: [{name: slow, prefixes: ["+1206555"], delivery_delay_ms: 3000}]
`)
	if _, err := e.sim.RunProfile(p); err != nil {
		t.Fatal(err)
	}
	rc := e.account(t)
	slow, err := sendSMS(rc, twiliosim.MagicFrom, "+12065550100", "slow carrier")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := sendSMS(rc, twiliosim.MagicFrom, "+14155550100", "other carrier")
	if err != nil {
		t.Fatal(err)
	}
	// Created first, it would be delivered first but for its carrier.
	waitStatus(t, e.sim, *fast.Sid, "delivered")
	if m, _ := e.sim.Message(*slow.Sid); m.Status == "delivered" {
		t.Fatal("the slow carrier's message is delivered as fast as the other")
	}
	waitStatus(t, e.sim, *slow.Sid, "sent")
	e.sim.StopProfile()
	eventually(t, 10*time.Second, "the slow carrier's receipt", func() bool {
		m, _ := e.sim.Message(*slow.Sid)
		return m.Status == "delivered"
	})
}

// The control API loads a profile (YAML body, time_scale and seed overrides), reports it and
// stops it; an invalid profile is refused with the parser's error and changes nothing.
func TestProfileControlAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	if code, body := e.control(t, http.MethodGet, "/sim/v1/profile", ""); code != http.StatusNotFound {
		t.Fatalf("GET with no profile: %d %s", code, body)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", "profiles", "twilio-outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := e.control(t, http.MethodPost, "/sim/v1/profile?time_scale=600&seed=9", string(doc))
	if code != http.StatusOK {
		t.Fatalf("POST: %d %s", code, body)
	}
	var st twiliosim.ProfileStatus
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Name != "twilio-outage" || st.Seed != 9 || st.TimeScale != 600 || st.NextChange != "5m0s" {
		t.Fatalf("status %+v", st)
	}
	// At 600 times, the outage starts 0.5 s in.
	eventually(t, 5*time.Second, "the outage phase", func() bool {
		_, b := e.control(t, http.MethodGet, "/sim/v1/profile", "")
		return strings.Contains(string(b), `"active_phases":["twilio 5xx"]`)
	})
	if code, body := e.control(t, http.MethodGet, "/sim/v1/faults", ""); code != http.StatusOK || !strings.Contains(string(body), `"status_500_ratio":1`) {
		t.Fatalf("faults during the outage: %d %s", code, body)
	}

	code, body = e.control(t, http.MethodPost, "/sim/v1/profile", "phases:\n  - at: 1m\n    faults: {latency: 5}\n")
	if code != http.StatusBadRequest || !strings.Contains(string(body), `unknown field \"latency\"`) {
		t.Fatalf("invalid profile: %d %s", code, body)
	}
	if code, _ := e.control(t, http.MethodGet, "/sim/v1/profile", ""); code != http.StatusOK {
		t.Fatal("an invalid profile stopped the running one")
	}
	for _, q := range []string{"time_scale=fast", "time_scale=0", "seed=-1"} {
		if code, body := e.control(t, http.MethodPost, "/sim/v1/profile?"+q, string(doc)); code != http.StatusBadRequest {
			t.Fatalf("?%s: %d %s", q, code, body)
		}
	}

	if code, body := e.control(t, http.MethodDelete, "/sim/v1/profile", ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, _ := e.control(t, http.MethodGet, "/sim/v1/profile", ""); code != http.StatusNotFound {
		t.Fatal("the profile runs after DELETE")
	}
	if f := e.sim.Faults(); f.Status500Ratio != 0 {
		t.Fatalf("faults after DELETE: %+v", f)
	}
}

// Every example profile under examples/profiles loads.
func TestExampleProfilesLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "profiles", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("example profiles: %v %v", files, err)
	}
	e := newEnv(t, twiliosim.Config{})
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := twiliosim.ParseProfile(doc)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p.Name != strings.TrimSuffix(filepath.Base(f), ".yaml") || p.Seed == 0 || len(p.Phases) == 0 {
			t.Fatalf("%s: name %q seed %d phases %d", f, p.Name, p.Seed, len(p.Phases))
		}
		if _, err := e.sim.RunProfile(p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// A profile scripts the WhatsApp channel's own failures (whatsapp_errors, 63xxx codes): while the
// phase is in force a WhatsApp message is created (201) and then fails with the drawn code in
// its status callback, as Twilio reports WhatsApp's rate limit (63018); SMS to the same person
// is unaffected, and WhatsApp goes through again once the phase ends.
func TestProfileWhatsAppErrors(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := newEnv(t, twiliosim.Config{Now: clock.Now})
	rcv := newReceiver(t, e.sim)
	if _, err := e.sim.AddNumber(twiliosim.MagicFrom, rcv.srv.URL+"/in"); err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, `
seed: 11
phases:
  - name: whatsapp rate limit
    at: 1m
    for: 10m
    faults: {whatsapp_errors: {63018: 1}}
  - name: whatsapp degraded
    at: 20m
    faults: {whatsapp_errors: {63018: 0.5, 63003: 0.25}}
`)
	if _, err := e.sim.RunProfile(p); err != nil {
		t.Fatal(err)
	}
	rc := e.account(t)
	const person = "+13125550100"
	if err := e.sim.Inbound(ctx(t), "whatsapp:"+person, "whatsapp:"+twiliosim.MagicFrom, "hi"); err != nil {
		t.Fatal(err)
	}
	send := func(to, body string) (string, string, string) {
		t.Helper()
		from := twiliosim.MagicFrom
		if strings.HasPrefix(to, "whatsapp:") {
			from = "whatsapp:" + from
		}
		params := &api.CreateMessageParams{}
		params.SetTo(to)
		params.SetFrom(from)
		params.SetBody(body)
		params.SetStatusCallback(rcv.srv.URL + "/status")
		m, err := rc.Api.CreateMessage(params)
		if err != nil {
			t.Fatalf("create to %s: %v", to, err)
		}
		var status, code string
		eventually(t, 5*time.Second, *m.Sid+" to end", func() bool {
			for _, r := range rcv.forSID(*m.Sid) {
				switch s := r.Params.Get("MessageStatus"); s {
				case "read", "failed", "undelivered":
					status, code = s, r.Params.Get("ErrorCode")
					return true
				}
			}
			return false
		})
		return *m.Sid, status, code
	}

	if _, st, _ := send("whatsapp:"+person, "before"); st != "read" {
		t.Fatalf("before the phase: %s, want read", st)
	}
	clock.Add(time.Minute)
	sid, st, code := send("whatsapp:"+person, "during")
	if st != "failed" || code != "63018" {
		t.Fatalf("during the phase: %s %s, want failed 63018", st, code)
	}
	if m, _ := e.sim.Message(sid); m.ErrorMessage != "Rate limit exceeded for Channel" {
		t.Fatalf("error message %q", m.ErrorMessage)
	}
	// SMS to the same person is delivered (its final callback is delivered, not read).
	sms, err := sendSMS(rc, twiliosim.MagicFrom, person, "during, by SMS")
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e.sim, *sms.Sid, "delivered")
	clock.Add(10 * time.Minute)
	if _, st, _ := send("whatsapp:"+person, "after"); st != "read" {
		t.Fatalf("after the phase: %s, want read", st)
	}

	// A mix: each message is a draw; every outcome of it occurs.
	clock.Add(10 * time.Minute)
	seen := map[string]int{}
	for i := range 24 {
		_, st, code := send("whatsapp:"+person, fmt.Sprintf("mix %d", i))
		seen[st+" "+code]++
	}
	for _, want := range []string{"read ", "failed 63018", "failed 63003"} {
		if seen[want] == 0 {
			t.Errorf("no %q among %v", want, seen)
		}
	}
	if len(seen) != 3 {
		t.Errorf("outcomes %v, want only read, 63018 and 63003", seen)
	}
}
