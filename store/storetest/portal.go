package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/store"
)

// favs is a user's favourites as "ACCOUNT ROLE", oldest first.
func favs(t *testing.T, s store.Store, userID int64) []string {
	t.Helper()
	list, err := s.ListFavourites(ctx, userID)
	must(t, err)
	out := []string{}
	for _, f := range list {
		if f.UserID != userID {
			t.Fatalf("user %d's list holds user %d's favourite", userID, f.UserID)
		}
		out = append(out, f.AccountID+" "+f.Role)
	}
	return out
}

func testFavourites(t *testing.T, s store.Store) {
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	mkAccount(t, s, "111111111111", "prod")
	mkAccount(t, s, "222222222222", "dev")
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	add := func(u *store.User, acct, role string, at time.Duration) error {
		return s.AddFavourite(ctx, &store.Favourite{UserID: u.ID, AccountID: acct, Role: role, CreatedAt: t0.Add(at)}, 3)
	}
	must(t, add(alice, "222222222222", "teams/Deploy", 0))
	must(t, add(alice, "111111111111", "Admin", time.Second))
	must(t, add(alice, "111111111111", "Admin", 2*time.Second)) // again: nothing changes
	must(t, add(bob, "111111111111", "ReadOnly", 0))
	if got, want := favs(t, s, alice.ID), []string{"222222222222 teams/Deploy", "111111111111 Admin"}; !slices.Equal(got, want) {
		t.Fatalf("alice's favourites %q; want %q", got, want)
	}
	if got, want := favs(t, s, bob.ID), []string{"111111111111 ReadOnly"}; !slices.Equal(got, want) {
		t.Fatalf("bob's favourites %q; want %q (and none of alice's)", got, want)
	}
	list, err := s.ListFavourites(ctx, alice.ID)
	must(t, err)
	if !list[1].CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("a second star moved the first one's time to %s", list[1].CreatedAt)
	}

	// Refusals write nothing.
	wantCode(t, add(alice, "333333333333", "Admin", 0), store.NotFound)
	wantCode(t, add(&store.User{ID: alice.ID + bob.ID + 100}, "111111111111", "Admin", 0), store.NotFound)
	wantCode(t, add(alice, "111111111111", "bad role", 0), store.Invalid)
	wantCode(t, add(alice, "prod", "Admin", 0), store.Invalid) // an ID, not an alias
	must(t, add(alice, "111111111111", "ReadOnly", 3*time.Second))
	wantCode(t, add(alice, "222222222222", "Admin", 4*time.Second), store.Conflict) // the fourth, with a cap of 3
	must(t, add(alice, "111111111111", "ReadOnly", 5*time.Second))                  // one held already is no new one
	if got := favs(t, s, alice.ID); len(got) != 3 {
		t.Fatalf("after refusals alice has %q", got)
	}

	// Removing: only one's own, once.
	wantCode(t, s.RemoveFavourite(ctx, bob.ID, "111111111111", "Admin"), store.NotFound)
	must(t, s.RemoveFavourite(ctx, alice.ID, "111111111111", "Admin"))
	wantCode(t, s.RemoveFavourite(ctx, alice.ID, "111111111111", "Admin"), store.NotFound)
	if got, want := favs(t, s, alice.ID), []string{"222222222222 teams/Deploy", "111111111111 ReadOnly"}; !slices.Equal(got, want) {
		t.Fatalf("after a removal alice has %q; want %q", got, want)
	}

	// Favourites go with their account and with their user.
	must(t, s.DeleteAccount(ctx, "dev"))
	if got, want := favs(t, s, alice.ID), []string{"111111111111 ReadOnly"}; !slices.Equal(got, want) {
		t.Fatalf("after the account went alice has %q; want %q", got, want)
	}
	must(t, s.DeleteUser(ctx, "bob"))
	if got := favs(t, s, bob.ID); len(got) != 0 {
		t.Fatalf("a deleted user keeps favourites %q", got)
	}
}

// testConcurrentFavourites: racing stars of one user never pass the cap.
func testConcurrentFavourites(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	mkAccount(t, s, "111111111111", "prod")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AddFavourite(ctx, &store.Favourite{UserID: u.ID, AccountID: "111111111111", Role: fmt.Sprintf("Role%d", i)}, 3)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !store.IsCode(err, store.Conflict) {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if got := favs(t, s, u.ID); len(got) != 3 {
		t.Fatalf("8 racing stars with a cap of 3 left %d: %q", len(got), got)
	}
}

func testAccountLabels(t *testing.T, s store.Store) {
	a := mkAccount(t, s, "111111111111", "prod")
	if a.Label != "" {
		t.Fatalf("a new account has label %q", a.Label)
	}
	for _, l := range []string{"prod", "EU production", "sandbox-1", "<b>x</b>", strings.Repeat("é", store.MaxLabelLen)} {
		got, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.Label = l; return nil })
		must(t, err)
		if read, err := s.GetAccount(ctx, "111111111111"); err != nil || got.Label != l || read.Label != l {
			t.Fatalf("label %q read back as %+v, %v", l, read, err)
		}
	}
	for _, l := range []string{" prod", "prod ", strings.Repeat("x", store.MaxLabelLen+1), "a\nb", "prod\u202e", "\xff"} {
		_, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.Label = l; return nil })
		wantCode(t, err, store.Invalid)
		wantCode(t, s.CreateAccount(ctx, &store.Account{ID: "222222222222", Alias: "dev", ProviderName: "Rolegate",
			Partition: store.PartitionAWS, Label: l}), store.Invalid)
	}
	must(t, s.CreateAccount(ctx, &store.Account{ID: "222222222222", Alias: "dev", ProviderName: "Rolegate", Partition: store.PartitionAWS, Label: "staging"}))
	list, err := s.ListAccounts(ctx)
	must(t, err)
	var got []string
	for _, a := range list {
		got = append(got, a.Alias+"="+a.Label)
	}
	if want := []string{"dev=staging", "prod=" + strings.Repeat("é", store.MaxLabelLen)}; !slices.Equal(got, want) {
		t.Fatalf("listed %q; want %q", got, want)
	}
}
