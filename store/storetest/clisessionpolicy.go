package storetest

import (
	"testing"
	"time"

	"rolegate/store"
)

func testAccountCLISessionMax(t *testing.T, s store.Store) {
	a := &store.Account{ID: "123456789012", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS, CLISessionMax: 2 * time.Hour}
	must(t, s.CreateAccount(ctx, a))
	if got, err := s.GetAccount(ctx, "prod"); err != nil || got.CLISessionMax != 2*time.Hour {
		t.Fatalf("read back %+v %v", got, err)
	}
	// Longer than a web session, shorter than 15 minutes or not whole seconds: refused, nothing written.
	for _, d := range []time.Duration{13 * time.Hour, time.Minute, 20*time.Minute + time.Millisecond, -time.Hour} {
		_, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.CLISessionMax = d; return nil })
		wantCode(t, err, store.Invalid)
		wantCode(t, s.CreateAccount(ctx, &store.Account{ID: "210987654321", Alias: "other", ProviderName: "Rolegate",
			Partition: store.PartitionAWS, SessionNameSource: store.FromUsername, CLISessionMax: d}), store.Invalid)
	}
	if got, _ := s.GetAccount(ctx, "prod"); got == nil || got.CLISessionMax != 2*time.Hour {
		t.Fatalf("a refused update changed it: %+v", got)
	}
	if _, err := s.GetAccount(ctx, "other"); !store.IsCode(err, store.NotFound) {
		t.Fatalf("a refused create wrote the account: %v", err)
	}
	if _, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.CLISessionMax = 0; return nil }); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListAccounts(ctx); err != nil || len(list) != 1 || list[0].CLISessionMax != 0 {
		t.Fatalf("listed %+v %v", list, err)
	}
}
