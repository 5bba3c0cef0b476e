package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/voice"
)

func newCallsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{Use: "calls", Short: "Place voice calls that run a flow, read their timelines, cancel them"}

	var (
		createFlags clientFlags
		req         client.CallRequest
		vars        []string
		meta        kvFlag
		sendAt      string
	)
	create := &cobra.Command{
		Use:   "create TO --flow NAME [--var NAME=VALUE]... [--send-at TIME] [--metadata KEY=VALUE]...",
		Short: "Place a call; prints its ID and status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Flow == "" {
				return usageErrorf("--flow is required: the name of a flow in the server's SWITCHBOARD_FLOWS_DIR, e.g. --flow appointment_confirmation")
			}
			c, err := createFlags.client(getenv)
			if err != nil {
				return err
			}
			req.To = args[0]
			req.Variables = map[string]string{}
			for _, v := range vars {
				k, val, ok := strings.Cut(v, "=")
				if !ok || k == "" {
					return usageErrorf("--var %q: want NAME=VALUE", v)
				}
				req.Variables[k] = val
			}
			req.Metadata = meta
			if sendAt != "" {
				t, err := parseWhen(sendAt, time.Now(), true)
				if err != nil {
					return usageErrorf("--send-at: %v", err)
				}
				req.SendAt = t.UTC()
			}
			call, err := c.CreateCall(cmd.Context(), &req)
			if err != nil {
				return err
			}
			if createFlags.json {
				return printJSON(cmd.OutOrStdout(), call)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", call.ID, call.Status)
			return nil
		},
	}
	create.Flags().StringVar(&req.Flow, "flow", "", "the flow to run (required)")
	create.Flags().IntVar(&req.FlowVersion, "flow-version", 0, "a version of the flow (default: the latest)")
	create.Flags().StringVar(&req.From, "from", "", "the number to call from (default: the sender pool's first number)")
	create.Flags().StringVar(&req.Sender, "sender", "", "the sender pool to call from")
	create.Flags().StringVar(&req.Locale, "locale", "", "the prompts' locale, such as es-MX")
	create.Flags().StringArrayVar(&vars, "var", nil, "a flow variable, NAME=VALUE (repeat)")
	create.Flags().BoolVar(&req.MachineDetection, "machine-detection", false, "tell people from answering machines")
	create.Flags().IntVar(&req.RingTimeout, "ring-timeout", 0, "seconds the phone rings (default 30)")
	create.Flags().IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts when busy or unanswered (default 1)")
	create.Flags().IntVar(&req.RetryDelay, "retry-delay", 0, "seconds between attempts (default 300)")
	create.Flags().StringVar(&sendAt, "send-at", "", "place the call later, at `TIME`: an RFC 3339 time (2026-01-02T15:04:05Z) or a duration from now (90m, 2h, 1d)")
	create.Flags().StringVar(&req.Timezone, "timezone", "", "the callee's IANA time zone for quiet hours, e.g. America/New_York")
	create.Flags().Var(&meta, "metadata", "metadata stored with the call, KEY=VALUE (repeatable; find calls by it with calls list --metadata)")
	create.Flags().StringVar(&req.IdempotencyKey, "idempotency-key", "", "Idempotency-Key (default: a new one)")
	createFlags.bind(create)

	var getFlags clientFlags
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a call with its timeline (statuses, attempts, each flow step and the input received)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := getFlags.client(getenv)
			if err != nil {
				return err
			}
			call, err := c.Call(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if getFlags.json {
				return printJSON(cmd.OutOrStdout(), call)
			}
			printCall(cmd.OutOrStdout(), call)
			return nil
		},
	}
	getFlags.bind(get)

	var (
		listFlags clientFlags
		limit     int
		cursor    string
		metaMatch metadataMatchFlag
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List calls, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(getenv)
			if err != nil {
				return err
			}
			var page *client.CallPage
			if metaMatch.m != nil {
				page, err = c.CallsByMetadata(cmd.Context(), *metaMatch.m, cursor, limit)
			} else {
				page, err = c.Calls(cmd.Context(), cursor, limit)
			}
			if err != nil {
				return err
			}
			if listFlags.json {
				return printJSON(cmd.OutOrStdout(), page)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tOUTCOME\tFLOW\tTO\tCREATED")
			for _, call := range page.Calls {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s v%d\t%s\t%s\n", call.ID, call.Status, call.Outcome, call.Flow, call.FlowVersion,
					call.To, fmtTime(call.CreatedAt))
			}
			if len(page.Calls) == 0 {
				fmt.Fprintln(tw, "(no calls)")
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "more: --cursor %s\n", page.NextCursor)
			}
			return nil
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "calls per page")
	list.Flags().StringVar(&cursor, "cursor", "", "the next page's cursor")
	list.Flags().Var(&metaMatch, "metadata", "only calls whose metadata has KEY with exactly VALUE (job_id=1042)")
	listFlags.bind(list)

	var cancelFlags clientFlags
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a call (or hang up one in progress)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cancelFlags.client(getenv)
			if err != nil {
				return err
			}
			call, err := c.CancelCall(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cancelFlags.json {
				return printJSON(cmd.OutOrStdout(), call)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", call.ID, call.Status)
			return nil
		},
	}
	cancelFlags.bind(cancel)
	cmd.AddCommand(create, get, list, cancel)
	return cmd
}

