package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

// TestQueryPlans pins the indexes that keep the dispatcher's and the dashboard's queries
// independent of the number of messages.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	metaWhere := sqlstore.Where{Conds: []string{"status IN (?)"}, Args: []any{"queued"}}
	metaQuery, metaArgs := sqlstore.MessagesQuery(&metaWhere, sqlstore.MessageCols, "acme",
		&switchboard.MetadataMatch{Key: "job_id", Value: "1042"}, "msg_cursor", 50)
	// ListMessages' query of a tenant's first page by one pair (the API's: tenant set, no cursor).
	firstMetaQuery, firstMetaArgs := sqlstore.MessagesQuery(&sqlstore.Where{}, sqlstore.MessageCols, "acme",
		&switchboard.MetadataMatch{Key: "job_id", Value: "1042"}, "", 50)
	allMetaWhere := sqlstore.Where{}
	allMetaQuery, allMetaArgs := sqlstore.MessagesQuery(&allMetaWhere, sqlstore.MessageCols, "",
		&switchboard.MetadataMatch{Key: "job_id", Value: "1042"}, "msg_cursor", 50)
	tenantWhere := sqlstore.Where{}
	tenantQuery, tenantArgs := sqlstore.MessagesQuery(&tenantWhere, sqlstore.MessageCols, "acme", nil, "msg_cursor", 50)
	toWhere := sqlstore.Where{}
	toWhere.Add("tenant = ?", "acme")
	toWhere.Add("to_number = ?", "+1")
	toQuery, toArgs := sqlstore.MessagesQuery(&toWhere, sqlstore.MessageCols, "", nil, "msg_cursor", 50)
	allToWhere := sqlstore.Where{}
	sqlstore.TenantIn(&allToWhere, "tenant", "messages", "")
	allToWhere.Add("to_number = ?", "+1")
	allToQuery, allToArgs := sqlstore.MessagesQuery(&allToWhere, sqlstore.MessageCols, "", nil, "msg_cursor", 50)
	verMeta := &switchboard.MetadataMatch{Key: "job_id", Value: "1042"}
	verMetaQuery, verMetaArgs := sqlstore.VerificationsQuery(&sqlstore.Where{}, switchboard.VerificationFilter{Tenant: "acme",
		To: "+1", Status: switchboard.VerificationApproved, Metadata: verMeta, Cursor: "ver_cursor"}, 50)
	verMetaFirstQuery, verMetaFirstArgs := sqlstore.VerificationsQuery(&sqlstore.Where{}, switchboard.VerificationFilter{Tenant: "acme", Metadata: verMeta}, 50)
	allVerMetaQuery, allVerMetaArgs := sqlstore.VerificationsQuery(&sqlstore.Where{}, switchboard.VerificationFilter{Metadata: verMeta, Cursor: "ver_cursor"}, 50)
	status1, status1Args := searchQuery([]switchboard.Status{switchboard.StatusFailed}, nil, nil, 51)
	status2, status2Args := searchQuery([]switchboard.Status{switchboard.StatusFailed, switchboard.StatusUndelivered},
		[]string{"from_number = ?"}, []any{"+1"}, 51)
	for _, tc := range []struct {
		name, query string
		args        []any
		want        []string
		notWant     []string
	}{
		{"claim", qClaim, []any{"o", 1, "+1", 1, 10}, []string{"messages_due"}, []string{"SCAN messages", "TEMP B-TREE"}},
		{"due senders", qDueSenders, []any{1}, []string{"messages_due"}, []string{"SCAN messages"}},
		{"next due", qNextDue, nil, []string{"messages_next", "messages_leased"}, []string{"SCAN messages"}},
		{"release", qReleaseLeases, []any{"o"}, []string{"messages_leased"}, []string{"SCAN messages"}},
		{"stale", qStaleSending, []any{1, 10}, []string{"messages_sending"}, []string{"SCAN messages"}},
		{"by sid", qMessageBySID, []any{"SM1"}, []string{"messages_provider_sid"}, []string{"SCAN messages"}},
		{"pending", qPendingCallbacks, []any{"SM1"}, []string{"webhook_events_pending"}, []string{"SCAN"}},
		{"events", qEvents, []any{"m"}, []string{"message_events_message"}, []string{"SCAN", "TEMP B-TREE"}},
		{"queue stats", qQueueStats, []any{1, 10001}, []string{"messages_due (from_number=? AND next_attempt_at<?)", "messages_due (from_number=? AND next_attempt_at>?)"}, []string{"SCAN messages"}},
		{"outcomes", qOutcomes, []any{1, 2}, []string{"COVERING INDEX messages_outcome"}, []string{"SCAN messages"}},
		{"event deliveries", qEventDeliveries, []any{1}, []string{"deliveries_event"}, []string{"SCAN deliveries"}},
		{"message events", qMessageEvents, []any{1, 2, "m"}, []string{"SEARCH app_events USING INTEGER PRIMARY KEY"}, []string{"SCAN app_events"}},
		// A listing by metadata walks message_metadata's primary key in page order (no sort) and
		// reads only the messages it lists.
		{"list by metadata", metaQuery, metaArgs, []string{"SEARCH mm USING PRIMARY KEY (tenant=? AND key=? AND value=? AND message_id<?)", "SEARCH messages USING INDEX sqlite_autoindex_messages_1 (id=?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		{"list by metadata, first page", firstMetaQuery, firstMetaArgs, []string{"SEARCH mm USING PRIMARY KEY (tenant=? AND key=? AND value=?)", "SEARCH messages USING INDEX sqlite_autoindex_messages_1 (id=?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		// Every tenant's: one range of the index per tenant, then the page's sort.
		{"list by metadata, every tenant", allMetaQuery, allMetaArgs, []string{"SEARCH mm USING PRIMARY KEY (tenant=? AND key=? AND value=? AND message_id<?)"}, []string{"SCAN mm", "SCAN messages"}},
		{"list of a tenant", tenantQuery, tenantArgs, []string{"messages_tenant (tenant=? AND id<?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		{"list to", toQuery, toArgs, []string{"messages_to (tenant=? AND to_number=? AND id<?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		{"list to, every tenant", allToQuery, allToArgs, []string{"messages_to (tenant=? AND to_number=? AND id<?)"}, []string{"SCAN messages"}},
		{"calls by metadata", qListCallsByMetadata, []any{"acme", "job_id", "1042", "call_x", 51}, []string{"SEARCH cm USING PRIMARY KEY (tenant=? AND key=? AND value=? AND call_id<?)", "SEARCH c USING INDEX sqlite_autoindex_calls_1 (id=?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		// Verifications by metadata: a range of verification_metadata's primary key in page
		// order, then only the verifications listed (To and Status checked on them).
		{"verifications by metadata", verMetaQuery, verMetaArgs, []string{"SEARCH vm USING PRIMARY KEY (tenant=? AND key=? AND value=? AND verification_id<?)", "SEARCH verifications USING INDEX sqlite_autoindex_verifications_1 (id=?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		{"verifications by metadata, first page", verMetaFirstQuery, verMetaFirstArgs, []string{"SEARCH vm USING PRIMARY KEY (tenant=? AND key=? AND value=?)", "SEARCH verifications USING INDEX sqlite_autoindex_verifications_1 (id=?)"}, []string{"SCAN", "USE TEMP B-TREE"}},
		{"verifications by metadata, every tenant", allVerMetaQuery, allVerMetaArgs, []string{"SEARCH vm USING PRIMARY KEY (tenant=? AND key=? AND value=? AND verification_id<?)", "SEARCH verifications USING INDEX sqlite_autoindex_verifications_1 (id=?)"}, []string{"SCAN vm", "SCAN verifications"}},
		{"search by status", status1, status1Args, []string{"messages_status"}, []string{"SCAN messages", "TEMP B-TREE"}},
		{"search by statuses", status2, status2Args, []string{"messages_status"}, []string{"SCAN messages"}},
		{"delivery stats", qDeliveryStats, []any{3600, 1, 2}, []string{"COVERING INDEX messages_created", "message_events_message"}, []string{"SCAN messages", "SCAN message_events"}},
		{"thread out", qConvMessages, []any{"default", "+1", "+2", "sms", "sms", 9, 9, "z", 10}, []string{"messages_thread"}, []string{"SCAN messages", "TEMP B-TREE"}},
		{"thread in", qConvInbounds, []any{"default", "+1", "+2", "sms", "sms", 9, 9, "z", 10}, []string{"inbound_messages_thread"}, []string{"SCAN inbound_messages", "TEMP B-TREE"}},
	} {
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		t.Logf("%s:\n%s", tc.name, p)
		for _, w := range tc.want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: plan does not use %s:\n%s", tc.name, w, p)
			}
		}
		for _, w := range tc.notWant {
			for _, line := range plan {
				if strings.HasPrefix(line, w) && !strings.Contains(line, "USING") {
					t.Errorf("%s: plan has %q:\n%s", tc.name, line, p)
				}
			}
		}
	}
}
