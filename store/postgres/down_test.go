package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rolegate/store"
	"rolegate/store/sqlstore"
)

func TestTranslateTellsADatabaseThatIsAwayFromAStatementThatFailed(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want store.Code
	}{
		{"a refused connection", fmt.Errorf("failed to connect: %w", refused), store.Unavailable},
		{"a reset connection", fmt.Errorf("read: %w", syscall.ECONNRESET), store.Unavailable},
		{"a connection cut mid-answer", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), store.Unavailable},
		{"the server shutting down (57P01)", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, store.Unavailable},
		{"the server starting up (57P03)", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, store.Unavailable},
		{"a connection exception (08006)", &pgconn.PgError{Code: "08006"}, store.Unavailable},
		{"the server's disk full (53100)", &pgconn.PgError{Code: "53100"}, store.Unavailable},
		{"too many connections (53300)", &pgconn.PgError{Code: "53300"}, store.Unavailable},
		{"a syntax error", &pgconn.PgError{Code: "42601"}, store.Internal},
		{"a wrong password", &pgconn.PgError{Code: "28P01"}, store.Internal},
		{"a check constraint", &pgconn.PgError{Code: "23514"}, store.Internal},
		{"any other error", errors.New("cannot scan"), store.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := translate(tc.err)
			if got := store.ErrorCode(err); got != tc.want {
				t.Fatalf("translate(%v) has code %s, want %s", tc.err, got, tc.want)
			}
			if tc.want == store.Unavailable && (store.ErrorMessage(err) != "the database is unavailable; try again in a moment" || !errors.Is(err, tc.err)) {
				t.Fatalf("translate(%v) = %q, keeping the cause: %v", tc.err, store.ErrorMessage(err), errors.Is(err, tc.err))
			}
		})
	}
	// The codes the store maps itself come first.
	if err := translate(&pgconn.PgError{Code: "23505"}); !errors.Is(err, sqlstore.ErrUnique) {
		t.Fatalf("a unique violation: %v", err)
	}
	if err := translate(pgx.ErrNoRows); !errors.Is(err, sqlstore.ErrNoRows) {
		t.Fatalf("no rows: %v", err)
	}
}
