package storetest

import (
	"testing"
	"time"

	"rolegate/store"
)

func testAuditAccountUntil(t *testing.T, s store.Store) {
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, d := range []map[string]string{
		{"account": "111122223333"}, {"account_id": "111122223333", "account": "prod"}, {"account": "444455556666"},
		{"account": "444455556666 111122223333"}, {}, {"account": "111122223333"},
	} {
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: base.Add(time.Duration(i) * time.Hour), Type: "account.set", User: "",
			Result: "ok", Details: d}))
	}
	times := func(f store.AuditFilter) []int {
		t.Helper()
		evs, err := s.ListAudit(ctx, f)
		must(t, err)
		var hs []int
		for _, e := range evs {
			hs = append(hs, int(e.Time.Sub(base)/time.Hour))
		}
		return hs
	}
	for _, c := range []struct {
		name string
		f    store.AuditFilter
		want []int
	}{
		{"by account ID, alone, in a list or as account_id", store.AuditFilter{Accounts: []string{"111122223333"}}, []int{0, 1, 3, 5}},
		{"by alias, any case", store.AuditFilter{Accounts: []string{"PROD"}}, []int{1}},
		{"by either of two names", store.AuditFilter{Accounts: []string{"prod", "444455556666"}}, []int{1, 2, 3}},
		{"until is exclusive", store.AuditFilter{Until: base.Add(2 * time.Hour)}, []int{0, 1}},
		{"since and until make a range", store.AuditFilter{Since: base.Add(time.Hour), Until: base.Add(4 * time.Hour)}, []int{1, 2, 3}},
		{"the limit keeps the newest matches", store.AuditFilter{Accounts: []string{"111122223333"}, Limit: 2}, []int{3, 5}},
		{"an account with no events", store.AuditFilter{Accounts: []string{"999999999999"}}, nil},
	} {
		if got := times(c.f); !equalInts(got, c.want) {
			t.Errorf("%s: hours %v, want %v", c.name, got, c.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
