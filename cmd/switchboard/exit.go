package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// Exit codes of every command (README, "Exit codes").
const (
	exitOK = 0
	// exitFailure is any failure without a code of its own: a server error, a local I/O error, a
	// check that found problems (lint, a code that does not match).
	exitFailure = 1
	// exitUsage: the command line is wrong (unknown command or flag, missing or bad argument), a
	// setting serve refuses, or the server refused the request as invalid (400, 413, 415).
	exitUsage = 2
	// exitNotFound: the server has no such thing (404).
	exitNotFound = 3
	// exitRefused: the server understood and refused it by policy or because of a conflict (403,
	// 409, 422, 429): an opt-out, an idempotency key reused, a message no longer cancelable, a
	// rate limit.
	exitRefused = 4
	// exitUnreachable: no answer from the server (connection refused, DNS, timeout), or a 502,
	// 503 or 504 from it or a proxy in front of it.
	exitUnreachable = 5
	// exitUnauthorized: no API key, or the server does not know it (401).
	exitUnauthorized = 6
)

// usageError is a wrong command line.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// codedError is a failure with its exit code and stable code.
type codedError struct {
	exit int
	code string
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// unreachableError is a client command that got no answer from the server.
type unreachableError struct {
	base, source string
	err          error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach Switchboard at %s (%s; the URL came from %s). Is it running? Start it with 'switchboard serve', "+
		"or point this command at a running node with --url or SWITCHBOARD_URL", e.base, rootCause(e.err), e.source)
}
func (e *unreachableError) Unwrap() error { return e.err }

// rootCause shortens a network error to its last part, such as "connection refused".
func rootCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		s := op.Err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			s = s[i+2:]
		}
		return s
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "host " + dns.Name + " not found"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// unreachableTransport turns a failed connection into an *unreachableError saying which URL was
// tried and what to do.
type unreachableTransport struct {
	base, source string
	next         http.RoundTripper
}

func (t *unreachableTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil && r.Context().Err() == nil {
		var ne net.Error
		if errors.As(err, &ne) || isDial(err) {
			return nil, &unreachableError{base: t.base, source: t.source, err: err}
		}
	}
	return resp, err
}

func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// exitCodeOf maps a command's error to the process's exit code.
func exitCodeOf(err error) int {
	var (
		ue  *usageError
		ce  *codedError
		un  *unreachableError
		ae  *client.Error
		uer *url.Error
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return ce.exit
	case errors.As(err, &un):
		return exitUnreachable
	case errors.As(err, &ae):
		switch {
		case ae.Status == http.StatusUnauthorized:
			return exitUnauthorized
		case ae.Status == http.StatusNotFound:
			return exitNotFound
		case ae.Status == http.StatusBadRequest, ae.Status == http.StatusRequestEntityTooLarge, ae.Status == http.StatusUnsupportedMediaType:
			return exitUsage
		case ae.Status == http.StatusForbidden, ae.Status == http.StatusConflict, ae.Status == http.StatusUnprocessableEntity,
			ae.Status == http.StatusTooManyRequests:
			return exitRefused
		case ae.Status == http.StatusBadGateway, ae.Status == http.StatusServiceUnavailable, ae.Status == http.StatusGatewayTimeout:
			return exitUnreachable
		}
		return exitFailure
	case errors.As(err, &uer):
		return exitUnreachable
	}
	// A command that works on the database directly gets the store's errors.
	var se *switchboard.Error
	if errors.As(err, &se) {
		switch se.Kind {
		case switchboard.ENOTFOUND:
			return exitNotFound
		case switchboard.EINVALID, switchboard.ETOOLARGE:
			return exitUsage
		case switchboard.ECONFLICT, switchboard.EUNPROCESSABLE, switchboard.EFORBIDDEN, switchboard.ERATELIMITED:
			return exitRefused
		case switchboard.EUNAVAILABLE:
			return exitUnreachable
		}
	}
	return exitFailure
}

