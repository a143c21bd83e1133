package main

import (
	"github.com/spf13/cobra"

	"rolegate/store"
)

// labelFlag is account set's --label: the group (prod, staging, sandbox) the portal shows the
// account under.
type labelFlag struct {
	cmd   *cobra.Command
	value string
}

func addLabelFlag(c *cobra.Command) *labelFlag {
	f := &labelFlag{cmd: c}
	c.Flags().StringVar(&f.value, "label", "", "group the account under this label on the portal, such as prod, staging or sandbox (empty: no group)")
	return f
}

// apply sets the label when --label was given; the store validates it with the rest.
func (f *labelFlag) apply(ac *store.Account) {
	if f.cmd.Flags().Changed("label") {
		ac.Label = f.value
	}
}

// audit adds the new label to the account.set record when it changed.
func (f *labelFlag) audit(ac *store.Account, details map[string]string) {
	if f.cmd.Flags().Changed("label") {
		details["label"] = ac.Label
	}
}
