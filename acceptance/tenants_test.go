package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tenantsYAML: the node's own number is the default tenant's alone, so that the tenants send
// only from the numbers the operator gives them at run time.
const tenantsYAML = `senders:
  - from: "+15005550006"
    tenants: [default]
`

// The tenants' numbers: acme and globex share one (pool default), acme-staging has one of its
// own (pool staging), and initech's is bought in its Twilio subaccount (pool initech).
const (
	sharedNumber  = "+16175550100"
	stagingNumber = "+16175550200"
	initechNumber = "+16175550300"
)

// TestTenantsFieldServiceDay is issue #18's field-service journey with tenants: an operator
// bootstraps a platform key on the database and through the CLI and API creates acme and globex
// (production, one shared number added at run time), initech (production, its own Twilio
// subaccount) and acme-staging (staging, an allow-list of two numbers), with admin and send keys
// for each. Each production tenant sends 24 job texts, half one after the other and half all at
// once, while serve is SIGKILLed and restarted; every accepted message ends delivered once, each
// tenant lists and finds by job_id only its own, another tenant's key gets 404, initech's texts
// leave through its subaccount. A STOP to the shared number stops acme and globex, not initech;
// a first text to initech's own number is initech's; the staging tenant reaches only its allow-list; the usage report counts what each one sent.
// The journey runs on SQLite and, side by side, on PostgreSQL (a schema of its own).
func TestTenantsFieldServiceDay(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			o := stackOptions{yaml: tenantsYAML, simArgs: []string{"--number", sharedNumber, "--number", stagingNumber}}
			if engine == "postgres" {
				o.database = postgresURL(t)
			}
			tenantsFieldServiceDay(t, o)
		})
	}
}

