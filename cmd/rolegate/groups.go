package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func groupCmd(a *app) *cobra.Command {
	return group("group", "Manage groups and their members",
		groupAddCmd(a),
		withYes(a, simpleCmd(a, "remove NAME", "Remove a group, its memberships and its grants", "group.remove",
			func(cmd *cobra.Command, st store.Store, args []string) (string, error) {
				if goes, err := groupGoes(cmd.Context(), st, args[0]); err != nil {
					return "", err
				} else if err := a.confirm(cmd, "group "+args[0], goes); err != nil {
					return "", err
				}
				return "removed group " + args[0], st.DeleteGroup(cmd.Context(), args[0])
			}, "NAME")),
		groupAddMemberCmd(a),
		simpleCmd(a, "remove-member GROUP USER", "Remove a user from a group", "group.remove-member",
			func(cmd *cobra.Command, st store.Store, args []string) (string, error) {
				return fmt.Sprintf("removed %s from %s", args[1], args[0]), st.RemoveGroupMember(cmd.Context(), args[0], args[1])
			}, "GROUP", "USER"),
		groupListCmd(a))
}

// simpleCmd is a command that makes one change, prints one line and audits it. The audit event
// names the first argument.
func simpleCmd(a *app, use, short, event string, do func(*cobra.Command, store.Store, []string) (string, error), names ...string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  nargs(names...),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				msg, err := do(cmd, st, args)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, msg)
				details := map[string]string{}
				for i, n := range names {
					details[strings.ToLower(n)] = args[i]
				}
				return a.audit(cmd.Context(), st, event, "", details)
			})
		},
	}
}

func groupAddCmd(a *app) *cobra.Command {
	var af addFlags
	c := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a group",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				g := &store.Group{Name: args[0]}
				if err := st.CreateGroup(cmd.Context(), g); err != nil {
					return af.taken(a, err, func() (string, bool, any, error) {
						old, err := st.GetGroup(cmd.Context(), g.Name)
						if err != nil {
							return "", false, nil, err
						}
						return "group " + old.Name, true, groupJSON{Name: old.Name, Members: append([]string{}, old.Members...)}, nil
					})
				}
				if err := af.done(a, groupJSON{Name: g.Name, Members: []string{}}, "added group "+g.Name); err != nil {
					return err
				}
				return a.audit(cmd.Context(), st, "group.add", "", map[string]string{"name": g.Name})
			})
		},
	}
	af.register(c)
	return c
}

func groupAddMemberCmd(a *app) *cobra.Command {
	var af addFlags
	c := &cobra.Command{
		Use:   "add-member GROUP USER",
		Short: "Add a user to a group",
		Args:  nargs("GROUP", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				view := func() (any, error) { // the group, as --json prints it
					g, err := st.GetGroup(ctx, args[0])
					if err != nil {
						return nil, err
					}
					return groupJSON{Name: g.Name, Members: append([]string{}, g.Members...)}, nil
				}
				if err := st.AddGroupMember(ctx, args[0], args[1]); err != nil {
					return af.taken(a, err, func() (string, bool, any, error) {
						v, err := view()
						return fmt.Sprintf("membership of %s in %s", args[1], args[0]), true, v, err
					})
				}
				v, err := view()
				if err != nil {
					return err
				}
				if err := af.done(a, v, fmt.Sprintf("added %s to %s", args[1], args[0])); err != nil {
					return err
				}
				return a.audit(ctx, st, "group.add-member", "", map[string]string{"group": args[0], "user": args[1]})
			})
		},
	}
	af.register(c)
	return c
}

func groupListCmd(a *app) *cobra.Command {
	var lf listFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List groups and their members",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				groups, err := st.ListGroups(cmd.Context())
				if err != nil {
					return err
				}
				out := make([]groupJSON, 0, len(groups))
				t := newTable("GROUP", "MEMBERS")
				for _, g := range groups {
					out = append(out, groupJSON{Name: g.Name, Members: append([]string{}, g.Members...)})
					t.add(g.Name, strings.Join(g.Members, ","))
				}
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}

// groupJSON is a group as group list -o json shows it.
type groupJSON struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}
