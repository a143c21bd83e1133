package cliauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store"
)

func TestACLISessionRefreshesWithoutAPromptWithTheMethodsItWasMadeWith(t *testing.T) {
	w := newAWSWeb(t)
	// saml2aws never asks, so it never gets one.
	resp, _ := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 200 || resp.Header.Get("X-Rolegate-CLI-Session") != "" {
		t.Fatalf("a session without asking: %d %q", resp.StatusCode, resp.Header.Get("X-Rolegate-CLI-Session"))
	}
	secret, _ := w.Enrolled(t, "alice")
	tok := w.CLILogin(t, "/saml/ecp?account=prod", "X-Rolegate-OTP", mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits))
	list, err := w.Store.ListCLISessions(context.Background(), 0, w.Clock.Now())
	if err != nil || len(list) != 1 || list[0].HostName != "laptop" || list[0].AccountID != "111122223333" || list[0].AuthMethods != "pwd,otp" {
		t.Fatalf("stored %+v %v", list, err)
	}
	if list[0].TokenHash == nil || strings.Contains(string(list[0].TokenHash), tok) {
		t.Fatal("the token is stored as it is")
	}
	authn := w.Clock.Now()
	w.Clock.Advance(3 * time.Hour)
	resp, body := w.Refresh(t, tok, "?account=prod&role=Admin")
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d\n%s", resp.StatusCode, body)
	}
	e := w.Expect(t, idptest.SigninACS)
	e.Now = w.Clock.Now()
	v := assertions.InspectAWS(asSaml2aws(t, body), e)
	if !v.Accepted || len(v.Roles) != 1 || !strings.HasSuffix(v.Roles[0].RoleARN, "role/Admin") || v.AuthnContext != assertions.ContextMFA {
		t.Fatalf("verdict %+v", v)
	}
	if !strings.Contains(body, `AuthnInstant="`+authn.UTC().Format("2006-01-02T15:04:05")) {
		t.Fatalf("the refresh claims a newer sign-in than the session's:\n%s", body)
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 3 || got[2] != "alice ok" {
		t.Fatalf("audit %v", got)
	}
	// Another account than the session's is not reachable with it.
	if resp, body = w.Refresh(t, tok, "?account=gov"); resp.StatusCode != 403 {
		t.Fatalf("another account: %d\n%s", resp.StatusCode, body)
	}
	// Twelve hours after the sign-in, the session is over like a web session.
	w.Clock.Advance(9 * time.Hour)
	if resp, body = w.Refresh(t, tok, "?account=prod"); resp.StatusCode != 401 || !strings.Contains(body, "run rolegate login again") {
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
			list, _ := w.Store.ListCLISessions(ctx, 0, w.Clock.Now())
			if err := w.Store.DeleteCLISession(ctx, list[0].ID, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"the password changed", func(t *testing.T, w *awsWeb) {
			hash, _ := w.Hasher.Hash(ctx, "a new and long password")
			w.Update(t, "alice", func(u *store.User) { u.PasswordHash = hash })
		}},
		{"a factor was added", func(t *testing.T, w *awsWeb) { w.Enrolled(t, "alice") }},
		{"the web sessions were ended", func(t *testing.T, w *awsWeb) {
			u, _ := w.Store.GetUser(ctx, "alice")
			if err := w.Store.DeleteUserSessions(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"the user was disabled and enabled again", func(t *testing.T, w *awsWeb) {
			w.Update(t, "alice", func(u *store.User) { u.Disabled = true })
			w.Update(t, "alice", func(u *store.User) { u.Disabled = false })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAWSWeb(t)
			tok := w.CLILogin(t, "/saml/ecp")
			if resp, body := w.Refresh(t, tok, "?account=prod"); resp.StatusCode != 200 {
				t.Fatalf("before: %d\n%s", resp.StatusCode, body)
			}
			switch c.name {
			case "no token at all":
				tok = ""
			case "a forged token":
				// A character in the middle: the last one's low bits are base64 padding, and a
				// lenient decoder reads A and B there as the same bytes.
				tok = tok[:20] + map[bool]string{true: "B", false: "A"}[tok[20] == 'A'] + tok[21:]
			default:
				c.end(t, w)
			}
			resp, body := w.Refresh(t, tok, "?account=prod")
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="Rolegate"` ||
				(tok != "" && !strings.Contains(body, "run rolegate login again")) {
				t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		})
	}
}

func TestAPasswordOnlyCLISessionNeverRefreshesIntoAnAccountThatRequiresMFA(t *testing.T) {
	w := newAWSWeb(t)
	tok := w.CLILogin(t, "/saml/ecp")
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.RequireMFA = true; return nil }); err != nil {
		t.Fatal(err)
	}
	resp, body := w.Refresh(t, tok, "?account=prod")
	if resp.StatusCode != 403 || !strings.Contains(body, "made without one") || !containsPrefix(w.AuditOf(t, "assertion"), "alice refused") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, w.AuditOf(t, "assertion"), body)
	}
	// A role not granted is refused too.
	w.Update(t, "alice", func(u *store.User) {})
	if resp, body = w.Refresh(t, tok, "?account=gov&role=Admin"); resp.StatusCode != 403 {
		t.Fatalf("ungranted role: %d\n%s", resp.StatusCode, body)
	}
}

func TestARefreshKeepsToTheCLISessionLimitAnAccountHasNow(t *testing.T) {
	w := newAWSWeb(t)
	// An unscoped session, made before prod's admin limited CLI sessions to an hour.
	tok := w.CLILogin(t, "/saml/ecp")
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.CLISessionMax = time.Hour; return nil }); err != nil {
		t.Fatal(err)
	}
	w.Clock.Advance(30 * time.Minute)
	if resp, body := w.Refresh(t, tok, "?account=prod"); resp.StatusCode != 200 {
		t.Fatalf("within the hour: %d\n%s", resp.StatusCode, body)
	}
	w.Clock.Advance(time.Hour)
	resp, body := w.Refresh(t, tok, "?account=prod")
	if resp.StatusCode != 401 || !strings.Contains(body, "run rolegate login again") {
		t.Fatalf("after prod's hour: %d\n%s", resp.StatusCode, body)
	}
	if resp, body = w.Refresh(t, tok, ""); resp.StatusCode != 401 {
		t.Fatalf("every account, prod among them, after prod's hour: %d\n%s", resp.StatusCode, body)
	}
}
