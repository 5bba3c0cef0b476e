package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/events"
)

func newEndpointsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{Use: "endpoints", Short: "Manage the endpoints that receive events (webhooks), their dead letters and replays"}

	var (
		createFlags clientFlags
		req         client.EndpointRequest
	)
	create := &cobra.Command{
		Use:   "create URL [--event-type PATTERN]...",
		Short: "Register an endpoint; prints its ID and, as the last line, its signing secret",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := createFlags.client(getenv)
			if err != nil {
				return err
			}
			req.URL = args[0]
			ep, err := c.CreateEndpoint(cmd.Context(), &req)
			if err != nil {
				return err
			}
			if createFlags.json {
				return printJSON(cmd.OutOrStdout(), ep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s)\n%s\n", ep.ID, ep.URL, strings.Join(ep.EventTypes, ", "), ep.Secret)
			return nil
		},
	}
	create.Flags().StringSliceVar(&req.EventTypes, "event-type", nil, `event types: "*" (default), a type such as message.received, or a prefix such as message.* (repeat or comma-separate)`)
	create.Flags().StringVar(&req.Description, "description", "", "for people")
	create.Flags().StringVar(&req.Secret, "secret", "", "signing secret (whsec_…); generated when empty")
	createFlags.bind(create)

	var listFlags clientFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(getenv)
			if err != nil {
				return err
			}
			eps, err := c.Endpoints(cmd.Context())
			if err != nil {
				return err
			}
			if listFlags.json {
				return printJSON(cmd.OutOrStdout(), eps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tSOURCE\tEVENT TYPES\tURL")
			for _, e := range eps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, endpointState(e), e.Source, strings.Join(e.EventTypes, ","), e.URL)
			}
			if len(eps) == 0 {
				fmt.Fprintln(tw, "(no endpoints)")
			}
			return tw.Flush()
		},
	}
	listFlags.bind(list)

	var getFlags clientFlags
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show an endpoint and its delivery state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := getFlags.client(getenv)
			if err != nil {
				return err
			}
			e, err := c.GetEndpoint(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if getFlags.json {
				return printJSON(cmd.OutOrStdout(), e)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "id\t%s\nurl\t%s\nevent types\t%s\nsource\t%s\nstate\t%s\nactive secrets\t%d\n",
				e.ID, e.URL, strings.Join(e.EventTypes, ", "), e.Source, endpointState(e), e.ActiveSecrets)
			if e.Description != "" {
				fmt.Fprintf(tw, "description\t%s\n", e.Description)
			}
			return tw.Flush()
		},
	}
	getFlags.bind(get)

	var deleteFlags clientFlags
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an endpoint registered through the API, with its deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := deleteFlags.client(getenv)
			if err != nil {
				return err
			}
			if err := c.DeleteEndpoint(cmd.Context(), args[0]); err != nil {
				return err
			}
			if deleteFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]string{"deleted": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s deleted\n", args[0])
			return nil
		},
	}
	deleteFlags.bind(del)

	var (
		rotateFlags clientFlags
		newSecret   string
		overlap     time.Duration
	)
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Add a new signing secret; the previous one keeps signing for --overlap. Prints the new secret as the last line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rotateFlags.client(getenv)
			if err != nil {
				return err
			}
			e, err := c.RotateEndpointSecret(cmd.Context(), args[0], newSecret, overlap)
			if err != nil {
				return err
			}
			if rotateFlags.json {
				return printJSON(cmd.OutOrStdout(), e)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d active secrets; the previous ones stop signing in %s\n%s\n", e.ID, e.ActiveSecrets, overlap, e.Secret)
			return nil
		},
	}
	rotate.Flags().StringVar(&newSecret, "secret", "", "the new secret (whsec_…); generated when empty")
	rotate.Flags().DurationVar(&overlap, "overlap", 24*time.Hour, "how long the previous secrets keep signing beside the new one")
	rotateFlags.bind(rotate)

	var (
		deadFlags clientFlags
		all       bool
	)
	dead := &cobra.Command{
		Use:   "dead-letters ID",
		Short: "List an endpoint's dead letters (deliveries that exhausted their retries), newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := deadFlags.client(getenv)
			if err != nil {
				return err
			}
			var ds []*switchboard.Delivery
			cursor := ""
			for {
				page, err := c.DeadLetters(cmd.Context(), args[0], cursor, 500)
				if err != nil {
					return err
				}
				ds = append(ds, page.DeadLetters...)
				if cursor = page.NextCursor; cursor == "" || !all {
					break
				}
			}
			if deadFlags.json {
				return printJSON(cmd.OutOrStdout(), ds)
			}
			return printDeliveries(cmd.OutOrStdout(), ds)
		},
	}
	dead.Flags().BoolVar(&all, "all", false, "follow every page")
	deadFlags.bind(dead)

	var replayFlags clientFlags
	replay := &cobra.Command{
		Use:   "replay ID",
		Short: "Deliver an endpoint's dead letters again (and enable it if it was disabled)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := replayFlags.client(getenv)
			if err != nil {
				return err
			}
			n, err := c.ReplayDeadLetters(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if replayFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]int{"replayed": n})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d dead letter(s) of %s replayed\n", n, args[0])
			return nil
		},
	}
	replayFlags.bind(replay)

	secret := &cobra.Command{
		Use:   "secret",
		Short: "Print a new signing secret (whsec_…), e.g. for an endpoint of the configuration file",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), events.NewSecret())
		},
	}

	cmd.AddCommand(create, list, get, del, rotate, dead, replay, secret)
	return cmd
}

func endpointState(e *client.Endpoint) string {
	switch {
	case e.DisabledAt != nil:
		return "disabled since " + fmtTime(*e.DisabledAt)
	case e.FailingSince != nil:
		return "failing since " + fmtTime(*e.FailingSince)
	}
	return "ok"
}

func printDeliveries(w io.Writer, ds []*switchboard.Delivery) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DELIVERY\tEVENT\tTYPE\tATTEMPTS\tLAST ATTEMPT\tLAST ERROR")
	for _, d := range ds {
		typ, last := "", ""
		if d.Event != nil {
			typ = string(d.Event.Type)
		}
		if d.LastAttemptAt != nil {
			last = fmtTime(*d.LastAttemptAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.EventID, typ, d.Attempts, last, d.LastError)
	}
	if len(ds) == 0 {
		fmt.Fprintln(tw, "(no dead letters)")
	}
	return tw.Flush()
}
