package switchboard

import (
	"context"
	"time"
)

// Event types a node writes when its circuit breaker to the provider changes state (see
// internal/dispatch/breaker.go). Each node has its own breaker, so each node reports its own.
const (
	// AppProviderCircuitOpened: the provider failed too often in a row (connection errors, 5xx,
	// timeouts); the node stopped calling it except for probes. Messages wait, nothing fails.
	AppProviderCircuitOpened AppEventType = "provider.circuit_opened"
	// AppProviderCircuitClosed: a call succeeded again; the node sends at its senders' rates.
	AppProviderCircuitClosed AppEventType = "provider.circuit_closed"
)

// CircuitChangedData is the payload of provider.circuit_opened and provider.circuit_closed.
type CircuitChangedData struct {
	Provider string `json:"provider"`
	// Node is the dispatcher that owns the breaker (its lease owner name).
	Node  string `json:"node"`
	State string `json:"state"` // open or closed
	// OpenedAt is when the circuit opened (for closed: when the outage began on this node).
	OpenedAt time.Time `json:"opened_at"`
	// ClosedAt is set when the circuit closed.
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// ConsecutiveFailures is how many calls in a row failed when it opened.
	ConsecutiveFailures int    `json:"consecutive_failures"`
	LastError           string `json:"last_error,omitempty"`
	// Probes counts the probe calls made while open; Rejected the calls refused without a request.
	Probes   int64 `json:"probes"`
	Rejected int64 `json:"rejected"`
}

// EventLogStore appends events to the event log that are not the report of a change in the
// store (a node's circuit breaker opening...). The event log delivers them like the others.
type EventLogStore interface {
	// AppendAppEvent appends ev to the event log and sets its Seq.
	AppendAppEvent(ctx context.Context, ev *AppEvent) error
}
