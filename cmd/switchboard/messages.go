package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	url, apiKey string
	json        bool
}

func (f *clientFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "url", "", "Switchboard's base URL (env SWITCHBOARD_URL; default: http:// and the addr serve listens on, from SWITCHBOARD_ADDR or the config file, else http://127.0.0.1:8080)")
	cmd.Flags().StringVar(&f.apiKey, "api-key", "", "API key (env SWITCHBOARD_API_KEY; default: the development key in <data_dir>/dev-api-key)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON (errors too, as a problem document on stderr)")
}

// serverURL resolves the server's base URL and says where it came from: --url, then
// SWITCHBOARD_URL, then the address serve would listen on with the same environment and config
// file (SWITCHBOARD_ADDR, SWITCHBOARD_CONFIG), so that a shell set up for serve reaches it.
func serverURL(flagURL string, getenv env) (base, source string, r *config.Resolved, err error) {
	r, err = config.Resolve(nil, getenv)
	if err != nil {
		return "", "", nil, err
	}
	switch {
	case flagURL != "":
		return strings.TrimRight(flagURL, "/"), "--url", r, nil
	case getenv("SWITCHBOARD_URL") != "":
		return strings.TrimRight(getenv("SWITCHBOARD_URL"), "/"), "SWITCHBOARD_URL", r, nil
	}
	addr := r.Get("addr")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", nil, fmt.Errorf("addr %q (from %s) is not host:port; set SWITCHBOARD_URL to the server's URL", addr, r.Source("addr"))
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // serve listens on every interface; this machine reaches it on loopback
	}
	source = r.Source("addr")
	if source == "the default" {
		source = "the default address " + addr + " (neither --url, SWITCHBOARD_URL nor SWITCHBOARD_ADDR is set)"
	}
	scheme := "http://"
	if r.Get("tls_cert_file") != "" {
		scheme = "https://" // serve terminates TLS itself (tls_cert_file)
	}
	return scheme + net.JoinHostPort(host, port), source, r, nil
}

// clientTransport is the CLI's HTTP transport: the system's roots, plus the PEM certificates of
// SWITCHBOARD_CA_FILE and, when the URL was derived from serve's own settings, those of its
// tls_cert_file, so that a node serving a private or self-signed certificate is reached without
// turning verification off.
func clientTransport(getenv env, r *config.Resolved, base string, derived bool) (http.RoundTripper, error) {
	serveCert := ""
	if derived {
		serveCert = r.Get("tls_cert_file")
	}
	host := base
	if u, err := url.Parse(base); err == nil {
		host = u.Hostname()
	}
	tc, err := trustConfig(strings.TrimSpace(getenv("SWITCHBOARD_CA_FILE")), serveCert, host)
	if err != nil || tc == nil {
		return http.DefaultTransport, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return t, nil
}

// trustConfig is the TLS configuration that trusts the system's roots plus the certificates of
// caFile and serveCert (serve's own tls_cert_file: a certificate listed in the roots verifies
// itself), nil when both are empty. serve is reached on host, mostly loopback, which its
// certificate seldom names: the certificate is then checked for its own first DNS name, as
// curl --resolve would.
func trustConfig(caFile, serveCert, host string) (*tls.Config, error) {
	var files []string
	for _, f := range []string{caFile, serveCert} {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, usageErrorf("CA file: %v", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("CA file %s holds no PEM certificate", f)
		}
	}
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if serveCert != "" {
		if leaf := firstCert(serveCert); leaf != nil && len(leaf.DNSNames) > 0 && leaf.VerifyHostname(host) != nil {
			tc.ServerName = leaf.DNSNames[0]
		}
	}
	return tc, nil
}

// firstCert is the first certificate of a PEM file, nil when there is none.
func firstCert(path string) *x509.Certificate {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			return nil
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil
			}
			return c
		}
	}
}

