package twiliosim

import (
	"encoding/binary"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The control API of traffic profiles (profile.go):
//
//	GET    /sim/v1/profile   the running profile: name, seed, elapsed profile time, active phases, faults in force
//	POST   /sim/v1/profile   load a profile (the YAML document as the body) and start it now;
//	                         ?time_scale=N and ?seed=N override the document's
//	DELETE /sim/v1/profile   stop the running profile; no fault is in force afterwards
//
// POST /sim/v1/faults and POST /sim/v1/reset stop a running profile too: the last word is the
// operator's.

func init() {
	controlRoutes["GET /sim/v1/profile"] = (*Simulator).controlProfileStatus
	controlRoutes["POST /sim/v1/profile"] = (*Simulator).controlProfileLoad
	controlRoutes["DELETE /sim/v1/profile"] = func(s *Simulator, w http.ResponseWriter, _ *http.Request) {
		s.StopProfile()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}
}

// faultSource is where the simulator reads the faults in force: the settings last stored, or,
// while a profile runs, the profile's faults at the simulator clock's current instant.
type faultSource struct {
	manual atomic.Pointer[Faults]
	run    atomic.Pointer[profileRun]
}

// Load returns the faults in force now. The result must not be modified.
func (fs *faultSource) Load() *Faults {
	if r := fs.run.Load(); r != nil {
		return r.faults[r.index()]
	}
	return fs.manual.Load()
}

// Store replaces the fault settings and stops a running profile.
func (fs *faultSource) Store(f *Faults) {
	fs.run.Store(nil)
	fs.manual.Store(f)
}

// profileRun is a profile being played.
type profileRun struct {
	p      *Profile
	seed   uint64
	start  time.Time
	now    func() time.Time
	bounds []time.Duration // profile time at which the faults change, from 0
	active [][]int         // phases active from each bound
	faults []*Faults       // faults in force from each bound, compressed

	mu   sync.Mutex
	seen map[uint64]uint64 // how many creates each request identity had (draw keys)
}

// elapsed is the profile time since the start (real time on the simulator's clock times the
// time scale).
func (r *profileRun) elapsed() time.Duration {
	e := r.now().Sub(r.start)
	if e <= 0 {
		return 0
	}
	x := float64(e) * r.p.TimeScale
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(x)
}

// index is the timeline interval in force now.
func (r *profileRun) index() int {
	e := r.elapsed()
	return sort.Search(len(r.bounds), func(i int) bool { return r.bounds[i] > e }) - 1
}

// RunProfile starts p now (on the simulator's clock), replacing the fault settings and any
// running profile. A profile with seed 0 gets a random seed; the status reports it.
func (s *Simulator) RunProfile(p *Profile) (ProfileStatus, error) {
	faults, err := p.compile()
	if err != nil {
		return ProfileStatus{}, err
	}
	r := &profileRun{p: p, seed: p.Seed, start: s.now(), now: s.now, faults: faults, seen: map[uint64]uint64{}}
	for r.seed == 0 {
		r.seed = rand.Uint64()
	}
	r.bounds, r.active = p.timeline()
	s.faults.run.Store(r)
	s.log.Info("twiliosim: traffic profile started", "profile", p.Name, "seed", r.seed, "time_scale", p.TimeScale)
	st, _ := s.ProfileStatus()
	return st, nil
}

// StopProfile stops the running profile, if any; no fault is in force afterwards.
func (s *Simulator) StopProfile() {
	if s.faults.run.Load() != nil {
		s.faults.Store(&Faults{})
	}
}

// ProfileStatus is the state of a running profile (GET /sim/v1/profile).
type ProfileStatus struct {
	Name      string    `json:"name"`
	Seed      uint64    `json:"seed"`
	TimeScale float64   `json:"time_scale"`
	StartedAt time.Time `json:"started_at"`
	// Elapsed is the profile time since the start ("10m0s"), to read beside the file's offsets.
	Elapsed string `json:"elapsed"`
	// ActivePhases are the names (or "phases[i]") of the phases in force.
	ActivePhases []string `json:"active_phases"`
	// NextChange is the profile time of the next change of the faults, "" after the last.
	NextChange string `json:"next_change,omitempty"`
	Faults     Faults `json:"faults"`
}

// ProfileStatus returns the running profile's state; false when none runs.
func (s *Simulator) ProfileStatus() (ProfileStatus, bool) {
	r := s.faults.run.Load()
	if r == nil {
		return ProfileStatus{}, false
	}
	i := r.index()
	st := ProfileStatus{Name: r.p.Name, Seed: r.seed, TimeScale: r.p.TimeScale, StartedAt: r.start,
		Elapsed: r.elapsed().Truncate(time.Millisecond).String(), ActivePhases: []string{}, Faults: *r.faults[i]}
	for _, j := range r.active[i] {
		name := r.p.Phases[j].Name
		if name == "" {
			name = "phases[" + strconv.Itoa(j) + "]"
		}
		st.ActivePhases = append(st.ActivePhases, name)
	}
	if i+1 < len(r.bounds) {
		st.NextChange = r.bounds[i+1].String()
	}
	return st, true
}

func (s *Simulator) controlProfileStatus(w http.ResponseWriter, _ *http.Request) {
	st, ok := s.ProfileStatus()
	if !ok {
		writeControlError(w, http.StatusNotFound, "no profile is running")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Simulator) controlProfileLoad(w http.ResponseWriter, r *http.Request) {
	doc, err := io.ReadAll(io.LimitReader(r.Body, MaxProfileSize+1))
	if err != nil {
		writeControlError(w, http.StatusBadRequest, "reading the profile: %v", err)
		return
	}
	p, err := ParseProfile(doc)
	if err != nil {
		writeControlError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	if v := q.Get("time_scale"); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			writeControlError(w, http.StatusBadRequest, "time_scale: a number above 0")
			return
		}
		p.TimeScale = x
	}
	if v := q.Get("seed"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeControlError(w, http.StatusBadRequest, "seed: an unsigned 64-bit number")
			return
		}
		p.Seed = n
	}
	st, err := s.RunProfile(p)
	if err != nil {
		writeControlError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Draws. Without a profile every fault is an independent draw of math/rand. While a profile
// runs, each draw is a hash of the profile's seed, the identity of the request and what is
// drawn, so that a replay with the same seed and the same requests has the same outcomes
// whatever order concurrent requests arrive in. A create's identity is its To, From,
// MessagingServiceSid, Body, ContentSid, ContentVariables and MediaUrl and how many creates
// with the same ones came before it under this profile (so that a client's retry of a create
// answered 500 is a new draw); a message's later draws (WhatsApp error, failed, undelivered,
// carrier error, dropped callback) use its create's identity.

// drawKind names what a draw decides, so that the draws of one request are independent.
type drawKind uint64

const (
	draw429 drawKind = iota + 1
	draw500
	draw500Created
	drawTimeout
	drawFailed
	drawUndelivered
	drawCarrier
	drawPartial
	drawCallbackDrop
	drawShuffle
	drawWhatsApp // appended: the kinds above keep their values, so older replays stay the same
)

// createKey is the draw key of a message create; 0 when no profile runs.
func (s *Simulator) createKey(form url.Values) uint64 {
	r := s.faults.run.Load()
	if r == nil {
		return 0
	}
	h := fnv.New64a()
	for _, k := range []string{"To", "From", "MessagingServiceSid", "Body", "ContentSid", "ContentVariables", "MediaUrl"} {
		for _, v := range form[k] {
			_, _ = io.WriteString(h, v)
			_, _ = h.Write([]byte{0})
		}
		_, _ = h.Write([]byte{1})
	}
	id := h.Sum64()
	r.mu.Lock()
	n := r.seen[id]
	r.seen[id] = n + 1
	r.mu.Unlock()
	return mix64(id ^ mix64(n+1))
}

// draw returns a number in [0, 1) for the draw of kind k of the request with key.
func (s *Simulator) draw(key uint64, k drawKind) float64 {
	r := s.faults.run.Load()
	if r == nil || key == 0 {
		return rand.Float64()
	}
	return float64(mix64(r.seed^mix64(key^mix64(uint64(k))))>>11) / (1 << 53)
}

// statusKey derives the draw key of one status of a message from the message's key.
func statusKey(key uint64, status string) uint64 {
	if key == 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, status)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], key)
	_, _ = h.Write(b[:])
	return mix64(h.Sum64())
}

// shuffle shuffles n elements, keyed like draw.
func (s *Simulator) shuffle(key uint64, n int, swap func(i, j int)) {
	r := s.faults.run.Load()
	if r == nil || key == 0 {
		rand.Shuffle(n, swap)
		return
	}
	rand.New(rand.NewPCG(r.seed, mix64(key^uint64(drawShuffle)))).Shuffle(n, swap)
}

// mix64 is SplitMix64's finalizer: a bijection of 64-bit values that spreads every input bit.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
