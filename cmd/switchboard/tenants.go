package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

func newTenantsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "List, create and change tenants (through the API, with a platform key)",
		Long: `List, create and change tenants through the API (/v1/tenants). They need a platform key: make
the first one on the server's database with 'switchboard keys create --name ops --role platform'
and pass it with --api-key or SWITCHBOARD_API_KEY.`,
	}

	var listFlags clientFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(getenv)
			if err != nil {
				return err
			}
			ts, err := c.Tenants(cmd.Context())
			if err != nil {
				return err
			}
			if listFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"tenants": ts})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tENVIRONMENT\tMESSAGES/DAY\tSEGMENTS/DAY\tSPEND/DAY")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, tenantEnv(t), limitText(int64(t.DailyMessages), ""),
					limitText(int64(t.DailySegments), ""), limitText(t.DailySpendCents, "¢"))
			}
			return tw.Flush()
		},
	}
	listFlags.bind(list)

	var (
		createFlags clientFlags
		req         client.TenantRequest
		env, mode   string
	)
	create := &cobra.Command{
		Use:   "create ID [--name NAME] [--environment staging --allow +1555…]",
		Short: "Create a tenant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := createFlags.client(getenv)
			if err != nil {
				return err
			}
			req.ID = args[0]
			req.Environment, req.StagingMode = switchboard.Environment(env), switchboard.StagingMode(mode)
			t, err := c.CreateTenant(cmd.Context(), &req)
			if err != nil {
				return err
			}
			return printTenant(cmd.OutOrStdout(), t, createFlags.json)
		},
	}
	create.Flags().StringVar(&req.Name, "name", "", "a name for people")
	create.Flags().StringVar(&env, "environment", "", "production (the default) or staging")
	create.Flags().StringVar(&mode, "staging-mode", "", "for staging: allowlist (the default: only --allow numbers) or simulator")
	create.Flags().StringSliceVar(&req.AllowedRecipients, "allow", nil, "a number a staging tenant may send to (repeat or comma-separate)")
	create.Flags().IntVar(&req.DailyMessages, "daily-messages", 0, "messages per day (0: no limit)")
	create.Flags().IntVar(&req.DailySegments, "daily-segments", 0, "segments per day (0: no limit)")
	create.Flags().Int64Var(&req.DailySpendCents, "daily-spend-cents", 0, "spend cap per day in US cents (0: no cap)")
	createFlags.bind(create)

	var updateFlags clientFlags
	update := &cobra.Command{
		Use:   "update ID [--name NAME] [--environment E] [--allow N]... [--daily-messages N]…",
		Short: "Change a tenant's settings; those not given are kept",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p client.TenantPatch
			fl := cmd.Flags()
			if fl.Changed("name") {
				v, _ := fl.GetString("name")
				p.Name = &v
			}
			if fl.Changed("environment") {
				v, _ := fl.GetString("environment")
				e := switchboard.Environment(v)
				p.Environment = &e
			}
			if fl.Changed("staging-mode") {
				v, _ := fl.GetString("staging-mode")
				m := switchboard.StagingMode(v)
				p.StagingMode = &m
			}
			if fl.Changed("allow") {
				v, _ := fl.GetStringSlice("allow")
				if v == nil {
					v = []string{}
				}
				p.AllowedRecipients = &v
			}
			for _, f := range []struct {
				name string
				dst  **int
			}{{"daily-messages", &p.DailyMessages}, {"daily-segments", &p.DailySegments}} {
				if fl.Changed(f.name) {
					v, _ := fl.GetInt(f.name)
					*f.dst = &v
				}
			}
			if fl.Changed("daily-spend-cents") {
				v, _ := fl.GetInt64("daily-spend-cents")
				p.DailySpendCents = &v
			}
			if p == (client.TenantPatch{}) {
				return usageErrorf("nothing to change: give at least one of --name, --environment, --staging-mode, --allow, --daily-messages, --daily-segments, --daily-spend-cents")
			}
			c, err := updateFlags.client(getenv)
			if err != nil {
				return err
			}
			t, err := c.UpdateTenant(cmd.Context(), args[0], &p)
			if err != nil {
				return err
			}
			return printTenant(cmd.OutOrStdout(), t, updateFlags.json)
		},
	}
	update.Flags().String("name", "", "a name for people")
	update.Flags().String("environment", "", "production or staging")
	update.Flags().String("staging-mode", "", "allowlist or simulator")
	update.Flags().StringSlice("allow", nil, "the numbers a staging tenant may send to: replaces the list (--allow '' empties it)")
	update.Flags().Int("daily-messages", 0, "messages per day (0: no limit)")
	update.Flags().Int("daily-segments", 0, "segments per day (0: no limit)")
	update.Flags().Int64("daily-spend-cents", 0, "spend cap per day in US cents (0: no cap)")
	updateFlags.bind(update)

	cmd.AddCommand(list, create, update, newTenantCredentialsCmd(getenv))
	return cmd
}

func tenantEnv(t *switchboard.Tenant) string {
	if t.Environment == switchboard.EnvStaging {
		return string(t.Environment) + " (" + string(t.StagingMode) + ")"
	}
	return string(t.Environment)
}

func limitText(n int64, unit string) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%d%s", n, unit)
}

func printTenant(w io.Writer, t *switchboard.Tenant, asJSON bool) error {
	if asJSON {
		return printJSON(w, t)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nname\t%s\nenvironment\t%s\n", t.ID, t.Name, tenantEnv(t))
	if len(t.AllowedRecipients) > 0 {
		fmt.Fprintf(tw, "allowed recipients\t%s\n", strings.Join(t.AllowedRecipients, ", "))
	}
	fmt.Fprintf(tw, "messages per day\t%s\nsegments per day\t%s\nspend per day\t%s\n",
		limitText(int64(t.DailyMessages), ""), limitText(int64(t.DailySegments), ""), limitText(t.DailySpendCents, "¢"))
	return tw.Flush()
}
