package main

import (
	"context"
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

	"rolegate/awstest/ststest"
)

var (
	shownCodeRE = regexp.MustCompile(`\n    ([A-Z]{4}-[A-Z]{4})\n`)
	hiddenRE    = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	choiceRE    = regexp.MustCompile(`<input type="radio" name="choice" value="([^"]*)"`)
)

// TestLoginWithADeviceCodeAgainstARunningServer is what a new user does over SSH: the admin sets
// up a user, an account and a grant with the CLI and runs serve; `rolegate login --device-code`
// shows a code; the user approves it in a browser elsewhere; the profile is written.
func TestLoginWithADeviceCodeAgainstARunningServer(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{}}
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	c.ok(t, "", "grant", "add", "--user", "alice", "--account", "prod", "--role", "Admin")
	srv := c.serve(t)
	sts := ststest.New(t, ststest.Config{MetadataURL: srv.url + "/saml/metadata"})
	file := filepath.Join(t.TempDir(), "credentials")
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": file, "AWS_ENDPOINT_URL_STS": sts.Endpoint, "AWS_CA_BUNDLE": sts.CAFile, "SSH_CONNECTION": "192.0.2.1 50000 192.0.2.2 22",
		"XDG_CONFIG_HOME": t.TempDir()}
	var stdout syncBuffer
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		// No --device-code: over SSH without a display it is the default.
		done <- run(context.Background(), []string{"login", "--url", srv.url, "--account", "prod", "--profile", "ssh"},
			strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	}()
	approveDeviceCode(t, srv.url, &stderr)

	select {
	case exit := <-done:
		if exit != 0 || !strings.Contains(stdout.String(), "profile ssh in "+file+": prod (111122223333) Admin") {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", exit, stdout.String(), stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("login did not finish after the approval:\n%s", stderr.String())
	}
	if iss := sts.Issued(); len(iss) != 1 || !strings.HasSuffix(iss[0].RoleArn, ":role/Admin") {
		t.Fatalf("STS issued %+v", iss)
	}
	srv.stop(t)
}

// approveDeviceCode waits for the code a device-code login shows on stderr, then, as alice in a
// browser elsewhere, signs in, types it, checks that the page names this machine, and approves.
func approveDeviceCode(t *testing.T, idpURL string, stderr *syncBuffer) {
	t.Helper()
	var code string
	for deadline := time.Now().Add(time.Minute); code == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := shownCodeRE.FindStringSubmatch(stderr.String()); m != nil {
			code = m[1]
		}
	}
	if code == "" || !strings.Contains(stderr.String(), "/cli/device on any device") {
		t.Fatalf("login showed no code and address:\n%s", stderr.String())
	}

	// Elsewhere, alice signs in, types the code and approves.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page := func(res *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	form := func(p string) url.Values {
		f := url.Values{}
		for _, m := range hiddenRE.FindAllStringSubmatch(p, -1) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
		return f
	}
	f := form(page(browser.Get(idpURL + "/login")))
	f.Set("username", "alice")
	f.Set("password", goodPassword)
	page(browser.PostForm(idpURL+"/login", f))
	f = form(page(browser.Get(idpURL + "/cli/device")))
	f.Set("user_code", strings.ToLower(code))
	shown := page(browser.PostForm(idpURL+"/cli/device", f))
	host, _ := os.Hostname()
	m := choiceRE.FindStringSubmatch(shown)
	if m == nil || !strings.Contains(shown, html.EscapeString(host)) {
		t.Fatalf("the approval page does not show this machine (%s) and a role:\n%s", host, shown)
	}
	f = form(shown)
	f.Set("choice", html.UnescapeString(m[1]))
	f.Set("step", "approve")
	if approved := page(browser.PostForm(idpURL+"/cli/device", f)); !strings.Contains(approved, "Approved") {
		t.Fatalf("approving:\n%s", approved)
	}
}

// TestCredentialProcessRefreshesAfterADeviceCodeLogin: the device-code login keeps a CLI session
// too, so credential-process renews the credentials with no prompt and no password anywhere.
func TestCredentialProcessRefreshesAfterADeviceCodeLogin(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{}}
	r := newCredRig(t, c)
	delete(c.env, "ROLEGATE_USERNAME")
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), c.args("login", "--device-code", "--url", r.srv.url, "--profile", "work", "--account", "prod"),
			strings.NewReader(""), &stdout, &stderr, c.getenv)
	}()
	approveDeviceCode(t, r.srv.url, &stderr)
	select {
	case exit := <-done:
		if exit != 0 || strings.Contains(stderr.String(), "issued no Rolegate session") {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", exit, stdout.String(), stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("login did not finish after the approval:\n%s", stderr.String())
	}
	var all, list []cliSessionJSON
	c.list(t, &all, "session", "list", "--user", "alice", "--json")
	for _, s := range all {
		if s.Kind == kindCLI { // the approving browser's web session is listed too
			list = append(list, s)
		}
	}
	if len(list) != 1 {
		t.Fatalf("sessions %+v; want one CLI session", all)
	}
	r.age(t, 4*time.Minute)
	p := r.process(t)
	if iss := r.sts.Issued(); len(iss) != 2 || p.AccessKeyId != iss[1].AccessKeyID {
		t.Fatalf("no refresh through the device-code login's session: %+v, STS issued %d", p, len(iss))
	}
	// Revoked, it refreshes nothing.
	c.ok(t, "", "session", "revoke", list[0].ID)
	r.ended(t)
	r.srv.stop(t)
}
