package idp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// cliLogin signs alice in over ECP asking for a CLI session (with the code when given) and
// returns the session's token.
func (w *awsWeb) cliLogin(t *testing.T, path string, hdr ...string) string {
	t.Helper()
	resp, body := w.ecp(t, ecpCall{path: path, user: "alice", pw: "correct horse battery", body: w.ecpBody(),
		hdr: append([]string{"X-Rolegate-CLI-Session", "request", "X-Rolegate-Host", "laptop\u0085"}, hdr...)})
	tok := resp.Header.Get("X-Rolegate-CLI-Session")
	if resp.StatusCode != 200 || len(tok) != 43 || resp.Header.Get("X-Rolegate-CLI-Session-ID") == "" {
		t.Fatalf("no CLI session: %d %q\n%s", resp.StatusCode, tok, body)
	}
	exp, err := time.Parse(time.RFC3339, resp.Header.Get("X-Rolegate-CLI-Session-Expires"))
	if err != nil || !exp.Equal(w.clock.Now().Add(12*time.Hour)) {
		t.Fatalf("expiry %q, want the web session's 12 h", resp.Header.Get("X-Rolegate-CLI-Session-Expires"))
	}
	return tok
}

// refresh is POST /cli/refresh with the token (none when "") and a query.
func (w *awsWeb) refresh(t *testing.T, tok, query string) (*http.Response, string) {
	t.Helper()
	hdr := []string{}
	if tok != "" {
		hdr = []string{"Authorization", "Bearer " + tok}
	}
	return w.ecp(t, ecpCall{path: "/cli/refresh" + query, hdr: hdr})
}

func TestACLISessionRefreshesWithoutAPromptWithTheMethodsItWasMadeWith(t *testing.T) {
	w := newAWSWeb(t)
	// saml2aws never asks, so it never gets one.
	resp, _ := w.ecp(t, ecpCall{path: "/saml/ecp?account=prod", user: "alice", pw: "correct horse battery", body: w.ecpBody()})
	if resp.StatusCode != 200 || resp.Header.Get("X-Rolegate-CLI-Session") != "" {
		t.Fatalf("a session without asking: %d %q", resp.StatusCode, resp.Header.Get("X-Rolegate-CLI-Session"))
	}
	secret, _ := w.enrolled(t, "alice")
	tok := w.cliLogin(t, "/saml/ecp?account=prod", "X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.clock.Now()), mfa.Digits))
	list, err := w.store.ListCLISessions(context.Background(), 0, w.clock.Now())
	if err != nil || len(list) != 1 || list[0].HostName != "laptop" || list[0].AccountID != "111122223333" || list[0].AuthMethods != "pwd,otp" {
		t.Fatalf("stored %+v %v", list, err)
	}
	if list[0].TokenHash == nil || strings.Contains(string(list[0].TokenHash), tok) {
		t.Fatal("the token is stored as it is")
	}
	authn := w.clock.Now()
	w.clock.Advance(3 * time.Hour)
	resp, body := w.refresh(t, tok, "?account=prod&role=Admin")
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d\n%s", resp.StatusCode, body)
	}
	e := w.expect(t, signinACS)
	e.Now = w.clock.Now()
	v := assertions.InspectAWS(asSaml2aws(t, body), e)
	if !v.Accepted || len(v.Roles) != 1 || !strings.HasSuffix(v.Roles[0].RoleARN, "role/Admin") || v.AuthnContext != assertions.ContextMFA {
		t.Fatalf("verdict %+v", v)
	}
	if !strings.Contains(body, `AuthnInstant="`+authn.UTC().Format("2006-01-02T15:04:05")) {
		t.Fatalf("the refresh claims a newer sign-in than the session's:\n%s", body)
	}
	if got := w.auditOf(t, "assertion"); len(got) != 3 || got[2] != "alice ok" {
		t.Fatalf("audit %v", got)
	}
	// Another account than the session's is not reachable with it.
	if resp, body = w.refresh(t, tok, "?account=gov"); resp.StatusCode != 403 {
		t.Fatalf("another account: %d\n%s", resp.StatusCode, body)
	}
	// Twelve hours after the sign-in, the session is over like a web session.
	w.clock.Advance(9 * time.Hour)
	if resp, body = w.refresh(t, tok, "?account=prod"); resp.StatusCode != 401 || !strings.Contains(body, "run rolegate login again") {
		t.Fatalf("after 12 h: %d\n%s", resp.StatusCode, body)
	}
}

