package sqlstore

import (
	"context"
	"errors"
	"slices"
	"sync"

	"rolegate/store"
)

// auditRow is one AppendAudit call's row on its way to the database.
type auditRow struct {
	e    *store.AuditEvent
	args []any
	// taken: the row is in a batch being written, so its outcome is the batch's even when its
	// caller stops waiting. Guarded by auditQueue.mu.
	taken bool
	done  chan error // the outcome, once its transaction has committed or failed
}

// insertAudit writes r and sets its event's ID.
func insertAudit(ctx context.Context, q Querier, r *auditRow) error {
	return q.QueryRow(ctx, `INSERT INTO audit_events (time, type, user_name, user_key, result, client_addr, user_agent, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, r.args...).Scan(&r.e.ID)
}

// auditQueue group-commits audit rows: a row that arrives while a commit runs waits for the next
// commit, which writes every row waiting by then in one transaction. There is no timer: a row
// arriving when nothing is being written is written at once, by its own caller.
type auditQueue struct {
	mu      sync.Mutex
	pending []*auditRow
	running bool // a commit is under way; whoever runs it takes the pending rows after it
}

// maxAuditBatch bounds the rows of one transaction, so none holds the write lock for long.
const maxAuditBatch = 500

// append writes r and returns once the transaction that holds it has committed, or with the
// error that kept it from committing. A caller whose ctx ends while its row is still waiting
// takes the row back (nothing is written); once the row is in a transaction, the caller waits
// for that transaction's outcome, so what it returns is what happened to the row.
func (q *auditQueue) append(ctx context.Context, s *Store, r *auditRow) error {
	q.mu.Lock()
	if !q.running { // nothing being written: write this row now, on the caller's context
		q.running = true
		q.mu.Unlock()
		err := s.writeAudit(ctx, []*auditRow{r})
		q.next(s)
		return err
	}
	if err := ctx.Err(); err != nil {
		q.mu.Unlock()
		return err
	}
	r.done = make(chan error, 1)
	q.pending = append(q.pending, r)
	q.mu.Unlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
	}
	q.mu.Lock()
	if !r.taken {
		q.pending = slices.DeleteFunc(q.pending, func(p *auditRow) bool { return p == r })
		q.mu.Unlock()
		return ctx.Err()
	}
	q.mu.Unlock()
	return <-r.done
}

// next hands the rows that arrived during a commit to a committer of their own, or ends the run.
func (q *auditQueue) next(s *Store) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		q.running = false
		return
	}
	go q.commit(s)
}

// commit writes the waiting rows, a batch per transaction, until none is left. The batches run
// on a context of their own: one caller giving up must not fail the others' rows.
func (q *auditQueue) commit(s *Store) {
	for {
		q.mu.Lock()
		n := min(len(q.pending), maxAuditBatch)
		if n == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		batch := slices.Clone(q.pending[:n])
		q.pending = slices.Delete(q.pending, 0, n)
		for _, r := range batch {
			r.taken = true
		}
		q.mu.Unlock()
		err := s.writeAudit(context.Background(), batch)
		for _, r := range batch {
			if err != nil && len(batch) > 1 && !unavailable(err) {
				// Something in a row failed the batch: each row alone, so one bad row fails only its caller.
				r.done <- s.writeAudit(context.Background(), []*auditRow{r})
			} else {
				r.done <- err
			}
		}
	}
}

// writeAudit writes rows in one transaction. Their events' IDs are set only when it commits.
func (s *Store) writeAudit(ctx context.Context, rows []*auditRow) error {
	if len(rows) == 1 { // one statement is its own transaction, without BEGIN and COMMIT
		return insertAudit(ctx, s.db, rows[0])
	}
	ids := make([]int64, len(rows))
	err := s.db.InTx(ctx, func(q Querier) error {
		for i, r := range rows {
			e := *r.e
			if err := insertAudit(ctx, q, &auditRow{e: &e, args: r.args}); err != nil {
				return err
			}
			ids[i] = e.ID
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range rows {
		r.e.ID = ids[i]
	}
	return nil
}

// unavailable: the database, not a row, failed; writing the rows one by one would fail the same way.
func unavailable(err error) bool {
	var se *store.Error
	return errors.As(err, &se) && se.Code == store.Unavailable || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
