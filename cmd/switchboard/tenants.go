package main

import "github.com/spf13/cobra"

// newTenantsCmd is `switchboard tenants`. (Helper K's branch `roles` adds list, create and
// update here; this branch adds only the credentials of a tenant's own Twilio account.)
func newTenantsCmd(getenv env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Tenants: the applications and customers this Switchboard serves",
	}
	cmd.AddCommand(newTenantCredentialsCmd(getenv))
	return cmd
}
