package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	switchboard "github.com/switchboard-gw/switchboard"
)

// NATS publishes events to a JetStream stream, each on the subject "<prefix>.<event type>" (so
// message.status_changed goes to "switchboard.message.status_changed"), with the event's ID as
// Nats-Msg-Id: a publish repeated after an unanswered attempt is dropped by JetStream's
// duplicate window, and subscribers deduplicate on the ID beyond it.
type NATS struct {
	conn   *nats.Conn
	js     jetstream.JetStream
	prefix string
	stream string
	logger *slog.Logger

	mu      sync.Mutex
	ensured bool
}

// DialNATS connects to the NATS server at natsURL. The connection retries in the background, so
// a server that is down at start-up only delays publishing (deliveries to the bus retry on the
// schedule). stream names the JetStream stream that captures "<prefix>.>"; it is created when
// missing.
func DialNATS(natsURL, prefix, stream string, logger *slog.Logger) (*NATS, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(natsURL,
		nats.Name("switchboard"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { logger.Info("NATS reconnected") }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", RedactURL(natsURL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return &NATS{conn: nc, js: js, prefix: prefix, stream: stream, logger: logger}, nil
}

// Subject is the subject an event of type typ is published on.
func (n *NATS) Subject(typ switchboard.AppEventType) string { return n.prefix + "." + string(typ) }

// ensureStream makes sure a stream captures the prefix's subjects.
func (n *NATS) ensureStream(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ensured {
		return nil
	}
	_, err := n.js.Stream(ctx, n.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = n.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        n.stream,
			Description: "Switchboard events",
			Subjects:    []string{n.prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Duplicates:  10 * time.Minute,
		})
		if err == nil {
			n.logger.Info("NATS stream created", "stream", n.stream, "subjects", n.prefix+".>")
		}
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", n.stream, err)
	}
	n.ensured = true
	return nil
}

// Publish publishes one event and waits for JetStream's acknowledgement.
func (n *NATS) Publish(ctx context.Context, ev *switchboard.AppEvent, body []byte) error {
	if err := n.ensureStream(ctx); err != nil {
		return err
	}
	msg := nats.NewMsg(n.Subject(ev.Type))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	msg.Header.Set("Content-Type", "application/json")
	if _, err := n.js.PublishMsg(ctx, msg); err != nil {
		return err
	}
	return nil
}

// Close drains nothing: what was not acknowledged is published again by the next node.
func (n *NATS) Close() { n.conn.Close() }

// RedactURL drops the password of a URL, for logs and the endpoint listing.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

var _ Publisher = (*NATS)(nil)
