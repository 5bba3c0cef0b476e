package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	// qInsertAppEvent appends an event; it is queued in the batch of the change it reports.
	qInsertAppEvent = `INSERT INTO app_events (id, type, version, at, data, targets) VALUES ($1, $2, $3, $4, $5, $6)`
	// qTakeUnfanned locks the events not fanned out yet, oldest first, skipping those another
	// fan-out holds: concurrent fan-outs on any nodes take disjoint events.
	qTakeUnfanned = `SELECT seq, id, type, targets FROM app_events WHERE NOT fanned_out ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`
	qMarkFanned   = `UPDATE app_events SET fanned_out = true WHERE seq = ANY($1)`

	qInsertEndpoint = `INSERT INTO endpoints (` + sqlstore.EndpointCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	qEndpointByID   = `SELECT ` + sqlstore.EndpointCols + ` FROM endpoints WHERE id = $1`
	qListEndpoints  = `SELECT ` + sqlstore.EndpointCols + ` FROM endpoints WHERE ($1::text = '' OR tenant = $1) ORDER BY created_at, id`
	// Endpoint rows are locked before the deliveries they own (never the other way round), so
	// that disabling an endpoint and finishing one of its deliveries cannot deadlock. NO KEY
	// UPDATE leaves fan-outs free to insert deliveries that refer to the endpoint meanwhile.
	qLockEndpoint    = qEndpointByID + ` FOR NO KEY UPDATE`
	qEndpointSecrets = `UPDATE endpoints SET secrets = $2, updated_at = $3 WHERE id = $1`
	qEndpointConfig  = `UPDATE endpoints SET url = $2, description = $3, event_types = $4, secrets = $5, updated_at = $6 WHERE id = $1`
	qEndpointFailing = `UPDATE endpoints SET failing_since = $2 WHERE id = $1`
	qEndpointDisable = `UPDATE endpoints SET disabled_at = $2, updated_at = $2 WHERE id = $1`
	qEndpointEnable  = `UPDATE endpoints SET disabled_at = NULL, failing_since = NULL, updated_at = $2 WHERE id = $1`
	qDeleteEPDeliv   = `DELETE FROM deliveries WHERE endpoint_id = $1`
	qDeleteEndpoint  = `DELETE FROM endpoints WHERE id = $1`
	// qLockEndpoints serializes SyncEndpoints of several nodes starting at once.
	qLockEndpoints = `LOCK TABLE endpoints IN SHARE ROW EXCLUSIVE MODE`

	qInsertDelivery = `INSERT INTO deliveries (id, event_seq, endpoint_id, status, next_attempt_at, last_error, created_at, updated_at)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $5::timestamptz[], $5::timestamptz[])`
	// qClaimDeliveries leases due deliveries and returns them with their events. The due rows
	// are picked and locked once (MATERIALIZED: a LIMIT inside IN (…) may be evaluated again by
	// the planner), skipping rows another transaction holds; the lease is set on exactly those.
	qClaimDeliveries = `WITH p AS MATERIALIZED (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
				AND endpoint_id IN (SELECT id FROM endpoints WHERE disabled_at IS NULL)
			ORDER BY next_attempt_at LIMIT $4
			FOR UPDATE SKIP LOCKED),
		c AS (
			UPDATE deliveries d SET lease_owner = $1, lease_until = $2 FROM p WHERE d.id = p.id
			RETURNING ` + qDeliveryColsD + `)
		SELECT c.*, e.seq, e.id, e.type, e.version, e.at, e.data FROM c JOIN app_events e ON e.seq = c.event_seq`
	qDeliveryColsD   = `d.id, d.event_seq, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.lease_owner, d.lease_until, d.created_at, d.updated_at`
	qEndpointsByID   = `SELECT ` + sqlstore.EndpointCols + ` FROM endpoints WHERE id = ANY($1)`
	qLockDelivery    = `SELECT ` + sqlstore.DeliveryCols + ` FROM deliveries WHERE id = $1 FOR UPDATE`
	qLockDeliveryEP  = qListEndpointOf + ` FOR NO KEY UPDATE`
	qListEndpointOf  = `SELECT ` + sqlstore.EndpointCols + ` FROM endpoints WHERE id = (SELECT endpoint_id FROM deliveries WHERE id = $1)`
	qSaveDelivery    = `UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_attempt_at = $5, last_status_code = $6, last_error = $7, lease_owner = NULL, lease_until = NULL, updated_at = $8 WHERE id = $1`
	qKillPending     = `UPDATE deliveries SET status = 'dead', lease_owner = NULL, lease_until = NULL, updated_at = $1, last_error = CASE WHEN last_error = '' THEN $2 ELSE last_error END WHERE endpoint_id = $3 AND status = 'pending'`
	qReplayDead      = `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE endpoint_id = $2 AND status = 'dead'`
	qReleaseDeliver  = `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`
	qListDeliveryCol = qDeliveryColsD + `, e.seq, e.id, e.type, e.version, e.at, e.data`
)

