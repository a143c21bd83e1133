package awslogin_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"rolegate/awslogin"
	"rolegate/awstest/ststest"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/mfa"
	"rolegate/idp/password"
	"rolegate/store"
	"rolegate/store/sqlite"
)

// realIdP is a Rolegate server (idp.New over an embedded store) with two users: alice, password
// only, granted Admin in prod for two hours; bob, with an authenticator app, granted Dev in prod.
type realIdP struct {
	url    string
	st     store.Store
	secret []byte        // bob's TOTP secret
	skew   *atomic.Int64 // how far the server's clock is ahead, in nanoseconds
}

func newRealIdP(t *testing.T) *realIdP {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	skew := new(atomic.Int64)
	now := func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
	ring := certs.NewKeyring(st, kek, 2048, "e2e", now)
	if err := ring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	hasher := password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	h = idp.New(idp.Config{BaseURL: srv.URL, Hasher: hasher, Secrets: kek, Now: now}, st, ring, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		hash, err := hasher.Hash(ctx, "correct horse battery")
		must(err)
		must(st.CreateUser(ctx, &store.User{Name: name, PasswordHash: hash}))
	}
	must(st.CreateAccount(ctx, &store.Account{ID: prodID, Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS}))
	must(st.CreateAccount(ctx, &store.Account{ID: stagingID, Alias: "staging", ProviderName: "Rolegate", Partition: store.PartitionAWS}))
	must(st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "prod", Role: "Admin", SessionDuration: 2 * time.Hour}))
	must(st.CreateGrant(ctx, &store.Grant{User: "bob", AccountID: "prod", Role: "Dev"}))

	bob, err := st.GetUser(ctx, "bob")
	must(err)
	secret, err := mfa.NewSecret()
	must(err)
	sealed, err := mfa.SealSecret(kek, bob.Subject, secret)
	must(err)
	must(st.CreateMFAFactor(ctx, &store.MFAFactor{UserID: bob.ID, Kind: store.FactorTOTP, Name: mfa.TOTPName, Secret: sealed, Confirmed: true}))
	return &realIdP{url: srv.URL, st: st, secret: secret, skew: skew}
}

func (p *realIdP) metadata(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(p.url + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	md, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("metadata: %d %s", resp.StatusCode, md)
	}
	return md
}

func (p *realIdP) code(offset time.Duration) string {
	return mfa.Code(p.secret, mfa.Step(time.Now().Add(offset)), mfa.Digits)
}

