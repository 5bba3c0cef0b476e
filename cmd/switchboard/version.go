package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-gw/switchboard/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version, commit and commit date of this binary",
		Long: `Print the version, the commit the binary was built from (with "modified" when the tree had
uncommitted changes), that commit's date, and the Go toolchain and platform. All of it comes from
the build information Go embeds: go install …@v1.2.3 gives the version; a build in a git checkout
gives the commit (unless built with -buildvcs=false).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildinfo.Read()
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(info)
			}
			fmt.Fprintln(w, "switchboard", info.Version)
			if info.Commit != "" {
				modified := ""
				if info.Modified {
					modified = " (modified)"
				}
				fmt.Fprintf(w, "commit  %s%s\n", info.Commit, modified)
			}
			if !info.CommitTime.IsZero() {
				fmt.Fprintf(w, "date    %s\n", info.CommitTime.Format(time.RFC3339))
			}
			fmt.Fprintf(w, "go      %s %s\n", info.GoVersion, info.Platform)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
