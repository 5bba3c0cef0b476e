package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

// senderFlags are the settings of senders add and update.
type senderFlags struct {
	kind       string
	rate       float64
	burst      int
	pool       string
	tenants    []string
	allTenants bool
}

func (f *senderFlags) bind(cmd *cobra.Command, update bool) {
	cmd.Flags().StringVar(&f.kind, "kind", "", "long_code, toll_free, short_code or messaging_service (default: messaging_service for an MG… SID, else long_code)")
	cmd.Flags().Float64Var(&f.rate, "rate", 0, "segments per second across the cluster, -1 for unlimited (0: the kind's default: long_code 1, toll_free 3, short_code 100)")
	cmd.Flags().IntVar(&f.burst, "burst", 0, "segments it may send at once above its rate (default 1)")
	cmd.Flags().StringVar(&f.pool, "pool", "", "the pool it belongs to (default \"default\")")
	cmd.Flags().StringSliceVar(&f.tenants, "tenant", nil, "a tenant that may send from it (repeat or comma-separate; none: every tenant)")
	if update {
		cmd.Flags().BoolVar(&f.allTenants, "all-tenants", false, "let every tenant send from it (clears --tenant)")
	}
}

func newSendersCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "senders",
		Short: "Manage the senders (numbers, Messaging Services), their pools and rates, without a restart",
		Long: `Senders are stored in the database: the configuration file's senders are recorded at every
start-up, and a sender added, changed or removed here is the database's from then on (the file no
longer changes it). Every node of a cluster applies a change within sender_refresh_interval
(default 2s). Needs an admin API key.`,
	}

	var (
		listFlags clientFlags
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the senders",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(getenv)
			if err != nil {
				return err
			}
			ss, err := c.Senders(cmd.Context())
			if err != nil {
				return err
			}
			if listFlags.json {
				return printJSON(cmd.OutOrStdout(), ss)
			}
			return printSenders(cmd.OutOrStdout(), ss)
		},
	}
	listFlags.bind(list)

	var (
		addFlags clientFlags
		addSet   senderFlags
	)
	add := &cobra.Command{
		Use:   "add FROM [--kind KIND] [--rate N] [--burst N] [--pool POOL] [--tenant ID]...",
		Short: "Add a sender (an E.164 number or a Messaging Service SID); every node sends from it within sender_refresh_interval",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if addSet.burst < 0 {
				return usageErrorf("--burst must be at least 1")
			}
			c, err := addFlags.client(getenv)
			if err != nil {
				return err
			}
			req := &client.SenderRequest{From: args[0], Kind: switchboard.SenderKind(addSet.kind), Pool: addSet.pool, Tenants: addSet.tenants}
			if cmd.Flags().Changed("rate") {
				req.Rate = &addSet.rate
			}
			if cmd.Flags().Changed("burst") {
				req.Burst = &addSet.burst
			}
			s, err := c.CreateSender(cmd.Context(), req)
			if err != nil {
				return err
			}
			if addFlags.json {
				return printJSON(cmd.OutOrStdout(), s)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s added: %s\n", s.From, senderSummary(*s))
			return nil
		},
	}
	addSet.bind(add, false)
	addFlags.bind(add)

	var (
		updateFlags clientFlags
		updateSet   senderFlags
	)
	update := &cobra.Command{
		Use:   "update FROM [--kind KIND] [--rate N] [--burst N] [--pool POOL] [--tenant ID]... [--all-tenants]",
		Short: "Change a sender's kind, rate, burst, pool or tenants (flags not given keep their value)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u client.SenderUpdate
			fl := cmd.Flags()
			if fl.Changed("kind") {
				k := switchboard.SenderKind(updateSet.kind)
				u.Kind = &k
			}
			if fl.Changed("rate") {
				u.Rate = &updateSet.rate
			}
			if fl.Changed("burst") {
				u.Burst = &updateSet.burst
			}
			if fl.Changed("pool") {
				u.Pool = &updateSet.pool
			}
			switch {
			case updateSet.allTenants && fl.Changed("tenant"):
				return usageErrorf("--all-tenants and --tenant contradict each other")
			case updateSet.allTenants:
				u.Tenants = &[]string{}
			case fl.Changed("tenant"):
				u.Tenants = &updateSet.tenants
			}
			if u == (client.SenderUpdate{}) {
				return usageErrorf("nothing to change: give --kind, --rate, --burst, --pool, --tenant or --all-tenants")
			}
			c, err := updateFlags.client(getenv)
			if err != nil {
				return err
			}
			s, err := c.UpdateSender(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			if updateFlags.json {
				return printJSON(cmd.OutOrStdout(), s)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s updated: %s\n", s.From, senderSummary(*s))
			return nil
		},
	}
	updateSet.bind(update, true)
	updateFlags.bind(update)

	var removeFlags clientFlags
	remove := &cobra.Command{
		Use:   "remove FROM",
		Short: "Remove a sender (refused, exit 4, while messages from it are queued or scheduled)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := removeFlags.client(getenv)
			if err != nil {
				return err
			}
			if err := c.DeleteSender(cmd.Context(), args[0]); err != nil {
				return err
			}
			if removeFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]string{"removed": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s removed\n", args[0])
			return nil
		},
	}
	removeFlags.bind(remove)

	cmd.AddCommand(list, add, update, remove)
	return cmd
}

// rateText is a rate as people read it.
func rateText(rate float64) string {
	if rate < 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(rate, 'f', -1, 64) + "/s"
}

func tenantsText(ts []string) string {
	if len(ts) == 0 {
		return "all"
	}
	return strings.Join(ts, ",")
}

func senderSummary(s switchboard.Sender) string {
	return fmt.Sprintf("%s, pool %s, rate %s, burst %d, tenants %s", s.Kind, s.Pool, rateText(s.Rate), s.Burst, tenantsText(s.Tenants))
}

func printSenders(w io.Writer, ss []switchboard.Sender) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tKIND\tPOOL\tRATE\tBURST\tTENANTS\tSOURCE")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.From, s.Kind, s.Pool, rateText(s.Rate), s.Burst, tenantsText(s.Tenants), s.Source)
	}
	if len(ss) == 0 {
		fmt.Fprintln(tw, "(no senders)")
	}
	return tw.Flush()
}
