package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/client"
)

// Environment variables the credentials command reads its secrets from (never a flag, which
// would land in the shell's history and the process list).
const (
	tenantAuthTokenEnv    = "SWITCHBOARD_TENANT_AUTH_TOKEN"
	tenantAPIKeySecretEnv = "SWITCHBOARD_TENANT_API_KEY_SECRET"
)

// readSecret reads a secret from a file (its first line, trimmed) when path is set, else from
// the environment variable name; "" when neither holds one.
func readSecret(getenv env, path, name string) (string, error) {
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		line, _, _ := strings.Cut(string(raw), "\n")
		return strings.TrimSpace(line), nil
	}
	return strings.TrimSpace(getenv(name)), nil
}

// newTenantCredentialsCmd is `switchboard tenants credentials`: a tenant's own Twilio account.
func newTenantCredentialsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "A tenant's own Twilio account (a subaccount): set, show, remove",
	}

	var (
		setFlags              clientFlags
		accountSID, apiKeySID string
		tokenFile, secretFile string
		noSync                bool
	)
	set := &cobra.Command{
		Use:   "set TENANT --account-sid AC… [--api-key-sid SK…]",
		Short: "Save a tenant's Twilio account after Twilio accepts it, and point its numbers at Switchboard",
		Long: "The secrets come from the environment or a file, never from a flag: the auth token from " + tenantAuthTokenEnv +
			" (or --auth-token-file), the API key's secret from " + tenantAPIKeySecretEnv + " (or --api-key-secret-file). " +
			"With --api-key-sid the key is the credential and the auth token, optional, only checks the signatures of the " +
			"account's webhooks. Setting them again rotates them: every node uses the new ones within seconds.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := readSecret(getenv, tokenFile, tenantAuthTokenEnv)
			if err != nil {
				return err
			}
			req := &client.TenantCredentialsRequest{AccountSID: accountSID, AuthToken: token, APIKeySID: apiKeySID}
			if apiKeySID != "" {
				if req.APIKeySecret, err = readSecret(getenv, secretFile, tenantAPIKeySecretEnv); err != nil {
					return err
				}
				if req.APIKeySecret == "" {
					return fmt.Errorf("no API key secret: set %s or --api-key-secret-file", tenantAPIKeySecretEnv)
				}
			} else if token == "" {
				return fmt.Errorf("no auth token: set %s or --auth-token-file (or give --api-key-sid with %s)", tenantAuthTokenEnv, tenantAPIKeySecretEnv)
			}
			if noSync {
				f := false
				req.SyncWebhooks = &f
			}
			c, err := setFlags.client(getenv)
			if err != nil {
				return err
			}
			out, err := c.SetTenantCredentials(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if setFlags.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printCredentials(cmd, out)
		},
	}
	set.Flags().StringVar(&accountSID, "account-sid", "", "the tenant's Twilio account SID (AC…), usually a subaccount of the node's")
	set.Flags().StringVar(&apiKeySID, "api-key-sid", "", "authenticate with this API key (SK…) of the account instead of its auth token")
	set.Flags().StringVar(&tokenFile, "auth-token-file", "", "file holding the account's auth token (default: env "+tenantAuthTokenEnv+")")
	set.Flags().StringVar(&secretFile, "api-key-secret-file", "", "file holding the API key's secret (default: env "+tenantAPIKeySecretEnv+")")
	set.Flags().BoolVar(&noSync, "no-sync-webhooks", false, "leave the SMS webhooks of the account's numbers as they are")
	setFlags.bind(set)

	var showFlags clientFlags
	show := &cobra.Command{
		Use:   "show TENANT",
		Short: "Show a tenant's Twilio account (never its secrets)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := showFlags.client(getenv)
			if err != nil {
				return err
			}
			out, err := c.TenantCredentials(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if showFlags.json {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printCredentials(cmd, out)
		},
	}
	showFlags.bind(show)

	var removeFlags clientFlags
	remove := &cobra.Command{
		Use:   "remove TENANT",
		Short: "Remove a tenant's Twilio account: its messages go out through the node's account again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := removeFlags.client(getenv)
			if err != nil {
				return err
			}
			if err := c.RemoveTenantCredentials(cmd.Context(), args[0]); err != nil {
				return err
			}
			if removeFlags.json {
				return printJSON(cmd.OutOrStdout(), map[string]string{"removed": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "credentials of tenant %s removed\n", args[0])
			return nil
		},
	}
	removeFlags.bind(remove)

	cmd.AddCommand(set, show, remove)
	return cmd
}

func printCredentials(cmd *cobra.Command, c *client.TenantCredentials) error {
	if c == nil {
		return errors.New("no credentials in the answer")
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant\t%s\naccount\t%s\nauth\t%s\n", c.Tenant, c.AccountSID, c.AuthKind)
	if c.APIKeySID != "" {
		fmt.Fprintf(tw, "api key\t%s\n", c.APIKeySID)
	}
	fmt.Fprintf(tw, "webhooks verifiable\t%t\nvalidated\t%s\nupdated\t%s\n", c.WebhooksVerifiable,
		c.ValidatedAt.Format(time.RFC3339), c.UpdatedAt.Format(time.RFC3339))
	if s := c.WebhookSync; s != nil {
		fmt.Fprintf(tw, "numbers\t%d (%d pointed at Switchboard now)\n", s.Numbers, s.Changed)
		if s.Error != "" {
			fmt.Fprintf(tw, "webhook sync error\t%s\n", s.Error)
		}
	}
	return tw.Flush()
}
