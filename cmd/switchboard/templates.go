package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/templates"
)

func newTemplatesCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{Use: "templates", Short: "Work with the template catalog"}
	var (
		locale   string
		segments int
		format   string
		verbose  bool
	)
	lint := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Check a template catalog: variables, segments and encoding per locale, limits, sensitive data, links",
		Long: `Check a template catalog (default: SWITCHBOARD_TEMPLATES_DIR). It reports missing and unused
variables, the segment count and encoding of each locale (and the character that forces UCS-2),
bodies over the limits, sensitive variables rendered into a body, links that are not https and
more. It checks the tenants' overrides (tenants/<tenant-id>/) the same way, and names the
tenant in their findings. It exits 1 when it finds an error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := getenv("SWITCHBOARD_TEMPLATES_DIR")
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" {
				return usageErrorf("name the catalog directory (switchboard templates lint DIR), or set SWITCHBOARD_TEMPLATES_DIR")
			}
			opts := []templates.Option{templates.WithDefaultLocale(locale), templates.WithMaxSegments(segments)}
			c, _ := templates.Load(dir, opts...) // Lint reports load errors too
			findings := templates.Lint(c)
			out := cmd.OutOrStdout()
			shown := 0
			for _, f := range findings {
				if f.Severity == templates.SeverityInfo && !verbose {
					continue
				}
				shown++
				if format == "json" {
					b, _ := json.Marshal(f)
					fmt.Fprintln(out, string(b))
				} else {
					fmt.Fprintln(out, f.String())
				}
			}
			if format != "json" {
				checked := len(c.Templates())
				for _, tenant := range c.Tenants() {
					checked += len(c.Overrides(tenant))
				}
				fmt.Fprintf(out, "%d template(s) checked (%d tenant(s) with overrides), %d finding(s) shown\n", checked, len(c.Tenants()), shown)
			}
			if templates.HasErrors(findings) {
				return fmt.Errorf("the catalog has errors")
			}
			return nil
		},
	}
	lint.Flags().StringVar(&locale, "default-locale", "en", "locale templates fall back to")
	lint.Flags().IntVar(&segments, "max-segments", 3, "warn above this many segments")
	lint.Flags().StringVar(&format, "format", "text", "text or json")
	lint.Flags().BoolVarP(&verbose, "verbose", "v", false, "also show info findings (segments and encoding per locale)")
	cmd.AddCommand(lint)
	return cmd
}
