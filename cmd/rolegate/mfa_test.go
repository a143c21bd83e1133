package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// mfaListJSONOut is the output of `user mfa list --json`.
type mfaListJSONOut struct {
	User    string `json:"user"`
	Factors []struct {
		ID         int64      `json:"id"`
		Kind       string     `json:"kind"`
		Name       string     `json:"name"`
		Confirmed  bool       `json:"confirmed"`
		CreatedAt  time.Time  `json:"created_at"`
		LastUsedAt *time.Time `json:"last_used_at"`
	} `json:"factors"`
	UnusedRecoveryCodes int `json:"unused_recovery_codes"`
}

func (c *cli) mfaList(t *testing.T, user string) mfaListJSONOut {
	t.Helper()
	var out mfaListJSONOut
	c.list(t, &out, "user", "mfa", "list", user, "--json")
	return out
}

// factors returns what the store keeps of user's second factors.
func factors(t *testing.T, st store.Store, user string) (*store.User, []*store.MFAFactor) {
	t.Helper()
	u, err := st.GetUser(context.Background(), user)
	if err != nil {
		t.Fatalf("GetUser(%s): %v", user, err)
	}
	fs, err := st.ListMFAFactors(context.Background(), u.ID)
	if err != nil {
		t.Fatalf("ListMFAFactors(%s): %v", user, err)
	}
	return u, fs
}

// enrolledSecret checks that out is one line holding the otpauth URI of an authenticator app for
// account, and returns the secret in it.
func enrolledSecret(t *testing.T, out, account string) []byte {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("enroll printed %q; want exactly one line, the URI", out)
	}
	u, err := url.Parse(strings.TrimSuffix(out, "\n"))
	if err != nil {
		t.Fatalf("enroll printed %q, not a URI: %v", out, err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Rolegate:"+account {
		t.Errorf("URI %s: want otpauth://totp/Rolegate:%s", u, account)
	}
	for k, v := range map[string]string{"issuer": "Rolegate", "digits": "6", "period": "30", "algorithm": "SHA1"} {
		if q.Get(k) != v {
			t.Errorf("URI %s: %s = %q, want %q", u, k, q.Get(k), v)
		}
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(q.Get("secret"))
	if err != nil || len(secret) != mfa.SecretSize {
		t.Fatalf("URI %s: secret %q is not base32 of %d bytes: %v", u, q.Get("secret"), mfa.SecretSize, err)
	}
	return secret
}

func TestMFAEnrollStoresTheURIsSecretSealedAndConfirmed(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "Alice", "--password-stdin", "--must-change=false")
		secret := enrolledSecret(t, c.ok(t, "", "user", "mfa", "enroll", "alice", "--totp"), "Alice")

		st := c.openStore(t)
		alice, fs := factors(t, st, "alice")
		if len(fs) != 1 {
			t.Fatalf("alice has %d factors after enroll, want 1", len(fs))
		}
		f := fs[0]
		if f.Kind != store.FactorTOTP || f.Name != mfa.TOTPName || !f.Confirmed || f.CredentialID != nil || f.LastStep != 0 {
			t.Errorf("stored factor = %+v; want a confirmed TOTP factor named %q, no credential ID, no step used", f, mfa.TOTPName)
		}
		if bytes.Contains(f.Secret, secret) {
			t.Errorf("the store holds the TOTP secret in the clear")
		}
		kek, _, err := certs.LoadKEK(c.getenv, c.dataDir, false)
		if err != nil {
			t.Fatalf("load the KEK: %v", err)
		}
		opened, err := mfa.OpenSecret(kek, alice.Subject, f.Secret)
		if err != nil || !bytes.Equal(opened, secret) {
			t.Fatalf("the stored secret opened with the KEK = %x, %v; want the URI's secret %x", opened, err, secret)
		}
		now := time.Now()
		if step, v := mfa.Check(opened, mfa.Code(secret, mfa.Step(now), mfa.Digits), now, f.LastStep); v != mfa.Valid || step != mfa.Step(now) {
			t.Errorf("the app's code now: step %d %v; want step %d Valid", step, v, mfa.Step(now))
		}

		events := c.audit(t, "--user", "alice")
		if len(events) != 2 || events[1].Type != "mfa.enroll" || events[1].User != "Alice" || events[1].Result != "ok" ||
			events[1].Details["kind"] != "totp" || events[1].Details["via"] != "cli" {
			t.Errorf("alice's audit events = %+v; want user.add then mfa.enroll (ok, kind=totp, via=cli)", events)
		}

		t.Run("a second enroll is a conflict that changes nothing", func(t *testing.T) {
			audits := auditCount(t, st)
			r := c.run("", "user", "mfa", "enroll", "ALICE", "--totp")
			if r.code != exitConflict || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
				!strings.Contains(r.stderr, "rolegate user mfa reset Alice") {
				t.Errorf("second enroll: exit %d, stdout %q, stderr %q; want exit %d and one line naming `rolegate user mfa reset Alice`",
					r.code, r.stdout, r.stderr, exitConflict)
			}
			if _, again := factors(t, st, "alice"); len(again) != 1 || again[0].ID != f.ID || !bytes.Equal(again[0].Secret, f.Secret) {
				t.Errorf("factors after the refused enroll = %+v; want the first one unchanged", again)
			}
			if n := auditCount(t, st); n != audits {
				t.Errorf("audit events %d -> %d after a refused enroll", audits, n)
			}
		})

		t.Run("a disabled user may be enrolled", func(t *testing.T) {
			c.ok(t, goodPassword+"\n", "user", "add", "bob", "--password-stdin", "--must-change=false")
			c.ok(t, "", "user", "disable", "bob")
			bobSecret := enrolledSecret(t, c.ok(t, "", "user", "mfa", "enroll", "bob", "--totp"), "bob")
			if bytes.Equal(bobSecret, secret) {
				t.Errorf("bob got alice's secret")
			}
			if _, fs := factors(t, st, "bob"); len(fs) != 1 || !fs[0].Confirmed {
				t.Errorf("bob's factors = %+v; want one confirmed", fs)
			}
		})

		t.Run("another key-encryption key than the signing keys' is refused", func(t *testing.T) {
			c.ok(t, goodPassword+"\n", "user", "add", "carol", "--password-stdin", "--must-change=false")
			_, other, err := certs.GenerateKEK()
			if err != nil {
				t.Fatal(err)
			}
			c.env[certs.EnvKEK] = other
			defer delete(c.env, certs.EnvKEK)
			r := c.run("", "user", "mfa", "enroll", "carol", "--totp")
			if r.code == 0 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "key-encryption key") {
				t.Errorf("enroll under another KEK: exit %d, stdout %q, stderr %q; want a failure naming the key-encryption key",
					r.code, r.stdout, r.stderr)
			}
			if _, fs := factors(t, st, "carol"); len(fs) != 0 {
				t.Errorf("carol has factors %+v after a refused enroll", fs)
			}
		})
	})
}