// queueAppEvents queues the appends of evs to the event log.
func queueAppEvents(b *pgx.Batch, evs []*switchboard.AppEvent) {
	for _, ev := range evs {
		b.Queue(qInsertAppEvent, appEventArgs(ev)...)
	}
}

func scanAppEventInto(e *switchboard.AppEvent, data *[]byte) []any {
	return []any{&e.Seq, &e.ID, &e.Type, &e.Version, &e.At, data}
}

// ListAppEvents lists the event log in log order.
func (db *DB) ListAppEvents(ctx context.Context, f switchboard.AppEventFilter) ([]*switchboard.AppEvent, error) {
	q := `SELECT ` + sqlstore.AppEventCols + ` FROM app_events WHERE seq > $1`
	args := []any{f.AfterSeq}
	if len(f.Types) > 0 {
		types := make([]string, len(f.Types))
		for i, t := range f.Types {
			types[i] = string(t)
		}
		q += ` AND type = ANY($3)`
		args = append(args, sqlstore.Limit(f.Limit), types)
	} else {
		args = append(args, sqlstore.Limit(f.Limit))
	}
	q += ` ORDER BY seq LIMIT $2`
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list events", err)
	}
	defer rows.Close()
	var out []*switchboard.AppEvent
	for rows.Next() {
		var (
			e    switchboard.AppEvent
			data []byte
		)
		if err := rows.Scan(scanAppEventInto(&e, &data)...); err != nil {
			return nil, wrap("list events", err)
		}
		e.At, e.Data = utc(e.At), json.RawMessage(data)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list events", err)
	}
	return out, nil
}

