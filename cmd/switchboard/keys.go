package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/node"
)

func newKeysCmd(getenv env) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys (on the server's database)",
		Long: `Create, list and revoke API keys. These commands work on the server's database directly, not
through the HTTP API: they are how the first key of an installation is made, before any key exists.
They find the database as serve does (--database-url, SWITCHBOARD_DATABASE_URL, the config file
named by --config or SWITCHBOARD_CONFIG, else sqlite:<data_dir>/switchboard.db) and refuse to
create one: run them where serve runs, or point them at its database or config file.`,
	}
	var (
		name     string
		jsonOut  bool
		listJSON bool
		revJSON  bool
	)
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an API key; its secret is printed once, as the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageErrorf("--name is required, e.g. keys create --name billing")
			}
			store, err := openServerStore(cmd.Context(), cmd.Flags(), getenv, "keys")
			if err != nil {
				return err
			}
			defer store.Close()
			key, secret, err := node.CreateAPIKey(cmd.Context(), store, name, time.Now().UTC())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if jsonOut {
				return printJSON(out, map[string]any{"id": key.ID, "name": key.Name, "created_at": key.CreatedAt, "secret": secret})
			}
			fmt.Fprintf(out, "created API key %s (%s); keep the secret, it is not shown again:\n", key.ID, key.Name)
			fmt.Fprintln(out, secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key, e.g. the application using it (required)")
	create.Flags().BoolVar(&jsonOut, "json", false, "print the key as JSON, its secret included")
	bindStoreFlags(create.Flags())

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openServerStore(cmd.Context(), cmd.Flags(), getenv, "keys")
			if err != nil {
				return err
			}
			defer store.Close()
			ks, err := store.ListAPIKeys(cmd.Context(), "")
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]map[string]any, 0, len(ks))
				for _, k := range ks {
					out = append(out, map[string]any{"id": k.ID, "name": k.Name, "created_at": k.CreatedAt, "last_used_at": k.LastUsedAt, "revoked_at": k.RevokedAt})
				}
				return printJSON(cmd.OutOrStdout(), map[string]any{"keys": out})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tREVOKED")
			for _, k := range ks {
				revoked, used := "-", "never"
				if k.RevokedAt != nil {
					revoked = fmtTime(*k.RevokedAt)
				}
				if k.LastUsedAt != nil {
					used = fmtTime(*k.LastUsedAt)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, fmtTime(k.CreatedAt), used, revoked)
			}
			return tw.Flush()
		},
	}
	bindStoreFlags(list.Flags())
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON (never the secrets: they are not stored)")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openServerStore(cmd.Context(), cmd.Flags(), getenv, "keys")
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.RevokeAPIKey(cmd.Context(), args[0], time.Now().UTC()); err != nil {
				return err
			}
			if revJSON {
				return printJSON(cmd.OutOrStdout(), map[string]string{"revoked": args[0]})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "revoked", args[0])
			return nil
		},
	}
	bindStoreFlags(revoke.Flags())
	revoke.Flags().BoolVar(&revJSON, "json", false, "print JSON")
	keys.AddCommand(create, list, revoke)
	return keys
}
