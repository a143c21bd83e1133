package sqlstore

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"rolegate/store"
)

// ---- scale

// inChunk is the most IDs one statement names, well under SQLite's and PostgreSQL's limits on
// parameters; more take one statement per chunk.
const inChunk = 512

// inChunks calls fn with "$1, $2, ..." and the arguments for each chunk of ids, sorted and each
// once, so that results ordered by ID come out in order across chunks. A chunk's list is padded
// to a power of two with its last ID: ten texts at most, where each length would be a text of
// its own for SQLite's bounded cache of prepared statements (store/sqlite) to fill.
func inChunks(ids []string, fn func(in string, args []any) error) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	for len(ids) > 0 {
		n, size := min(len(ids), inChunk), 1
		for size < n {
			size *= 2
		}
		marks, args := make([]string, size), make([]any, size)
		for i := range size {
			marks[i], args[i] = "$"+strconv.Itoa(i+1), ids[min(i, n-1)]
		}
		if err := fn(strings.Join(marks, ", "), args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (s *Store) ListAccountsByID(ctx context.Context, ids []string) ([]*store.Account, error) {
	var out []*store.Account
	err := inChunks(ids, func(in string, args []any) error {
		rows, err := s.db.Query(ctx, `SELECT `+accountCols+` FROM accounts WHERE id IN (`+in+`) ORDER BY id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

func (s *Store) ListTagRulesOf(ctx context.Context, ids []string) ([]*store.TagRule, error) {
	var out []*store.TagRule
	err := inChunks(ids, func(in string, args []any) error {
		rules, err := s.tagRules(ctx, ` WHERE t.account_id IN (`+in+`) ORDER BY t.account_id, t.key_lower`, args...)
		out = append(out, rules...)
		return err
	})
	return out, err
}
