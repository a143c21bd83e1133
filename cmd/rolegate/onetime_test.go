package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/idp"
)

// onetimeJSON is what the one-time password tests read from user list --json.
type onetimeJSON struct {
	Name       string     `json:"name"`
	MustChange bool       `json:"must_change_password"`
	ExpiresAt  *time.Time `json:"password_expires_at"`
}

func TestAdminSetPasswordsAreOneTimeWhenAsked(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		steps := []struct {
			name    string
			stdin   string
			args    []string
			user    string
			oneTime bool
			printed string
		}{
			{"user add --must-change makes a one-time password", goodPassword + "\n",
				[]string{"user", "add", "ann", "--password-stdin", "--must-change"}, "ann", true, "added user ann (one-time"},
			{"user add without the flag makes a lasting one, as before", goodPassword + "\n",
				[]string{"user", "add", "abe", "--password-stdin"}, "abe", false, "added user abe\n"},
			{"user add --must-change=false makes a lasting one", goodPassword + "\n",
				[]string{"user", "add", "ben", "--password-stdin", "--must-change=false"}, "ben", false, "added user ben\n"},
			{"user passwd --must-change makes a one-time password", "another good long password\n",
				[]string{"user", "passwd", "ben", "--password-stdin", "--must-change"}, "ben", true, "password set for ben (one-time"},
			{"user passwd --must-change=false makes a lasting one", "a third good long password\n",
				[]string{"user", "passwd", "ann", "--password-stdin", "--must-change=false"}, "ann", false, "password set for ann\n"},
			{"user passwd --must-change makes it one-time again", "a fourth good long password\n",
				[]string{"user", "passwd", "ann", "--password-stdin", "--must-change"}, "ann", true, "password set for ann (one-time"},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				before := time.Now()
				if out := c.ok(t, s.stdin, s.args...); !strings.Contains(out, s.printed) {
					t.Errorf("printed %q, want %q", out, s.printed)
				}
				var list []onetimeJSON
				c.list(t, &list, "user", "list", "--json")
				for _, u := range list {
					if u.Name != s.user {
						continue
					}
					if u.MustChange != s.oneTime || (u.ExpiresAt != nil) != s.oneTime {
						t.Fatalf("%s = %+v; want one-time %v, with an expiry exactly when one-time", s.user, u, s.oneTime)
					}
					if s.oneTime && (u.ExpiresAt.Before(before.Add(idp.OneTimePasswordTTL-time.Minute)) || u.ExpiresAt.After(time.Now().Add(idp.OneTimePasswordTTL))) {
						t.Errorf("%s's one-time password expires at %v, want %v from now", s.user, u.ExpiresAt, idp.OneTimePasswordTTL)
					}
					return
				}
				t.Fatalf("%s is not listed: %+v", s.user, list)
			})
		}
	})
}

func TestMustChangeWithoutAPasswordIsRefused(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	c.ok(t, "", "migrate") // a store to look in: the refused add must not be what makes it
	r := c.run("", "user", "add", "cat", "--no-password", "--must-change")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "--must-change needs a password") {
		t.Fatalf("exit %d, stderr %q; want an invalid-input exit that names --must-change", r.code, r.stderr)
	}
	if _, ok := c.users(t)["cat"]; ok {
		t.Errorf("the refused add created cat")
	}
	c.ok(t, "", "user", "add", "dan", "--no-password") // the default alone does not get in the way
}

// The helpdesk's one-time password signs in once, and only to the password change.
func TestAOneTimePasswordSetByTheCLILeadsToThePasswordChange(t *testing.T) {
	c := newCLI(t, "sqlite")
	c.ok(t, goodPassword+"\n", "user", "add", "eve", "--password-stdin", "--must-change")
	srv := c.serve(t)
	defer srv.stop(t)
	browser, res := signIn(t, srv.url, "eve", goodPassword)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/account/password" {
		t.Fatalf("sign-in with the one-time password: %d to %q, want 303 to /account/password", res.StatusCode, loc)
	}
	res, err := browser.Get(srv.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/account/password") {
		t.Fatalf("the portal with a one-time password: %d to %q, want the password page", res.StatusCode, loc)
	}
}

// signIn posts the sign-in form at idpURL as a browser would (its CSRF cookie and token), without
// following the redirect; it returns the browser and the answer.
func signIn(t *testing.T, idpURL, user, pw string) (*http.Client, *http.Response) {
	t.Helper()
	browser, res, err := trySignIn(idpURL, user, pw)
	if err != nil {
		t.Fatal(err)
	}
	return browser, res
}

// trySignIn is signIn for a goroutine other than the test's: it returns what went wrong.
func trySignIn(idpURL, user, pw string) (*http.Client, *http.Response, error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(idpURL + "/login")
	if err != nil {
		return nil, nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(string(body), -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	f.Set("username", user)
	f.Set("password", pw)
	res, err = browser.PostForm(idpURL+"/login", f)
	if err != nil {
		return nil, nil, err
	}
	res.Body.Close()
	return browser, res, nil
}

// A password an admin types at the prompt is one-time unless they say otherwise; one a script pipes
// in lasts unless it says otherwise (TestAdminSetPasswordsAreOneTimeWhenAsked).
func TestAPasswordTypedAtThePromptIsOneTimeByDefault(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	for _, s := range []struct {
		args    []string
		user    string
		oneTime bool
	}{
		{[]string{"user", "add", "pat"}, "pat", true},
		{[]string{"user", "add", "kim", "--must-change=false"}, "kim", false},
		{[]string{"user", "passwd", "kim"}, "kim", true},
		{[]string{"user", "passwd", "pat", "--must-change=false"}, "pat", false},
	} {
		main, tty := openPTY(t)
		if _, err := main.WriteString(goodPassword + "\n" + goodPassword + "\n"); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr strings.Builder
		if code := run(c.context(), c.args(s.args...), tty, &stdout, &stderr, c.getenv); code != 0 {
			t.Fatalf("%q at a terminal: exit %d, stderr %q", s.args, code, stderr.String())
		}
		var list []onetimeJSON
		c.list(t, &list, "user", "list", "--json")
		found := false
		for _, u := range list {
			if u.Name == s.user {
				found = true
				if u.MustChange != s.oneTime || (u.ExpiresAt != nil) != s.oneTime {
					t.Errorf("%q: %+v, want one-time %v", s.args, u, s.oneTime)
				}
			}
		}
		if !found {
			t.Fatalf("%q: %s is not listed", s.args, s.user)
		}
	}
}
