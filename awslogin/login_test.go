package awslogin_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/awslogin"
	"rolegate/awslogin/logintest"
	"rolegate/awstest/ststest"
	"rolegate/store"
)

var alice = logintest.User{Password: "correct horse battery", Roles: []assertions.RolePair{pair(prodID, "admin")}}

func TestLoginWritesWhatSTSIssued(t *testing.T) {
	r := newRig(t, map[string]logintest.User{"alice": alice})
	r.idp.SessionDuration = 2 * time.Hour
	r.sts.Configure(func(c *ststest.Config) { c.MaxSessionDurations[pair(prodID, "admin").RoleARN] = 4 * time.Hour })
	r.idp.Omitted = "staging (444455556666): it requires a second factor"
	res, err := r.login("alice", alice.Password, "", &fakePrompt{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.out.String(), "Rolegate left out: staging (444455556666): it requires a second factor") {
		t.Fatalf("the person was not told of the accounts left out: %q", r.out.String())
	}
	issued := r.sts.Issued()
	if len(issued) != 1 {
		t.Fatalf("STS issued %d sets of credentials", len(issued))
	}
	iss := issued[0]
	if iss.DurationSeconds != 7200 || iss.Verdict.SessionName != "alice" || iss.RoleArn != pair(prodID, "admin").RoleARN {
		t.Fatalf("STS got %+v; the duration must default to the assertion's SessionDuration", iss)
	}
	got := readFile(t, r.file)
	for _, want := range []string{"[work]", "aws_access_key_id = " + iss.AccessKeyID, "aws_secret_access_key = " + iss.SecretAccessKey,
		"aws_session_token = " + iss.SessionToken, "x_security_token_expires = " + iss.Expiration.Format(time.RFC3339),
		"x_principal_arn = arn:aws:sts::111122223333:assumed-role/admin/alice"} {
		if !strings.Contains(got, want) {
			t.Errorf("credentials file lacks %q:\n%s", want, got)
		}
	}
	if fi, _ := os.Stat(r.file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	if res.Role.Account != prodID || res.File != r.file {
		t.Fatalf("result %+v", res)
	}
	for _, h := range r.idp.Requests() {
		if h.Get("Authorization") == "" || h.Get("PAOS") == "" || !strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
			t.Fatalf("ECP request headers %v", h)
		}
	}
}

func TestLoginDurationFlagOverridesTheAssertion(t *testing.T) {
	r := newRig(t, map[string]logintest.User{"alice": alice})
	r.idp.SessionDuration = 2 * time.Hour
	r.sts.Configure(func(c *ststest.Config) { c.MaxSessionDurations[pair(prodID, "admin").RoleARN] = 12 * time.Hour })
	if _, err := r.login("alice", alice.Password, "", nil, func(l *awslogin.Login) { l.Duration = 90 * time.Minute }); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(r.sts.Issued()[0].DurationSeconds) * time.Second; d != 90*time.Minute {
		t.Fatalf("STS got duration %s, want the flag's 1h30m", d)
	}
}

func TestLoginWithOneTimeCode(t *testing.T) {
	bob := logintest.User{Password: "bobs password!", OTP: "123456", Roles: []assertions.RolePair{pair(prodID, "dev")}}
	users := map[string]logintest.User{"bob": bob}
	t.Run("the code from the environment is sent up front", func(t *testing.T) {
		r := newRig(t, users)
		if _, err := r.login("bob", bob.Password, "123456", nil, nil); err != nil {
			t.Fatal(err)
		}
		if h := r.idp.Requests(); len(h) != 1 || h[0].Get("X-Rolegate-OTP") != "123456" {
			t.Fatalf("requests %v", h)
		}
	})
	t.Run("at a terminal the code is asked for when the IdP wants one", func(t *testing.T) {
		r := newRig(t, users)
		p := &fakePrompt{interactive: true, answers: []string{"123456"}}
		if _, err := r.login("bob", bob.Password, "", p, nil); err != nil {
			t.Fatal(err)
		}
		if len(p.asked) != 1 || p.asked[0] != "One-time code: " {
			t.Fatalf("asked %q", p.asked)
		}
	})
	t.Run("without a terminal a missing code says how to give one", func(t *testing.T) {
		r := newRig(t, users)
		_, err := r.login("bob", bob.Password, "", &fakePrompt{}, nil)
		wantErr(t, err, store.Unauthorized, "needs a one-time code", "ROLEGATE_OTP")
		noFile(t, r.file)
	})
	t.Run("a wrong code says to use a fresh one", func(t *testing.T) {
		r := newRig(t, users)
		_, err := r.login("bob", bob.Password, "654321", nil, nil)
		wantErr(t, err, store.Unauthorized, "one-time code was refused", "fresh code")
		noFile(t, r.file)
	})
}

func TestLoginRefusals(t *testing.T) {
	users := map[string]logintest.User{"alice": alice}
	admin := pair(prodID, "admin")
	cases := []struct {
		name  string
		setup func(*rig)
		pw    string
		edit  func(*awslogin.Login)
		code  store.Code
		words []string
	}{
		{name: "a wrong password is refused in plain words", pw: "guess",
			code: store.Unauthorized, words: []string{"wrong username or password"}},
		{name: "a throttled sign-in says how long to wait", setup: func(r *rig) { r.idp.RetryAfter = 2 * time.Minute },
			code: store.Unauthorized, words: []string{"too many failed sign-ins", "wait 2m0s", "Too many failed attempts"}},
		{name: "an account with no grant is refused by the IdP", edit: func(l *awslogin.Login) { l.Account = "staging" },
			code: store.Forbidden, words: []string{"no role", "rolegate grant add", "You have no role in this account."}},
		{name: "a role the Response does not hold is refused naming the roles there are", edit: func(l *awslogin.Login) { l.Role = "root" },
			code: store.Forbidden, words: []string{`no role named "root"`, "(111122223333 admin)"}},
		{name: "a Response signed by a key the provider does not hold is refused as STS would",
			setup: func(r *rig) { r.idp.Key, _ = samltestKey(t) },
			code:  store.Unauthorized, words: []string{"could not validate", "InvalidIdentityToken", "metadata"}},
		{name: "an expired Response is refused as STS would", setup: func(r *rig) {
			r.sts.Configure(func(c *ststest.Config) { c.Now = func() time.Time { return time.Now().Add(10 * time.Minute) } })
		},
			code: store.Unauthorized, words: []string{"expired", "clock", "ExpiredTokenException"}},
		{name: "a role whose trust policy trusts another provider is refused", setup: func(r *rig) {
			r.sts.Configure(func(c *ststest.Config) { c.Untrusted = append(c.Untrusted, admin.RoleARN) })
		}, code: store.Forbidden, words: []string{"trust policy", admin.ProviderARN, "AccessDenied"}},
		{name: "a duration above the role's maximum says to ask for less", edit: func(l *awslogin.Login) { l.Duration = 2 * time.Hour },
			code: store.Invalid, words: []string{"more than role admin allows", "shorter --duration", "MaxSessionDuration"}},
		{name: "a claim the IdP provider rejects says what to check", setup: func(r *rig) {
			r.sts.Configure(func(c *ststest.Config) {
				c.Refuse = func(string) (string, string) { return "IDPRejectedClaim", "Authentication failed." }
			})
		}, code: store.Unauthorized, words: []string{"rejected the sign-in claim", "Rolegate", "IDPRejectedClaim"}},
		{name: "a region STS is off in says to pick another", setup: func(r *rig) {
			r.sts.Configure(func(c *ststest.Config) {
				c.Refuse = func(string) (string, string) { return "RegionDisabledException", "STS is not activated" }
			})
		}, code: store.Forbidden, words: []string{"not enabled in this region", "--region"}},
		{name: "a region of another partition is refused before STS", edit: func(l *awslogin.Login) { l.Region = "cn-north-1" },
			code: store.Invalid, words: []string{"cn-north-1", "not in partition aws"}},
		{name: "a profile name the INI format would misread is refused", edit: func(l *awslogin.Login) { l.Profile = "work]\n[default" },
			code: store.Invalid, words: []string{"invalid profile name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, users)
			if c.setup != nil {
				c.setup(r)
			}
			pw := alice.Password
			if c.pw != "" {
				pw = c.pw
			}
			_, err := r.login("alice", pw, "", &fakePrompt{}, c.edit)
			wantErr(t, err, c.code, c.words...)
			noFile(t, r.file)
		})
	}
}

// tampering is a Source that changes the Response after the IdP signed it.
type tampering struct {
	awslogin.Source
	edit func(*etree.Document)
}

func (s tampering) SAMLResponse(ctx context.Context, account string) (*awslogin.Response, error) {
	resp, err := s.Source.SAMLResponse(ctx, account)
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(resp.Raw); err != nil {
		return nil, err
	}
	s.edit(doc)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	out, err := awslogin.ParseResponse(raw)
	if err != nil {
		return nil, err
	}
	out.ACS = resp.ACS
	return out, nil
}

func TestLoginAResponseEditedAfterSigningIsRefused(t *testing.T) {
	r := newRig(t, map[string]logintest.User{"alice": alice})
	other := pair("999988887777", "admin")
	_, err := r.login("alice", alice.Password, "", nil, func(l *awslogin.Login) {
		l.Source = tampering{Source: l.Source, edit: func(d *etree.Document) {
			for _, v := range d.FindElements("//AttributeValue") {
				if strings.Contains(v.Text(), "saml-provider") {
					v.SetText(other.RoleValue()) // grant oneself a role in another account
				}
			}
		}}
	})
	wantErr(t, err, store.Unauthorized, "InvalidIdentityToken")
	noFile(t, r.file)
	if len(r.sts.Issued()) != 0 {
		t.Fatal("STS issued credentials for an edited Response")
	}
}

func wantErr(t *testing.T, err error, code store.Code, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s", code)
	}
	if store.ErrorCode(err) != code {
		t.Fatalf("code %s, want %s: %v", store.ErrorCode(err), code, err)
	}
	msg := store.ErrorMessage(err)
	if code == store.Internal {
		msg = err.Error()
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
}

func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s was written after a refusal", path)
	}
}
