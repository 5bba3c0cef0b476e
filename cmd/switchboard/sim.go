package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/twiliosim"
)

func newSimCmd(getenv env) *cobra.Command {
	var (
		addr    string
		numbers []string
		delays  [3]time.Duration
		level   string
		// inputWait is how long a silent callee waits at every Gather (0: the Gather's timeout).
		inputWait time.Duration
		// optOut is the opt-out keyword handling (twilio, silent or off).
		optOut string
		// services are Messaging Services the account has: "MG…" or "MG…=+1…,+1…".
		services []string
		// profile is a traffic profile (YAML) to run from the start; profileScale overrides
		// its time_scale.
		profile      string
		profileScale float64
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the standalone Twilio simulator",
		Long: `Run Switchboard's Twilio simulator: Twilio's Messages and IncomingPhoneNumbers REST API,
signed status callbacks and inbound webhooks, Twilio's magic test numbers, and a control API
under /sim/v1 (messages, inbound, numbers, faults, profile, reset). Its account uses TWILIO_ACCOUNT_SID
and TWILIO_AUTH_TOKEN when set, and owns +15005550006 plus every --number. --profile runs a
traffic profile (a YAML scenario of faults over time, see examples/profiles) from the start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch optOut {
			case twiliosim.OptOutTwilio, twiliosim.OptOutSilent, twiliosim.OptOutOff:
			default:
				return fmt.Errorf("--opt-out %q: must be twilio, silent or off", optOut)
			}
			var svcs []twiliosim.ServiceConfig
			for _, sv := range services {
				sid, nums, _ := strings.Cut(sv, "=")
				c := twiliosim.ServiceConfig{SID: strings.TrimSpace(sid), FriendlyName: strings.TrimSpace(sid)}
				for _, n := range strings.Split(nums, ",") {
					if n = strings.TrimSpace(n); n != "" {
						c.Numbers = append(c.Numbers, n)
					}
				}
				if len(c.Numbers) == 0 {
					c.Numbers = []string{twiliosim.MagicFrom}
				}
				svcs = append(svcs, c)
			}
			logger, err := newLogger(cmd.ErrOrStderr(), level, "text")
			if err != nil {
				return err
			}
			var prof *twiliosim.Profile
			if profile != "" {
				if prof, err = loadProfile(profile, profileScale); err != nil {
					return err
				}
			}
			sim := twiliosim.New(twiliosim.Config{
				AccountSID: getenv("TWILIO_ACCOUNT_SID"), AuthToken: getenv("TWILIO_AUTH_TOKEN"),
				Numbers: numbers, SendingDelay: delays[0], SentDelay: delays[1], DeliveredDelay: delays[2],
				Logger: logger, CallInputWait: inputWait, OptOut: optOut,
				Services: svcs,
			})
			defer sim.Close()
			if prof != nil {
				if _, err := sim.RunProfile(prof); err != nil {
					return fmt.Errorf("--profile %s: %w", profile, err)
				}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
			logger.Info("twilio simulator listening", "addr", ln.Addr().String(), "account_sid", sim.AccountSID())
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9099", "address to listen on")
	f.StringSliceVar(&numbers, "number", nil, "a number the simulated account owns (repeatable)")
	f.DurationVar(&delays[0], "sending-delay", 0, "time from queued to sending (default 50ms)")
	f.DurationVar(&delays[1], "sent-delay", 0, "time from sending to sent (default 50ms)")
	f.DurationVar(&delays[2], "delivered-delay", 0, "time from sent to delivered (default 100ms)")
	f.DurationVar(&inputWait, "call-input-wait", 0, "how long a silent callee waits at every <Gather> (default: the Gather's timeout, at most 10s)")
	f.StringArrayVar(&services, "service", nil, "a Messaging Service the account has, MG…=+1…,+1… (its numbers; default +15005550006) (repeatable)")
	f.StringVar(&optOut, "opt-out", twiliosim.OptOutTwilio, "STOP/START/HELP handling: twilio (block and answer, Twilio's default), silent (block, no answer) or off")
	f.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&profile, "profile", "", "a traffic profile (YAML: faults over time, see examples/profiles) to run from the start")
	f.Float64Var(&profileScale, "profile-time-scale", 0, "replay the profile this many times faster (default: the profile's time_scale)")
	return cmd
}

// loadProfile reads and parses a traffic profile file; scale, when above 0, replaces its
// time_scale.
func loadProfile(path string, scale float64) (*twiliosim.Profile, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	p, err := twiliosim.ParseProfile(doc)
	if err != nil {
		return nil, fmt.Errorf("--profile %s: %w", path, err)
	}
	if scale < 0 {
		return nil, fmt.Errorf("--profile-time-scale %v: must be above 0", scale)
	}
	if scale > 0 {
		p.TimeScale = scale
	}
	return p, nil
}
