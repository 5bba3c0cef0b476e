// Package twiliosig computes and checks X-Twilio-Signature, Twilio's webhook signature, exactly
// as Twilio computes it. It is used on both sides: by the simulator to sign the callbacks it sends
// and by the webhook ingress to validate the callbacks it receives.
//
// Unlike twilio-go's ValidateBody, repeated form keys are kept and their values sorted within the
// key (as twilio-python does), so a callback with two Digits or MediaUrl values validates.
package twiliosig

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// Header is the HTTP header Twilio puts the signature in.
const Header = "X-Twilio-Signature"

// Sign returns the signature of a form POST to fullURL with params, keyed with authToken.
func Sign(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := params[k]
		if len(vals) > 1 {
			vals = append([]string(nil), vals...)
			sort.Strings(vals)
		}
		for _, v := range vals {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether signature is Twilio's signature of a form POST to fullURL with params.
// Both port forms are accepted: the URL as given, with the scheme's default port added, and
// with it removed, since Twilio's SDKs differ in which one they sign.
func Valid(authToken, fullURL string, params url.Values, signature string) bool {
	if signature == "" {
		return false
	}
	for _, u := range urlVariants(fullURL) {
		if equal(Sign(authToken, u, params), signature) {
			return true
		}
	}
	return false
}

// ValidJSON reports whether signature is valid for a JSON body posted to fullURL, whose query
// carries bodySHA256; the signature covers the URL only and the body must match the hash.
func ValidJSON(authToken, fullURL string, body []byte, signature string) bool {
	u, err := url.Parse(fullURL)
	if err != nil || signature == "" {
		return false
	}
	want := u.Query().Get("bodySHA256")
	sum := sha256.Sum256(body)
	if want == "" || !equal(hex.EncodeToString(sum[:]), strings.ToLower(want)) {
		return false
	}
	return Valid(authToken, fullURL, nil, signature)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// urlVariants returns fullURL, and the same URL with the default port added or removed.
func urlVariants(fullURL string) []string {
	u, err := url.Parse(fullURL)
	if err != nil || u.Host == "" {
		return []string{fullURL}
	}
	port := u.Port()
	def := map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	alt := *u
	switch {
	case port == "" && def != "":
		alt.Host = u.Host + ":" + def
	case port != "" && port == def:
		alt.Host = u.Hostname()
		if strings.Contains(alt.Host, ":") { // IPv6 literal
			alt.Host = "[" + alt.Host + "]"
		}
	default:
		return []string{fullURL}
	}
	return []string{fullURL, alt.String()}
}
