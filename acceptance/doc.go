// Package acceptance holds Switchboard's user journeys: tests that build the real binary and
// drive it only as its users do — the CLI, the HTTP API, the dashboard in headless Chromium and
// the Twilio simulator's control API standing in for the phones — at volume, with a SIGKILL and
// a restart in the middle, asserting every item's final state, that nothing reached the
// provider twice, and what the operator sees (trace, dashboard, metrics).
//
// The package imports nothing of the module: a journey sees Switchboard as a user does. It runs
// with the rest of the suite (go test ./...). It needs Debian's Chromium (/usr/bin/chromium) and,
// for the cluster journey and the tenants journey's run on PostgreSQL (beside its SQLite run),
// SWITCHBOARD_TEST_POSTGRES_URL; without them the journeys that need them skip, except under
// CI=true, where they fail. Screenshots go to a temporary directory, or
// to $SWITCHBOARD_ACCEPTANCE_SCREENSHOTS when it is set.
package acceptance
