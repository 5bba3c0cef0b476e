package voice

import (
	"fmt"
	"slices"
)

// Lint rules.
const (
	RuleUnreachable     = "unreachable_state"   // no path from start leads to the state
	RuleMissingTimeout  = "missing_timeout"     // a gather does not say where silence goes
	RuleMissingNoInput  = "missing_no_input"    // a gather does not say where to go when retries run out
	RuleLoopNoExit      = "loop_no_exit"        // from the state, no path ever ends the call
	RuleUnknownVariable = "unknown_variable"    // a {{name}} the flow does not declare
	RuleSensitivePrompt = "sensitive_in_prompt" // a prompt speaks a variable marked sensitive
)

// Finding is one lint problem.
type Finding struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Flow  string `json:"flow"`
	State string `json:"state,omitempty"`
	Rule  string `json:"rule"`
	Msg   string `json:"message"`
}

// String formats a finding as file:line: flow vN state: [rule] message.
func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	where := f.Flow
	if f.State != "" {
		where += " state " + f.State
	}
	return fmt.Sprintf("%s: %s: [%s] %s", loc, where, f.Rule, f.Msg)
}

// Lint checks a parsed flow against the rules and returns its findings, in a stable order.
func Lint(f *Flow) []Finding {
	var out []Finding
	add := func(state, rule, format string, args ...any) {
		out = append(out, Finding{File: f.File, Line: f.Line(state), Flow: fmt.Sprintf("%s v%d", f.Name, f.Version),
			State: state, Rule: rule, Msg: fmt.Sprintf(format, args...)})
	}
	names := f.StateNames()

	// Reachability from start.
	reach := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if reach[n] || f.States[n] == nil {
			return
		}
		reach[n] = true
		for _, t := range f.States[n].targets() {
			walk(t[1])
		}
	}
	walk(f.Start)
	for _, n := range names {
		if !reach[n] {
			add(n, RuleUnreachable, "no transition from %s leads here", f.Start)
		}
	}

	// Gathers must say what silence and used-up retries do.
	for _, n := range names {
		st := f.States[n]
		if st == nil || st.Gather == nil {
			continue
		}
		if st.On.Timeout == "" {
			add(n, RuleMissingTimeout, "the gather has no timeout transition: say where silence goes (often the same state)")
		}
		if st.On.NoInput == "" {
			add(n, RuleMissingNoInput, "the gather has no no_input transition: say where to go after %d retries", st.Retries)
		}
	}

	// Exits: states that can end the call. A state ends it when it hangs up, has nowhere to go
	// (Next empty, or a Dial without transitions), or reaches such a state.
	exits := map[string]bool{}
	for _, n := range names {
		st := f.States[n]
		if st == nil {
			continue
		}
		switch st.Kind() {
		case "hangup":
			exits[n] = true
		case "dial":
			if st.On.Answered == "" || st.On.Failed == "" {
				exits[n] = true
			}
		case "gather":
			if st.On.NoInput == "" {
				exits[n] = true // the document ends after the gather's fall-through
			}
		default:
			if st.Next == "" {
				exits[n] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, n := range names {
			if exits[n] || f.States[n] == nil {
				continue
			}
			for _, t := range f.States[n].targets() {
				if exits[t[1]] {
					exits[n], changed = true, true
					break
				}
			}
		}
	}
	for _, n := range names {
		if reach[n] && !exits[n] {
			add(n, RuleLoopNoExit, "every path from here loops back without ever ending the call")
		}
	}

	// Variables.
	for _, n := range names {
		st := f.States[n]
		if st == nil {
			continue
		}
		var seen []string
		st.texts(func(where, text string, spoken bool) {
			for _, v := range placeholders(text) {
				key := where + "/" + v
				if slices.Contains(seen, key) {
					continue
				}
				seen = append(seen, key)
				decl, ok := f.Variables[v]
				switch {
				case !ok:
					add(n, RuleUnknownVariable, "%s uses {{%s}}, which the flow does not declare", where, v)
				case decl.Sensitive && spoken:
					add(n, RuleSensitivePrompt, "%s speaks {{%s}}, which is marked sensitive", where, v)
				}
			}
		})
	}
	return out
}
