package awslogin_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rolegate/awslogin"
	"rolegate/awstest/ststest"
	"rolegate/store"
)

func TestConsoleSignInGoesThroughThePartitionsFederationEndpoint(t *testing.T) {
	p := newRealIdP(t)
	aws := ststest.New(t, ststest.Config{MetadataURL: p.url + "/saml/metadata", MaxSessionDuration: 4 * time.Hour})
	proxy, _ := url.Parse(aws.ProxyURL)
	var hosts []string
	hc := &http.Client{
		Transport: &http.Transport{
			Proxy:           func(r *http.Request) (*url.URL, error) { hosts = append(hosts, r.URL.Host); return proxy, nil },
			TLSClientConfig: &tls.Config{RootCAs: aws.CAPool},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/credentials"}
	l := &awslogin.Login{
		Source:  &awslogin.ECP{URL: p.url, Creds: awslogin.ECPCredentials{Username: "alice", Password: "correct horse battery"}},
		Out:     io.Discard,
		Env:     func(k string) string { return env[k] },
		HTTP:    hc,
		Profile: "console",
		Account: "prod",
	}
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hosts = nil
	link, err := awslogin.ConsoleLogin(context.Background(), hc, store.PartitionAWS, res.Creds, p.url, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || u.Host != "signin.aws.amazon.com" || u.Path != "/federation" || u.Query().Get("Action") != "login" ||
		u.Query().Get("Issuer") != p.url || u.Query().Get("Destination") != "https://console.aws.amazon.com/" || u.Query().Get("SigninToken") == "" {
		t.Fatalf("login URL %q", link)
	}
	if len(hosts) != 1 || hosts[0] != "signin.aws.amazon.com:443" && hosts[0] != "signin.aws.amazon.com" {
		t.Fatalf("reached %q", hosts)
	}
	// The browser's step: the stand-in knows the token and sends it on to the console.
	resp, err := hc.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://console.aws.amazon.com/" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := aws.Consoles(); len(got) != 1 || !strings.HasSuffix(got[0], "assumed-role/Admin/alice") {
		t.Fatalf("console sessions %v", got)
	}

	// A GovCloud role goes to GovCloud's endpoint and console, never the commercial one.
	hosts = nil
	link, err = awslogin.ConsoleLogin(context.Background(), hc, store.PartitionGovCloud, res.Creds, p.url, "")
	if err != nil || !strings.HasPrefix(link, "https://signin.amazonaws-us-gov.com/federation?") ||
		!strings.Contains(link, url.QueryEscape("https://console.amazonaws-us-gov.com/")) || !strings.HasPrefix(hosts[0], "signin.amazonaws-us-gov.com") {
		t.Fatalf("GovCloud: %q %v %q", link, err, hosts)
	}

	// Credentials the stand-in never issued, or a forged secret, get no sign-in token.
	forged := *res.Creds
	forged.SecretAccessKey = strings.Repeat("0", 40)
	if _, err := awslogin.ConsoleLogin(context.Background(), hc, store.PartitionAWS, &forged, p.url, ""); store.ErrorCode(err) != store.Forbidden {
		t.Fatalf("forged secret: %v", err)
	}
	// A sign-in token the endpoint never gave is refused at login.
	resp, err = hc.Get(strings.Replace(link, "SigninToken=", "SigninToken=x", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a made-up token: %d", resp.StatusCode)
	}
	// Only https endpoints take the credentials.
	if _, err := awslogin.ConsoleLogin(context.Background(), hc, store.PartitionAWS, res.Creds, p.url, "http://signin.aws.amazon.com/federation"); store.ErrorCode(err) != store.Invalid {
		t.Fatalf("plain http endpoint: %v", err)
	}
}

// A federation endpoint that cannot be reached says so without the request's URL, which carries
// the secret key and session token in its query (the error went to stderr, and so to CI logs).
func TestConsoleUnreachableEndpointKeepsTheKeysOutOfTheError(t *testing.T) {
	creds := &awslogin.Credentials{AccessKeyID: "ASIAEXAMPLEEXAMPLE01", SecretAccessKey: "SECRETsecretSECRETsecretSECRETsecret0000",
		SessionToken: "TOKENtokenTOKENtoken", Expiration: time.Now().Add(time.Hour)}
	_, err := awslogin.ConsoleLogin(context.Background(), &http.Client{Timeout: 5 * time.Second}, store.PartitionAWS, creds,
		"https://idp.example", "https://127.0.0.1:1/federation")
	if err == nil || store.ErrorCode(err) != store.Internal || strings.Contains(err.Error(), "SECRET") ||
		strings.Contains(err.Error(), "TOKEN") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("error %v", err)
	}
}