// FanOutEvents creates the deliveries of up to limit events not fanned out yet; see
// switchboard.Store.
func (db *DB) FanOutEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := switchboard.CheckFanOut(limit); err != nil {
		return 0, err
	}
	b := newBatch(txOptions)
	b.Queue(qTakeUnfanned, limit)
	b.Queue(qListEndpoints, "")
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return 0, err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	type pending struct {
		seq     int64
		id, typ string
		targets []string
	}
	rows, err := br.Query()
	if err != nil {
		return 0, wrap("fan out", err)
	}
	var evs []pending
	for rows.Next() {
		var (
			p       pending
			targets []byte
		)
		if err := rows.Scan(&p.seq, &p.id, &p.typ, &targets); err != nil {
			rows.Close()
			return 0, wrap("fan out", err)
		}
		if targets != nil {
			p.targets = []string{}
			if err := json.Unmarshal(targets, &p.targets); err != nil {
				rows.Close()
				return 0, wrap("fan out: event "+p.id+" targets", err)
			}
		}
		evs = append(evs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, wrap("fan out", err)
	}
	eps, err := scanEndpoints(br.Query())
	if err != nil {
		return 0, wrap("fan out", err)
	}
	if err := br.Close(); err != nil {
		return 0, wrap("fan out", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	var (
		ids, endpointIDs, statuses, lastErrs []string
		times                                []time.Time
		seqs, eventSeqs                      []int64
	)
	for _, ev := range evs {
		seqs = append(seqs, ev.seq)
		for _, d := range switchboard.FanOut(switchboard.AppEventType(ev.typ), ev.targets, eps) {
			ids, eventSeqs, endpointIDs = append(ids, switchboard.NewID("dlv")), append(eventSeqs, ev.seq), append(endpointIDs, d.EndpointID)
			statuses, lastErrs, times = append(statuses, string(d.Status)), append(lastErrs, d.LastError), append(times, now)
		}
	}
	w := &pgx.Batch{}
	if len(ids) > 0 {
		w.Queue(qInsertDelivery, ids, eventSeqs, endpointIDs, statuses, times, lastErrs)
	}
	w.Queue(qMarkFanned, seqs)
	if err := tx.SendBatch(ctx, w).Close(); err != nil {
		return 0, wrap("fan out", err)
	}
	if err := commit(ctx, tx); err != nil {
		return 0, err
	}
	return len(evs), nil
}

func scanEndpoint(r sqlstore.Scanner) (*switchboard.Endpoint, error) {
	var (
		e                 switchboard.Endpoint
		types, secrets    []byte
		failing, disabled *time.Time
	)
	if err := r.Scan(&e.ID, &e.URL, &e.Description, &types, &secrets, &e.Source, &failing, &disabled, &e.CreatedAt, &e.UpdatedAt, &e.Tenant); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(types, &e.EventTypes); err != nil {
		return nil, fmt.Errorf("endpoint %s: event_types: %w", e.ID, err)
	}
	if err := json.Unmarshal(secrets, &e.Secrets); err != nil {
		return nil, fmt.Errorf("endpoint %s: secrets: %w", e.ID, err)
	}
	for i := range e.Secrets {
		e.Secrets[i].ExpiresAt = utcPtr(e.Secrets[i].ExpiresAt)
	}
	e.FailingSince, e.DisabledAt = utcPtr(failing), utcPtr(disabled)
	e.CreatedAt, e.UpdatedAt = utc(e.CreatedAt), utc(e.UpdatedAt)
	return &e, nil
}

func scanEndpoints(rows pgx.Rows, err error) ([]*switchboard.Endpoint, error) {
	return collect(rows, err, scanEndpoint)
}

func insertEndpoint(ctx context.Context, tx pgx.Tx, e *switchboard.Endpoint) error {
	types, secrets, err := sqlstore.EndpointJSON(e)
	if err != nil {
		return wrap("endpoint", err)
	}
	_, err = tx.Exec(ctx, qInsertEndpoint, e.ID, e.URL, e.Description, types, secrets, e.Source, e.FailingSince, e.DisabledAt,
		e.CreatedAt, e.UpdatedAt, switchboard.TenantOr(e.Tenant))
	if _, ok := uniqueViolation(err); ok {
		return switchboard.ErrEndpointExists(e.ID)
	} else if err != nil {
		return wrap("insert endpoint", err)
	}
	return nil
}

// CreateEndpoint stores a new endpoint.
func (db *DB) CreateEndpoint(ctx context.Context, e *switchboard.Endpoint) error {
	if err := switchboard.CheckEndpoint(e); err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error { return insertEndpoint(ctx, tx, e) })
}

// GetEndpoint returns an endpoint, or ENOTFOUND.
func (db *DB) GetEndpoint(ctx context.Context, id string) (*switchboard.Endpoint, error) {
	e, err := scanEndpoint(db.pool.QueryRow(ctx, qEndpointByID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrEndpointNotFound(id)
	}
	if err != nil {
		return nil, wrap("endpoint", err)
	}
	return e, nil
}

// ListEndpoints lists the endpoints of tenant (every endpoint when it is empty), oldest first.
func (db *DB) ListEndpoints(ctx context.Context, tenant string) ([]*switchboard.Endpoint, error) {
	eps, err := scanEndpoints(db.pool.Query(ctx, qListEndpoints, tenant))
	if err != nil {
		return nil, wrap("list endpoints", err)
	}
	return eps, nil
}

// DeleteEndpoint removes an endpoint and its deliveries.
func (db *DB) DeleteEndpoint(ctx context.Context, id string) error {
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error { return deleteEndpoint(ctx, tx, id) })
}

func deleteEndpoint(ctx context.Context, tx pgx.Tx, id string) error {
	// The endpoint first, then its deliveries (see qLockEndpoint).
	if _, err := tx.Exec(ctx, qEndpointByID+` FOR UPDATE`, id); err != nil {
		return wrap("delete endpoint", err)
	}
	if _, err := tx.Exec(ctx, qDeleteEPDeliv, id); err != nil {
		return wrap("delete endpoint", err)
	}
	tag, err := tx.Exec(ctx, qDeleteEndpoint, id)
	if err != nil {
		return wrap("delete endpoint", err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.ErrEndpointNotFound(id)
	}
	return nil
}

// lockEndpoint reads and locks an endpoint in tx, or ENOTFOUND.
func lockEndpoint(ctx context.Context, tx pgx.Tx, id string) (*switchboard.Endpoint, error) {
	e, err := scanEndpoint(tx.QueryRow(ctx, qLockEndpoint, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, switchboard.ErrEndpointNotFound(id)
	}
	if err != nil {
		return nil, wrap("endpoint", err)
	}
	return e, nil
}

// ReplaceEndpointSecrets swaps an endpoint's secrets while they are unchanged; see
// switchboard.SecretStore.
func (db *DB) ReplaceEndpointSecrets(ctx context.Context, id string, old, next []switchboard.EndpointSecret) error {
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		e, err := lockEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := switchboard.ReplaceSecrets(e, old, next); err != nil {
			return err
		}
		_, secrets, err := sqlstore.EndpointJSON(e)
		if err != nil {
			return wrap("replace secrets", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE endpoints SET secrets = $2 WHERE id = $1`, id, secrets); err != nil {
			return wrap("replace secrets", err)
		}
		return nil
	})
}

// RotateEndpointSecret adds a newest secret; see switchboard.Store.
func (db *DB) RotateEndpointSecret(ctx context.Context, id, secret string, oldUntil, now time.Time) (*switchboard.Endpoint, error) {
	if err := switchboard.CheckSecretRotation(secret); err != nil {
		return nil, err
	}
	var out *switchboard.Endpoint
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		e, err := lockEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		switchboard.RotateEndpointSecret(e, secret, oldUntil, now)
		_, secrets, err := sqlstore.EndpointJSON(e)
		if err != nil {
			return wrap("rotate", err)
		}
		if _, err := tx.Exec(ctx, qEndpointSecrets, id, secrets, now); err != nil {
			return wrap("rotate", err)
		}
		out = e
		return nil
	})
	return out, err
}

// SyncEndpoints records the configuration's endpoints; see switchboard.Store.
func (db *DB) SyncEndpoints(ctx context.Context, eps []*switchboard.Endpoint, now time.Time) error {
	return pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qLockEndpoints); err != nil {
			return wrap("sync endpoints", err)
		}
		existing, err := scanEndpoints(tx.Query(ctx, qListEndpoints, ""))
		if err != nil {
			return wrap("sync endpoints", err)
		}
		plan, err := switchboard.PlanEndpointSync(existing, eps, now)
		if err != nil {
			return err
		}
		for _, e := range plan.Insert {
			if err := insertEndpoint(ctx, tx, e); err != nil {
				return err
			}
		}
		for _, e := range plan.Update {
			types, secrets, err := sqlstore.EndpointJSON(e)
			if err != nil {
				return wrap("sync endpoints", err)
			}
			if _, err := tx.Exec(ctx, qEndpointConfig, e.ID, e.URL, e.Description, types, secrets, now); err != nil {
				return wrap("sync endpoints", err)
			}
		}
		for _, id := range plan.Delete {
			if err := deleteEndpoint(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliveryDest returns the scan destinations of sqlstore.DeliveryCols into d and its nullable columns.
func deliveryDest(d *switchboard.Delivery, seq *int64, lastAttempt, leaseUntil **time.Time, leaseOwner **string) []any {
	return []any{&d.ID, seq, &d.EndpointID, &d.Status, &d.Attempts, &d.NextAttemptAt, lastAttempt, &d.LastStatusCode,
		&d.LastError, leaseOwner, leaseUntil, &d.CreatedAt, &d.UpdatedAt}
}

// scanDeliveryRow scans sqlstore.DeliveryCols, followed by sqlstore.AppEventCols when withEvent.
func scanDeliveryRow(r pgx.Row, withEvent bool) (*switchboard.Delivery, error) {
	var (
		d                       switchboard.Delivery
		seq                     int64
		lastAttempt, leaseUntil *time.Time
		leaseOwner              *string
		e                       switchboard.AppEvent
		data                    []byte
	)
	dest := deliveryDest(&d, &seq, &lastAttempt, &leaseUntil, &leaseOwner)
	if withEvent {
		dest = append(dest, scanAppEventInto(&e, &data)...)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.LastAttemptAt = utc(d.NextAttemptAt), utcPtr(lastAttempt)
	d.LeaseOwner, d.LeaseUntil = deref(leaseOwner), utcPtr(leaseUntil)
	d.CreatedAt, d.UpdatedAt = utc(d.CreatedAt), utc(d.UpdatedAt)
	if withEvent {
		e.At, e.Data = utc(e.At), json.RawMessage(data)
		d.Event, d.EventID = &e, e.ID
	}
	return &d, nil
}

// scanDeliveries reads rows of sqlstore.DeliveryCols followed by sqlstore.AppEventCols.
func scanDeliveries(rows pgx.Rows, err error) ([]*switchboard.Delivery, error) {
	return collect(rows, err, func(r sqlstore.Scanner) (*switchboard.Delivery, error) { return scanDeliveryRow(r, true) })
}

// ClaimDeliveries leases due deliveries to p.Owner, with their events and endpoints.
func (db *DB) ClaimDeliveries(ctx context.Context, p switchboard.DeliveryClaim) ([]*switchboard.Delivery, error) {
	if err := switchboard.CheckClaim(p.Owner, p.Limit); err != nil {
		return nil, err
	}
	ds, err := scanDeliveries(db.pool.Query(ctx, qClaimDeliveries, p.Owner, p.LeaseUntil, p.Now, p.Limit))
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	if len(ds) == 0 {
		return nil, nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.EndpointID] {
			seen[d.EndpointID] = true
			ids = append(ids, d.EndpointID)
		}
	}
	eps, err := scanEndpoints(db.pool.Query(ctx, qEndpointsByID, ids))
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	byID := map[string]*switchboard.Endpoint{}
	for _, e := range eps {
		byID[e.ID] = e
	}
	out := ds[:0]
	for _, d := range ds {
		// An endpoint deleted since the claim took its deliveries with it.
		if d.Endpoint = byID[d.EndpointID]; d.Endpoint != nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttemptAt.Equal(out[j].NextAttemptAt) {
			return out[i].NextAttemptAt.Before(out[j].NextAttemptAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// FinishDelivery records an attempt's outcome; see switchboard.Store.
func (db *DB) FinishDelivery(ctx context.Context, r switchboard.DeliveryResult) (bool, error) {
	if err := switchboard.CheckDeliveryResult(r); err != nil {
		return false, err
	}
	b := newBatch(txOptions)
	b.Queue(qLockDeliveryEP, r.ID)
	b.Queue(qLockDelivery, r.ID)
	tx, br, err := db.begin(ctx, b)
	if err != nil {
		return false, err
	}
	defer rollback(ctx, tx)
	defer br.Close()
	e, eErr := scanEndpoint(br.QueryRow())
	d, dErr := scanDeliveryRow(br.QueryRow(), false)
	if errors.Is(eErr, pgx.ErrNoRows) || errors.Is(dErr, pgx.ErrNoRows) || (dErr == nil && (d.LeaseOwner != r.Owner || d.Status != switchboard.DeliveryPending)) {
		return false, switchboard.ErrDeliveryLeaseLost(r.ID, r.Owner)
	}
	if eErr != nil {
		return false, wrap("finish delivery", eErr)
	}
	if dErr != nil {
		return false, wrap("finish delivery", dErr)
	}
	if err := br.Close(); err != nil {
		return false, wrap("finish delivery", err)
	}
	plan, err := switchboard.ApplyDeliveryResult(d, e, r)
	if err != nil {
		return false, err
	}
	w := &pgx.Batch{}
	w.Queue(qSaveDelivery, d.ID, d.Status, d.Attempts, d.NextAttemptAt, d.LastAttemptAt, d.LastStatusCode, d.LastError, r.At)
	if plan.FailingChanged {
		w.Queue(qEndpointFailing, e.ID, plan.FailingSince)
	}
	if plan.Disable != nil {
		w.Queue(qEndpointDisable, e.ID, r.At)
		w.Queue(qKillPending, r.At, switchboard.DisabledEndpointError, e.ID)
		queueAppEvents(w, []*switchboard.AppEvent{plan.Disable})
	}
	if err := tx.SendBatch(ctx, w).Close(); err != nil {
		return false, wrap("finish delivery", err)
	}
	if err := commit(ctx, tx); err != nil {
		return false, err
	}
	return plan.Disable != nil, nil
}

// ReleaseDeliveries drops every delivery lease owner holds.
func (db *DB) ReleaseDeliveries(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, qReleaseDeliver, owner)
	if err != nil {
		return 0, wrap("release deliveries", err)
	}
	return int(tag.RowsAffected()), nil
}

// ListDeliveries lists an endpoint's deliveries newest first, with their events.
func (db *DB) ListDeliveries(ctx context.Context, f switchboard.DeliveryFilter) ([]*switchboard.Delivery, string, error) {
	w := sqlstore.Where{Numbered: true}
	w.Add("d.endpoint_id = ?", f.EndpointID)
	if f.Status != "" {
		w.Add("d.status = ?", string(f.Status))
	}
	if f.Cursor != "" {
		w.Add("d.id < ?", f.Cursor)
	}
	limit := sqlstore.Limit(f.Limit)
	cond, n := w.SQL(), w.Next()
	q := `SELECT ` + qListDeliveryCol + ` FROM deliveries d JOIN app_events e ON e.seq = d.event_seq` + cond +
		` ORDER BY d.id DESC LIMIT ` + n
	out, err := scanDeliveries(db.pool.Query(ctx, q, append(w.Args, limit+1)...))
	if err != nil {
		return nil, "", wrap("list deliveries", err)
	}
	out, next := sqlstore.Page(out, limit, func(x *switchboard.Delivery) string { return x.ID })
	return out, next, nil
}

// ReplayDeadLetters makes an endpoint's dead letters pending again and enables it.
func (db *DB) ReplayDeadLetters(ctx context.Context, endpointID string, now time.Time) (int, error) {
	var n int
	err := pgx.BeginTxFunc(ctx, db.pool, txOptions, func(tx pgx.Tx) error {
		if _, err := lockEndpoint(ctx, tx, endpointID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, qReplayDead, now, endpointID)
		if err != nil {
			return wrap("replay", err)
		}
		n = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, qEndpointEnable, endpointID, now); err != nil {
			return wrap("replay", err)
		}
		return nil
	})
	return n, err
}

// appEventArgs are the parameters of qInsertAppEvent for ev: every statement that appends an
// event passes these, so that a new column of the log is added in one place.
func appEventArgs(ev *switchboard.AppEvent) []any {
	return []any{ev.ID, ev.Type, ev.Version, ev.At, string(ev.Data), eventTargets(ev)}
}

// eventTargets encodes ev's targets for the jsonb column: NULL when the event types decide, an
// array (empty included) when it goes to those endpoints only.
func eventTargets(ev *switchboard.AppEvent) any {
	if ev.Targets == nil {
		return nil
	}
	b, err := json.Marshal(ev.Targets)
	if err != nil { // []string always encodes
		panic(err)
	}
	return string(b)
}
