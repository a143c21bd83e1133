package storetest

import (
	"strings"
	"sync"
	"testing"

	"rolegate/store"
)

const (
	wikiSP = "https://wiki.example.com/saml/metadata"
	chatSP = "urn:example:chat"
)

func mkSP(t *testing.T, s store.Store, sp *store.ServiceProvider) *store.ServiceProvider {
	t.Helper()
	sp.Metadata = []byte("<EntityDescriptor/>")
	must(t, s.CreateServiceProvider(ctx, sp))
	return sp
}

func getSP(t *testing.T, s store.Store, id string) *store.ServiceProvider {
	t.Helper()
	sp, err := s.GetServiceProvider(ctx, id)
	must(t, err)
	return sp
}

func policy(sp *store.ServiceProvider) string {
	return "release=" + strings.Join(sp.Release, ",") + " groups=" + strings.Join(sp.AllowedGroups, ",") +
		map[bool]string{true: " restricted", false: " open"}[sp.Restricted]
}

func testSPPolicy(t *testing.T, s store.Store) {
	for _, g := range []string{"Ops", "devs"} {
		must(t, s.CreateGroup(ctx, &store.Group{Name: g}))
	}
	open := mkSP(t, s, &store.ServiceProvider{EntityID: chatSP})
	if got := policy(getSP(t, s, chatSP)); got != "release= groups= open" || open.Release == nil {
		t.Fatalf("an SP added without a policy: %s; want nothing released and open", got)
	}
	sp := mkSP(t, s, &store.ServiceProvider{EntityID: wikiSP, Release: []string{"groups", "email", "email"}, AllowedGroups: []string{"ops", "DEVS", "Ops"}})
	want := "release=email,groups groups=devs,Ops restricted"
	if policy(sp) != want || policy(getSP(t, s, wikiSP)) != want {
		t.Fatalf("created %s, read back %s; want %s", policy(sp), policy(getSP(t, s, wikiSP)), want)
	}
	list, err := s.ListServiceProviders(ctx)
	must(t, err)
	if len(list) != 2 || list[0].EntityID != wikiSP || policy(list[0]) != want || policy(list[1]) != "release= groups= open" {
		t.Fatalf("listed %d SPs, the first %s", len(list), policy(list[0]))
	}

	// Bad input writes nothing: not the SP, not a part of its policy.
	wantCode(t, s.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: "urn:a", Metadata: []byte("x"), Release: []string{"password"}}), store.Invalid)
	wantCode(t, s.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: "urn:b", Metadata: []byte("x"), AllowedGroups: []string{"ops", "nobody"}}), store.NotFound)
	wantCode(t, s.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: "urn:c", Metadata: []byte("x"), AllowedGroups: []string{"no such group"}}), store.Invalid)
	for _, id := range []string{"urn:a", "urn:b", "urn:c"} {
		_, err := s.GetServiceProvider(ctx, id)
		wantCode(t, err, store.NotFound)
	}
	for _, fn := range []func(*store.ServiceProvider) error{
		func(sp *store.ServiceProvider) error { sp.Release = []string{"mail"}; return nil },
		func(sp *store.ServiceProvider) error {
			sp.AllowedGroups = []string{"nobody"}
			sp.Release = nil
			return nil
		},
		func(sp *store.ServiceProvider) error { sp.Metadata = nil; return nil },
	} {
		_, err := s.UpdateServiceProvider(ctx, wikiSP, fn)
		if err == nil {
			t.Fatal("a bad update was accepted")
		}
		if got := policy(getSP(t, s, wikiSP)); got != want {
			t.Fatalf("a refused update changed the policy to %s", got)
		}
	}
	_, err = s.UpdateServiceProvider(ctx, "urn:none", func(*store.ServiceProvider) error { return nil })
	wantCode(t, err, store.NotFound)

	// Dropping the restriction while groups stay allowed keeps it; clearing both opens the SP.
	up, err := s.UpdateServiceProvider(ctx, wikiSP, func(sp *store.ServiceProvider) error {
		sp.Restricted, sp.Release, sp.EntityID = false, nil, "urn:renamed"
		return nil
	})
	must(t, err)
	if want := "release= groups=devs,Ops restricted"; policy(up) != want || up.EntityID != wikiSP || policy(getSP(t, s, wikiSP)) != want {
		t.Fatalf("after update: %s (%s); want %s", policy(up), up.EntityID, want)
	}
	_, err = s.UpdateServiceProvider(ctx, wikiSP, func(sp *store.ServiceProvider) error { sp.AllowedGroups, sp.Restricted = nil, false; return nil })
	must(t, err)
	if got := policy(getSP(t, s, wikiSP)); got != "release= groups= open" {
		t.Fatalf("after clearing: %s", got)
	}

	// Removing the SP removes its allowed groups: added again, it starts open.
	_, err = s.UpdateServiceProvider(ctx, wikiSP, func(sp *store.ServiceProvider) error { sp.AllowedGroups = []string{"ops"}; return nil })
	must(t, err)
	must(t, s.DeleteServiceProvider(ctx, wikiSP))
	if got := policy(mkSP(t, s, &store.ServiceProvider{EntityID: wikiSP})); got != "release= groups= open" {
		t.Fatalf("re-added: %s", got)
	}
}

