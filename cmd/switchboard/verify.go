package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/client"
)

func newVerifyCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{Use: "verify", Short: "One-time codes: start a verification, check a code, cancel, list verifications and refusals"}

	var (
		startFlags clientFlags
		req        client.VerificationRequest
		startMeta  kvFlag
	)
	start := &cobra.Command{
		Use:   "start PHONE",
		Short: "Send a code to PHONE (again: the same code, while the verification is pending); prints the verification ID last",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := startFlags.client(getenv)
			if err != nil {
				return err
			}
			req.To = args[0]
			req.Metadata = startMeta
			v, err := c.StartVerification(cmd.Context(), &req)
			if err != nil {
				return refusalHint(err)
			}
			if startFlags.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s by %s (send %d of %d, expires %s)\n%s\n", v.To, v.Status, v.Channel, v.Sends,
				v.MaxSends, fmtTime(v.ExpiresAt), v.ID)
			return nil
		},
	}
	start.Flags().StringVar(&req.Channel, "channel", "", "sms (default), whatsapp or call")
	start.Flags().StringVar(&req.Locale, "locale", "", "language of the text or call, e.g. en, pt-BR")
	start.Flags().StringVar(&req.UserRef, "user-ref", "", "your reference of the user (per-user limits)")
	start.Flags().StringVar(&req.ClientIP, "client-ip", "", "the end user's IP address (per-IP limits)")
	start.Flags().Var(&startMeta, "metadata", "metadata stored with the verification, KEY=VALUE (repeatable; find verifications by it with verify list --metadata)")
	startFlags.bind(start)

	var checkFlags clientFlags
	check := &cobra.Command{
		Use:   "check VERIFICATION_ID CODE",
		Short: "Check a code; exits non-zero unless it is approved",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := checkFlags.client(getenv)
			if err != nil {
				return err
			}
			r, err := c.CheckVerification(cmd.Context(), args[0], args[1])
			if err != nil {
				return refusalHint(err)
			}
			if checkFlags.json {
				if err := printJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s (check %d of %d)\n", r.ID, r.Status, r.Checks, r.MaxChecks)
			}
			if !r.Valid {
				return &codedError{exit: exitFailure, code: "not_approved", err: fmt.Errorf("the code does not match (the verification is %s)", r.Status)}
			}
			return nil
		},
	}
	checkFlags.bind(check)

	var getFlags clientFlags
	get := &cobra.Command{
		Use:   "get VERIFICATION_ID",
		Short: "Show a verification and the codes it sent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := getFlags.client(getenv)
			if err != nil {
				return err
			}
			v, err := c.GetVerification(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if getFlags.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "%s %s %s (%s, sends %d/%d, checks %d/%d)\n", v.ID, v.To, v.Status, v.Backend,
				v.Sends, v.MaxSends, v.Checks, v.MaxChecks)
			if len(v.Metadata) > 0 {
				fmt.Fprintf(tw, "metadata %s\n", formatMetadata(v.Metadata))
			}
			fmt.Fprint(tw, "\nAT\tCHANNEL\tMESSAGE/CALL\tREASON\n")
			for _, s := range v.SendAttempts {
				fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\n", fmtTime(s.At), s.Channel, s.MessageID, s.CallID, s.Reason)
			}
			return tw.Flush()
		},
	}
	getFlags.bind(get)

	var cancelFlags clientFlags
	cancel := &cobra.Command{
		Use:   "cancel VERIFICATION_ID",
		Short: "Cancel a pending verification",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cancelFlags.client(getenv)
			if err != nil {
				return err
			}
			v, err := c.CancelVerification(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if cancelFlags.json {
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", v.ID, v.Status)
			return nil
		},
	}
	cancelFlags.bind(cancel)

	var (
		listFlags  clientFlags
		listOpts   client.VerificationListOptions
		listStatus string
		listMeta   metadataMatchFlag
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List verifications, newest first (codes are never shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := listFlags.client(getenv)
			if err != nil {
				return err
			}
			listOpts.Status, listOpts.Metadata = switchboard.VerificationStatus(listStatus), listMeta.m
			p, err := c.ListVerifications(cmd.Context(), listOpts)
			if err != nil {
				return err
			}
			if listFlags.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTO\tCHANNEL\tSENDS\tCHECKS\tCREATED")
			for _, v := range p.Verifications {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n", v.ID, v.Status, v.To, v.Channel, v.Sends, v.MaxSends,
					v.Checks, v.MaxChecks, fmtTime(v.CreatedAt))
			}
			if len(p.Verifications) == 0 {
				fmt.Fprintln(tw, "(no verifications)")
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if p.NextCursor != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "more: --cursor %s\n", p.NextCursor)
			}
			return nil
		},
	}
	list.Flags().StringVar(&listOpts.To, "to", "", "only this number")
	list.Flags().StringVar(&listStatus, "status", "", "only this status (pending, approved, canceled, max_attempts_reached, expired, failed)")
	list.Flags().Var(&listMeta, "metadata", "only verifications whose metadata has KEY with exactly VALUE (job_id=1042)")
	list.Flags().StringVar(&listOpts.Cursor, "cursor", "", "the next page's cursor")
	list.Flags().IntVar(&listOpts.Limit, "limit", 0, "page size, 1 to 500 (default: the server's, 50)")
	listFlags.bind(list)

	var (
		refFlags     clientFlags
		refTo, refRs string
	)
	refusals := &cobra.Command{
		Use:   "refusals",
		Short: "List refused verification requests (support references), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := refFlags.client(getenv)
			if err != nil {
				return err
			}
			p, err := c.ListRefusals(cmd.Context(), refTo, refRs, "", 100)
			if err != nil {
				return err
			}
			if refFlags.json {
				return printJSON(cmd.OutOrStdout(), p)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tAT\tTENANT\tTO\tREASON\tRETRY AFTER\tDETAIL")
			for _, r := range p.Refusals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%ds\t%s\n", r.ID, fmtTime(r.At), r.Tenant, r.To, r.Reason, r.RetryAfterSeconds, r.Detail)
			}
			if len(p.Refusals) == 0 {
				fmt.Fprintln(tw, "(no refusals)")
			}
			return tw.Flush()
		},
	}
	refusals.Flags().StringVar(&refTo, "to", "", "only this number")
	refusals.Flags().StringVar(&refRs, "reason", "", "only this reason (e.g. rate_limited_phone, pumping_suspected)")
	refFlags.bind(refusals)

	cmd.AddCommand(start, check, get, cancel, list, refusals)
	return cmd
}

// refusalHint adds the support reference and the wait to a refused request's error.
func refusalHint(err error) error {
	var e *client.Error
	if errors.As(err, &e) && e.SupportReference != "" {
		var hints []string
		if !strings.Contains(err.Error(), e.SupportReference) { // the detail usually names it already
			hints = append(hints, "support reference "+e.SupportReference)
		}
		if e.RetryAfter > 0 {
			hints = append(hints, fmt.Sprintf("retry after %s", e.RetryAfter))
		}
		if len(hints) == 0 {
			return err
		}
		return fmt.Errorf("%w (%s)", err, strings.Join(hints, "; "))
	}
	return err
}
