package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard"
)

var conversationTests = []test{
	{"Threading", testConversationThreading},
	{"Listing", testConversationListing},
	{"MessagesPaged", testConversationMessagesPaged},
	{"ConcurrentFirstMessages", testConversationConcurrent},
	{"Errors", testConversationErrors},
	{"RoutedEventTargets", testRoutedEventTargets},
}

func inbound(from, to, sid string, received time.Time) *switchboard.InboundMessage {
	return &switchboard.InboundMessage{ID: newID("in"), ProviderSID: sid, Channel: switchboard.ChannelSMS,
		From: from, To: to, Body: "reply " + sid, ReceivedAt: received}
}

func createInbound(t *testing.T, s switchboard.Store, in *switchboard.InboundMessage) {
	t.Helper()
	if created, err := s.CreateInbound(t.Context(), in); err != nil || !created {
		t.Fatalf("CreateInbound(%s) = %v, %v", in.ProviderSID, created, err)
	}
}

// conversationOf returns the one conversation of (ours, theirs).
func conversationOf(t *testing.T, s switchboard.Store, ours, theirs string) *switchboard.Conversation {
	t.Helper()
	cs, _, err := s.ListConversations(t.Context(), switchboard.ConversationFilter{OurNumber: ours, TheirNumber: theirs,
		Channel: switchboard.ChannelSMS})
	if err != nil || len(cs) != 1 {
		t.Fatalf("ListConversations(%s, %s) = %d conversations, %v; want 1", ours, theirs, len(cs), err)
	}
	got, err := s.GetConversation(t.Context(), cs[0].ID)
	if err != nil {
		t.Fatalf("GetConversation(%s): %v", cs[0].ID, err)
	}
	wantEqual(t, "GetConversation", cs[0], got)
	return got
}

func testConversationThreading(t *testing.T, s switchboard.Store) {
	m1 := createAt(t, s, at(time.Second), nil)
	createInbound(t, s, inbound(toA, fromA, "SMin1", at(3*time.Second)))
	m2 := createAt(t, s, at(5*time.Second), func(m *switchboard.Message) { m.Channel = switchboard.ChannelMMS }) // same thread
	// Other threads: another of our numbers, another person, another channel, a duplicate inbound.
	createAt(t, s, at(6*time.Second), func(m *switchboard.Message) { m.From = fromB })
	createAt(t, s, at(7*time.Second), func(m *switchboard.Message) { m.To = toB })
	createAt(t, s, at(8*time.Second), func(m *switchboard.Message) { m.Channel = switchboard.ChannelWhatsApp })
	if created, err := s.CreateInbound(t.Context(), inbound(toA, fromA, "SMin1", at(9*time.Second))); err != nil || created {
		t.Fatalf("CreateInbound(duplicate) = %v, %v", created, err)
	}

	c := conversationOf(t, s, fromA, toA)
	wantEqual(t, "channel", switchboard.ChannelSMS, c.Channel)
	wantEqual(t, "counts", [2]int{1, 2}, [2]int{c.InboundCount, c.OutboundCount})
	wantEqual(t, "last message", at(5*time.Second), c.LastMessageAt)
	wantEqual(t, "last inbound", ptr(at(3*time.Second)), c.LastInboundAt)
	wantEqual(t, "last outbound", ptr(at(5*time.Second)), c.LastOutboundAt)
	wantEqual(t, "created", at(time.Second), c.CreatedAt)

	msgs, next, err := s.ConversationMessages(t.Context(), c.ID, "", 10)
	if err != nil {
		t.Fatalf("ConversationMessages: %v", err)
	}
	wantEqual(t, "next", "", next)
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Direction)+":"+m.ID())
	}
	in := msgs[1].Inbound
	wantEqual(t, "thread, newest first", []string{"outbound:" + m2.ID, "inbound:" + in.ID, "outbound:" + m1.ID}, got)
	wantEqual(t, "inbound body", "reply SMin1", in.Body)
	wantEqual(t, "outbound body", m2.Body, msgs[0].Outbound.Body)

	// A late-committed older message moves nothing backwards.
	createAt(t, s, at(2*time.Second), nil)
	c = conversationOf(t, s, fromA, toA)
	wantEqual(t, "last message after an older one", at(5*time.Second), c.LastMessageAt)
	wantEqual(t, "outbound count", 3, c.OutboundCount)
}

