// Command send is a runnable example of the Go client: it sends one SMS through a running
// Switchboard and prints the message's timeline as it moves to delivery.
//
//	go run ./cmd/switchboard serve            # in one terminal
//	go run ./examples/send +14155550100 "hi"  # in another
//
// It reads SWITCHBOARD_URL (default http://127.0.0.1:8080) and SWITCHBOARD_API_KEY (default: the
// development key a local `serve` wrote to ./data/dev-api-key).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/client"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: send +E164NUMBER 'message text'")
		os.Exit(2)
	}
	url := os.Getenv("SWITCHBOARD_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	key := os.Getenv("SWITCHBOARD_API_KEY")
	if key == "" {
		raw, err := os.ReadFile("data/dev-api-key")
		if err != nil {
			fmt.Fprintln(os.Stderr, "set SWITCHBOARD_API_KEY, or run `switchboard serve` in this directory first")
			os.Exit(1)
		}
		key = strings.TrimSpace(string(raw))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, client.New(url, key), os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run sends one message and prints each new timeline event until the message is final.
func run(ctx context.Context, out io.Writer, c client.Messages, to, body string) error {
	m, err := c.Send(ctx, &client.SendRequest{
		To: to, Body: body,
		// A stable key per business event makes retries (ours, or a restarted job's) safe.
		IdempotencyKey: "example-" + time.Now().UTC().Format("20060102T150405.000000000"),
	})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		return fmt.Errorf("refused: %s (%s)", apiErr.Detail, apiErr.Code)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "accepted %s: %d segment(s), %s, from %s\n", m.ID, m.Segments, m.Encoding, m.From)
	printed := 0
	for {
		m, err = c.Get(ctx, m.ID)
		if err != nil {
			return err
		}
		for _, e := range m.Events[printed:] {
			status := string(e.Status)
			if status == "" {
				status = "-"
			}
			fmt.Fprintf(out, "%s  %-10s %-15s %s\n", e.At.Format("15:04:05.000"), status, e.Type, e.Detail)
		}
		printed = len(m.Events)
		if m.Status.Terminal() {
			fmt.Fprintf(out, "final status: %s\n", m.Status)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
