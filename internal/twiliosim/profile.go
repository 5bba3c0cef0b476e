package twiliosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// A traffic profile is a scripted scenario: the simulator's faults (REST errors, delays,
// carrier error mixes, per-carrier slowness, throughput, WhatsApp errors) changing over time, so
// that a team can rehearse an incident and a test can assert on it. A profile is a YAML document:
//
//	name: filtering-spike
//	seed: 42          # draws are keyed by it: same seed + same requests = same outcomes
//	time_scale: 60    # replay 60 times faster: "at: 10m" happens 10 s after the start
//	faults:           # in force from the start (any field of POST /sim/v1/faults)
//	  carrier_errors: {30003: 0.01}
//	phases:
//	  - at: 10m       # offset from the start
//	    for: 20m      # optional: until the end when omitted
//	    name: spike
//	    faults: {carrier_errors: {30007: 0.4}}
//
// At any instant the faults in force are the profile's faults with the faults of every active
// phase laid over them, in the order of the file: a field a phase names replaces the field as a
// whole (a carrier_errors map is not merged key by key); fields it does not name are kept. Times
// are read from the simulator's clock (Config.Now), so a test with an injected clock steps
// through a profile without waiting.

// MaxProfileSize bounds a profile document.
const MaxProfileSize = 1 << 20

// maxPhases bounds the phases of a profile: loading computes the faults of every interval
// between phase boundaries, so an untrusted document must not make that count large.
const maxPhases = 200

// Profile is a parsed, validated traffic profile.
type Profile struct {
	// Name and Description are for people; Name shows in GET /sim/v1/profile.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Seed keys every random draw of message outcomes while the profile runs (see draws in
	// profile_run.go). 0 means "pick one at load"; the one picked is reported so that the run
	// can be replayed.
	Seed uint64 `json:"seed"`
	// TimeScale compresses the scenario: offsets, durations and the faults' delays are divided
	// by it and throughput_scale is multiplied by it (default 1).
	TimeScale float64 `json:"time_scale"`
	// Phases, in the order of the file.
	Phases []Phase `json:"phases"`

	base map[string]any // the profile's own faults, as written
}

// Phase is one timed change of the faults.
type Phase struct {
	Name string `json:"name,omitempty"`
	// At is the offset from the profile's start in profile time; For how long the phase lasts
	// (0: until the end).
	At  time.Duration `json:"at"`
	For time.Duration `json:"for,omitempty"`

	faults map[string]any
}

// profileDoc is the YAML shape of a profile; unknown keys are refused.
type profileDoc struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Seed        uint64     `yaml:"seed"`
	TimeScale   *float64   `yaml:"time_scale"`
	Faults      *faultsDoc `yaml:"faults"`
	Phases      []phaseDoc `yaml:"phases"`
}

type phaseDoc struct {
	Name   string      `yaml:"name"`
	At     profileTime `yaml:"at"`
	For    profileTime `yaml:"for"`
	Faults *faultsDoc  `yaml:"faults"`
}

// profileTime is an offset such as "10m", "1h30m" or "90s" (Go duration syntax), or a number
// of seconds.
type profileTime struct {
	d   time.Duration
	set bool
}

func (p *profileTime) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration such as 10m or 90s", n.Line)
	}
	v := strings.TrimSpace(n.Value)
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > maxProfileSpan.Seconds() || secs < 0 {
			return fmt.Errorf("line %d: %q is not a duration such as 10m or 90s", n.Line, v)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 || d > maxProfileSpan {
		return fmt.Errorf("line %d: %q must be between 0 and %v", n.Line, v, maxProfileSpan)
	}
	p.d, p.set = d, true
	return nil
}

// maxProfileSpan bounds offsets and durations: a year is more than any rehearsal needs and
// keeps sums of offsets far from overflowing.
const maxProfileSpan = 366 * 24 * time.Hour

// faultsDoc holds a faults mapping as written: the keys it names, checked against Faults.
type faultsDoc struct {
	fields map[string]any
	line   int
}

func (f *faultsDoc) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: faults must be a mapping of fault settings", n.Line)
	}
	var raw any
	if err := n.Decode(&raw); err != nil {
		return err
	}
	fields, err := jsonable(raw)
	if err != nil {
		return fmt.Errorf("line %d: faults: %w", n.Line, err)
	}
	m, _ := fields.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	// Check the fields and their types now, so that a typo fails the load with its line.
	if _, err := decodeFaults(m); err != nil {
		return fmt.Errorf("line %d: faults: %w", n.Line, err)
	}
	f.fields, f.line = m, n.Line
	return nil
}

// jsonable turns a decoded YAML value into one encoding/json can marshal: mapping keys become
// strings (carrier_errors is keyed by error code).
func jsonable(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			j, err := jsonable(x)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			switch k.(type) {
			case string, int, int64, uint64, float64, bool:
			default:
				return nil, fmt.Errorf("mapping key %v is not a scalar", k)
			}
			j, err := jsonable(x)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = j
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			j, err := jsonable(x)
			if err != nil {
				return nil, err
			}
			out[i] = j
		}
		return out, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("not a finite number")
		}
		return v, nil
	case time.Time:
		return nil, fmt.Errorf("unexpected timestamp %s", v.Format(time.RFC3339))
	default:
		return v, nil
	}
}

