package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/node"
)

func newServeCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Switchboard node (API, webhooks, dispatcher)",
		Long: `Run a Switchboard node. With no configuration it keeps its data in SQLite under ./data/,
uses the built-in Twilio simulator as provider (nothing leaves this machine) and listens on
127.0.0.1:8080. It writes a development API key to ./data/dev-api-key, which the client commands
on this machine use when SWITCHBOARD_API_KEY is not set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), getenv)
			if err != nil {
				return &usageError{err} // a setting to fix: exit 2, like a bad flag
			}
			logger, err := newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			n, err := node.Open(ctx, cfg, logger, node.Options{})
			if err != nil {
				return err
			}
			if err := n.Start(ctx); err != nil {
				_ = n.Shutdown(context.Background())
				return err
			}
			<-ctx.Done()
			logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			start := time.Now()
			if err := n.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			logger.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}
