package storetest

import (
	"testing"

	"rolegate/store"
)

// ---- signing mode

func testAccountSignMode(t *testing.T, s store.Store) {
	a := &store.Account{ID: "123456789012", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS}
	must(t, s.CreateAccount(ctx, a))
	if got, err := s.GetAccount(ctx, "prod"); err != nil || got.Sign != store.SignBoth || got.Sign.String() != "both" {
		t.Fatalf("a new account signs %q (%v), want both", got.Sign, err)
	}
	for _, m := range []store.SignMode{store.SignResponse, store.SignAssertion, store.SignBoth} {
		if _, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.Sign = m; return nil }); err != nil {
			t.Fatal(err)
		}
		if list, err := s.ListAccounts(ctx); err != nil || len(list) != 1 || list[0].Sign != m {
			t.Fatalf("after setting %s: listed %+v %v", m, list, err)
		}
	}
	must(t, s.CreateAccount(ctx, &store.Account{ID: "210987654321", Alias: "dev", ProviderName: "Rolegate",
		Partition: store.PartitionAWS, Sign: store.SignAssertion}))
	if got, err := s.GetAccount(ctx, "dev"); err != nil || got.Sign != store.SignAssertion {
		t.Fatalf("created with assertion, read back %q (%v)", got.Sign, err)
	}
	for _, bad := range []store.SignMode{"both", "none", "Response", " assertion"} {
		_, err := s.UpdateAccount(ctx, "dev", func(a *store.Account) error { a.Sign = bad; return nil })
		wantCode(t, err, store.Invalid)
		err = s.CreateAccount(ctx, &store.Account{ID: "111111111111", Alias: "x", ProviderName: "Rolegate",
			Partition: store.PartitionAWS, Sign: bad})
		wantCode(t, err, store.Invalid)
	}
	if got, _ := s.GetAccount(ctx, "dev"); got == nil || got.Sign != store.SignAssertion {
		t.Fatalf("a refused update changed it: %+v", got)
	}
}
