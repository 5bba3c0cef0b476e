package twiliosim

import (
	"net/http"
	"net/url"
	"strings"
)

// Lookup v2 (lookups.twilio.com/v2/PhoneNumbers/{PhoneNumber}), the basic lookup and the
// line_type_intelligence package (Twilio's Lookup v2 API):
//   - an E.164 number (or a national number with CountryCode=US) is valid; anything else
//     answers valid=false with validation_errors ["INVALID_LENGTH"] or ["NOT_A_NUMBER"];
//   - line type: +1 800/833/844/855/866/877/888 is "tollFree"; the account's own numbers are
//     "nonFixedVoip"; a number whose calls are scripted to fail is "landline"; others "mobile";
//     the carrier is "Simulated Carrier" (our choices).

// lookupPhoneNumber answers GET /v2/PhoneNumbers/{PhoneNumber}.
func (s *Simulator) lookupPhoneNumber(w http.ResponseWriter, r *http.Request) *apiError {
	raw := r.PathValue("PhoneNumber")
	if raw == "" || strings.Contains(raw, "/") {
		return notFound(r.URL.Path)
	}
	q := r.Form
	number := strings.TrimSpace(raw)
	if !strings.HasPrefix(number, "+") && strings.EqualFold(q.Get("CountryCode"), "US") {
		number = "+1" + strings.TrimPrefix(number, "1")
	}
	out := map[string]any{
		"calling_country_code": nil, "country_code": nil, "phone_number": raw, "national_format": nil,
		"valid": false, "validation_errors": []string{}, "caller_name": nil, "sim_swap": nil,
		"call_forwarding": nil, "line_type_intelligence": nil, "line_status": nil, "identity_match": nil,
		"reassigned_number": nil, "sms_pumping_risk": nil, "phone_number_quality_score": nil, "pre_fill": nil,
		"url": "https://lookups.twilio.com/v2/PhoneNumbers/" + url.PathEscape(raw),
	}
	switch {
	case !isE164(number) && strings.Trim(number, "+0123456789") != "":
		out["validation_errors"] = []string{"NOT_A_NUMBER"}
	case !isE164(number):
		out["validation_errors"] = []string{"INVALID_LENGTH"}
	default:
		out["valid"], out["phone_number"] = true, number
		out["country_code"] = countryOf(number)
		for _, c := range []string{"+1", "+44", "+33", "+49", "+34", "+39", "+31", "+61", "+52", "+55", "+91", "+81"} {
			if strings.HasPrefix(number, c) {
				out["calling_country_code"] = c[1:]
			}
		}
		out["national_format"] = friendlyName(number)
		for _, f := range strings.Split(q.Get("Fields"), ",") {
			if strings.TrimSpace(f) == "line_type_intelligence" {
				out["line_type_intelligence"] = map[string]any{
					"type": s.lineType(number), "carrier_name": "Simulated Carrier",
					"mobile_country_code": "310", "mobile_network_code": "000", "error_code": nil,
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Simulator) lineType(number string) string {
	if senderMPS(number) == 3 {
		return "tollFree"
	}
	if s.owned(number) {
		return "nonFixedVoip"
	}
	s.voice.mu.Lock()
	sc, ok := s.voice.scripts[number]
	s.voice.mu.Unlock()
	if ok && sc.Outcome == OutcomeFail {
		return "landline"
	}
	return "mobile"
}
