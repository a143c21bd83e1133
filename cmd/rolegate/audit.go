package main

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func auditCmd(a *app) *cobra.Command {
	var user, since, until, account string
	var types []string
	var limit int
	var lf listFlags
	var format string
	c := &cobra.Command{
		Use:   "audit [--user U] [--type T]... [--account A] [--since WHEN] [--until WHEN] [--limit N] [-o FORMAT]",
		Short: "List audit events, oldest first; -o jsonl streams them all; audit prune deletes old ones",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("format") {
				if cmd.Flags().Changed("output") && lf.format != format {
					return store.Errorf(store.Invalid, "--format %s and -o %s exclude each other", format, lf.format)
				}
				lf.format = format
			}
			if _, err := lf.chosen(); err != nil { // before the store is opened, and before -o jsonl's own printing
				return err
			}
			f := store.AuditFilter{User: user, Limit: limit, Types: types}
			if limit < 1 {
				return store.Errorf(store.Invalid, "--limit must be at least 1, not %d", limit)
			}
			now := time.Now()
			var err error
			if cmd.Flags().Changed("since") {
				if f.Since, err = parseWhen("since", since, now); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("until") {
				if f.Until, err = parseWhen("until", until, now); err != nil {
					return err
				}
			}
			if !f.Until.IsZero() && !f.Until.After(f.Since) {
				return store.Errorf(store.Invalid, "--until %s is not after --since %s", timeText(f.Until), timeText(f.Since))
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				if account != "" {
					// Events name an account by ID or alias; a removed account is looked for as given.
					f.Accounts = []string{account}
					if ac, err := st.GetAccount(cmd.Context(), account); err == nil {
						f.Accounts = []string{ac.ID, ac.Alias}
					}
				}
				if lf.format == "jsonl" && !cmd.Flags().Changed("limit") {
					return a.streamAudit(cmd.Context(), st, f)
				}
				events, err := st.ListAudit(cmd.Context(), f) // the newest Limit, oldest first
				if err != nil {
					return err
				}
				if lf.format == "jsonl" {
					return a.printJSONL(events)
				}
				out := make([]auditEventJSON, 0, len(events))
				t := newTable("ID", "TIME", "TYPE", "USER", "RESULT", "CLIENT", "DETAILS")
				for _, e := range events {
					out = append(out, eventJSON(e))
					t.addCells(strconv.FormatInt(e.ID, 10), timeText(e.Time), tableCell(e.Type), tableCell(e.User), tableCell(e.Result),
						tableCell(e.ClientAddr), detailsText(e))
				}
				return lf.print(a, out, t)
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "only events about this user (any case)")
	c.Flags().StringArrayVar(&types, "type", nil, "only events of this type, such as account.set or login (repeatable)")
	c.Flags().StringVar(&account, "account", "", "only events about this account (alias or ID)")
	c.Flags().StringVar(&since, "since", "", "only events from this time on: a time (2026-11-30, 2026-11-30T09:00:00Z) or a duration ago (30m, 24h, 7d)")
	c.Flags().StringVar(&until, "until", "", "only events before this time: a time or a duration ago, as --since")
	c.Flags().IntVar(&limit, "limit", 1000, "at most this many events, the newest (-o jsonl without --limit streams every event)")
	lf.register(c)
	c.Flags().Lookup("output").Usage = "output format: table, json, yaml, name, or jsonl (one JSON object a line, streamed)"
	c.Flags().StringVar(&format, "format", "", "the same as -o")
	c.AddCommand(auditPruneCmd(a))
	return c
}

// parseWhen parses --since or --until: an RFC 3339 time, a date (midnight UTC), or a duration ago.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseAge(flag, s)
	if err != nil {
		return time.Time{}, store.Errorf(store.Invalid, "invalid --%s %q: use a time such as 2026-11-30 or 2026-11-30T09:00:00Z, or a duration ago such as 30m, 24h or 7d", flag, s)
	}
	return now.Add(-d), nil
}

// parseAge parses the age that --flag gives: a positive Go duration ("90m", "2160h") or a whole
// number of days ("90d").
func parseAge(flag, s string) (time.Duration, error) {
	bad := store.Errorf(store.Invalid, "invalid --%s %q: use a positive duration such as 30m, 24h or 7d", flag, s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// detailsText is an event's details as k=v pairs sorted by key, with the user agent among them, in
// one table cell: comma-separated, without spaces.
func detailsText(e *store.AuditEvent) string {
	d := make(map[string]string, len(e.Details)+1)
	for k, v := range e.Details {
		d[k] = v
	}
	if _, taken := d["user_agent"]; !taken && e.UserAgent != "" {
		d["user_agent"] = e.UserAgent
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, escComma(k)+"="+escComma(d[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.ReplaceAll(strings.Join(parts, ","), " ", `\x20`) // one cell: esc quoted every comma and space
}

// escComma is esc(s), quoted when s holds a comma too: it is one item of a comma-separated list.
func escComma(s string) string {
	if strings.Contains(s, ",") {
		return strconv.Quote(s)
	}
	return esc(s)
}

// esc makes untrusted text safe to print in a terminal and unambiguous in space-separated output:
// text of printable ASCII without spaces, quotes or backslashes is kept, anything else is quoted
// with strconv.Quote, so no control character (newline, ESC, tab) ever reaches the terminal raw.
func esc(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.Quote(s)
		}
	}
	return s
}
