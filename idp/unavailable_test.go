package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// A database that is away is a 503 with Retry-After that says so, as a page or as JSON, never a
// 500 and never its cause; a client that went away is still 499 whatever the store said.
func TestTheDatabaseUnavailableIsA503ThatSaysSo(t *testing.T) {
	s := newTestServer()
	down := fmt.Errorf("idp: reading session: %w", store.UnavailableError("the database is unavailable; try again in a moment",
		errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")))
	for _, tc := range []struct {
		name   string
		render func(*Server, *gin.Context, error)
		ctype  string
	}{
		{"as a page", (*Server).failPage, "text/html; charset=utf-8"},
		{"as JSON", (*Server).fail, "application/json; charset=utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := testContext(http.MethodGet, "/aws/signin")
			tc.render(s, c, down)
			body := rec.Body.String()
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != tc.ctype ||
				!strings.Contains(body, "the database is unavailable") {
				t.Fatalf("%d %v\n%s", rec.Code, rec.Header(), body)
			}
			if strings.Contains(body, "dial") || strings.Contains(body, "10.0.0.5") || strings.Contains(body, "internal error") {
				t.Fatalf("the cause is shown:\n%s", body)
			}
			c, rec = testContext(http.MethodGet, "/aws/signin")
			tc.render(s, c, fmt.Errorf("%w: %w", context.Canceled, down))
			if rec.Code != 499 {
				t.Fatalf("a client gone away: %d", rec.Code)
			}
		})
	}
	if !store.Fault(down) || store.Fault(store.Errorf(store.Forbidden, "no")) || store.Fault(nil) {
		t.Fatal("store.Fault must tell the system's faults from the request's")
	}
}
