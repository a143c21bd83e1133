package awslogin

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"rolegate/store"
)

// Label gives roles their account aliases: from earlier logins (known, account ID to alias), and
// the alias given as --account when every role in the Response is in one account, since the IdP
// then answered for that account alone.
func Label(roles []Role, known map[string]string, account string) {
	one := len(roles) > 0
	for _, r := range roles {
		one = one && r.Account == roles[0].Account
	}
	for i := range roles {
		roles[i].Alias = known[roles[i].Account]
		if one && account != "" && !accountID(account) {
			roles[i].Alias = account
		}
	}
	sort.SliceStable(roles, func(i, j int) bool { return roles[i].Label() < roles[j].Label() })
}

func accountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// Choose picks the role: --account (an ID or a known alias) and --role (the name, with or without
// its path, or the ARN) narrow the list; one left is the answer; several are asked about when p is
// interactive, and otherwise an error names them.
func Choose(roles []Role, account, role string, p Prompter, out io.Writer) (Role, error) {
	var left []Role
	for _, r := range roles {
		if account != "" && account != r.Account && !strings.EqualFold(account, r.Alias) {
			continue
		}
		if role != "" && role != r.RoleARN && role != r.Name && role != r.Name[strings.LastIndex(r.Name, "/")+1:] {
			continue
		}
		left = append(left, r)
	}
	switch {
	case len(left) == 1:
		return left[0], nil
	case len(left) == 0:
		what := "no role"
		if role != "" {
			what = "no role named " + strconv.Quote(role)
		}
		if account != "" {
			what += " in account " + strconv.Quote(account)
		}
		return Role{}, store.Errorf(store.Forbidden, "Rolegate granted you %s: pick one of your roles (%s), or ask an admin for a grant (rolegate grant add)",
			what, list(roles))
	case p == nil || !p.Interactive():
		return Role{}, store.Errorf(store.Invalid, "you have several roles and no terminal to choose on: pass --account and --role to pick one of: %s", list(left))
	}
	fmt.Fprintln(out, "Your roles:")
	for i, r := range left {
		fmt.Fprintf(out, "  %d) %s\n", i+1, r.Label())
	}
	for range 3 {
		ans, err := p.Line(fmt.Sprintf("Role [1-%d]: ", len(left)))
		if err != nil {
			return Role{}, err
		}
		if n, err := strconv.Atoi(strings.TrimSpace(ans)); err == nil && n >= 1 && n <= len(left) {
			return left[n-1], nil
		}
		fmt.Fprintf(out, "Type a number from 1 to %d.\n", len(left))
	}
	return Role{}, store.Errorf(store.Invalid, "no role chosen")
}

func list(roles []Role) string {
	var s []string
	for _, r := range roles {
		s = append(s, r.Label())
	}
	return strings.Join(s, "; ")
}
