package twiliosim_test

import (
	"net/http"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// The Media and Feedback subresources every message links (Twilio's Message resource), through
// twilio-go and against Twilio's OpenAPI schemas.
func TestMediaAndFeedbackSubresources(t *testing.T) {
	t.Parallel()
	loadSpec(t)
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetMediaUrl([]string{"https://example.com/a.png", "https://example.com/b.gif"})
	m, err := rc.Api.CreateMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	media, err := rc.Api.ListMedia(*m.Sid, &api.ListMediaParams{})
	if err != nil || len(media) != 2 || *media[0].ContentType != "image/png" || *media[0].ParentSid != *m.Sid {
		t.Fatalf("ListMedia: %+v %v", media, err)
	}
	one, err := rc.Api.FetchMedia(*m.Sid, *media[1].Sid, &api.FetchMediaParams{})
	if err != nil || *one.ContentType != "image/gif" {
		t.Fatalf("FetchMedia: %+v %v", one, err)
	}
	base := "/2010-04-01/Accounts/" + e.sim.AccountSID() + "/Messages/" + *m.Sid
	code, body := e.do(t, http.MethodGet, base+"/Media.json", nil)
	validate(t, "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json", "get", code, body)
	code, body = e.do(t, http.MethodGet, base+"/Media/"+*one.Sid+".json", nil)
	validate(t, "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{Sid}.json", "get", code, body)
	if err := rc.Api.DeleteMedia(*m.Sid, *one.Sid, &api.DeleteMediaParams{}); err != nil {
		t.Fatal(err)
	}
	_, err = rc.Api.FetchMedia(*m.Sid, *one.Sid, &api.FetchMediaParams{})
	restError(t, err, 20404, http.StatusNotFound)

	fb, err := rc.Api.CreateMessageFeedback(*m.Sid, (&api.CreateMessageFeedbackParams{}).SetOutcome("confirmed"))
	if err != nil || *fb.Outcome != "confirmed" || *fb.MessageSid != *m.Sid {
		t.Fatalf("feedback: %+v %v", fb, err)
	}
	code, body = e.do(t, http.MethodPost, base+"/Feedback.json", map[string][]string{"Outcome": {"unconfirmed"}})
	validate(t, "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Feedback.json", "post", code, body)
	_, err = rc.Api.CreateMessageFeedback(*m.Sid, (&api.CreateMessageFeedbackParams{}).SetOutcome("maybe"))
	restError(t, err, 20001, http.StatusBadRequest)
}
