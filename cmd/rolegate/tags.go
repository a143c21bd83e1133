package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/assertions"
	"rolegate/store"
)

func tagCmd(a *app) *cobra.Command {
	return group("tag", "Manage session tag rules (PrincipalTag attributes) per account", tagAddCmd(a), tagListCmd(a), tagRemoveCmd(a))
}

func tagAddCmd(a *app) *cobra.Command {
	var account, key, fromAttr, value string
	var transitive bool
	var af addFlags
	c := &cobra.Command{
		Use:   "add --account ALIAS_OR_ID --key K (--from-attr ATTR | --value V) [--transitive]",
		Short: "Add a session tag rule: every sign-in to the account carries tag K",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			literal := cmd.Flags().Changed("value")
			// Everything AWS would refuse is refused here, before the store is even opened.
			if account == "" {
				return store.Errorf(store.Invalid, "--account is required")
			}
			if !cmd.Flags().Changed("key") {
				return store.Errorf(store.Invalid, "--key is required")
			}
			if err := assertions.CheckTagKey(key); err != nil {
				return err
			}
			if literal == cmd.Flags().Changed("from-attr") {
				return store.Errorf(store.Invalid, "give exactly one of --from-attr (the value of a user attribute) and --value (a literal)")
			}
			if literal {
				if err := assertions.CheckTagValue(key, value); err != nil {
					return err
				}
			} else if err := store.ValidateAttr(fromAttr, ""); err != nil {
				return err
			}
			r := &store.TagRule{AccountID: account, Key: key, FromAttr: fromAttr, Value: value, Transitive: transitive}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				if err := st.CreateTagRule(cmd.Context(), r); err != nil {
					return af.taken(a, err, func() (string, bool, any, error) { return findTagRule(cmd.Context(), st, r) })
				}
				if err := af.done(a, tagRuleJSONOf(r), fmt.Sprintf("added tag rule %d: %s", r.ID, describeTagRule(r))); err != nil {
					return err
				}
				details := map[string]string{"tag_rule": strconv.FormatInt(r.ID, 10), "account": r.AccountID, "key": r.Key,
					"transitive": strconv.FormatBool(r.Transitive)}
				if r.FromAttr != "" {
					details["from_attr"] = r.FromAttr
				} else {
					details["value"] = r.Value
				}
				return a.audit(cmd.Context(), st, "tag.add", "", details)
			})
		},
	}
	c.Flags().StringVar(&account, "account", "", "account alias or ID (required)")
	c.Flags().StringVar(&key, "key", "", "session tag key: 1-128 letters, digits, spaces and _ . : / = + - @, not starting with aws:")
	c.Flags().StringVar(&fromAttr, "from-attr", "", "take the value from this user attribute (no attribute, no tag)")
	c.Flags().StringVar(&value, "value", "", "a literal value: up to 256 letters, digits, spaces and _ . : / = + - @")
	c.Flags().BoolVar(&transitive, "transitive", false, "make the tag transitive (it survives role chaining)")
	af.register(c)
	return c
}

// describeTagRule is "K = attribute ATTR" or `K = "V"`, with " (transitive)" when it is.
func describeTagRule(r *store.TagRule) string {
	s := esc(r.Key) + " = " + tagValueText(r, "attribute ")
	if r.Transitive {
		s += " (transitive)"
	}
	return s
}

// tagValueText is the rule's value: prefix+ATTR for an attribute, the quoted literal otherwise.
func tagValueText(r *store.TagRule, prefix string) string {
	if r.FromAttr != "" {
		return prefix + r.FromAttr
	}
	return strconv.Quote(r.Value)
}

func tagListCmd(a *app) *cobra.Command {
	var account string
	var lf listFlags
	c := &cobra.Command{
		Use:   "list [--account ALIAS_OR_ID]",
		Short: "List session tag rules",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				if account != "" {
					if _, err := st.GetAccount(cmd.Context(), account); err != nil {
						return err // an unknown account is not found, not an empty list
					}
				}
				rules, err := st.ListTagRules(cmd.Context(), account)
				if err != nil {
					return err
				}
				out := make([]tagRuleJSON, 0, len(rules))
				t := newTable("ID", "ACCOUNT", "ACCOUNT_ID", "KEY", "VALUE", "TRANSITIVE")
				for _, r := range rules {
					out = append(out, tagRuleJSONOf(r))
					t.addCells(strconv.FormatInt(r.ID, 10), tableCell(r.AccountAlias), r.AccountID, tableCell(r.Key),
						strings.ReplaceAll(tagValueText(r, "attr:"), " ", `\x20`), map[bool]string{true: "yes", false: "no"}[r.Transitive])
				}
				return lf.print(a, out, t)
			})
		},
	}
	c.Flags().StringVar(&account, "account", "", "only this account's rules (alias or ID)")
	lf.register(c)
	return c
}

func tagRemoveCmd(a *app) *cobra.Command {
	var account, key string
	c := withYes(a, &cobra.Command{
		Use:   "remove (RULE_ID | --account ALIAS_OR_ID --key K)",
		Short: "Remove a session tag rule, by its ID or by account and key (any case)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags().Changed("account") || cmd.Flags().Changed("key")
			var id int64
			switch {
			case len(args) == 1 && !flags:
				n, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || n <= 0 {
					return store.Errorf(store.Invalid, "tag rule ID %q is not a positive number", args[0])
				}
				id = n
			case len(args) == 0 && flags:
				if account == "" || key == "" {
					return store.Errorf(store.Invalid, "name a tag rule by both --account and --key")
				}
			case len(args) == 0:
				return store.Errorf(store.Invalid, "give a tag rule ID, or --account and --key")
			default:
				return store.Errorf(store.Invalid, "give a tag rule ID or --account and --key, not both")
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				ctx := cmd.Context()
				if account != "" {
					if _, err := st.GetAccount(ctx, account); err != nil {
						return err
					}
				}
				rules, err := st.ListTagRules(ctx, account)
				if err != nil {
					return err
				}
				var found *store.TagRule
				for _, r := range rules {
					// AWS compares tag keys regardless of case, and so does the store's uniqueness.
					if (id != 0 && r.ID == id) || (id == 0 && store.Key(r.Key) == store.Key(key)) {
						found = r
					}
				}
				if found == nil {
					if id != 0 {
						return store.Errorf(store.NotFound, "tag rule %d not found", id)
					}
					return store.Errorf(store.NotFound, "account %s has no tag rule for key %q", account, key)
				}
				if err := a.confirm(cmd, fmt.Sprintf("tag rule %d (%s in %s)", found.ID, describeTagRule(found), found.AccountAlias), nil); err != nil {
					return err
				}
				if err := st.DeleteTagRule(ctx, found.ID); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "removed tag rule %d: %s from %s (%s)\n", found.ID, esc(found.Key), found.AccountAlias, found.AccountID)
				return a.audit(ctx, st, "tag.remove", "", map[string]string{"tag_rule": strconv.FormatInt(found.ID, 10),
					"account": found.AccountID, "key": found.Key})
			})
		},
	})
	c.Flags().StringVar(&account, "account", "", "account alias or ID")
	c.Flags().StringVar(&key, "key", "", "tag key, compared regardless of case")
	return c
}