// message is the one line printed for err: the client library's own "switchboard: " prefixes
// are dropped (the line already starts with it), and an unreachable server is said plainly.
func message(err error) string {
	var un *unreachableError
	if errors.As(err, &un) {
		return un.Error()
	}
	msg := err.Error()
	var se *switchboard.Error
	if errors.As(err, &se) {
		msg = strings.Replace(msg, se.Error(), se.Message+" ("+se.Code+")", 1)
	}
	return strings.ReplaceAll(msg, "switchboard: ", "")
}

// problem is an error as --json prints it: the server's RFC 9457 problem document when the
// server answered one, else one of the same shape for a local failure, plus the exit code.
type problem struct {
	Type             string              `json:"type"`
	Title            string              `json:"title"`
	Status           int                 `json:"status,omitempty"`
	Detail           string              `json:"detail"`
	Code             string              `json:"code"`
	Errors           []client.FieldError `json:"errors,omitempty"`
	SupportReference string              `json:"support_reference,omitempty"`
	RetryAfter       float64             `json:"retry_after_seconds,omitempty"`
	URL              string              `json:"url,omitempty"`
	ExitCode         int                 `json:"exit_code"`
}

func problemOf(err error) problem {
	exit := exitCodeOf(err)
	var (
		ae *client.Error
		ce *codedError
		un *unreachableError
	)
	p := problem{Detail: message(err), ExitCode: exit}
	switch {
	case errors.As(err, &un):
		p.Code, p.Title, p.URL = "server_unreachable", "Server unreachable", un.base
	case errors.As(err, &ae):
		p.Type, p.Title, p.Status, p.Code, p.Errors = ae.Type, ae.Title, ae.Status, ae.Code, ae.Fields
		p.SupportReference, p.RetryAfter = ae.SupportReference, ae.RetryAfter.Seconds()
		if ae.Detail != "" {
			p.Detail = ae.Detail
		}
		if p.Code == "" {
			p.Code = "http_" + fmt.Sprint(ae.Status)
		}
	case errors.As(err, &ce):
		p.Code, p.Title = ce.code, "Failed"
	case switchboard.ErrorKindOf(err) != switchboard.EINTERNAL:
		p.Code, p.Title = switchboard.ErrorCodeOf(err), "Failed"
	case exit == exitUsage:
		p.Code, p.Title = "usage", "Usage error"
	case exit == exitUnreachable:
		p.Code, p.Title = "server_unreachable", "Server unreachable"
	default:
		p.Code, p.Title = "failed", "Failed"
	}
	if p.Type == "" {
		p.Type = "urn:switchboard:cli:" + p.Code
	}
	return p
}

// report prints err for people, or as a JSON problem when asJSON, and returns the exit code.
func report(w io.Writer, err error, asJSON bool) int {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(problemOf(err))
	} else {
		fmt.Fprintln(w, "switchboard:", message(err))
	}
	return exitCodeOf(err)
}

// wantsJSON reports whether the command that failed was asked for --json. A command line that
// did not parse has no flag values, so its arguments are looked at too.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd != nil {
		if f := cmd.Flags().Lookup("json"); f != nil && f.Changed && f.Value.String() == "true" {
			return true
		}
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// finishTree makes every command report a wrong command line as a usage error: flag errors,
// argument counts, and unknown subcommands (cobra prints a group's help and exits 0 for
// `switchboard messages frobnicate`).
func finishTree(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see '%s --help')", err, c.CommandPath())
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		switch {
		case c.HasSubCommands() && !c.Runnable():
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return nil
				}
				hint := ""
				if cmd.SuggestionsMinimumDistance <= 0 {
					cmd.SuggestionsMinimumDistance = 2
				}
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					hint = "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return usageErrorf("unknown command %q for '%s'%s (see '%s --help')", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		case c.Args != nil:
			validate := c.Args
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := validate(cmd, args); err != nil {
					return usageErrorf("%v; usage: %s (see '%s --help')", err, cmd.UseLine(), cmd.CommandPath())
				}
				return nil
			}
		}
	}
	walk(root)
}