// TestEndToEnd runs a real Rolegate server, the ECP client, the STS stand-in (which checks the
// Response against the server's published metadata) and the credentials file.
func TestEndToEnd(t *testing.T) {
	p := newRealIdP(t)
	admin := pair(prodID, "Admin").RoleARN
	sts := ststest.New(t, ststest.Config{MetadataURL: p.url + "/saml/metadata", MaxSessionDurations: map[string]time.Duration{admin: 4 * time.Hour}})
	file := filepath.Join(t.TempDir(), "credentials")
	env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": file, "AWS_ENDPOINT_URL_STS": sts.Endpoint, "AWS_CA_BUNDLE": sts.CAFile}
	login := func(user, otp, account string, prompt awslogin.Prompter) (*awslogin.Result, error) {
		var out strings.Builder
		l := &awslogin.Login{
			Source:  &awslogin.ECP{URL: p.url, Creds: awslogin.ECPCredentials{Username: user, Password: "correct horse battery", OTP: otp}, Prompt: prompt},
			Prompt:  prompt,
			Out:     &out,
			Env:     func(k string) string { return env[k] },
			Profile: user,
			Account: account,
		}
		return l.Run(context.Background())
	}

	t.Run("password only: the profile holds what STS issued for the granted role", func(t *testing.T) {
		res, err := login("alice", "", "prod", nil)
		if err != nil {
			t.Fatal(err)
		}
		iss := sts.Issued()
		if len(iss) != 1 || iss[0].RoleArn != admin || iss[0].DurationSeconds != 7200 || iss[0].Verdict.SessionName != "alice" {
			t.Fatalf("STS issued %+v; the duration must be the grant's two hours", iss)
		}
		got := readFile(t, file)
		if res.Role.Label() != "prod (111122223333) Admin" || !strings.Contains(got, "[alice]") ||
			!strings.Contains(got, "aws_session_token = "+iss[0].SessionToken) || !strings.Contains(got, "x_rolegate_account_alias = prod") {
			t.Fatalf("role %q, credentials file:\n%s", res.Role.Label(), got)
		}
	})
	t.Run("every account: the roles come from the Response", func(t *testing.T) {
		res, err := login("alice", "", "", nil)
		if err != nil || res.Role.RoleARN != admin || res.Role.Alias != "prod" {
			t.Fatalf("%+v %v; the alias must come from the earlier login", res, err)
		}
	})
	var used string // the code bob signed in with
	t.Run("with an authenticator app: a missing code is refused in plain words", func(t *testing.T) {
		_, err := login("bob", "", "prod", nil)
		wantErr(t, err, store.Unauthorized, "needs a one-time code", "ROLEGATE_OTP")
	})
	t.Run("with an authenticator app: a wrong code is refused", func(t *testing.T) {
		_, err := login("bob", "000000", "prod", nil)
		if p.code(0) == "000000" {
			t.Skip("the right code happens to be 000000")
		}
		wantErr(t, err, store.Unauthorized, "one-time code was refused")
	})
	t.Run("with an authenticator app: the code asked at the terminal signs in", func(t *testing.T) {
		used = p.code(0)
		_, err := login("bob", "", "prod", &fakePrompt{interactive: true, answers: []string{used}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(readFile(t, file), "[bob]") {
			t.Fatal("no bob profile")
		}
	})
	t.Run("with an authenticator app: the same code twice is refused", func(t *testing.T) {
		_, err := login("bob", used, "prod", nil)
		wantErr(t, err, store.Unauthorized, "one-time code was refused")
	})
	t.Run("an account without a grant is refused", func(t *testing.T) {
		_, err := login("alice", "", "staging", nil)
		wantErr(t, err, store.Forbidden, "granted you no role", "rolegate grant add")
	})
	t.Run("without an override the client reaches the regional STS host, and the other STS stand-in agrees", func(t *testing.T) {
		// awstest/ststest checks the Response on its own and answers for AWS's host names through
		// a proxy with a test CA: the request goes to the real name, sts.eu-west-1.amazonaws.com.
		other := ststest.New(t, ststest.Config{MetadataURL: p.url + "/saml/metadata", MaxSessionDuration: 4 * time.Hour})
		proxy, _ := url.Parse(other.ProxyURL)
		var hosts []string
		hc := &http.Client{Transport: &http.Transport{
			Proxy:           func(r *http.Request) (*url.URL, error) { hosts = append(hosts, r.URL.Host); return proxy, nil },
			TLSClientConfig: &tls.Config{RootCAs: other.CAPool},
		}}
		regional := filepath.Join(t.TempDir(), "credentials")
		env := map[string]string{"AWS_SHARED_CREDENTIALS_FILE": regional, "AWS_REGION": "eu-west-1"}
		l := &awslogin.Login{
			Source:  &awslogin.ECP{URL: p.url, Creds: awslogin.ECPCredentials{Username: "alice", Password: "correct horse battery"}},
			Out:     io.Discard,
			Env:     func(k string) string { return env[k] },
			HTTP:    hc,
			Profile: "regional",
			Account: "prod",
		}
		if _, err := l.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		calls := other.Calls()
		if len(hosts) != 1 || hosts[0] != "sts.eu-west-1.amazonaws.com" || len(calls) != 1 || calls[0].Error != "" || calls[0].DurationSeconds != 7200 {
			t.Fatalf("hosts %q, calls %+v", hosts, calls)
		}
		if !strings.Contains(readFile(t, regional), "aws_access_key_id = "+calls[0].AccessKeyID) {
			t.Fatal("the profile does not hold the credentials the other stand-in issued")
		}
		// A standard AWS client, the SDK's own shared-file loader, takes the profile as written and
		// signs a call with it that the stand-in answers for the role it issued the keys to.
		// Pointed at the stand-in as a user would point it: the proxy, and the CA in AWS_CA_BUNDLE.
		t.Setenv("AWS_CA_BUNDLE", other.CAFile)
		sdkHTTP := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.Proxy = http.ProxyURL(proxy) })
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithSharedCredentialsFiles([]string{regional}),
			config.WithSharedConfigFiles([]string{filepath.Join(t.TempDir(), "no-config")}), config.WithSharedConfigProfile("regional"),
			config.WithRegion("eu-west-1"), config.WithHTTPClient(sdkHTTP))
		if err != nil {
			t.Fatal(err)
		}
		id, err := awssts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("the SDK with the written profile: %v", err)
		}
		if got := aws.ToString(id.Arn); !strings.HasPrefix(got, "arn:aws:sts::111122223333:assumed-role/") {
			t.Fatalf("GetCallerIdentity with the written profile: %q", got)
		}
	})
	t.Run("a wrong password is refused", func(t *testing.T) {
		l := &awslogin.ECP{URL: p.url, Creds: awslogin.ECPCredentials{Username: "alice", Password: "wrong"}}
		_, err := l.SAMLResponse(context.Background(), "prod")
		wantErr(t, err, store.Unauthorized, "wrong username or password")
	})
}
