// Package client is the Go client of Switchboard's HTTP API, for applications that send messages
// through a Switchboard gateway and for Switchboard's own CLI.
//
// Create one Client per gateway and share it; it is safe for concurrent use:
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("SWITCHBOARD_API_KEY"))
//	m, err := c.Send(ctx, &client.SendRequest{
//		To:             "+14155550100",
//		Body:           "Your technician is on the way.",
//		IdempotencyKey: "job-4711-on-the-way", // your own event ID: retries never send twice
//	})
//	if err != nil {
//		return err
//	}
//	m, err = c.Get(ctx, m.ID) // status, provider SID, error code and the timeline
//
// # Retries and idempotency
//
// Every Send carries an Idempotency-Key header. When SendRequest.IdempotencyKey is empty, Send
// generates a random key for the call. Network errors, 408, 429 and 5xx answers are retried a few
// times with jittered exponential backoff (honouring Retry-After), always with the same key, so
// the gateway recognises a retry and answers with the message it already accepted: a retry can
// never create a second message. A generated key lives only as long as one Send call, though; to
// retry later yourself (after Send returned an error, or after your process restarted), set
// IdempotencyKey to something stable such as the ID of the event that caused the message, or to
// a NewIdempotencyKey value you keep.
//
// Get and List are retried the same way, since reading is safe to repeat. Cancel is retried too;
// if a retry finds the message already canceled (an earlier attempt succeeded but its answer was
// lost) Cancel returns the canceled message rather than a conflict.
//
// # Errors
//
// An error answer from the gateway is returned as an *Error carrying the HTTP status and the
// stable error code of its application/problem+json document. Test it with errors.As, or with
// the helpers IsNotFound and IsCode:
//
//	if _, err := c.Cancel(ctx, id); client.IsCode(err, "not_cancelable") {
//		// already handed to the provider
//	}
//
// # Testing applications
//
// Applications can depend on the Messages interface instead of *Client and substitute a fake in
// their own tests.
package client
