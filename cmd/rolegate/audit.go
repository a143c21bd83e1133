package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func auditCmd(a *app) *cobra.Command {
	var user, since string
	var limit int
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit [--user U] [--since DURATION] [--limit N] [--json]",
		Short: "List audit events, oldest first",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := store.AuditFilter{User: user, Limit: limit}
			if limit < 1 {
				return store.Errorf(store.Invalid, "--limit must be at least 1, not %d", limit)
			}
			if cmd.Flags().Changed("since") {
				d, err := parseSince(since)
				if err != nil {
					return err
				}
				f.Since = time.Now().Add(-d)
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				events, err := st.ListAudit(cmd.Context(), f) // the newest Limit, oldest first
				if err != nil {
					return err
				}
				if asJSON {
					type eventJSON struct {
						ID         int64             `json:"id"`
						Time       time.Time         `json:"time"`
						Type       string            `json:"type"`
						User       string            `json:"user"`
						Result     string            `json:"result"`
						ClientAddr string            `json:"client_addr"`
						UserAgent  string            `json:"user_agent"`
						Details    map[string]string `json:"details"`
					}
					out := make([]eventJSON, 0, len(events))
					for _, e := range events {
						details := e.Details
						if details == nil {
							details = map[string]string{}
						}
						out = append(out, eventJSON{e.ID, e.Time.UTC(), e.Type, e.User, e.Result, e.ClientAddr, e.UserAgent, details})
					}
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tTYPE\tUSER\tRESULT\tCLIENT\tDETAILS")
				for _, e := range events {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), cell(e.Type), cell(e.User),
						cell(e.Result), cell(e.ClientAddr), detailsText(e))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "only events about this user (any case)")
	c.Flags().StringVar(&since, "since", "", "only events newer than this long ago: a duration such as 30m, 24h or 7d")
	c.Flags().IntVar(&limit, "limit", 1000, "at most this many events, the newest")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// parseSince parses --since: a positive Go duration ("90m", "24h") or a whole number of days ("7d").
func parseSince(s string) (time.Duration, error) {
	bad := store.Errorf(store.Invalid, "invalid --since %q: use a positive duration such as 30m, 24h or 7d", s)
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

// detailsText is an event's details as k=v pairs sorted by key, with the user agent among them.
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
		parts = append(parts, esc(k)+"="+esc(d[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// cell is a table cell of untrusted text: "-" when empty, else esc(s).
func cell(s string) string {
	if s == "" {
		return "-"
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
