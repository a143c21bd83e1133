package idp_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

// The Scale benchmarks are the server's work for a sign-in as a user's roles and session tags grow
// (issue 14: "the cost of 1, 10, 50, 200 roles and of 20 tags"), on the real SQLite store, the
// handler alone without the network. assertions' BenchmarkAWSSignInScale is the same Response
// without the store and the page.

var (
	scaleRoles = []int{1, 10, 50, 200}
	scaleTags  = []int{0, 20}
)

// scaleWeb is a server where bob, through his group, holds roles roles: all in account "wide"
// (100000000000) when oneAccount, else one (team-000-PowerUserAccess) in each of roles accounts
// team-000... (100000000000 up). Every account has tags session-tag rules, half of them
// transitive and half from bob's attributes. bob is signed in on the browser it returns.
func scaleWeb(t testing.TB, roles, tags int, oneAccount bool) (*idptest.AWSWeb, *idptest.Browser) {
	t.Helper()
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) { cfg.RateBurst = 1 << 30 }) // the clock stands still: no refill
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Store.CreateGroup(ctx, &store.Group{Name: "scale"}))
	attrs := map[string]string{}
	accounts, perAccount := roles, 1
	if oneAccount {
		accounts, perAccount = 1, roles
	}
	for a := range accounts {
		id, alias := fmt.Sprintf("%012d", 100000000000+a), fmt.Sprintf("team-%03d", a)
		if oneAccount {
			alias = "wide"
		}
		must(w.Store.CreateAccount(ctx, &store.Account{ID: id, Alias: alias, ProviderName: "Rolegate", Partition: store.PartitionAWS}))
		for r := range perAccount {
			must(w.Store.CreateGrant(ctx, &store.Grant{Group: "scale", AccountID: id, Role: fmt.Sprintf("team-%03d-PowerUserAccess", r)}))
		}
		for i := range tags {
			rule := &store.TagRule{AccountID: id, Key: fmt.Sprintf("cost-centre-%02d", i), Transitive: i%2 == 0}
			if i%2 == 0 {
				rule.FromAttr = rule.Key
				attrs[rule.Key] = fmt.Sprintf("attribute-value-%02d", i)
			} else {
				rule.Value = fmt.Sprintf("platform-engineering-%02d", i)
			}
			must(w.Store.CreateTagRule(ctx, rule))
		}
	}
	w.AddUser(t, "bob", idptest.GoodPassword, func(u *store.User) { u.Attributes = attrs })
	must(w.Store.AddGroupMember(ctx, "scale", "bob"))
	b := w.Browser(t)
	b.Login("bob", idptest.GoodPassword)
	return w, b
}

// A Response for every account a user holds reads the store as often for 30 accounts as for one:
// the accounts and their tag rules at once, not a query or two per account (BenchmarkCLIRefreshScale
// at roles=200 was four times the roles=1 time before).
func TestEveryAccountSignInReadsTheStoreAsOftenWhateverTheAccounts(t *testing.T) {
	var first map[string]int
	for _, n := range []int{1, 3, 30} {
		w, _ := scaleWeb(t, n, 2, false)
		tok := cliLogin(t, w, "bob")
		var body string
		got := storeCalls(t, w.Web, func() {
			var resp *http.Response
			if resp, body = w.Refresh(t, tok, ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("%d accounts: %d\n%s", n, resp.StatusCode, body)
			}
		})
		raw := body // ECP's envelope carries the Response as XML
		if roles := strings.Count(raw, ":role/team-000-PowerUserAccess<"); roles != n ||
			strings.Count(raw, "PrincipalTag:cost-centre-0") != 2 || strings.Count(raw, "attribute-value-00") != 1 {
			t.Errorf("%d accounts: %d roles in the Response, or not its two tags once each:\n%s", n, roles, raw)
		}
		if first == nil {
			first = got
			// The accounts twice: the session's lifetime (cliauth), then the plans.
			if got["ListAccountsByID"] != 2 || got["ListTagRulesOf"] != 1 || got["GetAccount"] != 0 || got["ListTagRules"] != 0 {
				t.Errorf("store calls %v: want the accounts and the tag rules read at once", got)
			}
		} else if !maps.Equal(got, first) {
			t.Errorf("%d accounts: store calls %v; for one account %v", n, got, first)
		}
	}
}

// BenchmarkAWSSignInPageScale is GET /aws/signin for bob of scaleWeb, roles=N/tags=T:
//   - link=role: one role of one account (the portal's role link), N roles across N accounts held:
//     the Response carries one Role value whatever N;
//   - link=account: every role of the one account that grants all N (the portal's "all roles"
//     link): N Role values, and AWS shows its role chooser.
func BenchmarkAWSSignInPageScale(b *testing.B) {
	for _, n := range scaleRoles {
		for _, t := range scaleTags {
			for _, link := range []struct {
				name, path string
				one        bool
			}{
				{"role", "/aws/signin?account=team-000&role=team-000-PowerUserAccess", false},
				{"account", "/aws/signin?account=wide", true},
			} {
				b.Run(fmt.Sprintf("roles=%d/tags=%d/link=%s", n, t, link.name), func(b *testing.B) {
					w, br := scaleWeb(b, n, t, link.one)
					size := benchGet(b, w.Web, br, link.path)
					b.ReportMetric(float64(size), "bytes/page")
				})
			}
		}
	}
}

// BenchmarkCLIRefreshScale is POST /cli/refresh without an account (rolegate credential-process,
// or rolegate login's every-role Response; ECP without an account is the same after its
// password check): bob of scaleWeb holds one role in each of N accounts, each planned, combined
// into one Response of N Role values, and signed.
func BenchmarkCLIRefreshScale(b *testing.B) {
	for _, n := range scaleRoles {
		for _, t := range scaleTags {
			b.Run(fmt.Sprintf("roles=%d/tags=%d", n, t), func(b *testing.B) {
				w, _ := scaleWeb(b, n, t, false)
				req := httptest.NewRequest(http.MethodPost, w.Srv.URL+"/cli/refresh", nil)
				req.Header.Set("Authorization", "Bearer "+cliLogin(b, w, "bob"))
				size := benchServe(b, w.Web, req)
				b.ReportMetric(float64(size), "bytes/envelope")
				b.ReportMetric(float64(base64.StdEncoding.EncodedLen(size)), "b64/envelope")
			})
		}
	}
}

// BenchmarkPortalScale is the portal of bob of scaleWeb, N roles across N accounts.
func BenchmarkPortalScale(b *testing.B) {
	for _, n := range scaleRoles {
		b.Run(fmt.Sprintf("roles=%d", n), func(b *testing.B) {
			w, br := scaleWeb(b, n, 0, false)
			b.ReportMetric(float64(benchGet(b, w.Web, br, "/")), "bytes/page")
		})
	}
}

// cliLogin signs user in over ECP, as rolegate login does, asking for a CLI session, and returns
// its token.
func cliLogin(t testing.TB, w *idptest.AWSWeb, user string) string {
	t.Helper()
	resp, body := w.ECP(t, idptest.ECPCall{User: user, PW: idptest.GoodPassword, Body: w.ECPBody(),
		Hdr: []string{"X-Rolegate-CLI-Session", "request", "X-Rolegate-Host", "laptop"}})
	tok := resp.Header.Get("X-Rolegate-CLI-Session")
	if resp.StatusCode != http.StatusOK || tok == "" {
		t.Fatalf("no CLI session: %d\n%s", resp.StatusCode, body)
	}
	return tok
}
