package idptest

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/store"
	"testing"
	"time"
)

// AWSWeb is a Web fixture with signing keys and AWS data: alice is in devs, which has ReadOnly in
// prod; alice herself has Admin there; prod has a tag rule; gov is a GovCloud account.
type AWSWeb struct {
	*Web
	Ring *certs.Keyring
	KEK  *certs.KEK
}

func NewAWSWeb(t testing.TB, demo ...string) *AWSWeb {
	t.Helper()
	return NewAWSWebWith(t, func(cfg *idp.Config) { cfg.DemoAccounts = demo })
}

// NewAWSWebWith is NewAWSWeb with settings changed by mod.
func NewAWSWebWith(t testing.TB, mod func(*idp.Config)) *AWSWeb {
	t.Helper()
	st := NewStore(t)
	w := &AWSWeb{Web: &Web{Store: st, Clock: NewClock(time.Now().UTC().Truncate(time.Second)), Hasher: NewHasher(), Logs: &Logs{}}}
	w.Ring = NewRing(t, st, w.Clock.Now)
	var h http.Handler
	w.Srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(w.Srv.Close)
	w.KEK = NewKEK(t)
	cfg := idp.Config{BaseURL: w.Srv.URL, Hasher: w.Hasher, Now: w.Clock.Now, Secrets: w.KEK}
	mod(&cfg)
	w.BaseURL = cfg.BaseURL
	h = idp.New(cfg, st, w.Ring, logger(w.Logs)).Handler()

	w.seedAWS(t)
	return w
}

// seedAWS stores the AWS data NewAWSWeb documents.
func (w *Web) seedAWS(t testing.TB) {
	t.Helper()
	ctx, st := context.Background(), w.Store
	w.AddUser(t, "alice", "correct horse battery", func(u *store.User) {
		u.Email, u.Attributes = "alice@example.com", map[string]string{"team": "platform"}
	})
	w.AddUser(t, "mallory", "correct horse battery")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateGroup(ctx, &store.Group{Name: "devs"}))
	must(st.AddGroupMember(ctx, "devs", "alice"))
	must(st.CreateAccount(ctx, &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS,
		SourceIdentitySource: store.FromUsername}))
	must(st.CreateAccount(ctx, &store.Account{ID: "444455556666", Alias: "gov", ProviderName: "Rolegate", Partition: store.PartitionGovCloud,
		Region: "us-gov-west-1"}))
	must(st.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: "prod", Role: "ReadOnly"}))
	must(st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "prod", Role: "Admin", SessionDuration: 2 * time.Hour}))
	must(st.CreateGrant(ctx, &store.Grant{User: "alice", AccountID: "gov", Role: "Auditor"}))
	must(st.CreateTagRule(ctx, &store.TagRule{AccountID: "prod", Key: "team", FromAttr: "team", Transitive: true}))
}

var (
	ActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)" id="aws-form">`)
	SAMLRE   = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	RelayRE  = regexp.MustCompile(`name="RelayState" value="([^"]*)"`)
)

// Post is what the auto-POST page would send.
type Post struct{ Action, Response, Relay string }

func SignInPost(t testing.TB, b *Browser, path string) Post {
	t.Helper()
	resp, body := b.Get(path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
	a, s := ActionRE.FindStringSubmatch(body), SAMLRE.FindStringSubmatch(body)
	if a == nil || s == nil {
		t.Fatalf("GET %s: no auto-POST form:\n%s", path, body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(s[1]))
	if err != nil {
		t.Fatal(err)
	}
	p := Post{Action: html.UnescapeString(a[1]), Response: string(raw)}
	if r := RelayRE.FindStringSubmatch(body); r != nil {
		p.Relay = html.UnescapeString(r[1])
	}
	return p
}

func (w *AWSWeb) Expect(t testing.TB, acs string) assertions.Expect {
	t.Helper()
	keys, err := w.Ring.Published(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := assertions.Expect{EntityID: w.Srv.URL + "/saml/metadata", ACS: acs, Now: time.Now()}
	for _, k := range keys {
		e.Certs = append(e.Certs, k.Cert)
	}
	return e
}

var portalLinkRE = regexp.MustCompile(`href="(/aws/signin\?[^"]*)"`)

// PortalLink returns the portal's link to account (an ID) with role ("" for all roles).
func (b *Browser) PortalLink(account, role string) string {
	b.T.Helper()
	_, body := b.Get("/")
	for _, m := range portalLinkRE.FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err == nil && u.Query().Get("account") == account && u.Query().Get("role") == role {
			return u.String()
		}
	}
	b.T.Fatalf("the portal has no link to account %s role %q:\n%s", account, role, body)
	return ""
}
