package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func init() {
	examples["audit prune"] = `  rolegate audit prune --older-than 400d --dry-run
  rolegate audit prune --older-than 400d --yes`
	examples["audit"] += `
  rolegate audit --format jsonl --since 2026-11-01 | gzip > audit-2026-11.jsonl.gz`
}

// auditEventJSON is an audit event as -o json, yaml and jsonl print it.
type auditEventJSON struct {
	ID         int64             `json:"id"`
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
	User       string            `json:"user"`
	Result     string            `json:"result"`
	ClientAddr string            `json:"client_addr"`
	UserAgent  string            `json:"user_agent"`
	Details    map[string]string `json:"details"`
}

func eventJSON(e *store.AuditEvent) auditEventJSON {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return auditEventJSON{e.ID, e.Time.UTC(), e.Type, e.User, e.Result, e.ClientAddr, e.UserAgent, details}
}

// auditPage is how many events one read of a stream takes: memory stays bounded by it.
const auditPage = 1000

// streamAudit writes every event f matches, oldest first, one JSON object a line, a page at a
// time (keyset by ID), so an export of any size holds one page in memory; each page is flushed.
func (a *app) streamAudit(ctx context.Context, st store.Store, f store.AuditFilter) error {
	w := bufio.NewWriter(a.stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for after := int64(0); ; {
		events, next, err := st.PageAudit(ctx, f, after, auditPage)
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := enc.Encode(eventJSON(e)); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		after = next
	}
}

// printJSONL prints events one JSON object a line.
func (a *app) printJSONL(events []*store.AuditEvent) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if err := enc.Encode(eventJSON(e)); err != nil {
			return err
		}
	}
	return nil
}

const (
	// pruneBatch is how many events one prune transaction deletes: short enough that a sign-in
	// writing its audit event waits a few milliseconds at most.
	pruneBatch = 1000
	// prunePause lets writers that waited for a batch in before the next one.
	prunePause = 5 * time.Millisecond
	// minPruneAge is the youngest --older-than: an investigation needs at least the last day, and
	// "90m" is more often a slip for "90d" than meant.
	minPruneAge = 24 * time.Hour
)

func auditPruneCmd(a *app) *cobra.Command {
	var olderThan string
	var dryRun bool
	c := &cobra.Command{
		Use:   "prune --older-than D [--dry-run] [--yes]",
		Short: "Delete audit events older than D (such as 400d), in small batches that never hold up sign-ins",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan == "" {
				return store.Errorf(store.Invalid, "rolegate audit prune needs --older-than, such as 400d or 9600h")
			}
			age, err := parseAge("older-than", olderThan)
			if err != nil {
				return err
			}
			if age < minPruneAge {
				return store.Errorf(store.Invalid, "--older-than %s is under a day: the audit log keeps at least the last day (days are written 90d)", olderThan)
			}
			before := a.now().UTC().Add(-age)
			return a.withStore(cmd.Context(), func(st store.Store) error {
				n, err := st.CountAuditBefore(cmd.Context(), before)
				if err != nil {
					return err
				}
				what := fmt.Sprintf("%s older than %s (%s ago)", plural(int(n), "audit event"), timeText(before), durWord(age))
				if n == 0 {
					fmt.Fprintf(a.stdout, "no audit events older than %s: nothing to delete\n", timeText(before))
					return nil
				}
				if dryRun {
					fmt.Fprintf(a.stdout, "would delete %s\n", what)
					return nil
				}
				if err := a.confirm(cmd, what, nil); err != nil {
					return err
				}
				deleted, err := pruneAudit(cmd.Context(), st, before)
				details := map[string]string{"before": timeText(before), "older_than": olderThan, "deleted": strconv.FormatInt(deleted, 10)}
				if aerr := a.auditResult(context.WithoutCancel(cmd.Context()), st, "audit.prune", "", err, details); err == nil {
					err = aerr
				}
				if err != nil {
					return fmt.Errorf("deleted %s, then: %w", plural(int(deleted), "audit event"), err)
				}
				fmt.Fprintf(a.stdout, "deleted %s older than %s\n", plural(int(deleted), "audit event"), timeText(before))
				return nil
			})
		},
	}
	c.Flags().StringVar(&olderThan, "older-than", "", "delete the events older than this: days (400d) or a duration (9600h); at least 1d")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "count what would go, delete nothing")
	c.Flags().BoolP("yes", "y", false, "delete without asking; required when standard input is not a terminal")
	return c
}

// pruneAudit deletes the events older than before, a batch at a time, and returns how many went.
func pruneAudit(ctx context.Context, st store.Store, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := st.PruneAudit(ctx, before, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(prunePause):
		}
	}
}
