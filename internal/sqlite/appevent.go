package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/sqlstore"
)

const (
	qInsertAppEvent  = `INSERT INTO app_events (id, type, version, at, data, targets) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`
	qAnyUnfanned     = `SELECT 1 FROM app_events WHERE fanned_out = 0 LIMIT 1`
	qUnfanned        = `SELECT seq, id, type, targets FROM app_events WHERE fanned_out = 0 ORDER BY seq LIMIT ?`
	qMarkFanned      = `UPDATE app_events SET fanned_out = 1 WHERE fanned_out = 0 AND seq <= ?`
	qAppEventBySeq   = `SELECT ` + sqlstore.AppEventCols + ` FROM app_events WHERE seq = ?`
	qInsertEndpoint  = `INSERT INTO endpoints (` + sqlstore.EndpointCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qEndpointByID    = `SELECT ` + sqlstore.EndpointCols + ` FROM endpoints WHERE id = ?`
	qListEndpoints   = `SELECT ` + sqlstore.EndpointCols + ` FROM endpoints WHERE (?1 = '' OR tenant = ?1) ORDER BY created_at, id`
	qEndpointSecrets = `UPDATE endpoints SET secrets = ?, updated_at = ? WHERE id = ?`
	qEndpointConfig  = `UPDATE endpoints SET url = ?, description = ?, event_types = ?, secrets = ?, updated_at = ? WHERE id = ?`
	qEndpointFailing = `UPDATE endpoints SET failing_since = ? WHERE id = ?`
	qEndpointDisable = `UPDATE endpoints SET disabled_at = ?, updated_at = ? WHERE id = ?`
	qEndpointEnable  = `UPDATE endpoints SET disabled_at = NULL, failing_since = NULL, updated_at = ? WHERE id = ?`
	qDeleteEndpoint  = `DELETE FROM endpoints WHERE id = ?`
	qDeleteEPDeliv   = `DELETE FROM deliveries WHERE endpoint_id = ?`

	qInsertDelivery = `INSERT INTO deliveries (id, event_seq, endpoint_id, status, next_attempt_at, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qAnyDueDelivery = `SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?1
		AND (lease_until IS NULL OR lease_until <= ?1) LIMIT 1`
	qClaimDeliveries = `UPDATE deliveries SET lease_owner = ?1, lease_until = ?2
		WHERE id IN (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
				AND endpoint_id IN (SELECT id FROM endpoints WHERE disabled_at IS NULL)
			ORDER BY next_attempt_at LIMIT ?4)
		RETURNING ` + sqlstore.DeliveryCols
	qDeliveryByID   = `SELECT ` + sqlstore.DeliveryCols + ` FROM deliveries WHERE id = ?`
	qSaveDelivery   = `UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?, last_status_code = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?`
	qKillPending    = `UPDATE deliveries SET status = 'dead', lease_owner = NULL, lease_until = NULL, updated_at = ?1, last_error = CASE WHEN last_error = '' THEN ?2 ELSE last_error END WHERE endpoint_id = ?3 AND status = 'pending'`
	qReplayDead     = `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?1, lease_owner = NULL, lease_until = NULL, updated_at = ?1 WHERE endpoint_id = ?2 AND status = 'dead'`
	qReleaseDeliver = `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`
)

// insertAppEvent appends ev to the event log in t and sets its Seq.
func insertAppEvent(t *wtx, ev *switchboard.AppEvent) error {
	var targets any
	if ev.Targets != nil {
		b, err := json.Marshal(ev.Targets)
		if err != nil {
			return fmt.Errorf("sqlite: event targets: %w", err)
		}
		targets = string(b)
	}
	if err := t.queryRow(qInsertAppEvent, ev.ID, ev.Type, ev.Version, micros(ev.At), string(ev.Data), targets).Scan(&ev.Seq); err != nil {
		return fmt.Errorf("sqlite: insert event: %w", err)
	}
	return nil
}

func scanAppEvent(s scanner) (*switchboard.AppEvent, error) {
	r := &eventRow{}
	if err := s.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.event(), nil
}

// ListAppEvents lists the event log in log order.
func (db *DB) ListAppEvents(ctx context.Context, f switchboard.AppEventFilter) ([]*switchboard.AppEvent, error) {
	q := `SELECT ` + sqlstore.AppEventCols + ` FROM app_events WHERE seq > ?`
	args := []any{f.AfterSeq}
	if len(f.Types) > 0 {
		q += ` AND type IN (?` + strings.Repeat(", ?", len(f.Types)-1) + `)`
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, sqlstore.Limit(f.Limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.AppEvent
	for rows.Next() {
		e, err := scanAppEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FanOutEvents creates the deliveries of up to limit events not fanned out yet; see
// switchboard.Store. The single writer makes concurrent calls take turns.
func (db *DB) FanOutEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := switchboard.CheckFanOut(limit); err != nil {
		return 0, err
	}
	// Most calls find nothing to do: ask the read pool before taking the writer.
	var one int
	if err := db.rstmts[qAnyUnfanned].QueryRowContext(ctx).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("sqlite: fan out: %w", err)
	}
	var n int
	err := db.write(ctx, func(t *wtx) error {
		n = 0
		type pending struct {
			seq     int64
			id, typ string
			targets []string
		}
		rows, err := t.query(qUnfanned, limit)
		if err != nil {
			return fmt.Errorf("sqlite: fan out: %w", err)
		}
		var evs []pending
		for rows.Next() {
			var (
				p       pending
				targets sql.NullString
			)
			if err := rows.Scan(&p.seq, &p.id, &p.typ, &targets); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: fan out: %w", err)
			}
			if targets.Valid {
				if err := json.Unmarshal([]byte(targets.String), &p.targets); err != nil {
					rows.Close()
					return fmt.Errorf("sqlite: fan out: event %s targets: %w", p.id, err)
				}
				if p.targets == nil {
					p.targets = []string{}
				}
			}
			evs = append(evs, p)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: fan out: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		eps, err := listEndpoints(t.ctx, t.stmt(qListEndpoints), "")
		if err != nil {
			return err
		}
		for _, ev := range evs {
			for _, d := range switchboard.FanOut(switchboard.AppEventType(ev.typ), ev.targets, eps) {
				if _, err := t.exec(qInsertDelivery, switchboard.NewID("dlv"), ev.seq, d.EndpointID, d.Status, micros(now),
					d.LastError, micros(now), micros(now)); err != nil {
					return fmt.Errorf("sqlite: insert delivery: %w", err)
				}
			}
		}
		// The single writer sees every committed event: those selected are exactly the ones up to
		// the last selected seq.
		if _, err := t.exec(qMarkFanned, evs[len(evs)-1].seq); err != nil {
			return fmt.Errorf("sqlite: fan out: %w", err)
		}
		n = len(evs)
		return nil
	})
	return n, err
}

func scanEndpoint(s scanner) (*switchboard.Endpoint, error) {
	var (
		e                  switchboard.Endpoint
		types, secrets     string
		failing, disabled  sql.NullInt64
		created, updatedAt int64
	)
	if err := s.Scan(&e.ID, &e.URL, &e.Description, &types, &secrets, &e.Source, &failing, &disabled, &created, &updatedAt, &e.Tenant); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, fmt.Errorf("endpoint %s: event_types: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(secrets), &e.Secrets); err != nil {
		return nil, fmt.Errorf("endpoint %s: secrets: %w", e.ID, err)
	}
	e.FailingSince, e.DisabledAt = fromNullMicros(failing), fromNullMicros(disabled)
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updatedAt)
	return &e, nil
}

func listEndpoints(ctx context.Context, st *sql.Stmt, tenant string) ([]*switchboard.Endpoint, error) {
	rows, err := st.QueryContext(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list endpoints: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// getEndpointTx reads an endpoint in t, or ENOTFOUND.
func getEndpointTx(t *wtx, id string) (*switchboard.Endpoint, error) {
	e, err := scanEndpoint(t.queryRow(qEndpointByID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrEndpointNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: endpoint: %w", err)
	}
	return e, nil
}

func insertEndpoint(t *wtx, e *switchboard.Endpoint) error {
	types, secrets, err := sqlstore.EndpointJSON(e)
	if err != nil {
		return fmt.Errorf("sqlite: endpoint: %w", err)
	}
	_, err = t.exec(qInsertEndpoint, e.ID, e.URL, e.Description, types, secrets, e.Source, microsPtr(e.FailingSince),
		microsPtr(e.DisabledAt), micros(e.CreatedAt), micros(e.UpdatedAt), switchboard.TenantOr(e.Tenant))
	if isUnique(err) {
		return switchboard.ErrEndpointExists(e.ID)
	} else if err != nil {
		return fmt.Errorf("sqlite: insert endpoint: %w", err)
	}
	return nil
}

// CreateEndpoint stores a new endpoint.
func (db *DB) CreateEndpoint(ctx context.Context, e *switchboard.Endpoint) error {
	if err := switchboard.CheckEndpoint(e); err != nil {
		return err
	}
	return db.write(ctx, func(t *wtx) error { return insertEndpoint(t, e) })
}

// GetEndpoint returns an endpoint, or ENOTFOUND.
func (db *DB) GetEndpoint(ctx context.Context, id string) (*switchboard.Endpoint, error) {
	e, err := scanEndpoint(db.rstmts[qEndpointByID].QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, switchboard.ErrEndpointNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: endpoint: %w", err)
	}
	return e, nil
}

// ListEndpoints lists the endpoints of tenant (every endpoint when it is empty), oldest first.
func (db *DB) ListEndpoints(ctx context.Context, tenant string) ([]*switchboard.Endpoint, error) {
	return listEndpoints(ctx, db.rstmts[qListEndpoints], tenant)
}

// DeleteEndpoint removes an endpoint and its deliveries.
func (db *DB) DeleteEndpoint(ctx context.Context, id string) error {
	return db.write(ctx, func(t *wtx) error { return deleteEndpoint(t, id) })
}

func deleteEndpoint(t *wtx, id string) error {
	if _, err := t.exec(qDeleteEPDeliv, id); err != nil {
		return fmt.Errorf("sqlite: delete endpoint: %w", err)
	}
	r, err := t.exec(qDeleteEndpoint, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete endpoint: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete endpoint: %w", err)
	} else if n == 0 {
		return switchboard.ErrEndpointNotFound(id)
	}
	return nil
}

// RotateEndpointSecret adds a newest secret; see switchboard.Store.
func (db *DB) RotateEndpointSecret(ctx context.Context, id, secret string, oldUntil, now time.Time) (*switchboard.Endpoint, error) {
	if err := switchboard.CheckSecretRotation(secret); err != nil {
		return nil, err
	}
	var out *switchboard.Endpoint
	err := db.write(ctx, func(t *wtx) error {
		e, err := getEndpointTx(t, id)
		if err != nil {
			return err
		}
		switchboard.RotateEndpointSecret(e, secret, oldUntil, now)
		_, secrets, err := sqlstore.EndpointJSON(e)
		if err != nil {
			return fmt.Errorf("sqlite: rotate: %w", err)
		}
		if _, err := t.exec(qEndpointSecrets, secrets, micros(now), id); err != nil {
			return fmt.Errorf("sqlite: rotate: %w", err)
		}
		out = e
		return nil
	})
	return out, err
}

// ReplaceEndpointSecrets swaps an endpoint's secrets while they are unchanged; see
// switchboard.SecretStore.
func (db *DB) ReplaceEndpointSecrets(ctx context.Context, id string, old, next []switchboard.EndpointSecret) error {
	return db.write(ctx, func(t *wtx) error {
		e, err := getEndpointTx(t, id)
		if err != nil {
			return err
		}
		if err := switchboard.ReplaceSecrets(e, old, next); err != nil {
			return err
		}
		_, secrets, err := sqlstore.EndpointJSON(e)
		if err != nil {
			return fmt.Errorf("sqlite: replace secrets: %w", err)
		}
		if _, err := t.exec(`UPDATE endpoints SET secrets = ? WHERE id = ?`, secrets, id); err != nil {
			return fmt.Errorf("sqlite: replace secrets: %w", err)
		}
		return nil
	})
}

// SyncEndpoints records the configuration's endpoints; see switchboard.Store.
func (db *DB) SyncEndpoints(ctx context.Context, eps []*switchboard.Endpoint, now time.Time) error {
	return db.write(ctx, func(t *wtx) error {
		existing, err := listEndpoints(t.ctx, t.stmt(qListEndpoints), "")
		if err != nil {
			return err
		}
		plan, err := switchboard.PlanEndpointSync(existing, eps, now)
		if err != nil {
			return err
		}
		for _, e := range plan.Insert {
			if err := insertEndpoint(t, e); err != nil {
				return err
			}
		}
		for _, e := range plan.Update {
			types, secrets, err := sqlstore.EndpointJSON(e)
			if err != nil {
				return fmt.Errorf("sqlite: sync endpoints: %w", err)
			}
			if _, err := t.exec(qEndpointConfig, e.URL, e.Description, types, secrets, micros(now), e.ID); err != nil {
				return fmt.Errorf("sqlite: sync endpoints: %w", err)
			}
		}
		for _, id := range plan.Delete {
			if err := deleteEndpoint(t, id); err != nil {
				return err
			}
		}
		return nil
	})
}

func scanDelivery(s scanner) (*switchboard.Delivery, error) {
	r := &deliveryRow{}
	if err := s.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.delivery(), nil
}

// sortDeliveries orders claimed deliveries oldest due first (RETURNING keeps no order).
func sortDeliveries(ds []*switchboard.Delivery) {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].NextAttemptAt.Equal(ds[j].NextAttemptAt) {
			return ds[i].NextAttemptAt.Before(ds[j].NextAttemptAt)
		}
		return ds[i].ID < ds[j].ID
	})
}

// ClaimDeliveries leases due deliveries to p.Owner, with their events and endpoints.
func (db *DB) ClaimDeliveries(ctx context.Context, p switchboard.DeliveryClaim) ([]*switchboard.Delivery, error) {
	if err := switchboard.CheckClaim(p.Owner, p.Limit); err != nil {
		return nil, err
	}
	var one int
	if err := db.rstmts[qAnyDueDelivery].QueryRowContext(ctx, micros(p.Now)).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	var out []*switchboard.Delivery
	err := db.write(ctx, func(t *wtx) error {
		out = out[:0]
		rows, err := t.query(qClaimDeliveries, p.Owner, micros(p.LeaseUntil), micros(p.Now), p.Limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		var seqs []int64
		for rows.Next() {
			r := &deliveryRow{}
			if err := rows.Scan(r.dest()...); err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			out, seqs = append(out, r.delivery()), append(seqs, r.seq)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		eps := map[string]*switchboard.Endpoint{}
		for i, d := range out {
			if d.Event, err = scanAppEvent(t.queryRow(qAppEventBySeq, seqs[i])); err != nil {
				return fmt.Errorf("sqlite: claim deliveries: event %d: %w", seqs[i], err)
			}
			d.EventID = d.Event.ID
			if eps[d.EndpointID] == nil {
				if eps[d.EndpointID], err = getEndpointTx(t, d.EndpointID); err != nil {
					return err
				}
			}
			d.Endpoint = eps[d.EndpointID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortDeliveries(out)
	return out, nil
}

// FinishDelivery records an attempt's outcome; see switchboard.Store.
func (db *DB) FinishDelivery(ctx context.Context, r switchboard.DeliveryResult) (bool, error) {
	if err := switchboard.CheckDeliveryResult(r); err != nil {
		return false, err
	}
	var disabled bool
	err := db.write(ctx, func(t *wtx) error {
		disabled = false
		d, err := scanDelivery(t.queryRow(qDeliveryByID, r.ID))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (d.LeaseOwner != r.Owner || d.Status != switchboard.DeliveryPending)) {
			return switchboard.ErrDeliveryLeaseLost(r.ID, r.Owner)
		} else if err != nil {
			return fmt.Errorf("sqlite: finish delivery: %w", err)
		}
		e, err := getEndpointTx(t, d.EndpointID)
		if err != nil {
			return err
		}
		plan, err := switchboard.ApplyDeliveryResult(d, e, r)
		if err != nil {
			return err
		}
		if _, err := t.exec(qSaveDelivery, d.Status, d.Attempts, micros(d.NextAttemptAt), microsPtr(d.LastAttemptAt), d.LastStatusCode,
			d.LastError, micros(r.At), d.ID); err != nil {
			return fmt.Errorf("sqlite: finish delivery: %w", err)
		}
		if plan.FailingChanged {
			if _, err := t.exec(qEndpointFailing, microsPtr(plan.FailingSince), e.ID); err != nil {
				return fmt.Errorf("sqlite: finish delivery: %w", err)
			}
		}
		if plan.Disable != nil {
			if _, err := t.exec(qEndpointDisable, micros(r.At), micros(r.At), e.ID); err != nil {
				return fmt.Errorf("sqlite: disable endpoint: %w", err)
			}
			if _, err := t.exec(qKillPending, micros(r.At), switchboard.DisabledEndpointError, e.ID); err != nil {
				return fmt.Errorf("sqlite: disable endpoint: %w", err)
			}
			if err := insertAppEvent(t, plan.Disable); err != nil {
				return err
			}
			disabled = true
		}
		return nil
	})
	return disabled, err
}

// ReleaseDeliveries drops every delivery lease owner holds.
func (db *DB) ReleaseDeliveries(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		res, err := t.exec(qReleaseDeliver, owner)
		if err != nil {
			return fmt.Errorf("sqlite: release deliveries: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// ListDeliveries lists an endpoint's deliveries newest first, with their events.
func (db *DB) ListDeliveries(ctx context.Context, f switchboard.DeliveryFilter) ([]*switchboard.Delivery, string, error) {
	cols := "d." + strings.ReplaceAll(sqlstore.DeliveryCols, ", ", ", d.") + ", e." + strings.ReplaceAll(sqlstore.AppEventCols, ", ", ", e.")
	q := `SELECT ` + cols + ` FROM deliveries d JOIN app_events e ON e.seq = d.event_seq WHERE d.endpoint_id = ?`
	args := []any{f.EndpointID}
	if f.Status != "" {
		q, args = q+` AND d.status = ?`, append(args, f.Status)
	}
	if f.Cursor != "" {
		q, args = q+` AND d.id < ?`, append(args, f.Cursor)
	}
	limit := sqlstore.Limit(f.Limit)
	q, args = q+` ORDER BY d.id DESC LIMIT ?`, append(args, limit+1)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []*switchboard.Delivery
	for rows.Next() {
		d, ev := &deliveryRow{}, &eventRow{}
		if err := rows.Scan(append(d.dest(), ev.dest()...)...); err != nil {
			return nil, "", fmt.Errorf("sqlite: list deliveries: %w", err)
		}
		dl := d.delivery()
		dl.Event = ev.event()
		dl.EventID = dl.Event.ID
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	out, next := sqlstore.Page(out, limit, func(x *switchboard.Delivery) string { return x.ID })
	return out, next, nil
}

// deliveryRow and eventRow scan a joined row.
type deliveryRow struct {
	d                       switchboard.Delivery
	seq                     int64
	next, created, updated  int64
	lastAttempt, leaseUntil sql.NullInt64
	leaseOwner              sql.NullString
}

func (r *deliveryRow) dest() []any {
	return []any{&r.d.ID, &r.seq, &r.d.EndpointID, &r.d.Status, &r.d.Attempts, &r.next, &r.lastAttempt, &r.d.LastStatusCode,
		&r.d.LastError, &r.leaseOwner, &r.leaseUntil, &r.created, &r.updated}
}

func (r *deliveryRow) delivery() *switchboard.Delivery {
	d := r.d
	d.NextAttemptAt, d.LastAttemptAt = fromMicros(r.next), fromNullMicros(r.lastAttempt)
	d.LeaseOwner, d.LeaseUntil = r.leaseOwner.String, fromNullMicros(r.leaseUntil)
	d.CreatedAt, d.UpdatedAt = fromMicros(r.created), fromMicros(r.updated)
	return &d
}

type eventRow struct {
	e    switchboard.AppEvent
	at   int64
	data string
}

func (r *eventRow) dest() []any {
	return []any{&r.e.Seq, &r.e.ID, &r.e.Type, &r.e.Version, &r.at, &r.data}
}

func (r *eventRow) event() *switchboard.AppEvent {
	e := r.e
	e.At, e.Data = fromMicros(r.at), json.RawMessage(r.data)
	return &e
}

// ReplayDeadLetters makes an endpoint's dead letters pending again and enables it.
func (db *DB) ReplayDeadLetters(ctx context.Context, endpointID string, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(t *wtx) error {
		if _, err := getEndpointTx(t, endpointID); err != nil {
			return err
		}
		res, err := t.exec(qReplayDead, micros(now), endpointID)
		if err != nil {
			return fmt.Errorf("sqlite: replay: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: replay: %w", err)
		}
		if _, err := t.exec(qEndpointEnable, micros(now), endpointID); err != nil {
			return fmt.Errorf("sqlite: replay: %w", err)
		}
		return nil
	})
	return int(n), err
}