func testConversationListing(t *testing.T, s switchboard.Store) {
	// Five conversations, with their last activity in this order: toB/fromA, then 4 more.
	people := []string{"+15551230011", "+15551230012", "+15551230013", "+15551230014"}
	for i, p := range people {
		createAt(t, s, at(time.Duration(i+1)*time.Second), func(m *switchboard.Message) { m.To = p })
	}
	createInbound(t, s, inbound(people[0], fromA, "SMlist", at(10*time.Second))) // people[0] is now the most recent
	var ids []string
	cursor := ""
	for range 10 {
		page, next, err := s.ListConversations(t.Context(), switchboard.ConversationFilter{OurNumber: fromA, Cursor: cursor, Limit: 3})
		if err != nil {
			t.Fatalf("ListConversations: %v", err)
		}
		for _, c := range page {
			ids = append(ids, c.TheirNumber)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	wantEqual(t, "by last activity", []string{people[0], people[3], people[2], people[1]}, ids)
	theirs, _, err := s.ListConversations(t.Context(), switchboard.ConversationFilter{TheirNumber: people[2]})
	if err != nil || len(theirs) != 1 || theirs[0].TheirNumber != people[2] {
		t.Fatalf("ListConversations(their) = %v, %v", theirs, err)
	}
	none, _, err := s.ListConversations(t.Context(), switchboard.ConversationFilter{Channel: switchboard.ChannelWhatsApp})
	if err != nil || len(none) != 0 {
		t.Fatalf("ListConversations(whatsapp) = %v, %v; want none", none, err)
	}
}

func testConversationMessagesPaged(t *testing.T, s switchboard.Store) {
	var want []string
	for i := range 7 {
		when := at(time.Duration(i) * time.Second)
		if i%2 == 0 {
			want = append(want, createAt(t, s, when, nil).ID)
			continue
		}
		in := inbound(toA, fromA, "SMpage"+string(rune('a'+i)), when)
		createInbound(t, s, in)
		want = append(want, in.ID)
	}
	// Two at one instant: ordered by ID.
	same := at(7 * time.Second)
	a := createAt(t, s, same, nil)
	b := inbound(toA, fromA, "SMsame", same)
	createInbound(t, s, b)
	if a.ID < b.ID {
		want = append(want, a.ID, b.ID)
	} else {
		want = append(want, b.ID, a.ID)
	}
	c := conversationOf(t, s, fromA, toA)
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.ConversationMessages(t.Context(), c.ID, cursor, 2)
		if err != nil {
			t.Fatalf("ConversationMessages: %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		for _, m := range page {
			got = append(got, m.ID())
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	slices.Reverse(want) // want was built oldest first
	wantEqual(t, "every message once, newest first", want, got)
}

func testConversationConcurrent(t *testing.T, s switchboard.Store) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _, err := s.CreateMessage(t.Context(), newMessage(at(time.Duration(i)*time.Millisecond)), nil)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.CreateInbound(t.Context(), inbound(toA, fromA, "SMconc"+string(rune('a'+i)), at(time.Duration(i)*time.Millisecond)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent create: %v", err)
		}
	}
	c := conversationOf(t, s, fromA, toA)
	wantEqual(t, "counts", [2]int{n, n}, [2]int{c.InboundCount, c.OutboundCount})
}

func testConversationErrors(t *testing.T, s switchboard.Store) {
	if _, err := s.GetConversation(t.Context(), "conv_missing"); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Fatalf("GetConversation(missing) = %v, want ENOTFOUND", err)
	}
	if _, _, err := s.ConversationMessages(t.Context(), "conv_missing", "", 10); switchboard.ErrorKindOf(err) != switchboard.ENOTFOUND {
		t.Fatalf("ConversationMessages(missing) = %v, want ENOTFOUND", err)
	}
	createAt(t, s, at(0), nil)
	c := conversationOf(t, s, fromA, toA)
	for _, bad := range []string{"x", "12", ".id", "-1.id", "abc.id"} {
		_, _, err := s.ConversationMessages(t.Context(), c.ID, bad, 10)
		var e *switchboard.Error
		if !errors.As(err, &e) || e.Kind != switchboard.EINVALID {
			t.Fatalf("ConversationMessages(cursor %q) = %v, want EINVALID", bad, err)
		}
		if _, _, err := s.ListConversations(t.Context(), switchboard.ConversationFilter{Cursor: bad}); switchboard.ErrorKindOf(err) != switchboard.EINVALID {
			t.Fatalf("ListConversations(cursor %q) = %v, want EINVALID", bad, err)
		}
	}
}

// testRoutedEventTargets: a routed inbound message's message.received goes to its rule's
// endpoints only, whatever their event types; an unrouted one to the endpoints its type matches.
func testRoutedEventTargets(t *testing.T, s switchboard.Store) {
	desk := createEndpoint(t, s, newEndpoint(at(0), "consent.*"))
	crm := createEndpoint(t, s, newEndpoint(at(0), "message.received"))
	all := createEndpoint(t, s, newEndpoint(at(0), "*"))
	routed := inbound(toA, fromA, "SMrouted", at(time.Second))
	routed.Route, routed.RouteEndpoints = "support", []string{desk.ID, "ep_gone"}
	createInbound(t, s, routed)
	createInbound(t, s, inbound(toB, fromA, "SMplain", at(2*time.Second)))
	fanOut(t, s, at(3*time.Second))
	bodies := func(ep *switchboard.Endpoint) []string {
		var out []string
		for _, d := range deliveries(t, s, ep.ID, switchboard.DeliveryPending) {
			var data switchboard.MessageReceivedData
			if err := json.Unmarshal(d.Event.Data, &data); err != nil {
				t.Fatal(err)
			}
			out = append(out, data.ProviderSID+"/"+data.Route)
		}
		slices.Sort(out)
		return out
	}
	wantEqual(t, "routed endpoint", []string{"SMrouted/support"}, bodies(desk))
	wantEqual(t, "by type", []string{"SMplain/"}, bodies(crm))
	wantEqual(t, "every type", []string{"SMplain/"}, bodies(all))
}
