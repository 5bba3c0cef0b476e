package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
	"github.com/switchboard-gw/switchboard/internal/export"
)

func newUsageCmd(getenv env) *cobra.Command {
	var (
		flags clientFlags
		opts  client.UsageOptions
		csv   bool
	)
	cmd := &cobra.Command{
		Use:   "usage [--from DAY] [--to DAY] [--tenant ID] [--json | --csv]",
		Short: "Show messages, segments, calls, verifications and spend per tenant and UTC day (an admin or platform key)",
		Long: `Show what each tenant used per UTC day: messages and their segments, calls, verifications,
and what the provider charged for the day's messages (spend, in its price unit). Days are UTC days
(YYYY-MM-DD); the default range is the last 31 days to today. An admin key sees its own tenant, a
platform key every tenant (or the one --tenant names).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if csv && flags.json {
				return usageErrorf("--csv and --json: choose one")
			}
			c, err := flags.client(getenv)
			if err != nil {
				return err
			}
			rep, err := c.Usage(cmd.Context(), opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case flags.json:
				return printJSON(out, rep)
			case csv:
				rows := make([]*switchboard.Usage, len(rep.Usage))
				for i, u := range rep.Usage {
					rows[i] = &switchboard.Usage{Tenant: u.Tenant, Day: u.Day, Messages: u.Messages, Segments: u.Segments,
						Calls: u.Calls, Verifications: u.Verifications, SpendMicros: u.SpendMicros, PriceUnit: u.PriceUnit}
				}
				_, err := export.Usage(out, rows, export.CSV)
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DAY\tTENANT\tMESSAGES\tSEGMENTS\tCALLS\tVERIFICATIONS\tSPEND")
			for _, u := range rep.Usage {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s %s\n", u.Day, u.Tenant, u.Messages, u.Segments, u.Calls, u.Verifications, u.Spend, u.PriceUnit)
			}
			if len(rep.Usage) == 0 {
				fmt.Fprintf(tw, "(nothing used from %s to %s)\n", rep.From, rep.To)
			}
			return tw.Flush()
		},
	}
	flags.bind(cmd)
	cmd.Flags().StringVar(&opts.From, "from", "", "first UTC day, YYYY-MM-DD (default: 30 days before --to)")
	cmd.Flags().StringVar(&opts.To, "to", "", "last UTC day, YYYY-MM-DD (default: today)")
	cmd.Flags().StringVar(&opts.Tenant, "tenant", "", "one tenant (a platform key; an admin key reads its own)")
	cmd.Flags().BoolVar(&csv, "csv", false, "print CSV (the same columns as the dashboard's download)")
	return cmd
}
