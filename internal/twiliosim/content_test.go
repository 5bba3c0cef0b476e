package twiliosim_test

import (
	"net/http"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	content "github.com/twilio/twilio-go/rest/content/v1"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

// The Content API through twilio-go's ContentV1: create (text and non-text types), list,
// fetch, delete; a created template is usable as ContentSid.
func TestContentAPICreateListDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{})
	rc := e.account(t)
	create := func(name string, types content.Types) string {
		t.Helper()
		p := (&content.CreateContentParams{}).SetContentCreateRequest(content.ContentCreateRequest{
			FriendlyName: name, Language: "en", Variables: map[string]string{"1": "Ann"}, Types: types,
		})
		c, err := rc.ContentV1.CreateContent(p)
		if err != nil {
			t.Fatal(err)
		}
		return *c.Sid
	}
	text := create("hello", content.Types{TwilioText: &content.TwilioText{Body: "Hello {{1}}"}})
	quick := create("menu", content.Types{TwilioQuickReply: &content.TwilioQuickReply{Body: "Pick one, {{1}}",
		Actions: []content.QuickReplyAction{{Title: "Yes", Id: "y"}, {Title: "No", Id: "n"}}}})

	list, err := rc.ContentV1.ListContent(&content.ListContentParams{})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListContent: %d %v", len(list), err)
	}
	got, err := rc.ContentV1.FetchContent(quick)
	if err != nil || got.Types == nil {
		t.Fatalf("FetchContent: %+v %v", got, err)
	}
	if qr, ok := (*got.Types)["twilio/quick-reply"].(map[string]any); !ok || qr["body"] != "Pick one, {{1}}" {
		t.Fatalf("quick-reply type not kept: %v", *got.Types)
	}
	m, err := rc.Api.CreateMessage(newContentMessage(quick))
	if err != nil || *m.Body != "Pick one, Ann" {
		t.Fatalf("message from a quick-reply template: %v %v", m, err)
	}
	if err := rc.ContentV1.DeleteContent(text); err != nil {
		t.Fatal(err)
	}
	_, err = rc.Api.CreateMessage(newContentMessage(text))
	restError(t, err, 21655, http.StatusBadRequest)
}

func newContentMessage(sid string) *api.CreateMessageParams {
	p := &api.CreateMessageParams{}
	p.SetTo("+14155550100").SetFrom(twiliosim.MagicFrom).SetContentSid(sid)
	return p
}
