package awslogin_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/awslogin"
	"rolegate/awstest/ststest"
	"rolegate/store"
)

// webPerson is someone at a browser (a Go client with cookies), signed in at the IdP, who does
// what the confirmation page asks.
type webPerson struct {
	t    *testing.T
	idp  string
	c    *http.Client
	last string // the body of the last loopback answer
}

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	choiceRE = regexp.MustCompile(`<input type="radio" name="choice" value="([^"]*)"`)
)

func signedIn(t *testing.T, idpURL, user string) *webPerson {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &webPerson{t: t, idp: idpURL, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form := p.form(p.get(idpURL + "/login"))
	form.Set("username", user)
	form.Set("password", "correct horse battery")
	if res := p.post(idpURL+"/login", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	return p
}

func (p *webPerson) get(u string) string {
	p.t.Helper()
	res, err := p.c.Get(u)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func (p *webPerson) post(u string, form url.Values) *http.Response {
	p.t.Helper()
	res, err := p.c.PostForm(u, form)
	if err != nil {
		p.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func (p *webPerson) form(page string) url.Values {
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// answer opens the authorize URL, answers with decision, and follows the IdP's redirect to the
// command line's listener, as the browser would.
func (p *webPerson) answer(decision string) func(string) error {
	return func(authorize string) error {
		page := p.get(authorize)
		form := p.form(page)
		if m := choiceRE.FindStringSubmatch(page); m != nil {
			form.Set("choice", html.UnescapeString(m[1]))
		}
		form.Set("decision", decision)
		res := p.post(p.idp+"/cli/authorize", form)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "http://127.0.0.1:") {
			return errors.New("the IdP did not send the browser to the listener: " + res.Status + " " + loc)
		}
		go func() { p.last = p.get(loc) }()
		return nil
	}
}

// stsAndFile is an STS stand-in trusting p (Admin up to 4 h) and a credentials file, named in env.
func (p *realIdP) stsAndFile(t *testing.T) (*ststest.Server, string, map[string]string) {
	sts := ststest.New(t, ststest.Config{MetadataURL: p.url + "/saml/metadata",
		MaxSessionDurations: map[string]time.Duration{pair(prodID, "Admin").RoleARN: 4 * time.Hour}})
	file := filepath.Join(t.TempDir(), "credentials")
	return sts, file, map[string]string{"AWS_SHARED_CREDENTIALS_FILE": file, "AWS_ENDPOINT_URL_STS": sts.Endpoint, "AWS_CA_BUNDLE": sts.CAFile}
}

func TestBrowserLoginWritesTheProfile(t *testing.T) {
	p := newRealIdP(t)
	sts, file, env := p.stsAndFile(t)
	person := signedIn(t, p.url, "alice")
	var opened string
	var out strings.Builder
	l := &awslogin.Login{
		Source: &awslogin.Browser{URL: p.url, Out: &out, Open: func(u string) error {
			opened = u
			return person.answer("approve")(u)
		}},
		Out: io.Discard, Env: func(k string) string { return env[k] }, Profile: "web", Account: "prod",
	}
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if iss := sts.Issued(); len(iss) != 1 || iss[0].RoleArn != res.Role.RoleARN || iss[0].DurationSeconds != 7200 {
		t.Fatalf("STS issued %+v", iss)
	}
	if !strings.Contains(readFile(t, file), "[web]") {
		t.Fatal("no profile written")
	}
	u, _ := url.Parse(opened)
	q := u.Query()
	if !strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("state")) < 43 || len(q.Get("code_challenge")) != 43 || q.Get("account") != "prod" {
		t.Fatalf("the authorize URL %s", opened)
	}
	if !strings.Contains(out.String(), opened) {
		t.Errorf("the URL is not shown for a person whose browser did not open:\n%s", out.String())
	}
}

func TestBrowserListenerIgnoresAnAnswerForAnotherLogin(t *testing.T) {
	p := newRealIdP(t)
	person := signedIn(t, p.url, "alice")
	var forged string
	b := &awslogin.Browser{URL: p.url, Out: io.Discard, Open: func(authorize string) error {
		// Another page (or another login's answer) reaches the port first, with its own code.
		u, _ := url.Parse(authorize)
		redirect := u.Query().Get("redirect_uri")
		res, err := http.Get(redirect + "?code=attacker-code&state=another-login-state-0123456789")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		forged = res.Status + " " + string(b)
		return person.answer("approve")(authorize)
	}}
	resp, err := b.SAMLResponse(context.Background(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(forged, "400 ") || !strings.Contains(forged, "does not belong") {
		t.Fatalf("the foreign answer got %q", forged)
	}
	if len(resp.Roles) != 1 || resp.Roles[0].Name != "Admin" {
		t.Fatalf("roles %+v", resp.Roles)
	}
}

func TestBrowserLoginStopsInPlainWords(t *testing.T) {
	p := newRealIdP(t)
	t.Run("cancelled in the browser", func(t *testing.T) {
		b := &awslogin.Browser{URL: p.url, Out: io.Discard, Open: signedIn(t, p.url, "alice").answer("deny")}
		_, err := b.SAMLResponse(context.Background(), "prod")
		wantErr(t, err, store.Forbidden, "you cancelled the sign-in in the browser")
	})
	t.Run("nobody answers", func(t *testing.T) {
		b := &awslogin.Browser{URL: p.url, Out: io.Discard, Timeout: 300 * time.Millisecond, Open: func(string) error { return nil }}
		_, err := b.SAMLResponse(context.Background(), "prod")
		wantErr(t, err, store.Unauthorized, "no answer from the browser", "--device-code")
	})
	t.Run("no role in the account asked for", func(t *testing.T) {
		person := signedIn(t, p.url, "alice")
		var page string
		b := &awslogin.Browser{URL: p.url, Out: io.Discard, Timeout: time.Second, Open: func(u string) error {
			page = person.get(u)
			return nil
		}}
		_, err := b.SAMLResponse(context.Background(), "staging")
		wantErr(t, err, store.Unauthorized, "no answer from the browser")
		if !strings.Contains(page, "you hold no role that matches") {
			t.Fatalf("the browser shows:\n%s", page)
		}
	})
	t.Run("plain http to another machine", func(t *testing.T) {
		b := &awslogin.Browser{URL: "http://idp.example.com", Out: io.Discard, Open: func(string) error { t.Fatal("opened"); return nil }}
		_, err := b.SAMLResponse(context.Background(), "")
		wantErr(t, err, store.Invalid, "plain http")
	})
}

func TestOpenBrowserRunsTheBrowserVariable(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "browser")
	got := filepath.Join(dir, "opened")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s|' \"$@\" > "+got+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	const u = "http://127.0.0.1:8443/cli/authorize?state=a&code_challenge=b"
	for _, c := range []struct{ browser, want string }{
		{script, u + "|"},
		{script + " --new-window:/usr/bin/firefox", "--new-window|" + u + "|"}, // the first of a list
		{script + " --app=%s", "--app=" + u + "|"},                             // %s stands for the URL
	} {
		os.Remove(got)
		if err := awslogin.OpenBrowser(func(k string) string { return map[string]string{"BROWSER": c.browser}[k] })(u); err != nil {
			t.Fatal(err)
		}
		var b []byte
		for range 100 {
			if b, _ = os.ReadFile(got); len(b) > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if string(b) != c.want {
			t.Errorf("BROWSER=%q got %q; want %q", c.browser, b, c.want)
		}
	}
	if err := awslogin.OpenBrowser(func(string) string { return filepath.Join(dir, "missing") })(u); err == nil {
		t.Error("a browser that does not exist opened")
	}
}