func TestMFAListShowsFactorsAndRecoveryCodesButNoSecrets(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
		if got := c.mfaList(t, "ALICE"); got.User != "alice" || got.Factors == nil || len(got.Factors) != 0 || got.UnusedRecoveryCodes != 0 {
			t.Errorf("mfa list before enroll = %+v; want alice with an empty list of factors and no codes", got)
		}
		if out := c.ok(t, "", "user", "mfa", "list", "alice"); out != "KIND  CONFIRMED  CREATED  LAST_USED  NAME\nunused recovery codes: 0\n" {
			t.Errorf("mfa list before enroll printed %q", out)
		}

		start := time.Now().Add(-time.Second)
		secret := enrolledSecret(t, c.ok(t, "", "user", "mfa", "enroll", "alice", "--totp"), "alice")
		st := c.openStore(t)
		ctx := context.Background()
		alice, fs := factors(t, st, "alice")
		_, hashes, err := mfa.NewRecoveryCodes()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ReplaceRecoveryCodes(ctx, alice.ID, hashes, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := st.UseRecoveryCode(ctx, alice.ID, hashes[0], time.Now()); err != nil {
			t.Fatal(err)
		}
		// A security key registered in the browser, named by the user with a character that is fine
		// in a name but not in a terminal cell: the table quotes it.
		cred := []byte("credential-id-bytes")
		key := &store.MFAFactor{UserID: alice.ID, Kind: store.FactorWebAuthn, Name: "yubi ☃ key", Secret: []byte(`{"public_key":"secret-ish"}`),
			CredentialID: cred, Confirmed: true}
		if err := st.CreateMFAFactor(ctx, key); err != nil {
			t.Fatal(err)
		}
		used := time.Now()
		if err := st.UseTOTPStep(ctx, fs[0].ID, mfa.Step(used), used); err != nil {
			t.Fatal(err)
		}

		got := c.mfaList(t, "alice")
		if got.User != "alice" || len(got.Factors) != 2 || got.UnusedRecoveryCodes != mfa.RecoveryCodes-1 {
			t.Fatalf("mfa list --json = %+v; want two factors and %d unused codes", got, mfa.RecoveryCodes-1)
		}
		app, sk := got.Factors[0], got.Factors[1]
		if app.ID != fs[0].ID || app.Kind != "totp" || app.Name != mfa.TOTPName || !app.Confirmed || app.CreatedAt.Before(start) ||
			app.LastUsedAt == nil || app.LastUsedAt.Sub(used).Abs() > time.Millisecond {
			t.Errorf("the app in mfa list --json = %+v; want the confirmed TOTP factor, created since the start, used at %v", app, used)
		}
		if sk.ID != key.ID || sk.Kind != "webauthn" || sk.Name != key.Name || !sk.Confirmed || sk.LastUsedAt != nil {
			t.Errorf("the security key in mfa list --json = %+v; want webauthn %q, confirmed, never used", sk, key.Name)
		}

		raw := c.ok(t, "", "user", "mfa", "list", "alice", "--json")
		table := c.ok(t, "", "user", "mfa", "list", "alice")
		for _, out := range []string{raw, table} {
			for _, leak := range []string{"secret", "credential", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)} {
				if strings.Contains(strings.ToLower(out), strings.ToLower(leak)) {
					t.Errorf("mfa list shows %q:\n%s", leak, out)
				}
			}
		}
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "KIND CONFIRMED CREATED LAST_USED NAME" ||
			lines[3] != "unused recovery codes: 9" {
			t.Fatalf("mfa list printed:\n%s\nwant a header, two factors and the count of codes", table)
		}
		if f := strings.Fields(lines[1]); len(f) != 5 || f[0] != "totp" || f[1] != "yes" || f[3] == "-" || f[4] != `"Authenticator\x20app"` {
			t.Errorf("the app's row is %q", lines[1])
		}
		if f := strings.Fields(lines[2]); len(f) != 5 || f[0] != "webauthn" || f[1] != "yes" || f[3] != "-" || f[4] != `"yubi\x20☃\x20key"` {
			t.Errorf("the security key's row is %q", lines[2])
		}
	})
}

