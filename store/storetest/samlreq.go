package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"rolegate/store"
)

func testSPRequireSignedRequests(t *testing.T, s store.Store) {
	strict := &store.ServiceProvider{EntityID: "https://strict.example.com", Metadata: []byte("<a/>"), RequireSignedRequests: true}
	lax := &store.ServiceProvider{EntityID: "https://lax.example.com", Metadata: []byte("<b/>")}
	must(t, s.CreateServiceProvider(ctx, strict))
	must(t, s.CreateServiceProvider(ctx, lax))
	flags := func() string {
		t.Helper()
		list, err := s.ListServiceProviders(ctx)
		must(t, err)
		var out []string
		for _, sp := range list {
			got, err := s.GetServiceProvider(ctx, sp.EntityID)
			must(t, err)
			if got.RequireSignedRequests != sp.RequireSignedRequests {
				t.Fatalf("get and list disagree on %s", sp.EntityID)
			}
			out = append(out, sp.EntityID+"="+map[bool]string{true: "signed", false: "any"}[sp.RequireSignedRequests])
		}
		return strings.Join(out, " ")
	}
	if got := flags(); got != "https://lax.example.com=any https://strict.example.com=signed" {
		t.Fatalf("after create: %s", got)
	}
	must(t, setRequireSigned(ctx, s, lax.EntityID, true))
	must(t, setRequireSigned(ctx, s, strict.EntityID, false))
	if got := flags(); got != "https://lax.example.com=signed https://strict.example.com=any" {
		t.Fatalf("after set: %s", got)
	}
	wantCode(t, setRequireSigned(ctx, s, "https://ghost.example.com", true), store.NotFound)
	if list, err := s.ListServiceProviders(ctx); err != nil || len(list) != 2 {
		t.Fatalf("setting an unknown SP's flag created one: %d %v", len(list), err)
	}
}

func testPendingRequestAuthnOptions(t *testing.T, s store.Store) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	req := func(h, id string, force bool, contexts ...string) *store.PendingRequest {
		return &store.PendingRequest{HandleHash: []byte(h + "-0123456789abcdef"), SPEntityID: "https://sp.example.com", RequestID: id,
			ACSURL: "https://sp.example.com/acs", CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute), ForceAuthn: force, AuthnContexts: contexts}
	}
	a := req("a", "id-1", true, "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", "https://refeds.org/profile/mfa")
	b := req("b", "id-2", false)
	must(t, savePending(ctx, s, a))
	must(t, savePending(ctx, s, b))
	got, err := s.GetPendingRequest(ctx, a.HandleHash, now)
	must(t, err)
	if !got.ForceAuthn || strings.Join(got.AuthnContexts, "|") != strings.Join(a.AuthnContexts, "|") {
		t.Fatalf("ForceAuthn %v, contexts %q; want true, %q", got.ForceAuthn, got.AuthnContexts, a.AuthnContexts)
	}
	got, err = s.GetPendingRequest(ctx, b.HandleHash, now)
	must(t, err)
	if got.ForceAuthn || len(got.AuthnContexts) != 0 {
		t.Fatalf("a plain request reads back with ForceAuthn %v, contexts %q", got.ForceAuthn, got.AuthnContexts)
	}
	// A class that would not read back as itself is refused, and nothing is stored.
	for i, bad := range []string{"urn:a urn:b", "", "urn:a\n"} {
		r := req("bad"+string(rune('0'+i)), "id-bad", false, bad)
		wantCode(t, savePending(ctx, s, r), store.Invalid)
		_, err := s.GetPendingRequest(ctx, r.HandleHash, now)
		wantCode(t, err, store.NotFound)
	}
}

func setRequireSigned(ctx context.Context, s store.Store, entityID string, require bool) error {
	_, err := s.UpdateServiceProvider(ctx, entityID, func(sp *store.ServiceProvider) error {
		sp.RequireSignedRequests = require
		return nil
	})
	return err
}
