// Command switchboard is Switchboard's single binary: the server (serve), the standalone Twilio
// simulator (sim), and the client commands (send, messages, keys, version).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	switchboard "github.com/switchboard-gw/switchboard"
	"github.com/switchboard-gw/switchboard/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The version the node logs at start-up, from the build information (see internal/buildinfo).
	switchboard.Version = buildinfo.Read().Version
	if err := newRoot(os.Stdout, os.Stderr, os.Getenv).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

// env reads the environment; tests pass their own.
type env func(string) string

func newRoot(stdout, stderr io.Writer, getenv env) *cobra.Command {
	root := &cobra.Command{
		Use:           "switchboard",
		Short:         "Switchboard: a self-hosted communications gateway in front of Twilio",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCmd(getenv),
		newSimCmd(getenv),
		newKeysCmd(getenv),
		newSendCmd(getenv),
		newMessagesCmd(getenv),
		newMigrateCmd(getenv),
		newDBCmd(getenv),
		newConsentCmd(getenv),
		newEndpointsCmd(getenv),
		newVerifyCmd(getenv),
		newTemplatesCmd(getenv),
		newCallsCmd(getenv),
		newFlowsCmd(getenv),
		newExportCmd(getenv),
		newBenchCmd(),
		newTraceCmd(getenv),
		newTopCmd(getenv),
		newVersionCmd(),
		newHealthCmd(getenv),
	)
	return root
}

// newLogger builds the process logger: text or JSON on stderr at the given level.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q must be debug, info, warn or error (SWITCHBOARD_LOG_LEVEL)", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q must be text or json (SWITCHBOARD_LOG_FORMAT)", format)
}
