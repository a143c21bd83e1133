package idp_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

var sessionFormRE = regexp.MustCompile(`name="kind" value="(web|cli)">\s*<input type="hidden" name="id" value="([^"]+)">\s*<button[^>]*>(Sign out|End)<`)

// sessionIDs reads the page's revoke forms: kind:ID, with "*" after this browser's.
func sessionIDs(t *testing.T, b *idptest.Browser) []string {
	t.Helper()
	resp, body := b.Get("/account/sessions")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /account/sessions: %d\n%s", resp.StatusCode, body)
	}
	var out []string
	for _, m := range sessionFormRE.FindAllStringSubmatch(body, -1) {
		id := m[1] + ":" + m[2]
		if m[3] == "Sign out" {
			id += "*"
		}
		out = append(out, id)
	}
	return out
}

func TestTheSessionsPageListsAndEndsOnlyTheUsersOwnSessions(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	ctx := context.Background()
	tok := w.CLILogin(t, "/saml/ecp")
	mallory, _ := w.Store.GetUser(ctx, "mallory")
	now := w.Clock.Now()
	if _, err := w.Store.CreateCLISession(ctx, &store.CLISession{ID: "cs_mallory", TokenHash: []byte("mallory-token-hash-0123456789"), UserID: mallory.ID,
		AuthMethods: "pwd", AuthnInstant: now, Binding: []byte("b"), CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}, 20); err != nil {
		t.Fatal(err)
	}
	b1, b2 := w.Browser(t), w.Browser(t)
	b1.Login("alice", "correct horse battery")
	w.Clock.Advance(time.Second)
	b2.Login("alice", "correct horse battery")
	ids := sessionIDs(t, b1)
	if len(ids) != 3 || !strings.HasPrefix(ids[0], "web:") || !strings.HasSuffix(ids[1], "*") || !strings.HasPrefix(ids[2], "cli:cs_") {
		t.Fatalf("page lists %v; want alice's two browsers (this one marked) and her CLI session, not mallory's", ids)
	}
	cliID := strings.TrimPrefix(ids[2], "cli:")

	// A forged form (no or a wrong token, or another site's) changes nothing.
	for _, hdr := range [][]string{nil, {"Origin", "https://evil.example"}} {
		form := url.Values{"kind": {"cli"}, "id": {cliID}, "csrf_token": {"forged"}}
		if hdr != nil {
			form.Set("csrf_token", b1.Token("/account/sessions"))
		}
		if resp, _ := b1.Do("POST", "/account/sessions/revoke", form, hdr...); resp.StatusCode != 403 {
			t.Fatalf("forged revoke: %d", resp.StatusCode)
		}
	}
	// Mallory's session is not alice's to end, nor is an ID she made up.
	for _, id := range []string{"cs_mallory", "0123456789abcdef01234567"} {
		for _, kind := range []string{"cli", "web"} {
			if resp, _ := b1.Post("/account/sessions", "/account/sessions/revoke", url.Values{"kind": {kind}, "id": {id}}); resp.StatusCode != 404 {
				t.Fatalf("revoking %s %s: %d", kind, id, resp.StatusCode)
			}
		}
	}
	if l, _ := w.Store.ListCLISessions(ctx, 0, w.Clock.Now()); len(l) != 2 {
		t.Fatalf("refused revokes ended sessions: %d left", len(l))
	}
	if resp, _ := w.Refresh(t, tok, "?account=prod"); resp.StatusCode != 200 {
		t.Fatalf("refresh before the revoke: %d", resp.StatusCode)
	}

	// Alice ends her CLI session, then the other browser's.
	if resp, _ := b1.Post("/account/sessions", "/account/sessions/revoke", url.Values{"kind": {"cli"}, "id": {cliID}}); resp.StatusCode != 303 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, body := w.Refresh(t, tok, "?account=prod"); resp.StatusCode != 401 || !strings.Contains(body, "run rolegate login again") {
		t.Fatalf("refresh after the revoke: %d\n%s", resp.StatusCode, body)
	}
	other := strings.TrimPrefix(ids[0], "web:")
	if resp, _ := b1.Post("/account/sessions", "/account/sessions/revoke", url.Values{"kind": {"web"}, "id": {other}}); resp.StatusCode != 303 {
		t.Fatalf("revoke web: %d", resp.StatusCode)
	}
	if b2.SignedIn() || !b1.SignedIn() {
		t.Fatalf("after ending the other browser: it is signed in %v, this one %v", b2.SignedIn(), b1.SignedIn())
	}
	if got := w.AuditOf(t, "session.revoke"); len(got) != 2 || got[0] != "alice ok" {
		t.Fatalf("audit %v", got)
	}
	// Ending this browser's own session signs it out.
	if ids = sessionIDs(t, b1); len(ids) != 1 || !strings.HasSuffix(ids[0], "*") {
		t.Fatalf("left: %v", ids)
	}
	b1.Post("/account/sessions", "/account/sessions/revoke", url.Values{"kind": {"web"}, "id": {strings.TrimSuffix(strings.TrimPrefix(ids[0], "web:"), "*")}})
	if b1.SignedIn() {
		t.Fatal("ending this browser's session left it signed in")
	}
}

func TestTheSessionsPageIsBehindTheOneTimePassword(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	w.Update(t, "alice", func(u *store.User) { u.MustChangePassword = true })
	resp, _ := b.Get("/account/sessions")
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/account/password") {
		t.Fatalf("GET: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := b.Post("/account/password", "/account/sessions/revoke", url.Values{"kind": {"web"}, "id": {"x"}}); resp.StatusCode != 403 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}