func TestMFAResetRemovesFactorsAndRecoveryCodesAndEndsSessions(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		ctx := context.Background()
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
		c.ok(t, goodPassword+"\n", "user", "add", "bob", "--password-stdin", "--must-change=false")
		first := enrolledSecret(t, c.ok(t, "", "user", "mfa", "enroll", "alice", "--totp"), "alice")
		c.ok(t, "", "user", "mfa", "enroll", "bob", "--totp")
		st := c.openStore(t)

		// Recovery codes and a session that passed MFA, for alice and for bob.
		session := func(u *store.User) []byte {
			hash := make([]byte, 32)
			rand.Read(hash)
			now := time.Now()
			s := &store.Session{TokenHash: hash, UserID: u.ID, AuthMethods: "pwd,otp", AuthenticatedAt: now, CreatedAt: now,
				LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}
			if err := st.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			return hash
		}
		sessions := map[string][]byte{}
		for _, name := range []string{"alice", "bob"} {
			u, _ := factors(t, st, name)
			_, hashes, err := mfa.NewRecoveryCodes()
			if err != nil {
				t.Fatal(err)
			}
			if err := st.ReplaceRecoveryCodes(ctx, u.ID, hashes, time.Now()); err != nil {
				t.Fatal(err)
			}
			sessions[name] = session(u)
		}
		alice, _ := factors(t, st, "alice")
		if err := st.CreateMFAFactor(ctx, &store.MFAFactor{UserID: alice.ID, Kind: store.FactorWebAuthn, Name: "yubikey",
			Secret: []byte("{}"), CredentialID: []byte("cred-1"), Confirmed: true}); err != nil {
			t.Fatal(err)
		}

		out := c.ok(t, "", "user", "mfa", "reset", "ALICE")
		if out != "removed 2 second factors and the recovery codes of alice; signed out everywhere\n" {
			t.Errorf("mfa reset printed %q", out)
		}
		if _, fs := factors(t, st, "alice"); len(fs) != 0 {
			t.Errorf("alice's factors after reset = %+v; want none", fs)
		}
		if n, err := st.CountRecoveryCodes(ctx, alice.ID); err != nil || n != 0 {
			t.Errorf("alice's recovery codes after reset: %d, %v; want 0", n, err)
		}
		if _, err := st.GetSession(ctx, sessions["alice"], time.Now()); !store.IsCode(err, store.NotFound) {
			t.Errorf("alice's session after reset: %v; want it gone", err)
		}
		if got := c.mfaList(t, "alice"); len(got.Factors) != 0 || got.UnusedRecoveryCodes != 0 {
			t.Errorf("mfa list after reset = %+v; want nothing", got)
		}

		// Bob keeps everything.
		bob, fs := factors(t, st, "bob")
		if len(fs) != 1 {
			t.Errorf("bob's factors after alice's reset = %+v; want his app", fs)
		}
		if n, _ := st.CountRecoveryCodes(ctx, bob.ID); n != mfa.RecoveryCodes {
			t.Errorf("bob has %d recovery codes after alice's reset, want %d", n, mfa.RecoveryCodes)
		}
		if _, err := st.GetSession(ctx, sessions["bob"], time.Now()); err != nil {
			t.Errorf("bob's session after alice's reset: %v; want it alive", err)
		}

		events := c.audit(t, "--user", "alice")
		if last := events[len(events)-1]; last.Type != "mfa.reset" || last.Result != "ok" || last.Details["factors"] != "2" || last.Details["via"] != "cli" {
			t.Errorf("the last of alice's audit events = %+v; want mfa.reset (ok, factors=2, via=cli)", last)
		}

		// A new app after the reset gets a new secret; a reset with nothing to remove still succeeds.
		if again := enrolledSecret(t, c.ok(t, "", "user", "mfa", "enroll", "alice", "--totp"), "alice"); bytes.Equal(again, first) {
			t.Errorf("the app enrolled after a reset has the old secret")
		}
		if out := c.ok(t, "", "user", "mfa", "reset", "bob"); out != "removed 1 second factor and the recovery codes of bob; signed out everywhere\n" {
			t.Errorf("mfa reset of bob printed %q", out)
		}
		if out := c.ok(t, "", "user", "mfa", "reset", "bob"); !strings.HasPrefix(out, "removed 0 second factors ") {
			t.Errorf("a second mfa reset of bob printed %q", out)
		}
	})
}