func TestARefreshIsRefusedWithAForgedOrEndedToken(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		end  func(t *testing.T, w *awsWeb)
	}{
		{"no token at all", nil},
		{"a forged token", nil},
		{"revoked by ID", func(t *testing.T, w *awsWeb) {
			list, _ := w.store.ListCLISessions(ctx, 0, w.clock.Now())
			if err := w.store.DeleteCLISession(ctx, list[0].ID, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"the password changed", func(t *testing.T, w *awsWeb) {
			hash, _ := w.hasher.Hash(ctx, "a new and long password")
			w.update(t, "alice", func(u *store.User) { u.PasswordHash = hash })
		}},
		{"a factor was added", func(t *testing.T, w *awsWeb) { w.enrolled(t, "alice") }},
		{"the web sessions were ended", func(t *testing.T, w *awsWeb) {
			u, _ := w.store.GetUser(ctx, "alice")
			if err := w.store.DeleteUserSessions(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"the user was disabled and enabled again", func(t *testing.T, w *awsWeb) {
			w.update(t, "alice", func(u *store.User) { u.Disabled = true })
			w.update(t, "alice", func(u *store.User) { u.Disabled = false })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWSWeb(t)
			tok := w.cliLogin(t, "/saml/ecp")
			if resp, body := w.refresh(t, tok, "?account=prod"); resp.StatusCode != 200 {
				t.Fatalf("before: %d\n%s", resp.StatusCode, body)
			}
			switch c.name {
			case "no token at all":
				tok = ""
			case "a forged token":
				tok = tok[:42] + map[bool]string{true: "B", false: "A"}[tok[42] == 'A']
			default:
				c.end(t, w)
			}
			resp, body := w.refresh(t, tok, "?account=prod")
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="Rolegate"` ||
				(tok != "" && !strings.Contains(body, "run rolegate login again")) {
				t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		})
	}
}

func TestAPasswordOnlyCLISessionNeverRefreshesIntoAnAccountThatRequiresMFA(t *testing.T) {
	w := newAWSWeb(t)
	tok := w.cliLogin(t, "/saml/ecp")
	if _, err := w.store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	resp, body := w.refresh(t, tok, "?account=prod")
	if resp.StatusCode != 403 || !strings.Contains(body, "made without one") || !containsPrefix(w.auditOf(t, "assertion"), "alice refused") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, w.auditOf(t, "assertion"), body)
	}
	// A role not granted is refused too.
	w.update(t, "alice", func(u *store.User) {})
	if resp, body = w.refresh(t, tok, "?account=gov&role=Admin"); resp.StatusCode != 403 {
		t.Fatalf("ungranted role: %d\n%s", resp.StatusCode, body)
	}
}

func TestARefreshKeepsToTheCLISessionLimitAnAccountHasNow(t *testing.T) {
	w := newAWSWeb(t)
	// An unscoped session, made before prod's admin limited CLI sessions to an hour.
	tok := w.cliLogin(t, "/saml/ecp")
	if _, err := w.store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.CLISessionMax = time.Hour; return nil }); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(30 * time.Minute)
	if resp, body := w.refresh(t, tok, "?account=prod"); resp.StatusCode != 200 {
		t.Fatalf("within the hour: %d\n%s", resp.StatusCode, body)
	}
	w.clock.Advance(time.Hour)
	resp, body := w.refresh(t, tok, "?account=prod")
	if resp.StatusCode != 401 || !strings.Contains(body, "run rolegate login again") {
		t.Fatalf("after prod's hour: %d\n%s", resp.StatusCode, body)
	}
	if resp, body = w.refresh(t, tok, ""); resp.StatusCode != 401 {
		t.Fatalf("every account, prod among them, after prod's hour: %d\n%s", resp.StatusCode, body)
	}
}
