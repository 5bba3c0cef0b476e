package main

import (
	"fmt"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

func newConsentCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{Use: "consent", Short: "Read and record recipients' consent (opt-outs, opt-ins)"}

	var getFlags clientFlags
	get := &cobra.Command{
		Use:   "get PHONE",
		Short: "Show a recipient's consent per scope and its history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := getFlags.client(getenv)
			if err != nil {
				return err
			}
			v, err := c.ConsentOf(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if getFlags.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "%s\n\nCurrent:\nSCOPE\tSTATE\tSINCE\tSOURCE\n", v.Phone)
			scopes := make([]string, 0, len(v.Current))
			for sc := range v.Current {
				scopes = append(scopes, sc)
			}
			sort.Strings(scopes)
			for _, sc := range scopes {
				r := v.Current[sc]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sc, r.State, fmtTime(r.At), r.Source)
			}
			if len(scopes) == 0 {
				fmt.Fprintln(tw, "*\tnone recorded (transactional messages may go; categories in opt_in_required need an opt-in)\t-\t-")
			}
			fmt.Fprintf(tw, "\nHistory:\nAT\tSCOPE\tSTATE\tSOURCE\tACTOR\tEVIDENCE\n")
			for _, r := range v.History {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(r.At), r.Scope, r.State, r.Source, r.Actor, r.Evidence)
			}
			if len(v.History) == 0 {
				fmt.Fprintln(tw, "(no recorded consent)")
			}
			return tw.Flush()
		},
	}
	getFlags.bind(get)

	var (
		setFlags clientFlags
		change   client.ConsentChange
		state    string
	)
	set := &cobra.Command{
		Use:   "set PHONE --state opted_out|opted_in",
		Short: "Record an opt-out or an opt-in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := setFlags.client(getenv)
			if err != nil {
				return err
			}
			change.State = switchboard.ConsentState(state)
			r, err := c.SetConsent(cmd.Context(), args[0], change)
			if err != nil {
				return err
			}
			if setFlags.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s in scope %s\n", r.Phone, r.State, r.Scope)
			return nil
		},
	}
	set.Flags().StringVar(&state, "state", "", "opted_out or opted_in")
	set.Flags().StringVar(&change.Scope, "scope", "", `"*" (every pool, default) or a pool`)
	set.Flags().StringVar(&change.Evidence, "evidence", "", "what proves it (form, ticket, call)")
	setFlags.bind(set)

	var (
		clearFlags clientFlags
		scope      string
	)
	clearCmd := &cobra.Command{
		Use:   "clear PHONE",
		Short: "Withdraw a recorded choice (neither opted out nor opted in)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := clearFlags.client(getenv)
			if err != nil {
				return err
			}
			r, err := c.ClearConsent(cmd.Context(), args[0], scope)
			if err != nil {
				return err
			}
			if clearFlags.json {
				return printJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s cleared in scope %s\n", r.Phone, r.Scope)
			return nil
		},
	}
	clearCmd.Flags().StringVar(&scope, "scope", "", `"*" (default) or a pool`)
	clearFlags.bind(clearCmd)

	var importFlags clientFlags
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Import consent from CSV (header phone,state[,scope[,evidence]]); one bad row refuses the file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := importFlags.client(getenv)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			n, err := c.ImportConsent(cmd.Context(), raw)
			if err != nil {
				return err
			}
			if importFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]int{"imported": n})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d record(s)\n", n)
			return nil
		},
	}
	importFlags.bind(imp)
	cmd.AddCommand(get, set, clearCmd, imp)
	return cmd
}