func testSPAllowedGroupDeleted(t *testing.T, s store.Store) {
	must(t, s.CreateGroup(ctx, &store.Group{Name: "ops"}))
	must(t, s.CreateGroup(ctx, &store.Group{Name: "devs"}))
	mkSP(t, s, &store.ServiceProvider{EntityID: wikiSP, AllowedGroups: []string{"ops", "devs"}})
	must(t, s.DeleteGroup(ctx, "devs"))
	if got := policy(getSP(t, s, wikiSP)); got != "release= groups=ops restricted" {
		t.Fatalf("after deleting one of two groups: %s", got)
	}
	must(t, s.DeleteGroup(ctx, "ops"))
	if got := policy(getSP(t, s, wikiSP)); got != "release= groups= restricted" {
		t.Fatalf("after deleting every allowed group: %s; want restricted (no one admitted)", got)
	}
	// A new group of the old name is another group: it is not allowed.
	must(t, s.CreateGroup(ctx, &store.Group{Name: "ops"}))
	if got := policy(getSP(t, s, wikiSP)); got != "release= groups= restricted" {
		t.Fatalf("after re-creating ops: %s", got)
	}
}

func testPairwiseNameIDs(t *testing.T, s store.Store) {
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	pair := func(u *store.User, sp string) string {
		t.Helper()
		v, err := s.PairwiseNameID(ctx, u.ID, sp)
		must(t, err)
		if v == "" || len(v) > 256 {
			t.Fatalf("NameID %q", v)
		}
		return v
	}
	wiki, chat := pair(alice, wikiSP), pair(alice, chatSP)
	seen := map[string]string{"wiki": wiki, "chat": chat, "bob's wiki": pair(bob, wikiSP), "subject": alice.Subject, "bob's subject": bob.Subject}
	values := map[string]string{}
	for k, v := range seen {
		if other, dup := values[v]; dup {
			t.Fatalf("%s and %s are both %q", k, other, v)
		}
		values[v] = k
	}
	if strings.Contains(wiki, alice.Subject) || strings.Contains(wiki, alice.Name) {
		t.Fatalf("the NameID %q shows the subject or name", wiki)
	}
	if again := pair(alice, wikiSP); again != wiki {
		t.Fatalf("the same SP got %q, then %q", wiki, again)
	}
	_, err := s.PairwiseNameID(ctx, alice.ID+bob.ID+100, wikiSP)
	wantCode(t, err, store.NotFound)
	_, err = s.PairwiseNameID(ctx, alice.ID, "")
	wantCode(t, err, store.Invalid)

	// Deleted with the user: a new user of the same name is another person to the SP.
	must(t, s.DeleteUser(ctx, "alice"))
	if fresh := pair(mkUser(t, s, "alice"), wikiSP); fresh == wiki {
		t.Fatalf("a new alice got the old alice's NameID %q", fresh)
	}
	if again := pair(bob, wikiSP); again != seen["bob's wiki"] {
		t.Fatalf("deleting alice changed bob's NameID")
	}
}

func testConcurrentPairwiseNameID(t *testing.T, s store.Store) {
	u := mkUser(t, s, "carol")
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	got := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := s.PairwiseNameID(ctx, u.ID, wikiSP)
			if err != nil {
				t.Error(err)
			}
			got <- v
		}()
	}
	close(start)
	wg.Wait()
	close(got)
	first := ""
	for v := range got {
		if first == "" {
			first = v
		}
		if v != first || v == "" {
			t.Fatalf("concurrent first uses got %q and %q", first, v)
		}
	}
}
