package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/config"
)

func newHealthCmd(getenv env) *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health [--url URL]",
		Short: "Exit 0 when the local node's /readyz answers 200 (a container health check without curl)",
		Long: `Ask the node for GET /readyz and exit 0 when it answers 200, 1 otherwise (draining, database
unreachable, not listening). The default URL is built from SWITCHBOARD_ADDR, with a wildcard
host (0.0.0.0, ::) replaced by loopback: what a container's HEALTHCHECK needs in an image without
curl. --url checks another URL, e.g. https://… when the node serves TLS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hc := http.DefaultClient
			if url == "" {
				cfg, err := config.Load(cmd.Flags(), getenv)
				if err != nil {
					return err
				}
				url = "http://" + loopbackAddr(cfg.Addr) + "/readyz"
				if cfg.Security.TLSCertFile != "" {
					// serve terminates TLS itself: ask over HTTPS, trusting its own certificate.
					addr := loopbackAddr(cfg.Addr)
					host, _, _ := net.SplitHostPort(addr)
					tc, err := trustConfig("", cfg.Security.TLSCertFile, host)
					if err != nil {
						return err
					}
					t := http.DefaultTransport.(*http.Transport).Clone()
					t.TLSClientConfig = tc
					hc = &http.Client{Transport: t}
					url = "https://" + addr + "/readyz"
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health: %s answered %s", url, resp.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the URL to check (default: http://SWITCHBOARD_ADDR/readyz)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	config.BindFlags(cmd.Flags())
	return cmd
}

// loopbackAddr turns a listening address into one to dial: a wildcard or empty host becomes
// 127.0.0.1 (or ::1 for "::").
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
