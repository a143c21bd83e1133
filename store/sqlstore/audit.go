package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"rolegate/store"
)

// auditCols are the columns scanAudit reads, in its order.
const auditCols = `id, time, type, user_name, result, client_addr, user_agent, details`

// auditWhere is the SELECT of the events f matches (its Limit and Accounts aside) and its arguments.
func auditWhere(f store.AuditFilter) (string, []any) {
	sql := `SELECT ` + auditCols + ` FROM audit_events WHERE time >= $1`
	args := []any{toDB(f.Since)}
	if f.User != "" {
		args = append(args, store.Key(f.User))
		sql += fmt.Sprintf(` AND user_key = $%d`, len(args))
	}
	if len(f.Types) > 0 {
		var ps []string
		for _, t := range f.Types {
			args = append(args, t)
			ps = append(ps, fmt.Sprintf("$%d", len(args)))
		}
		sql += ` AND type IN (` + strings.Join(ps, ", ") + `)`
	}
	if !f.Until.IsZero() {
		args = append(args, toDB(f.Until))
		sql += fmt.Sprintf(` AND time < $%d`, len(args))
	}
	return sql, args
}

func scanAudit(r Row) (*store.AuditEvent, error) {
	var e store.AuditEvent
	var t int64
	var details string
	if err := r.Scan(&e.ID, &t, &e.Type, &e.User, &e.Result, &e.ClientAddr, &e.UserAgent, &details); err != nil {
		return nil, err
	}
	e.Time = fromDB(t)
	if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
		return nil, fmt.Errorf("audit event %d: %w", e.ID, err)
	}
	return &e, nil
}

// maxAuditPage bounds one page or batch, so no caller holds a large result or a long transaction.
const maxAuditPage = 10000

func checkAuditPage(n int) error {
	if n < 1 || n > maxAuditPage {
		return store.Errorf(store.Invalid, "an audit page or batch is 1 to %d events, not %d", maxAuditPage, n)
	}
	return nil
}

func (s *Store) PageAudit(ctx context.Context, f store.AuditFilter, after int64, n int) ([]*store.AuditEvent, int64, error) {
	if err := checkAuditPage(n); err != nil {
		return nil, 0, err
	}
	sql, args := auditWhere(f)
	args = append(args, after, n)
	sql += fmt.Sprintf(` AND id > $%d ORDER BY id LIMIT $%d`, len(args)-1, len(args))
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*store.AuditEvent
	read, last := 0, int64(0)
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		read, last = read+1, e.ID
		if f.MatchesAccount(e) {
			out = append(out, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if read < n {
		last = 0 // a short page is the last one
	}
	return out, last, nil
}

func (s *Store) CountAuditBefore(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE time < $1`, toDB(before)).Scan(&n)
	return n, err
}

func (s *Store) PruneAudit(ctx context.Context, before time.Time, n int) (int64, error) {
	if err := checkAuditPage(n); err != nil {
		return 0, err
	}
	if before.IsZero() {
		return 0, store.Errorf(store.Invalid, "pruning the audit log needs a time to prune before")
	}
	// One statement, its own short transaction: the time index finds the oldest n.
	return s.db.Exec(ctx, `DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE time < $1 ORDER BY time, id LIMIT $2)`, toDB(before), n)
}