func printCall(w io.Writer, c *switchboard.Call) {
	fmt.Fprintf(w, "%s %s  flow %s v%d  to %s from %s\n", c.ID, c.Status, c.Flow, c.FlowVersion, c.To, c.From)
	if c.Outcome != "" || len(c.Path) > 0 {
		fmt.Fprintf(w, "outcome %s  path %s\n", c.Outcome, strings.Join(c.Path, " > "))
	}
	if c.FallbackMessageID != "" {
		fmt.Fprintf(w, "fallback SMS %s\n", c.FallbackMessageID)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range c.Timeline {
		what := string(e.Type)
		for _, s := range []string{string(e.Status), e.State} {
			if s != "" {
				what += " " + s
			}
		}
		detail := e.Detail
		if e.Digits != "" {
			detail = "digits " + e.Digits + "; " + detail
		}
		if e.Speech != "" {
			detail = "speech " + fmt.Sprintf("%q", e.Speech) + "; " + detail
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Seq, fmtTime(e.At), what, detail)
	}
	_ = tw.Flush()
}

func newFlowsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{Use: "flows", Short: "Work with voice flows (IVR)"}
	var format string
	lint := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Check voice flows: unreachable states, missing timeout/no-input transitions, loops with no exit, unknown and sensitive variables",
		Long: `Check the flows of a directory (default: SWITCHBOARD_FLOWS_DIR). A flow that does not load (bad
YAML, unknown fields, transitions to missing states) is an error; so is every lint finding:
unreachable states, gathers without timeout or no_input transitions, loops with no way to end
the call, variables the flow does not declare, and prompts that speak a variable marked
sensitive. It exits 1 when it finds anything.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := getenv("SWITCHBOARD_FLOWS_DIR")
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" {
				return usageErrorf("name the flows directory (switchboard flows lint DIR), or set SWITCHBOARD_FLOWS_DIR")
			}
			out := cmd.OutOrStdout()
			c, loadErr := voice.Load(dir)
			problems := 0
			if loadErr != nil {
				for _, line := range strings.Split(loadErr.Error(), "\n") {
					problems++
					if format == "json" {
						b, _ := json.Marshal(map[string]string{"rule": "load", "message": line})
						fmt.Fprintln(out, string(b))
					} else {
						fmt.Fprintln(out, line)
					}
				}
			}
			for _, f := range c.Flows() {
				for _, fd := range voice.Lint(f) {
					problems++
					if format == "json" {
						b, _ := json.Marshal(fd)
						fmt.Fprintln(out, string(b))
					} else {
						fmt.Fprintln(out, fd.String())
					}
				}
			}
			if format != "json" {
				fmt.Fprintf(out, "%d flow(s) checked, %d problem(s)\n", len(c.Flows()), problems)
			}
			if problems > 0 {
				return fmt.Errorf("the flows have problems")
			}
			return nil
		},
	}
	lint.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.AddCommand(lint)
	return cmd
}