// decodeFaults decodes a faults mapping strictly: unknown fields and wrong types are refused.
// It does not validate ranges (a phase may set one field of a valid whole).
func decodeFaults(fields map[string]any) (Faults, error) {
	var f Faults
	raw, err := json.Marshal(fields)
	if err != nil {
		return f, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, errString(strings.TrimPrefix(err.Error(), "json: "))
	}
	return f, nil
}

// errString is an error from a string (so that decodeFaults can trim encoding/json's prefix).
type errString string

func (e errString) Error() string { return string(e) }

// ParseProfile parses and validates a profile document. Unknown fields anywhere, phases out of
// range and fault settings a phase would make invalid are refused with an error naming the line.
func ParseProfile(doc []byte) (*Profile, error) {
	if len(doc) > MaxProfileSize {
		return nil, fmt.Errorf("profile: larger than %d bytes", MaxProfileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	var d profileDoc
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("profile: empty document")
		}
		return nil, fmt.Errorf("profile: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("profile: one YAML document expected")
	}
	p := &Profile{Name: d.Name, Description: d.Description, Seed: d.Seed, TimeScale: 1, base: map[string]any{}}
	if d.TimeScale != nil {
		p.TimeScale = *d.TimeScale
	}
	if d.Faults != nil {
		p.base = d.Faults.fields
	}
	if len(d.Phases) > maxPhases {
		return nil, fmt.Errorf("profile: %d phases, at most %d", len(d.Phases), maxPhases)
	}
	for i, ph := range d.Phases {
		if !ph.At.set {
			return nil, fmt.Errorf("profile: phases[%d]: at is required (an offset such as 10m)", i)
		}
		if ph.Faults == nil {
			return nil, fmt.Errorf("profile: phases[%d]: faults is required", i)
		}
		p.Phases = append(p.Phases, Phase{Name: ph.Name, At: ph.At.d, For: ph.For.d, faults: ph.Faults.fields})
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// validate checks the time scale and that the faults in force are valid at every instant.
func (p *Profile) validate() error {
	_, err := p.compile()
	return err
}

// compile returns the faults in force from each boundary of the timeline (compressed by the
// time scale, validated).
func (p *Profile) compile() ([]*Faults, error) {
	if !(p.TimeScale > 0 && p.TimeScale <= 1e6) {
		return nil, errors.New("profile: time_scale must be above 0 and at most 1000000")
	}
	if len(p.Phases) > maxPhases {
		return nil, fmt.Errorf("profile: %d phases, at most %d", len(p.Phases), maxPhases)
	}
	bounds, _ := p.timeline()
	out := make([]*Faults, 0, len(bounds))
	for _, b := range bounds {
		f, err := p.faultsAt(b, p.TimeScale) // compressed: a scale can push a rate out of range
		if err != nil {
			return nil, fmt.Errorf("profile: at %v: %w", b, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// timeline returns the instants (profile time, from 0) at which the faults in force change, in
// order, and the phases active from each.
func (p *Profile) timeline() ([]time.Duration, [][]int) {
	bounds := []time.Duration{0}
	for _, ph := range p.Phases {
		bounds = append(bounds, ph.At)
		if ph.For > 0 {
			bounds = append(bounds, ph.At+ph.For)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	active := make([][]int, len(bounds))
	for i, b := range bounds {
		for j, ph := range p.Phases {
			if ph.active(b) {
				active[i] = append(active[i], j)
			}
		}
	}
	return bounds, active
}

func (ph *Phase) active(t time.Duration) bool {
	return t >= ph.At && (ph.For == 0 || t < ph.At+ph.For)
}

// faultsAt returns the faults in force at profile time t, compressed by scale, validated.
func (p *Profile) faultsAt(t time.Duration, scale float64) (*Faults, error) {
	merged := make(map[string]any, len(p.base))
	for k, v := range p.base {
		merged[k] = v
	}
	for _, ph := range p.Phases {
		if ph.active(t) {
			for k, v := range ph.faults {
				merged[k] = v
			}
		}
	}
	f, err := decodeFaults(merged)
	if err != nil {
		return nil, err
	}
	f.compress(scale)
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// compress scales the faults' time for a replay scale times faster: delays shrink, senders
// send faster. Lifecycle delays (Config) and validity periods are not the profile's and stay.
func (f *Faults) compress(scale float64) {
	if scale == 1 {
		return
	}
	ms := func(v int) int {
		if v <= 0 {
			return v
		}
		return max(1, int(math.Round(float64(v)/scale)))
	}
	f.LatencyMS, f.TimeoutMS, f.CallbackDelayMS = ms(f.LatencyMS), ms(f.TimeoutMS), ms(f.CallbackDelayMS)
	f.ThroughputScale *= scale
	cs := slices.Clone(f.Carriers)
	for i := range cs {
		cs[i].DeliveryDelayMS = ms(cs[i].DeliveryDelayMS)
	}
	f.Carriers = cs
}
