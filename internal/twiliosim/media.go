package twiliosim

import (
	"net/http"
	"slices"
)

// A message's Media and Feedback subresources (2010-04-01), which every message links in
// subresource_uris:
//
//	GET    …/Messages/{SM}/Media.json         the media of an MMS (one per MediaUrl)
//	GET    …/Messages/{SM}/Media/{ME}.json    one of them
//	DELETE …/Messages/{SM}/Media/{ME}.json    forget it
//	POST   …/Messages/{SM}/Feedback.json      Outcome=confirmed|unconfirmed (Message Feedback)
//
// A media SID is derived from the message and the position, so that it is stable.

type apiMedia struct {
	AccountSID  string `json:"account_sid"`
	ContentType string `json:"content_type"`
	DateCreated string `json:"date_created"`
	DateUpdated string `json:"date_updated"`
	ParentSID   string `json:"parent_sid"`
	SID         string `json:"sid"`
	URI         string `json:"uri"`
}

func mediaSID(msgSID, mediaURL string) string { return stableSID("ME", msgSID+"/"+mediaURL) }

func (s *Simulator) renderMedia(m *Message, u string) apiMedia {
	sid := mediaSID(m.SID, u)
	return apiMedia{
		AccountSID: m.AccountSID, ContentType: mediaType(u), DateCreated: rfc2822(m.DateCreated),
		DateUpdated: rfc2822(m.DateUpdated), ParentSID: m.SID, SID: sid,
		URI: "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID + "/Media/" + sid + ".json",
	}
}

// subMessage is the message whose subresource r names, or a 404.
func (s *Simulator) subMessage(r *http.Request) (Message, *apiError) {
	m, ok := s.Message(r.PathValue("MessageSid"))
	if !ok {
		return m, notFound(r.URL.Path)
	}
	return m, nil
}

// messageFeedback answers POST …/Messages/{MessageSid}/Feedback.json.
func (s *Simulator) messageFeedback(w http.ResponseWriter, r *http.Request) *apiError {
	m, aerr := s.subMessage(r)
	if aerr != nil {
		return aerr
	}
	outcome := r.Form.Get("Outcome")
	if outcome == "" {
		outcome = "unconfirmed"
	}
	if outcome != "confirmed" && outcome != "unconfirmed" {
		return invalidParam("Outcome", outcome)
	}
	now := rfc2822(s.now())
	// The spec (twilio-oai) answers 200 to a Feedback create.
	writeJSON(w, http.StatusOK, map[string]string{
		"account_sid": m.AccountSID, "message_sid": m.SID, "outcome": outcome,
		"date_created": now, "date_updated": now,
		"uri": "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID + "/Feedback.json",
	})
	return nil
}

// listMedia answers GET …/Messages/{MessageSid}/Media.json.
func (s *Simulator) listMedia(w http.ResponseWriter, r *http.Request) *apiError {
	m, aerr := s.subMessage(r)
	if aerr != nil {
		return aerr
	}
	size, page, aerr := readPage(r.Form)
	if aerr != nil {
		return aerr
	}
	all := make([]apiMedia, len(m.MediaURLs))
	for i, u := range m.MediaURLs {
		all[i] = s.renderMedia(&m, u)
	}
	writeJSON(w, http.StatusOK, listPage(r, "media_list", all, size, page, nil))
	return nil
}

// mediaOne answers GET and DELETE …/Messages/{MessageSid}/Media/{Sid}.json.
func (s *Simulator) mediaOne(w http.ResponseWriter, r *http.Request) *apiError {
	m, aerr := s.subMessage(r)
	if aerr != nil {
		return aerr
	}
	meSID := r.PathValue("Sid")
	i := slices.IndexFunc(m.MediaURLs, func(u string) bool { return mediaSID(m.SID, u) == meSID })
	if i < 0 {
		return notFound(r.URL.Path)
	}
	if r.Method == http.MethodDelete {
		s.mu.Lock()
		if cur, ok := s.msgs[m.SID]; ok {
			cur.MediaURLs = slices.DeleteFunc(cur.MediaURLs, func(u string) bool { return mediaSID(m.SID, u) == meSID })
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, s.renderMedia(&m, m.MediaURLs[i]))
	return nil
}