func TestAccountRequireMFACanBeSetAtAddAndChangedWithSet(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--require-mfa")
		c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")

		required := func(t *testing.T) map[string]bool {
			t.Helper()
			var list []struct {
				Alias      string `json:"alias"`
				RequireMFA *bool  `json:"require_mfa"`
			}
			c.list(t, &list, "account", "list", "--json")
			out := map[string]bool{}
			for _, a := range list {
				if a.RequireMFA == nil {
					t.Fatalf("account list --json: %s has no require_mfa", a.Alias)
				}
				out[a.Alias] = *a.RequireMFA
			}
			return out
		}
		steps := []struct {
			name      string
			args      []string
			prod, dev bool
		}{
			{"add --require-mfa sets it, add without leaves it off", nil, true, false},
			{"set --require-mfa turns it on", []string{"account", "set", "dev", "--require-mfa"}, true, true},
			{"set --require-mfa=false turns it off", []string{"account", "set", "111122223333", "--require-mfa=false"}, false, true},
			{"set --require-mfa=true turns it on again", []string{"account", "set", "PROD", "--require-mfa=true"}, true, true},
			{"set without the flag keeps it", []string{"account", "set", "dev", "--region", "eu-west-1"}, true, true},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				if s.args != nil {
					c.ok(t, "", s.args...)
				}
				if got := required(t); got["prod"] != s.prod || got["dev"] != s.dev || len(got) != 2 {
					t.Errorf("require_mfa = %v; want prod %v, dev %v", got, s.prod, s.dev)
				}
			})
		}

		c.ok(t, "", "account", "set", "dev", "--require-mfa=false")
		table := c.ok(t, "", "account", "list")
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 3 || strings.Fields(lines[0])[6] != "MFA" {
			t.Fatalf("account list printed:\n%s\nwant a header with an MFA column and two accounts", table)
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if want := map[string]string{"prod": "required", "dev": "-"}[f[0]]; f[6] != want {
				t.Errorf("account list row %q: MFA column %q, want %q", l, f[6], want)
			}
		}

		var sets []string
		for _, e := range c.audit(t) {
			if e.Type == "account.set" {
				sets = append(sets, e.Details["require_mfa"])
			}
		}
		if strings.Join(sets, " ") != "true false true  false" {
			t.Errorf("account.set events carry require_mfa %q; want the value each time the flag was given", sets)
		}
	})
}