func tenantsFieldServiceDay(t *testing.T, o stackOptions) {
	started := time.Now()
	s := newStack(t, o)

	// --- Bootstrap, as an operator does: the first platform key on the database, then the API.
	var pk struct {
		Secret string `json:"secret"`
		Tenant string `json:"tenant"`
		Role   string `json:"role"`
	}
	if err := json.Unmarshal([]byte(s.cli("keys", "create", "--name", "ops", "--role", "platform", "--json")), &pk); err != nil {
		t.Fatal(err)
	}
	if pk.Role != "platform" || pk.Secret == "" {
		t.Fatalf("keys create --role platform: %+v", pk)
	}
	platform := pk.Secret
	cliAs := func(key string, args ...string) string { return s.cli(append(args, "--api-key", key)...) }

	cliAs(platform, "tenants", "create", "acme", "--name", "Acme Heating")
	cliAs(platform, "tenants", "create", "globex", "--name", "Globex Plumbing")
	cliAs(platform, "tenants", "create", "acme-staging", "--name", "Acme Heating (staging)", "--environment", "staging",
		"--allow", "+14155550901,+14155550902")
	s.mustAs(platform, 201, "POST", "/v1/tenants", map[string]any{"id": "initech", "name": "Initech Facilities", "environment": "production"}, nil)
	if r := s.as(platform, "POST", "/v1/tenants", map[string]any{"id": "acme"}); r.status != 409 || r.problemCode() != "tenant_exists" {
		t.Errorf("creating acme twice: %d %s", r.status, r.body)
	}
	var tl struct {
		Tenants []struct {
			ID          string `json:"id"`
			Environment string `json:"environment"`
		} `json:"tenants"`
	}
	if err := json.Unmarshal([]byte(cliAs(platform, "tenants", "list", "--json")), &tl); err != nil {
		t.Fatal(err)
	}
	envs := map[string]string{}
	for _, x := range tl.Tenants {
		envs[x.ID] = x.Environment
	}
	for id, want := range map[string]string{"acme": "production", "globex": "production", "initech": "production", "acme-staging": "staging", "default": "production"} {
		if envs[id] != want {
			t.Errorf("tenants list: %s is %q, want %q (%v)", id, envs[id], want, envs)
		}
	}

	// Keys: the platform key makes each tenant's admin key, each admin key its tenant's send key.
	type tenantKeys struct{ admin, send string }
	keys := map[string]tenantKeys{}
	for _, id := range []string{"acme", "globex", "initech", "acme-staging"} {
		var k struct {
			Secret string `json:"secret"`
			Tenant string `json:"tenant"`
			Role   string `json:"role"`
		}
		s.mustAs(platform, 201, "POST", "/v1/keys", map[string]any{"name": id + "-admin", "role": "admin", "tenant": id}, &k)
		if k.Tenant != id || k.Role != "admin" {
			t.Fatalf("admin key of %s: %+v", id, k)
		}
		admin := k.Secret
		s.mustAs(admin, 201, "POST", "/v1/keys", map[string]any{"name": id + "-dispatch", "role": "send"}, &k)
		if k.Tenant != id || k.Role != "send" {
			t.Fatalf("send key made by %s's admin: %+v", id, k)
		}
		keys[id] = tenantKeys{admin: admin, send: k.Secret}
	}
	if r := s.as(keys["acme"].admin, "POST", "/v1/tenants", map[string]any{"id": "hooli"}); r.status != 403 {
		t.Errorf("an admin key creating a tenant: %d %s, want 403", r.status, r.body)
	}

	// initech's Twilio subaccount, made at Twilio (the simulator) as its operator would: the
	// subaccount, then a number bought in it.
	sub, subToken := s.simSubaccount("Initech Facilities")
	s.simTwilio(sub, subToken, "POST", "/2010-04-01/Accounts/"+sub+"/IncomingPhoneNumbers.json", url.Values{"PhoneNumber": {initechNumber}}, 201)
	tokenFile := filepath.Join(s.dir, "initech-token")
	if err := os.WriteFile(tokenFile, []byte(subToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := cliAs(keys["initech"].admin, "tenants", "credentials", "set", "initech", "--account-sid", sub, "--auth-token-file", tokenFile)
	if !strings.Contains(out, sub) {
		t.Errorf("tenants credentials set: %s", out)
	}
	if out := cliAs(keys["initech"].admin, "tenants", "credentials", "show", "initech", "--json"); strings.Contains(out, subToken) || !strings.Contains(out, sub) {
		t.Errorf("tenants credentials show: %s", out)
	}
	if r := s.as(keys["acme"].admin, "GET", "/v1/tenants/initech/credentials", nil); r.status != 404 {
		t.Errorf("acme's admin reading initech's credentials: %d %s, want 404", r.status, r.body)
	}

	// The senders, at run time: the shared number (a platform key's: two tenants use it), the
	// staging number, and initech's own number added by initech's admin.
	cliAs(platform, "senders", "add", sharedNumber, "--tenant", "acme,globex", "--rate", "200", "--burst", "20")
	cliAs(platform, "senders", "add", stagingNumber, "--tenant", "acme-staging", "--pool", "staging", "--rate", "200", "--burst", "20")
	cliAs(keys["initech"].admin, "senders", "add", initechNumber, "--tenant", "initech", "--pool", "initech", "--rate", "200", "--burst", "20")
	if r := s.as(keys["acme"].admin, "GET", "/v1/senders/"+url.PathEscape(initechNumber), nil); r.status != 404 {
		t.Errorf("acme's admin reading initech's sender: %d %s, want 404", r.status, r.body)
	}
	t.Logf("bootstrap (4 tenants, 9 keys, a subaccount, 3 senders) in %v", time.Since(started).Round(time.Millisecond))

	// --- The day at volume: 24 job texts per production tenant, the first 12 one after the
	// other, the other 12 all at once (the three tenants together), serve SIGKILLed meanwhile.
	const jobs = 24
	production := []string{"acme", "globex", "initech"}
	prefix := map[string]string{"acme": "+1415555", "globex": "+1212555", "initech": "+1312555"}
	tech := func(tenant string, i int) string { return fmt.Sprintf("%s%04d", prefix[tenant], 1000+i) }
	jobID := func(i int) string { return fmt.Sprint(1000 + i) } // every tenant numbers its jobs alike
	body := func(tenant string, i int) string {
		return fmt.Sprintf("%s: job %s assigned to you, visit at %02d:30.", tenant, jobID(i), 8+i%10)
	}
	request := func(tenant string, i int) map[string]any {
		m := map[string]any{"to": tech(tenant, i), "body": body(tenant, i), "metadata": map[string]string{"job_id": jobID(i), "tenant_ref": tenant}}
		if tenant == "initech" {
			m["from"] = initechNumber
		}
		return m
	}
	var mu sync.Mutex
	accepted := map[string][]string{} // tenant → accepted message IDs
	byJob := map[string]map[string]string{}
	sentBody := map[string]string{} // message ID → body
	for _, tn := range production {
		byJob[tn] = map[string]string{}
	}
	var acceptedCount atomic.Int64
	killAt := int64(-1) // the count at which the concurrent half signals kill
	kill := make(chan struct{})
	sendJob := func(tenant string, i int) {
		m, err := s.sendAs(keys[tenant].send, tenant+"-job-"+jobID(i), request(tenant, i))
		if err != nil {
			t.Errorf("%s job %s: %v", tenant, jobID(i), err)
			return
		}
		if acceptedCount.Add(1) == atomic.LoadInt64(&killAt) {
			close(kill)
		}
		mu.Lock()
		accepted[tenant] = append(accepted[tenant], m.ID)
		byJob[tenant][jobID(i)] = m.ID
		sentBody[m.ID] = body(tenant, i)
		mu.Unlock()
	}
	for i := 0; i < jobs/2; i++ {
		for _, tn := range production {
			sendJob(tn, i)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	before, unanswered0 := acceptedCount.Load(), s.unanswered.Load()
	atomic.StoreInt64(&killAt, before+10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		concurrently(len(production)*(jobs-jobs/2), 9, func(k int) { sendJob(production[k%3], jobs/2+k/3) })
	}()
	select {
	case <-kill: // ten of them accepted, the others in flight
	case <-time.After(60 * time.Second):
		t.Fatal("the concurrent sends did not get under way")
	}
	atKill := acceptedCount.Load() - before
	s.nodes[0].p.kill9()
	killedAt := time.Now()
	s.restart(0)
	t.Logf("SIGKILL after %d of the %d concurrent texts were accepted (%d at the simulator); serve ready again after %v",
		atKill, len(production)*(jobs-jobs/2), len(s.simOutbound()), time.Since(killedAt).Round(time.Millisecond))
	<-done
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d requests went unanswered by the killed node and were sent again with their idempotency keys", s.unanswered.Load()-unanswered0)

	// Every accepted text ends delivered, from the tenant's number.
	for _, tn := range production {
		if len(accepted[tn]) != jobs {
			t.Fatalf("%s: %d texts accepted, want %d", tn, len(accepted[tn]), jobs)
		}
		final := s.waitTerminalAs(keys[tn].admin, 60*time.Second, accepted[tn])
		wantFrom := sharedNumber
		if tn == "initech" {
			wantFrom = initechNumber
		}
		for _, id := range accepted[tn] {
			if m := final[id]; m.Status != "delivered" || m.From != wantFrom || m.Tenant != tn {
				t.Errorf("%s's %s: %s from %s in tenant %q, want delivered from %s", tn, id, m.Status, m.From, m.Tenant, wantFrom)
			}
		}
	}
	t.Logf("%d job texts delivered %v into the journey", 3*jobs, time.Since(started).Round(time.Millisecond))

	// Each tenant lists only its own (API and CLI), finds its job by metadata and nothing of the
	// others'; another tenant's keys get 404; a send key reads what it sent but lists nothing.
	for _, tn := range production {
		listed := s.listAll(keys[tn].admin, "")
		if !sameIDs(listed, accepted[tn]) {
			t.Errorf("%s's admin lists %d messages, want exactly its %d", tn, len(listed), len(accepted[tn]))
		}
		var cl struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		if err := json.Unmarshal([]byte(cliAs(keys[tn].admin, "messages", "list", "--all", "--json")), &cl); err != nil {
			t.Fatal(err)
		}
		var cliIDs []string
		for _, m := range cl.Messages {
			cliIDs = append(cliIDs, m.ID)
		}
		if !sameIDs(cliIDs, accepted[tn]) {
			t.Errorf("switchboard messages list for %s: %d messages, want exactly its %d", tn, len(cliIDs), len(accepted[tn]))
		}
		for _, j := range []int{3, jobs - 2} { // one job of the sequential half, one of the concurrent
			want := byJob[tn][jobID(j)]
			if got := s.listAll(keys[tn].admin, "metadata%5Bjob_id%5D="+jobID(j)); len(got) != 1 || got[0] != want {
				t.Errorf("%s: metadata[job_id]=%s lists %v, want [%s]", tn, jobID(j), got, want)
			}
			if err := json.Unmarshal([]byte(cliAs(keys[tn].admin, "messages", "list", "--metadata", "job_id="+jobID(j), "--json")), &cl); err != nil {
				t.Fatal(err)
			}
			if len(cl.Messages) != 1 || cl.Messages[0].ID != want {
				t.Errorf("%s: switchboard messages list --metadata job_id=%s lists %v, want [%s]", tn, jobID(j), cl.Messages, want)
			}
			if r := s.as(keys[tn].send, "GET", "/v1/messages/"+want, nil); r.status != 200 {
				t.Errorf("%s's send key reading the message it sent: %d %s", tn, r.status, r.body)
			}
			for _, other := range production {
				if other == tn {
					continue
				}
				if got := s.listAll(keys[other].admin, "metadata%5Btenant_ref%5D="+tn); len(got) != 0 {
					t.Errorf("%s's admin finds %d messages with %s's metadata", other, len(got), tn)
				}
				for _, k := range []string{keys[other].send, keys[other].admin} {
					for _, p := range []string{"/v1/messages/" + want, "/v1/messages/" + want + "/trace"} {
						if r := s.as(k, "GET", p, nil); r.status != 404 {
							t.Errorf("%s's key reading %s's %s: %d %s, want 404", other, tn, p, r.status, r.body)
						}
					}
				}
				if r := s.as(keys[other].admin, "POST", "/v1/messages/"+want+"/cancel", nil); r.status != 404 {
					t.Errorf("%s's admin canceling %s's message: %d, want 404", other, tn, r.status)
				}
			}
		}
		if r := s.as(keys[tn].send, "GET", "/v1/messages", nil); r.status != 403 {
			t.Errorf("%s's send key listing: %d, want 403", tn, r.status)
		}
	}

	// At the simulator: each text once, initech's through its subaccount, the others' through
	// the node's account.
	sims := s.simAll()
	count := map[string]int{}
	acct := map[string]string{}
	for _, m := range sims {
		if m.Direction != "inbound" {
			count[m.Body]++
			acct[m.Body] = m.AccountSID
		}
	}
	for _, tn := range production {
		wantAcct := simAccount
		if tn == "initech" {
			wantAcct = sub
		}
		for _, id := range accepted[tn] {
			b := sentBody[id]
			if count[b] != 1 {
				t.Errorf("%s's %q reached the simulator %d times, want once", tn, b, count[b])
			}
			if acct[b] != wantAcct {
				t.Errorf("%s's %q went through account %s, want %s", tn, b, acct[b], wantAcct)
			}
		}
	}

	// --- A person texts STOP to the shared number. Before, acme, globex and initech each texted
	// her (globex first, acme last: her STOP answers acme).
	const person = "+17735550123"
	personMsg := func(tn, text string) map[string]any {
		m := map[string]any{"to": person, "body": text, "metadata": map[string]string{"job_id": "9001"}}
		if tn == "initech" {
			m["from"] = initechNumber
		}
		return m
	}
	for _, tn := range []string{"globex", "initech", "acme"} {
		b := fmt.Sprintf("%s: your technician arrives at 14:00.", tn)
		m, err := s.sendAs(keys[tn].send, tn+"-person-1", personMsg(tn, b))
		if err != nil {
			t.Fatal(err)
		}
		s.waitTerminalAs(keys[tn].admin, 30*time.Second, []string{m.ID})
		accepted[tn] = append(accepted[tn], m.ID)
		sentBody[m.ID] = b
	}
	s.text(person, sharedNumber, "STOP")
	var cons struct {
		Current map[string]struct {
			State string `json:"state"`
		} `json:"current"`
	}
	optedOut := func(tn string) bool {
		r := s.as(keys[tn].admin, "GET", "/v1/consent/"+url.PathEscape(person), nil)
		cons.Current = nil
		_ = json.Unmarshal(r.body, &cons)
		return r.status == 200 && cons.Current["default"].State == "opted_out"
	}
	if !eventually(20*time.Second, func() bool { return optedOut("acme") }) {
		a := s.as(keys["acme"].admin, "GET", "/v1/consent/"+url.PathEscape(person), nil)
		g := s.as(keys["globex"].admin, "GET", "/v1/consent/"+url.PathEscape(person), nil)
		t.Fatalf("her STOP is not recorded for acme, whose text she answered: acme sees %d %s, globex %d %s", a.status, a.body, g.status, g.body)
	}
	for _, tn := range []string{"acme", "globex"} {
		r := s.as(keys[tn].send, "POST", "/v1/messages", personMsg(tn, tn+": one more job for you?"), "Idempotency-Key", tn+"-person-2")
		if r.status != 422 || r.problemCode() != "recipient_opted_out" {
			t.Errorf("%s texting her after her STOP to the shared number: %d %s, want 422 recipient_opted_out", tn, r.status, r.body)
		}
	}
	ib := "initech: your technician is on the way."
	im, err := s.sendAs(keys["initech"].send, "initech-person-2", personMsg("initech", ib))
	if err != nil {
		t.Fatalf("initech (its own number) texting her after her STOP to the shared number: %v", err)
	}
	accepted["initech"] = append(accepted["initech"], im.ID)
	sentBody[im.ID] = ib
	if m := s.waitTerminalAs(keys["initech"].admin, 30*time.Second, []string{im.ID})[im.ID]; m.Status != "delivered" {
		t.Errorf("initech's text after the STOP to another number ended %s, want delivered", m.Status)
	}
	// Her STOP was answered once, from the shared number; that answer is a message of the
	// tenant she answered (acme), counted in its usage.
	replies := map[string][]string{}
	eventually(10*time.Second, func() bool {
		replies = map[string][]string{}
		for _, tn := range []string{"acme", "globex"} {
			for _, id := range s.listAll(keys[tn].admin, "to="+url.QueryEscape(person)) {
				if !contains(accepted[tn], id) {
					replies[tn] = append(replies[tn], id)
				}
			}
		}
		return len(replies["acme"])+len(replies["globex"]) > 0
	})
	if len(replies["acme"]) != 1 || len(replies["globex"]) != 0 {
		t.Errorf("the opt-out confirmations in acme and globex: %v, want one, acme's", replies)
	}
	for tn, ids := range replies {
		accepted[tn] = append(accepted[tn], ids...)
		for _, m := range s.waitTerminalAs(keys[tn].admin, 30*time.Second, ids) {
			if m.From != sharedNumber || m.Status != "delivered" {
				t.Errorf("the opt-out confirmation of %s: %s from %s", tn, m.Status, m.From)
			}
		}
	}

	// --- A new client writes first to initech's own number: the text is initech's (its key
	// lists the conversation), though initech never wrote to him; nobody else's key lists it.
	const newClient = "+17735550124"
	s.text(newClient, initechNumber, "Do you also service office chillers?")
	convsWith := func(key string) []struct {
		OurNumber    string `json:"our_number"`
		InboundCount int    `json:"inbound_count"`
	} {
		var page struct {
			Conversations []struct {
				OurNumber    string `json:"our_number"`
				InboundCount int    `json:"inbound_count"`
			} `json:"conversations"`
		}
		s.mustAs(key, 200, "GET", "/v1/conversations?their_number="+url.QueryEscape(newClient), nil, &page)
		return page.Conversations
	}
	initech := keys["initech"].admin
	if !eventually(20*time.Second, func() bool { c := convsWith(initech); return len(c) == 1 && c[0].InboundCount == 1 }) {
		t.Errorf("initech's conversations with the client who wrote to its number: %+v, want one with his text", convsWith(initech))
	} else if c := convsWith(initech); c[0].OurNumber != initechNumber {
		t.Errorf("initech's conversation with him is on %s, want %s", c[0].OurNumber, initechNumber)
	}
	for tn, key := range map[string]string{"acme": keys["acme"].admin, "globex": keys["globex"].admin, "default": s.key} {
		if c := convsWith(key); len(c) != 0 {
			t.Errorf("%s lists %d conversations with the client who wrote to initech's number", tn, len(c))
		}
	}

	// --- acme-staging reaches its allow-list and nobody else.
	for i, to := range []string{"+14155550901", "+14155550902"} {
		b := fmt.Sprintf("acme-staging: test job %d", i)
		m, err := s.sendAs(keys["acme-staging"].send, fmt.Sprintf("staging-%d", i), map[string]any{"to": to, "body": b, "from": stagingNumber,
			"metadata": map[string]string{"job_id": jobID(i)}})
		if err != nil {
			t.Fatalf("acme-staging to its allowed %s: %v", to, err)
		}
		accepted["acme-staging"] = append(accepted["acme-staging"], m.ID)
		sentBody[m.ID] = b
	}
	const stranger = "+14155550999"
	r := s.as(keys["acme-staging"].send, "POST", "/v1/messages", map[string]any{"to": stranger, "body": "acme-staging: must not leave", "from": stagingNumber},
		"Idempotency-Key", "staging-stranger")
	if r.status != 422 || r.problemCode() != "staging_recipient_not_allowed" {
		t.Errorf("acme-staging to %s, off its allow-list: %d %s, want 422 staging_recipient_not_allowed", stranger, r.status, r.body)
	}
	// acme's keys cannot send from acme-staging's number either.
	if r := s.as(keys["acme"].admin, "POST", "/v1/messages", map[string]any{"to": stranger, "body": "acme-staging: must not leave", "from": stagingNumber},
		"Idempotency-Key", "acme-staging-number"); r.status != 422 || r.problemCode() != "unknown_sender" {
		t.Errorf("acme naming acme-staging's number: %d %s, want 422 unknown_sender", r.status, r.body)
	}
	for _, m := range s.waitTerminalAs(keys["acme-staging"].admin, 30*time.Second, accepted["acme-staging"]) {
		if m.Status != "delivered" || m.From != stagingNumber {
			t.Errorf("acme-staging's %s to %s: %s from %s, want delivered from %s", m.ID, m.To, m.Status, m.From, stagingNumber)
		}
	}
	if got := s.listAll(keys["acme-staging"].admin, ""); !sameIDs(got, accepted["acme-staging"]) {
		t.Errorf("acme-staging lists %v, want %v (the refused one is not stored)", got, accepted["acme-staging"])
	}

	// --- What reached the phones: every accepted text once, nothing to the stranger, nothing
	// more to her from the shared number after the confirmation.
	sims = s.simAll()
	var outbound []simMessage
	count = map[string]int{}
	for _, m := range sims {
		if m.Direction == "inbound" {
			continue
		}
		outbound = append(outbound, simMessage{SID: m.SID, To: m.To, From: m.From, Body: m.Body, Direction: m.Direction})
		count[m.Body]++
		if m.To == stranger {
			t.Errorf("the staging tenant's text reached %s: %q", stranger, m.Body)
		}
	}
	noDuplicates(t, outbound)
	total := 0
	for tn, ids := range accepted {
		total += len(ids)
		for _, id := range ids {
			if b, ok := sentBody[id]; ok && count[b] != 1 {
				t.Errorf("%s's %q is %d times at the simulator, want once", tn, b, count[b])
			}
		}
	}
	if len(outbound) != total {
		t.Errorf("the simulator holds %d outbound texts, want the %d accepted", len(outbound), total)
	}

	// --- Usage: the platform key sees every tenant's count, matching what each one sent.
	var rep struct {
		Usage []struct {
			Tenant   string `json:"tenant"`
			Day      string `json:"day"`
			Messages int    `json:"messages"`
			Segments int    `json:"segments"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(cliAs(platform, "usage", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	usage, segs := map[string]int{}, map[string]int{}
	for _, u := range rep.Usage {
		usage[u.Tenant] += u.Messages
		segs[u.Tenant] += u.Segments
	}
	for _, tn := range []string{"acme", "globex", "initech", "acme-staging"} {
		if usage[tn] != len(accepted[tn]) || segs[tn] != len(accepted[tn]) {
			t.Errorf("usage of %s: %d messages, %d segments; want %d of each", tn, usage[tn], segs[tn], len(accepted[tn]))
		}
	}
	if usage["default"] != 0 {
		t.Errorf("usage of default: %d messages, want none", usage["default"])
	}
	// An admin key sees its own tenant only.
	if err := json.Unmarshal([]byte(cliAs(keys["globex"].admin, "usage", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	for _, u := range rep.Usage {
		if u.Tenant != "globex" {
			t.Errorf("globex's admin sees the usage of %s", u.Tenant)
		}
	}
	t.Logf("tenants' day: %v; usage %v; %d outbound texts at the simulator", time.Since(started).Round(time.Millisecond), usage, len(outbound))
}

// as sends an API request with key (not the stack's), without failing the test: it may run on
// another goroutine.
func (s *stack) as(key, method, path string, body any, header ...string) apiResponse {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiResponse{body: []byte(err.Error())}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.apiURL+path, rd)
	if err != nil {
		return apiResponse{body: []byte(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return apiResponse{status: 0, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// retryAs is as, retried while the node cannot answer (killed, restarting), as a client with an
// idempotency key does.
func (s *stack) retryAs(key, method, path string, body any, header ...string) apiResponse {
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.as(key, method, path, body, header...)
		if r.status != 0 && r.status != http.StatusServiceUnavailable && r.status != http.StatusBadGateway || time.Now().After(deadline) {
			return r
		}
		s.unanswered.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

// mustAs is retryAs for a request that must answer want, on the test's goroutine.
func (s *stack) mustAs(key string, want int, method, path string, body, out any) {
	s.t.Helper()
	r := s.retryAs(key, method, path, body)
	if r.status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		r.decode(s.t, out)
	}
}

// sendAs posts a message with key and an idempotency key; it must be accepted (202).
func (s *stack) sendAs(key, idem string, body map[string]any) (message, error) {
	var m message
	r := s.retryAs(key, "POST", "/v1/messages", body, "Idempotency-Key", idem)
	if r.status != http.StatusAccepted {
		return m, fmt.Errorf("POST /v1/messages: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		return m, err
	}
	return m, nil
}

// tenantMessage is a message as a tenant's key reads it.
type tenantMessage struct {
	message
	Tenant string `json:"tenant"`
}

// waitTerminalAs waits, reading with key, for every message to end and returns them by ID.
func (s *stack) waitTerminalAs(key string, timeout time.Duration, ids []string) map[string]tenantMessage {
	s.t.Helper()
	out := map[string]tenantMessage{}
	waitFor(s.t, timeout, fmt.Sprintf("%d messages terminal", len(ids)), func() bool {
		for _, id := range ids {
			if m, ok := out[id]; ok && terminal(m.Status) {
				continue
			}
			r := s.as(key, "GET", "/v1/messages/"+id, nil)
			if r.status != 200 {
				return false
			}
			var m tenantMessage
			r.decode(s.t, &m)
			out[id] = m
			if !terminal(m.Status) {
				return false
			}
		}
		return true
	})
	return out
}

// listAll lists every message key may list (GET /v1/messages with query, every page) and
// returns their IDs.
func (s *stack) listAll(key, query string) []string {
	s.t.Helper()
	var ids []string
	cursor := ""
	for {
		q := "limit=500"
		if query != "" {
			q += "&" + query
		}
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
			NextCursor string `json:"next_cursor"`
		}
		s.mustAs(key, 200, "GET", "/v1/messages?"+q, nil, &page)
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
}

// simAccountMessage is a message at the simulator with the account it belongs to.
type simAccountMessage struct {
	SID        string `json:"sid"`
	AccountSID string `json:"account_sid"`
	Direction  string `json:"direction"`
	From       string `json:"from"`
	To         string `json:"to"`
	Body       string `json:"body"`
	Status     string `json:"status"`
}

// simAll is every message the simulated Twilio holds, of every account.
func (s *stack) simAll() []simAccountMessage {
	s.t.Helper()
	var out struct {
		Messages []simAccountMessage `json:"messages"`
	}
	s.simGet("/sim/v1/messages", &out)
	return out.Messages
}

// simTwilio calls the simulated Twilio's REST API with Basic credentials and a form, and
// returns the decoded answer, which must have status want.
func (s *stack) simTwilio(user, pass, method, path string, form url.Values, want int) map[string]any {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.simAddr+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("Twilio %s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("Twilio %s %s: %v: %s", method, path, err, b)
	}
	return out
}

// simSubaccount creates a subaccount of the simulated account, as Twilio's Accounts API does,
// and returns its SID and auth token.
func (s *stack) simSubaccount(name string) (sid, token string) {
	s.t.Helper()
	a := s.simTwilio(simAccount, simToken, "POST", "/2010-04-01/Accounts.json", url.Values{"FriendlyName": {name}}, 201)
	sid, _ = a["sid"].(string)
	token, _ = a["auth_token"].(string)
	if !strings.HasPrefix(sid, "AC") || token == "" {
		s.t.Fatalf("subaccount: %v", a)
	}
	return sid, token
}

func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]string{}, a...), append([]string{}, b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
