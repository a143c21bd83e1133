package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"rolegate/store"
)

// key is the writer and sequence number an appended event carries in its details.
func key(e *store.AuditEvent) string { return e.Details["w"] + "/" + e.Details["i"] }

// appendFrom appends each writers' events at once, every one a writer and a sequence number in its
// details, with the type typ(w, i) gives; it returns the events and the error each append got.
func appendFrom(t *testing.T, s store.Store, writers, each int, typ func(w, i int) string) ([][]*store.AuditEvent, [][]error) {
	t.Helper()
	evs, errs := make([][]*store.AuditEvent, writers), make([][]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		evs[w], errs[w] = make([]*store.AuditEvent, each), make([]error, each)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := &store.AuditEvent{Type: typ(w, i), User: fmt.Sprintf("w%d", w), Result: "ok",
					Details: map[string]string{"w": fmt.Sprint(w), "i": fmt.Sprint(i)}}
				evs[w][i], errs[w][i] = e, s.AppendAudit(ctx, e)
			}
		}()
	}
	wg.Wait()
	return evs, errs
}

// checkStored fails unless the store holds exactly the events of evs that ok says were written, each
// once, under the ID its append returned.
func checkStored(t *testing.T, s store.Store, evs [][]*store.AuditEvent, ok func(w, i int) bool) {
	t.Helper()
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	stored := map[string]*store.AuditEvent{}
	for _, e := range all {
		if stored[key(e)] != nil {
			t.Fatalf("event %s is stored twice (IDs %d and %d)", key(e), stored[key(e)].ID, e.ID)
		}
		stored[key(e)] = e
	}
	want := 0
	for w := range evs {
		for i, e := range evs[w] {
			got := stored[key(e)]
			switch {
			case !ok(w, i) && got != nil:
				t.Errorf("event %s failed but is stored as %d", key(e), got.ID)
			case !ok(w, i) && e.ID != 0:
				t.Errorf("event %s failed but got ID %d", key(e), e.ID)
			case !ok(w, i):
			case got == nil:
				t.Errorf("event %s was appended but is not stored", key(e))
			case got.ID != e.ID || got.Type != e.Type || got.User != e.User:
				t.Errorf("event %s is stored as %d %q %q; its append said %d %q %q", key(e), got.ID, got.Type, got.User, e.ID, e.Type, e.User)
			default:
				want++
			}
		}
	}
	if len(all) != want {
		t.Errorf("%d events stored, want %d", len(all), want)
	}
}

func testConcurrentAppends(t *testing.T, s store.Store) {
	const writers, each = 8, 60
	evs, errs := appendFrom(t, s, writers, each, func(int, int) string { return "assertion" })
	for w := range errs {
		for i, err := range errs[w] {
			if err != nil {
				t.Fatalf("append %d/%d: %v", w, i, err)
			}
		}
	}
	seen := map[int64]bool{}
	for w := range evs {
		for i, e := range evs[w] {
			if e.ID <= 0 || seen[e.ID] {
				t.Fatalf("append %d/%d got ID %d: want a new positive one", w, i, e.ID)
			}
			seen[e.ID] = true
			if i > 0 && e.ID <= evs[w][i-1].ID {
				t.Fatalf("writer %d's append %d got ID %d after %d: a later append has a lower ID", w, i, e.ID, evs[w][i-1].ID)
			}
		}
	}
	checkStored(t, s, evs, func(int, int) bool { return true })
}

func testAppendCancelled(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	e := &store.AuditEvent{Type: "assertion", User: "x", Result: "ok"}
	if err := s.AppendAudit(c, e); err == nil {
		t.Fatal("an append on an ended context succeeded")
	}
	if e.ID != 0 {
		t.Errorf("a failed append got ID %d", e.ID)
	}
	if all, _ := s.ListAudit(ctx, store.AuditFilter{}); len(all) != 0 {
		t.Fatalf("a failed append wrote %d events", len(all))
	}
}

// RefusedAuditType is the event type a backend's test makes the database refuse (with a trigger),
// for AppendsBesideARefusedOne.
const RefusedAuditType = "refused"

// AppendsBesideARefusedOne checks, on a store whose database refuses audit events of type
// RefusedAuditType, that an append the database refuses returns its error and writes nothing,
// while the appends beside it, which may share its transaction, are each written once.
func AppendsBesideARefusedOne(t *testing.T, s store.Store) {
	const writers, each = 8, 40
	bad := func(w, i int) bool { return (w*each+i)%7 == 3 }
	evs, errs := appendFrom(t, s, writers, each, func(w, i int) string {
		if bad(w, i) {
			return RefusedAuditType
		}
		return "assertion"
	})
	for w := range errs {
		for i, err := range errs[w] {
			if bad(w, i) != (err != nil) {
				t.Fatalf("append %d/%d (refused: %v) returned %v", w, i, bad(w, i), err)
			}
		}
	}
	checkStored(t, s, evs, func(w, i int) bool { return !bad(w, i) })
}
