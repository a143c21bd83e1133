package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"rolegate/store"
)

// appendEvents appends n events, one a second from start, of type typ (and user who, details d).
func appendEvents(t *testing.T, s store.Store, n int, start time.Time, typ, who string, d map[string]string) {
	t.Helper()
	for i := 0; i < n; i++ {
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: start.Add(time.Duration(i) * time.Second), Type: typ, User: who, Result: "ok", Details: d}))
	}
}

// pageAll reads every event f matches through PageAudit, n rows a page, and counts the pages.
func pageAll(t *testing.T, s store.Store, f store.AuditFilter, n int) ([]*store.AuditEvent, int) {
	t.Helper()
	var out []*store.AuditEvent
	pages := 0
	for after := int64(0); ; {
		events, next, err := s.PageAudit(ctx, f, after, n)
		must(t, err)
		pages++
		if len(events) > n {
			t.Fatalf("a page of %d rows holds %d events", n, len(events))
		}
		out = append(out, events...)
		if next == 0 {
			return out, pages
		}
		if next <= after {
			t.Fatalf("next %d does not move on from %d", next, after)
		}
		after = next
	}
}

func testPageAudit(t *testing.T, s store.Store) {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	appendEvents(t, s, 7, base, "login", "peggy", nil)
	appendEvents(t, s, 5, base.Add(time.Hour), "account.set", "victor", map[string]string{"account": "prod"})
	appendEvents(t, s, 3, base.Add(2*time.Hour), "login", "walter", map[string]string{"account_id": "111122223333"})

	all, pages := pageAll(t, s, store.AuditFilter{}, 4)
	if len(all) != 15 || pages != 4 {
		t.Fatalf("every event in pages of 4: %d events in %d pages, want 15 in 4", len(all), pages)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("events out of ID order at %d: %d after %d", i, all[i].ID, all[i-1].ID)
		}
	}
	if all[7].Type != "account.set" || all[7].Details["account"] != "prod" || !all[0].Time.Equal(base) {
		t.Fatalf("events not read back whole: %+v, %+v", all[0], all[7])
	}
	// A page exactly full is not the last: the next read finds the end.
	if _, pages := pageAll(t, s, store.AuditFilter{}, 5); pages != 4 {
		t.Fatalf("15 events in pages of 5 took %d reads, want 4 (the last one empty)", pages)
	}
	for _, c := range []struct {
		name string
		f    store.AuditFilter
		want int
	}{
		{"by user", store.AuditFilter{User: "PEGGY"}, 7},
		{"by type", store.AuditFilter{Types: []string{"account.set"}}, 5},
		{"by time", store.AuditFilter{Since: base.Add(time.Hour + 2*time.Second), Until: base.Add(2*time.Hour + time.Second)}, 4},
		{"by account, matched after the read", store.AuditFilter{Accounts: []string{"prod", "111122223333"}}, 8},
		{"the limit is the list's, not the page's", store.AuditFilter{Limit: 1}, 15},
	} {
		got, _ := pageAll(t, s, c.f, 2)
		if len(got) != c.want {
			t.Errorf("%s: %d events, want %d", c.name, len(got), c.want)
		}
	}
	for _, n := range []int{0, -1, 10001} {
		_, _, err := s.PageAudit(ctx, store.AuditFilter{}, 0, n)
		wantCode(t, err, store.Invalid)
	}
	if events, next, err := s.PageAudit(ctx, store.AuditFilter{}, all[14].ID, 10); err != nil || len(events) != 0 || next != 0 {
		t.Fatalf("after the last event: %d events, next %d, %v", len(events), next, err)
	}
}

func testPruneAudit(t *testing.T, s store.Store) {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	appendEvents(t, s, 25, base, "login", "peggy", nil)
	cut := base.Add(20 * time.Second) // events 0..19 are older
	if n, err := s.CountAuditBefore(ctx, cut); err != nil || n != 20 {
		t.Fatalf("CountAuditBefore = %d, %v; want 20", n, err)
	}
	for _, want := range []int64{8, 8, 4, 0} {
		n, err := s.PruneAudit(ctx, cut, 8)
		if err != nil || n != want {
			t.Fatalf("PruneAudit batch = %d, %v; want %d", n, err, want)
		}
	}
	left, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(left) != 5 || !left[0].Time.Equal(cut) {
		t.Fatalf("after the prune: %d events from %v, want 5 from %v", len(left), left[0].Time, cut)
	}
	for _, n := range []int{0, -3, 10001} {
		_, err := s.PruneAudit(ctx, base.Add(time.Hour), n)
		wantCode(t, err, store.Invalid)
	}
	_, err = s.PruneAudit(ctx, time.Time{}, 10)
	wantCode(t, err, store.Invalid)
	if n, _ := s.CountAuditBefore(ctx, base.Add(time.Hour)); n != 5 {
		t.Fatalf("a refused prune deleted events: %d left, want 5", n)
	}
}

func testPruneWhileAppending(t *testing.T, s store.Store) {
	const old, writers, each = 6000, 4, 100
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ { // the old events, seeded in parallel
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < old; i += 4 {
				if err := s.AppendAudit(ctx, &store.AuditEvent{Time: base.Add(time.Duration(i) * time.Second), Type: "login", Result: "ok"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	cut := base.Add(time.Duration(old) * time.Second)
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- s.AppendAudit(ctx, &store.AuditEvent{Type: "assertion", User: fmt.Sprintf("w%d", w), Result: "ok"})
			}
		}()
	}
	var pruned int64
	for {
		n, err := s.PruneAudit(ctx, cut, 500)
		must(t, err)
		if n == 0 {
			break
		}
		pruned += n
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("an append during the prune failed: %v", err)
		}
	}
	if pruned != old {
		t.Fatalf("pruned %d, want %d", pruned, old)
	}
	left, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(left) != writers*each {
		t.Fatalf("%d events left, want the %d appended during the prune", len(left), writers*each)
	}
}
