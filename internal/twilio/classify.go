package twilio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/twilio/twilio-go/client"
)

// classify turns a failed twilio-go call into a *switchboard.ProviderError whose Outcome tells the
// dispatcher what to do. The rules, most specific first:
//
//  1. Twilio answered with an error (a *client.TwilioRestError, or an error status whose body was
//     not Twilio's error JSON): 5xx is ambiguous whatever the code (the message may have been
//     created before the failure); 401 fails; 429 retries (20429 and unknown codes: the request
//     was never processed) unless the code table says retrying cannot help (Verify's 60202/60203
//     limit attempts, not load); otherwise the code table decides, and an unknown 4xx code fails.
//  2. The request certainly never reached Twilio: connection refused, DNS failure, a failed dial or
//     TLS handshake, or any failure before a connection was obtained. Retry.
//  3. Anything else may have reached Twilio: a timeout, a connection reset or EOF after the request
//     was written, a cancellation, an unreadable response. Ambiguous: the dispatcher reconciles
//     (looks the message up) before it ever sends again.
func classify(err error, tr *callTrace) *switchboard.ProviderError {
	status := int(tr.status.Load())
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		if status == 0 { // no response seen: an error twilio-go made up itself (credentials)
			status = rest.Status
		}
		raw, _ := json.Marshal(rest)
		return httpError(status, rest.Code, rest.Message, raw, nil)
	}
	if status >= 400 {
		// An error status whose body twilio-go could not decode (a proxy's HTML page, an empty
		// 502): the status alone decides.
		return httpError(status, 0, http.StatusText(status), nil, err)
	}
	return networkError(err, tr.gotConn.Load())
}

// httpError classifies an error answer from Twilio.
func httpError(status, code int, message string, raw json.RawMessage, err error) *switchboard.ProviderError {
	info := LookupCode(code)
	var outcome switchboard.Outcome
	switch {
	case status >= 500:
		outcome = switchboard.OutcomeAmbiguous
	case status == http.StatusUnauthorized:
		outcome = switchboard.OutcomeFail
	case status == http.StatusTooManyRequests:
		outcome = switchboard.OutcomeRetry
		if info.Known && info.Outcome == switchboard.OutcomeFail {
			outcome = switchboard.OutcomeFail
		}
	case code != 0:
		outcome = info.Outcome
	default:
		outcome = switchboard.OutcomeFail
	}
	explanation := info.Explanation
	if !info.Known {
		explanation = statusExplanation(status)
		if code != 0 {
			explanation += " See " + info.DocURL() + "."
		}
	}
	return &switchboard.ProviderError{
		Outcome:     outcome,
		HTTPStatus:  status,
		Class:       Class(code),
		Code:        code,
		Message:     message,
		Explanation: explanation,
		Raw:         raw,
		Err:         err,
	}
}

// statusExplanation explains an error answer by its HTTP status alone.
func statusExplanation(status int) string {
	switch {
	case status >= 500:
		return "Twilio answered with a server error; the message may or may not have been created. " +
			"Switchboard looks it up at Twilio before sending again. Check status.twilio.com."
	case status == http.StatusTooManyRequests:
		return "Twilio is rate-limiting the account; the request was not processed and is retried " +
			"with backoff."
	case status == http.StatusUnauthorized:
		return "Twilio rejected the credentials; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or " +
			"TWILIO_API_KEY/TWILIO_API_SECRET)."
	}
	return fmt.Sprintf("Twilio refused the request (HTTP %d); resending the same request will not help.", status)
}

// networkError classifies a failure with no error answer from Twilio. gotConn says whether a
// connection was obtained, after which bytes of the request may have reached Twilio.
func networkError(err error, gotConn bool) *switchboard.ProviderError {
	what, notDelivered := describeNetworkError(err)
	pe := &switchboard.ProviderError{Class: switchboard.ClassNone, Message: what, Err: err}
	if notDelivered || !gotConn {
		pe.Outcome = switchboard.OutcomeRetry
		pe.Explanation = "Switchboard could not reach Twilio (" + what + "); the request certainly " +
			"did not arrive and is retried with backoff. If it persists, check outbound network " +
			"access to api.twilio.com (or SWITCHBOARD_TWILIO_BASE_URL)."
		return pe
	}
	pe.Outcome = switchboard.OutcomeAmbiguous
	pe.Explanation = "The request to Twilio failed after it may have arrived (" + what + "), so the " +
		"message may or may not have been created. Switchboard looks it up at Twilio before " +
		"sending again, so it is never sent twice."
	return pe
}

// describeNetworkError names a network failure in a few words and reports whether it proves that
// the request never reached the server. Only types and sentinel errors are inspected, never
// error strings.
func describeNetworkError(err error) (what string, notDelivered bool) {
	var (
		dnsErr     *net.DNSError
		opErr      *net.OpError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		verifyErr  *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.As(err, &dnsErr):
		return "DNS lookup failed", true
	case errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &verifyErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return "TLS handshake failed", true
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "could not connect", true
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "request timed out", false
	case errors.Is(err, context.Canceled):
		return "request canceled", false
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the response", false
	}
	return "request failed", false
}

// isTimeout reports a net.Error timeout (http.Client's and net's own timeouts).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
