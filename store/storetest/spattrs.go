package storetest

import (
	"testing"
	"time"

	"rolegate/store"
)

func testNameIDFormats(t *testing.T, s store.Store) {
	mkSP(t, s, &store.ServiceProvider{EntityID: chatSP})
	if f := getSP(t, s, chatSP).NameIDFormat; f != "" {
		t.Fatalf("an SP added without a format is fixed to %q", f)
	}
	mkSP(t, s, &store.ServiceProvider{EntityID: wikiSP, NameIDFormat: store.NameIDTransient})
	if f := getSP(t, s, wikiSP).NameIDFormat; f != store.NameIDTransient {
		t.Fatalf("created transient, read back %q", f)
	}
	list, err := s.ListServiceProviders(ctx)
	must(t, err)
	if len(list) != 2 || list[0].NameIDFormat != store.NameIDTransient || list[1].NameIDFormat != "" {
		t.Fatalf("listed %+v", list)
	}
	_, err = s.UpdateServiceProvider(ctx, wikiSP, func(sp *store.ServiceProvider) error { sp.NameIDFormat = store.NameIDEmail; return nil })
	must(t, err)
	if f := getSP(t, s, wikiSP).NameIDFormat; f != store.NameIDEmail {
		t.Fatalf("set emailAddress, read back %q", f)
	}
	// A format outside the vocabulary (a SAML URI, the CLI's "unspecified", another case) writes nothing.
	for _, bad := range []string{"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", store.NameIDUnspecified, "Transient"} {
		_, err = s.UpdateServiceProvider(ctx, wikiSP, func(sp *store.ServiceProvider) error {
			sp.NameIDFormat = bad
			sp.Release = []string{"email"}
			return nil
		})
		wantCode(t, err, store.Invalid)
		if sp := getSP(t, s, wikiSP); sp.NameIDFormat != store.NameIDEmail || len(sp.Release) != 0 {
			t.Fatalf("a refused update of %q wrote %q, release %v", bad, sp.NameIDFormat, sp.Release)
		}
		wantCode(t, s.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: "urn:bad", Metadata: []byte("x"), NameIDFormat: bad}), store.Invalid)
		_, err = s.GetServiceProvider(ctx, "urn:bad")
		wantCode(t, err, store.NotFound)
	}

	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	req := func(h, format string) *store.PendingRequest {
		return &store.PendingRequest{HandleHash: []byte(h + "-0123456789abcdef"), SPEntityID: wikiSP, RequestID: "id-" + h,
			ACSURL: "https://wiki.example.com/acs", CreatedAt: now, ExpiresAt: now.Add(time.Hour), NameIDFormat: format}
	}
	for _, f := range []string{"", store.NameIDPersistent, store.NameIDTransient, store.NameIDEmail} {
		r := req("h"+f, f)
		must(t, savePending(ctx, s, r))
		got, err := s.GetPendingRequest(ctx, r.HandleHash, now)
		must(t, err)
		if got.NameIDFormat != f {
			t.Errorf("a pending request saved with format %q reads back %q", f, got.NameIDFormat)
		}
	}
	noNew := req("nonew", store.NameIDPersistent)
	noNew.NoNewNameID = true
	must(t, savePending(ctx, s, noNew))
	if got, err := s.GetPendingRequest(ctx, noNew.HandleHash, now); err != nil || !got.NoNewNameID {
		t.Errorf("a request with AllowCreate=\"false\" reads back %+v, %v", got, err)
	}
	bad := req("bad", "x509SubjectName")
	wantCode(t, savePending(ctx, s, bad), store.Invalid)
	_, err = s.GetPendingRequest(ctx, bad.HandleHash, now)
	wantCode(t, err, store.NotFound)
}

func testFindPairwiseNameID(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	_, err := s.FindPairwiseNameID(ctx, u.ID, wikiSP)
	wantCode(t, err, store.NotFound)
	_, err = s.FindPairwiseNameID(ctx, u.ID, wikiSP)
	wantCode(t, err, store.NotFound) // looking makes none
	made, err := s.PairwiseNameID(ctx, u.ID, wikiSP)
	must(t, err)
	if found, err := s.FindPairwiseNameID(ctx, u.ID, wikiSP); err != nil || found != made {
		t.Fatalf("found %q, %v; want %q", found, err, made)
	}
	_, err = s.FindPairwiseNameID(ctx, u.ID, chatSP)
	wantCode(t, err, store.NotFound)
	_, err = s.FindPairwiseNameID(ctx, u.ID+1000, wikiSP)
	wantCode(t, err, store.NotFound)
}
