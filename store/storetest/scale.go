package storetest

import (
	"fmt"
	"slices"
	"testing"

	"rolegate/store"
)

// ---- scale

func testListByID(t *testing.T, s store.Store) {
	// More accounts than one statement names (sqlstore's chunks of 512), asked for in no order;
	// every tenth with two tag rules.
	const n = 1001
	var ids []string
	ruled := 0
	for i := n - 1; i >= 0; i-- {
		id := fmt.Sprintf("%012d", 100000000000+i)
		mkAccount(t, s, id, fmt.Sprintf("acct-%04d", i))
		ids = append(ids, id)
		if i%10 == 0 {
			ruled++
			must(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: id, Key: "b", Value: "2"}))
			must(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: id, Key: "A", FromAttr: "team", Transitive: true}))
		}
	}
	mkAccount(t, s, "999999999999", "other")
	must(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: "999999999999", Key: "other", Value: "x"}))
	// An unknown ID, an alias (not an ID) and a repeat are asked for too.
	ask := append(slices.Clone(ids), "000000000000", "other", ids[0])

	accts, err := s.ListAccountsByID(ctx, ask)
	must(t, err)
	if len(accts) != len(ids) {
		t.Fatalf("%d accounts, want %d", len(accts), len(ids))
	}
	for i, a := range accts {
		if i > 0 && accts[i-1].ID >= a.ID {
			t.Fatalf("account %s after %s: not by ID", a.ID, accts[i-1].ID)
		}
		if want, _ := s.GetAccount(ctx, a.ID); want == nil || fmt.Sprint(*want) != fmt.Sprint(*a) {
			t.Fatalf("account %s read as %+v, GetAccount reads %+v", a.ID, a, want)
		}
	}

	rules, err := s.ListTagRulesOf(ctx, ask)
	must(t, err)
	if len(rules) != 2*ruled || rules[len(rules)-1].AccountID != ids[0] {
		t.Fatalf("%d rules, the last of %s; want %d, the last of %s", len(rules), rules[len(rules)-1].AccountID, 2*ruled, ids[0])
	}
	for i := 0; i < len(rules); i += 2 {
		a, b := rules[i], rules[i+1]
		if a.AccountID != b.AccountID || a.Key != "A" || b.Key != "b" || a.FromAttr != "team" || !a.Transitive || b.Value != "2" ||
			a.AccountAlias == "" || (i > 0 && rules[i-1].AccountID >= a.AccountID) {
			t.Fatalf("rules %d and %d: %+v %+v; want each account's A then b, by account ID", i, i+1, a, b)
		}
	}

	for _, none := range [][]string{nil, {}, {"000000000000"}} {
		if accts, err := s.ListAccountsByID(ctx, none); err != nil || len(accts) != 0 {
			t.Errorf("accounts of %q: %d, %v", none, len(accts), err)
		}
		if rules, err := s.ListTagRulesOf(ctx, none); err != nil || len(rules) != 0 {
			t.Errorf("rules of %q: %d, %v", none, len(rules), err)
		}
	}
}
