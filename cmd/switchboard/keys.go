package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

func newKeysCmd(getenv env) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage API keys (works on the database directly)",
	}
	var name string
	create := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an API key; its secret is printed once, as the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return fmt.Errorf("--name is required")
			}
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			store, err := node.OpenStore(cmd.Context(), cfg.DatabaseURL, node.StoreOptionsOf(cfg))
			if err != nil {
				return err
			}
			defer store.Close()
			key, secret, err := node.CreateAPIKey(cmd.Context(), store, name, time.Now().UTC())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created API key %s (%s); keep the secret, it is not shown again:\n", key.ID, key.Name)
			fmt.Fprintln(out, secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key, e.g. the application using it")
	config.BindFlags(create.Flags())

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			store, err := node.OpenStore(cmd.Context(), cfg.DatabaseURL, node.StoreOptionsOf(cfg))
			if err != nil {
				return err
			}
			defer store.Close()
			ks, err := store.ListAPIKeys(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tREVOKED")
			for _, k := range ks {
				revoked, used := "-", "never"
				if k.RevokedAt != nil {
					revoked = k.RevokedAt.Format(time.RFC3339)
				}
				if k.LastUsedAt != nil {
					used = k.LastUsedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), used, revoked)
			}
			return tw.Flush()
		},
	}
	config.BindFlags(list.Flags())

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			store, err := node.OpenStore(cmd.Context(), cfg.DatabaseURL, node.StoreOptionsOf(cfg))
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.RevokeAPIKey(cmd.Context(), args[0], time.Now().UTC()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "revoked", args[0])
			return nil
		},
	}
	config.BindFlags(revoke.Flags())
	keys.AddCommand(create, list, revoke)
	return keys
}
