package twiliosim

import (
	"net/http"
	"slices"
	"strings"
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

// serveMessageSub answers a message's subresources; rest is what follows "Messages/".
func (s *Simulator) serveMessageSub(w http.ResponseWriter, r *http.Request, rest, path string) *apiError {
	msgSID, sub, _ := strings.Cut(rest, "/")
	m, ok := s.Message(msgSID)
	if !ok {
		return notFound(path)
	}
	switch {
	case sub == "Feedback.json":
		if r.Method != http.MethodPost {
			return methodNotAllowed()
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
	case sub == "Media.json":
		if r.Method != http.MethodGet {
			return methodNotAllowed()
		}
		size, page, aerr := readPage(r.Form)
		if aerr != nil {
			return aerr
		}
		all := make([]apiMedia, len(m.MediaURLs))
		for i, u := range m.MediaURLs {
			all[i] = s.renderMedia(&m, u)
		}
		items := pageSlice(all, size, page)
		out := map[string]any{
			"media_list": items, "end": page*size + max(len(items)-1, 0),
			"first_page_uri": pageURI(r.URL.Path, r.Form, nil, size, 0, ""), "next_page_uri": nil,
			"page": page, "page_size": size, "previous_page_uri": nil, "start": page * size,
			"uri": pageURI(r.URL.Path, r.Form, nil, size, page, ""),
		}
		if (page+1)*size < len(all) {
			out["next_page_uri"] = pageURI(r.URL.Path, r.Form, nil, size, page+1, "")
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	case strings.HasPrefix(sub, "Media/"):
		meSID, ok := jsonResource(strings.TrimPrefix(sub, "Media/"))
		if !ok {
			return notFound(path)
		}
		i := slices.IndexFunc(m.MediaURLs, func(u string) bool { return mediaSID(m.SID, u) == meSID })
		if i < 0 {
			return notFound(path)
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.renderMedia(&m, m.MediaURLs[i]))
		case http.MethodDelete:
			s.mu.Lock()
			if cur, ok := s.msgs[m.SID]; ok {
				cur.MediaURLs = slices.DeleteFunc(cur.MediaURLs, func(u string) bool { return mediaSID(m.SID, u) == meSID })
			}
			s.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			return methodNotAllowed()
		}
		return nil
	}
	return notFound(path)
}
