package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"rolegate/awslogin"
	"rolegate/awstest/ststest"
)

// TestCLIBrowserLoginThroughChromium runs `rolegate login`'s browser flow with a real Chromium in
// the person's place: the awslogin client listens on the loopback address and, instead of starting
// a browser, hands the URL to the test, which drives Chromium through the sign-in and the
// confirmation. Chromium delivers the code to the listener; the client trades it for the Response
// and STS (awstest/ststest, which checks the Response against the published metadata) takes it.
func TestCLIBrowserLoginThroughChromium(t *testing.T) {
	f := newFixture(t)

	// Before anyone signs in, a redirect off this machine is refused: no sign-in page, no redirect.
	evil := url.Values{"client_id": {"rolegate-cli"}, "redirect_uri": {"http://evil.example/cb"}, "state": {"state-0123456789abcdef"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	f.do("open an authorize URL that sends the code off this machine",
		chromedp.Navigate(f.base+"/cli/authorize?"+evil.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`p.alert`)),
	)
	if loc := run(f, "location", chromedp.Location()); !strings.HasPrefix(loc, f.base+"/cli/authorize?") {
		t.Fatalf("a non-loopback redirect_uri led to %s", loc)
	}
	if a := f.alert(); !strings.Contains(a, "redirect_uri must be") {
		t.Fatalf("the page says %q", a)
	}

	sts := ststest.New(t, ststest.Config{MetadataURL: f.base + "/saml/metadata", MaxSessionDuration: 4 * time.Hour})
	proxy, _ := url.Parse(sts.ProxyURL)
	stsClient := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: sts.CAPool}}}
	file := filepath.Join(t.TempDir(), "credentials")
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": file}
	opened := make(chan string, 1)
	l := &awslogin.Login{
		Source: &awslogin.Browser{URL: f.base, Out: io.Discard, Timeout: testTimeout,
			Open: func(u string) error { opened <- u; return nil }},
		Out: io.Discard, Env: func(k string) string { return env[k] }, HTTP: stsClient, Profile: "chromium", Account: "prod", Role: "Admin",
	}
	type result struct {
		res *awslogin.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := l.Run(context.Background())
		done <- result{res, err}
	}()
	var authorize string
	select {
	case authorize = <-opened:
	case r := <-done:
		t.Fatalf("the login ended before opening the browser: %v", r.err)
	case <-time.After(testTimeout):
		t.Fatal("the login opened no browser")
	}
	au, _ := url.Parse(authorize)
	listener := au.Query().Get("redirect_uri")
	if !strings.HasPrefix(listener, "http://127.0.0.1:") {
		t.Fatalf("the listener is %s", listener)
	}

	// Another page that reaches the listener with a code of its own and the wrong state is refused,
	// and the login goes on waiting.
	f.do("send a foreign answer to the listener",
		chromedp.Navigate(listener+"?code=forged-code&state=not-this-login-0123456789"),
		chromedp.WaitVisible(chromedp.CSS(`body`)),
	)
	if body := run(f, "the listener's answer", chromedp.Text(chromedp.CSS(`body`))); !strings.Contains(body, "does not belong") {
		t.Fatalf("the listener answered the foreign code with %q", body)
	}

	// The person signs in where the login sent them, confirms, and Chromium carries the code home.
	f.do("open the authorize URL signed out",
		chromedp.Navigate(authorize),
		chromedp.WaitVisible(signInPage),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), alicePW),
	)
	f.clickThrough("sign in", chromedp.CSS(`form[action="/login"] button[type=submit]`), chromedp.CSS(`#cli-approve`))
	if target := run(f, "the listener shown", chromedp.Text(chromedp.ID("cli-target"))); !strings.HasPrefix(listener, target) {
		t.Errorf("the page names %q as where the answer goes; the listener is %s", target, listener)
	}
	f.screenshot("cli-authorize")
	f.do("allow the command line",
		chromedp.Click(chromedp.ID("cli-approve")),
		chromedp.WaitVisible(chromedp.CSS(`body`)),
	)
	var r result
	select {
	case r = <-done:
	case <-time.After(testTimeout):
		t.Fatal("the login did not finish after the confirmation")
	}
	if r.err != nil {
		t.Fatalf("login: %v (browser at %s)", r.err, run(f, "location", chromedp.Location()))
	}
	if loc := run(f, "location", chromedp.Location()); !strings.HasPrefix(loc, listener+"?code=") {
		t.Errorf("the browser ended at %s", loc)
	}
	if body := run(f, "the listener's page", chromedp.Text(chromedp.CSS(`body`))); !strings.Contains(body, "Return to your terminal") {
		t.Errorf("the listener's page says %q", body)
	}
	calls := sts.Calls()
	if len(calls) != 1 || calls[0].Error != "" || !strings.HasSuffix(calls[0].RoleArn, ":role/Admin") {
		t.Fatalf("STS saw %+v", calls)
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), "[chromium]") || !strings.Contains(string(b), "aws_access_key_id = "+calls[0].AccessKeyID) {
		t.Fatalf("the credentials file:\n%s", b)
	}
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("Content Security Policy violations: %q", v)
	}
}

// TestCLIDeviceApprovalInChromium approves a device-code login on the approval page in Chromium:
// the code's link fills the form in, the page names the requesting machine, and after the click
// the command line's poll gets alice's Admin Response.
func TestCLIDeviceApprovalInChromium(t *testing.T) {
	f := newFixture(t)
	post := func(path string, form url.Values, into any) int {
		t.Helper()
		res, err := http.PostForm(f.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(into); err != nil {
			t.Fatalf("%s: %d, not JSON", path, res.StatusCode)
		}
		return res.StatusCode
	}
	var g struct {
		DeviceCode string `json:"device_code"`
		UserCode   string `json:"user_code"`
		Complete   string `json:"verification_uri_complete"`
	}
	if status := post("/cli/device/code", url.Values{"client_id": {"rolegate-cli"}, "account": {"prod"}, "role": {"Admin"},
		"device_name": {"build-host"}}, &g); status != http.StatusOK {
		t.Fatalf("device code: %d", status)
	}
	f.signIn()
	f.do("open the code's link", chromedp.Navigate(g.Complete), chromedp.WaitVisible(chromedp.ID("device-continue")))
	if v := run(f, "the code field", chromedp.Evaluate[string](`document.getElementById("user_code").value`)); v != g.UserCode {
		t.Fatalf("the form holds %q; want %q", v, g.UserCode)
	}
	f.clickThrough("continue with the code", chromedp.CSS("#device-continue"), chromedp.CSS("#device-approve"))
	if name := run(f, "the machine shown", chromedp.Text(chromedp.ID("device-name"))); name != "build-host" {
		t.Fatalf("the page names %q", name)
	}
	f.screenshot("cli-device")
	f.clickThrough("approve", chromedp.CSS("#device-approve"), chromedp.CSS("#device-done"))
	var a struct {
		SAMLResponse string `json:"saml_response"`
		Error        string `json:"error"`
	}
	if status := post("/cli/device/token", url.Values{"client_id": {"rolegate-cli"}, "device_code": {g.DeviceCode},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, &a); status != http.StatusOK {
		t.Fatalf("poll after approval: %d %s", status, a.Error)
	}
	f.checkResponse(acsPost{Host: "signin.aws.amazon.com", SAMLResponse: a.SAMLResponse}, f.metadataCerts())
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("Content Security Policy violations: %q", v)
	}
}
