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
	// The version the node logs at start-up, from the build information (see internal/buildinfo).
	switchboard.Version = buildinfo.Read().Version
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// execute runs one command line and returns the exit code (exit.go). Errors go to stderr, as one
// line, or as a JSON problem document with --json.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	root := newRoot(stdout, stderr, getenv)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	return report(stderr, err, wantsJSON(cmd, args))
}

// env reads the environment; tests pass their own.
type env func(string) string

func newRoot(stdout, stderr io.Writer, getenv env) *cobra.Command {
	root := &cobra.Command{
		Use:   "switchboard",
		Short: "Switchboard: a self-hosted communications gateway in front of Twilio",
		Long: `Switchboard: a self-hosted communications gateway in front of Twilio.

Start a node with 'switchboard serve' (SQLite under ./data, the built-in Twilio simulator, nothing
leaves this machine, listening on 127.0.0.1:8080). Then, in another terminal in the same directory:

  switchboard send --to +14155550100 --body "hello"
  switchboard messages get msg_...      # or: switchboard trace msg_...

Client commands find the node from --url, SWITCHBOARD_URL, or SWITCHBOARD_ADDR/the config file as
serve does, and use SWITCHBOARD_API_KEY or the development key serve wrote to ./data.
Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 refused (policy or conflict), 5 server
unreachable, 6 no or bad API key.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newTenantsCmd(getenv),
		newServeCmd(getenv),
		newSimCmd(getenv),
		newKeysCmd(getenv),
		newTenantsCmd(getenv),
		newSendCmd(getenv),
		newMessagesCmd(getenv),
		newMigrateCmd(getenv),
		newDBCmd(getenv),
		newConsentCmd(getenv),
		newEndpointsCmd(getenv),
		newSendersCmd(getenv),
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
		newUsageCmd(getenv),
	)
	finishTree(root)
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