// client builds an API client: flags, then the environment, then the development key that a
// local `switchboard serve` wrote into its data directory.
func (f *clientFlags) client(getenv env) (*client.Client, error) {
	base, source, r, err := serverURL(f.url, getenv)
	if err != nil {
		return nil, err
	}
	key := f.apiKey
	if key == "" {
		key = getenv("SWITCHBOARD_API_KEY")
	}
	if key == "" {
		path := filepath.Join(r.Get("data_dir"), node.DevKeyFile)
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, &codedError{exit: exitUnauthorized, code: "no_api_key", err: fmt.Errorf("no API key: set SWITCHBOARD_API_KEY or --api-key "+
				"(create one with 'switchboard keys create --name NAME'), or run this where 'switchboard serve' runs with the simulator "+
				"(it writes a development key to %s, which was not found)", path)}
		}
		key = strings.TrimSpace(string(raw))
	}
	next, err := clientTransport(getenv, r, base, f.url == "" && getenv("SWITCHBOARD_URL") == "")
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &unreachableTransport{base: base, source: source, next: next}}
	return client.New(base, key, client.WithHTTPClient(hc), client.WithRetries(1)), nil
}

func newSendCmd(getenv env) *cobra.Command {
	var (
		cf            clientFlags
		req           client.SendRequest
		channel       string
		category      string
		sendAt        string
		fallback      string
		meta, vars    kvFlag
		fallbackAfter time.Duration
	)
	cmd := &cobra.Command{
		Use:   "send --to NUMBER (--body TEXT | --template NAME [--var NAME=VALUE]...)",
		Short: "Send a message (text, media or a catalog template); prints its ID and status",
		Long: `Send a message through the API: a text (--body), media (--media-url) or a template of the
server's catalog (--template with --var for each variable, --locale for a translation). It prints
the message's ID and status; follow it with 'switchboard messages get ID' or 'switchboard trace ID'.

  switchboard send --to +14155550100 --body "Job #1042 assigned to you"
  switchboard send --to +14155550100 --template job_updated --template-version 1 --locale es \
      --var job_id=J-10482 --var date=2026-03-06 --var time=09:00
  switchboard send --to +14155550100 --body "Reminder" --send-at 2h --metadata job=J-10482`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.To == "" {
				return usageErrorf("--to is required (the recipient in E.164, e.g. +14155550100)")
			}
			if req.Body == "" && req.Template == "" && len(req.MediaURLs) == 0 {
				return usageErrorf("say what to send: --body TEXT, --template NAME or --media-url URL")
			}
			if req.Body != "" && req.Template != "" {
				return usageErrorf("--body and --template exclude each other: a template renders the body")
			}
			if len(vars) > 0 && req.Template == "" {
				return usageErrorf("--var needs --template")
			}
			req.Channel = switchboard.Channel(channel)
			req.Category = switchboard.Category(category)
			req.Metadata = meta
			req.Variables = vars
			req.Fallback = switchboard.FallbackPolicy(fallback)
			req.FallbackAfter = fallbackAfter
			if sendAt != "" {
				t, err := parseWhen(sendAt, time.Now(), true)
				if err != nil {
					return usageErrorf("--send-at: %v", err)
				}
				req.SendAt = t.UTC()
			}
			c, err := cf.client(getenv)
			if err != nil {
				return err
			}
			m, err := c.Send(cmd.Context(), &req)
			if err != nil {
				return err
			}
			if cf.json {
				return printJSON(cmd.OutOrStdout(), m)
			}
			line := fmt.Sprintf("%s %s (%d segment(s), %s) from %s", m.ID, m.Status, m.Segments, m.Encoding, m.From)
			if m.SendAt != nil {
				line += ", send at " + fmtTime(*m.SendAt)
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.To, "to", "", "recipient in E.164, e.g. +14155550100 (required)")
	f.StringVar(&req.Body, "body", "", "message text")
	f.StringVar(&req.Template, "template", "", "a template of the server's catalog to render instead of --body")
	f.Var(&vars, "var", "a template variable (repeatable); the value may hold commas")
	f.IntVar(&req.TemplateVersion, "template-version", 0, "a version of the template (default: the newest)")
	f.StringVar(&req.Locale, "locale", "", "the template's translation, e.g. es-MX (falls back es-MX, es, the catalog's default)")
	f.StringVar(&req.From, "from", "", "sender (a configured number or Messaging Service SID)")
	f.StringVar(&req.Pool, "pool", "", "sender pool")
	f.StringVar(&channel, "channel", "", "sms, mms or whatsapp (default sms, or the template's)")
	f.StringVar(&category, "category", "", "transactional, marketing or otp (default transactional, or the template's)")
	f.StringSliceVar(&req.MediaURLs, "media-url", nil, "https media URL (repeatable)")
	f.StringVar(&sendAt, "send-at", "", "send later, at `TIME`: an RFC 3339 time (2026-01-02T15:04:05Z) or a duration from now (90m, 2h, 1d)")
	f.DurationVar(&req.Validity, "validity", 0, "give up if not sent within this long, e.g. 2h (default: the server's default_validity)")
	f.StringVar(&req.Timezone, "timezone", "", "the recipient's IANA time zone for quiet hours, e.g. America/New_York")
	f.StringVar(&fallback, "fallback", "", "WhatsApp only: sms sends the text by SMS when WhatsApp fails")
	f.DurationVar(&fallbackAfter, "fallback-after", 0, "WhatsApp only, with --fallback sms: also when not delivered within this long")
	f.Var(&meta, "metadata", "metadata stored with the message (repeatable)")
	f.StringVar(&req.IdempotencyKey, "idempotency-key", "", "Idempotency-Key: the same key sends one message however often it is repeated (default: a new one)")
	cf.bind(cmd)
	return cmd
}

func newMessagesCmd(getenv env) *cobra.Command {
	msgs := &cobra.Command{Use: "messages", Short: "Read and cancel messages"}

	var getFlags clientFlags
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a message and its timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := getFlags.client(getenv)
			if err != nil {
				return err
			}
			m, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if getFlags.json {
				return printJSON(cmd.OutOrStdout(), m)
			}
			return printMessage(cmd.OutOrStdout(), m)
		},
	}
	getFlags.bind(get)

	var (
		listFlags clientFlags
		opts      client.ListOptions
		statuses  []string
		all       bool
		since     whenFlag
		until     whenFlag
		metaMatch metadataMatchFlag
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List messages, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(getenv)
			if err != nil {
				return err
			}
			for _, s := range statuses {
				opts.Statuses = append(opts.Statuses, switchboard.Status(s))
			}
			opts.CreatedAfter, opts.CreatedBefore = since.t, until.t
			opts.Metadata = metaMatch.m
			var out []*switchboard.Message
			next := ""
			if all {
				for m, err := range c.All(cmd.Context(), opts) {
					if err != nil {
						return err
					}
					out = append(out, m)
				}
			} else {
				page, err := c.List(cmd.Context(), opts)
				if err != nil {
					return err
				}
				out, next = page.Messages, page.NextCursor
			}
			if listFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"messages": out, "next_cursor": next})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTO\tFROM\tSEGMENTS\tERROR\tCREATED")
			for _, m := range out {
				code := "-"
				if m.ErrorCode != 0 {
					code = fmt.Sprint(m.ErrorCode)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Status, m.To, m.From, m.Segments, code, fmtTime(m.CreatedAt))
			}
			if next != "" {
				fmt.Fprintf(tw, "(more: --cursor %s)\n", next)
			}
			return tw.Flush()
		},
	}
	lf := list.Flags()
	lf.StringSliceVar(&statuses, "status", nil, "only these statuses (repeatable or comma-separated)")
	lf.StringVar(&opts.To, "to", "", "only to this number")
	lf.StringVar(&opts.From, "from", "", "only from this sender")
	lf.Var(&since, "since", "created at or after: "+whenHelp)
	lf.Var(&until, "until", "created before: "+whenHelp)
	lf.Var(&metaMatch, "metadata", "only messages whose metadata has KEY with exactly VALUE (job_id=1042)")
	lf.StringVar(&opts.Cursor, "cursor", "", "continue a listing")
	lf.IntVar(&opts.Limit, "limit", 0, "page size, 1 to 500 (default: the server's, 50)")
	lf.BoolVar(&all, "all", false, "follow every page")
	listFlags.bind(list)

	var cancelFlags clientFlags
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a message that has not been handed to the provider yet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cancelFlags.client(getenv)
			if err != nil {
				return err
			}
			m, err := c.Cancel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cancelFlags.json {
				return printJSON(cmd.OutOrStdout(), m)
			}
			fmt.Fprintln(cmd.OutOrStdout(), m.ID, m.Status)
			return nil
		},
	}
	cancelFlags.bind(cancel)
	msgs.AddCommand(get, list, cancel)
	return msgs
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printMessage prints a message and its timeline for a person.
func printMessage(w io.Writer, m *switchboard.Message) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Message\t%s\n", m.ID)
	fmt.Fprintf(tw, "Status\t%s\n", m.Status)
	fmt.Fprintf(tw, "Channel\t%s\n", m.Channel)
	fmt.Fprintf(tw, "Category\t%s\n", m.Category)
	fmt.Fprintf(tw, "To\t%s\n", m.To)
	fmt.Fprintf(tw, "From\t%s\n", m.From)
	if m.Template != "" {
		fmt.Fprintf(tw, "Template\t%s v%d\n", m.Template, m.TemplateVersion)
	}
	switch {
	case m.RedactedAt != nil:
		fmt.Fprintf(tw, "Body\t(redacted %s; %d characters, sha256 %s)\n", fmtTime(*m.RedactedAt), m.BodyLength, m.BodySHA256)
	case m.Body != "":
		fmt.Fprintf(tw, "Body\t%s\n", oneLine(m.Body))
	}
	for i, u := range m.MediaURLs {
		fmt.Fprintf(tw, "Media %d\t%s\n", i+1, u)
	}
	fmt.Fprintf(tw, "Segments\t%d (%s)\n", m.Segments, m.Encoding)
	if len(m.Metadata) > 0 {
		fmt.Fprintf(tw, "Metadata\t%s\n", formatMetadata(m.Metadata))
	}
	if m.ProviderSID != "" {
		fmt.Fprintf(tw, "Provider SID\t%s\n", m.ProviderSID)
	}
	if m.ErrorCode != 0 || m.ErrorMessage != "" {
		fmt.Fprintf(tw, "Error\t%d %s\n", m.ErrorCode, m.ErrorMessage)
	}
	if m.WhatsApp != nil && m.WhatsApp.ReachedBy != "" {
		fmt.Fprintf(tw, "Reached by\t%s\n", m.WhatsApp.ReachedBy)
	}
	fmt.Fprintf(tw, "Attempts\t%d\n", m.Attempts)
	fmt.Fprintf(tw, "Created\t%s\n", fmtTime(m.CreatedAt))
	if m.SendAt != nil {
		fmt.Fprintf(tw, "Send at\t%s\n", fmtTime(*m.SendAt))
	}
	if m.ValidUntil != nil {
		fmt.Fprintf(tw, "Valid until\t%s\n", fmtTime(*m.ValidUntil))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nTimeline:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var last switchboard.Status
	for _, e := range m.Events {
		st := ""
		if e.Status != "" && e.Status != last {
			st = string(e.Status)
			last = e.Status
		}
		code := ""
		if e.ErrorCode != 0 {
			code = fmt.Sprintf("[%d] ", e.ErrorCode)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s%s\n", fmtTime(e.At), st, e.Type, e.Actor, code, e.Detail)
	}
	return tw.Flush()
}

// oneLine shows a body on one line: line breaks as ⏎.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(s)
}
