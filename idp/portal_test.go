package idp_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

// PortalByteBudget is the most HTML the portal may send a user with 200 accounts of two roles
// each (three labels, five favourites): the README states it.
const PortalByteBudget = 256 << 10

var (
	roleRowRE = regexp.MustCompile(`<li data-r="([^"]*)"( hidden)?>`)
	accountRE = regexp.MustCompile(`<li class="card account" id="a-(\d{12})"[^>]*?( hidden)?>`)
)

// shown lists what the page shows unhidden: accounts by ID, and roles as ID/ROLE.
func shown(body string) (accounts, roles []string) {
	for _, card := range strings.Split(body, `<li class="card account"`)[1:] {
		m := accountRE.FindStringSubmatch(`<li class="card account"` + card)
		if m == nil || m[2] != "" {
			continue
		}
		accounts = append(accounts, m[1])
		for _, r := range roleRowRE.FindAllStringSubmatch(card, -1) {
			if r[2] == "" {
				roles = append(roles, m[1]+"/"+html.UnescapeString(r[1]))
			}
		}
	}
	return accounts, roles
}

// TestThePortalFiltersWithoutJavaScript: ?q= shows only what matches (every word, in an alias,
// account ID, label or role name, ignoring case), keeps the rest hidden for the script, counts
// what it shows, and says so when nothing matches.
func TestThePortalFiltersWithoutJavaScript(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	ctx := context.Background()
	if _, err := w.Store.UpdateAccount(ctx, "gov", func(a *store.Account) error { a.Label = "Sandbox"; return nil }); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	for _, tt := range []struct {
		name, q         string
		accounts, roles []string
	}{
		{"no filter shows everything", "", []string{"444455556666", "111122223333"},
			[]string{"444455556666/Auditor", "111122223333/Admin", "111122223333/ReadOnly"}},
		{"an alias shows its account's roles", "PROD", []string{"111122223333"}, []string{"111122223333/Admin", "111122223333/ReadOnly"}},
		{"part of an account ID", "4445555", []string{"444455556666"}, []string{"444455556666/Auditor"}},
		{"a role name, in any case", "readonly", []string{"111122223333"}, []string{"111122223333/ReadOnly"}},
		{"a label", "sandbox", []string{"444455556666"}, []string{"444455556666/Auditor"}},
		{"every word must match", "prod admin", []string{"111122223333"}, []string{"111122223333/Admin"}},
		{"words that match apart but not together", "gov admin", nil, nil},
		{"nothing matches", "nope", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.Get("/?" + url.Values{"q": {tt.q}}.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d\n%s", resp.StatusCode, body)
			}
			accounts, roles := shown(body)
			if strings.Join(accounts, ",") != strings.Join(tt.accounts, ",") || strings.Join(roles, ",") != strings.Join(tt.roles, ",") {
				t.Fatalf("shows accounts %q roles %q; want %q %q", accounts, roles, tt.accounts, tt.roles)
			}
			if n := strings.Count(body, `<li data-r=`); n != 3 {
				t.Errorf("the page has %d role rows; want all 3, hidden or not, for the script", n)
			}
			if want := fmt.Sprintf(">%d of 3 roles</p>", len(tt.roles)); !strings.Contains(body, want) {
				t.Errorf("the status does not say %s", want)
			}
			noMatch := strings.Contains(body, `<p id="no-match" class="card empty">`)
			if noMatch != (len(tt.roles) == 0) {
				t.Errorf("the no-match message shows: %v; want %v", noMatch, len(tt.roles) == 0)
			}
			if !strings.Contains(body, `name="q" value="`+html.EscapeString(tt.q)+`"`) {
				t.Errorf("the filter field does not keep %q", tt.q)
			}
		})
	}
	// The field is the first control of the page's content, and is focused when it opens.
	_, body := b.Get("/")
	main := body[strings.Index(body, `<main`):]
	first := regexp.MustCompile(`<(a|input|button|select|textarea)\b[^>]*>`).FindString(main)
	if !strings.Contains(first, `id="q"`) || !strings.Contains(first, "autofocus") {
		t.Errorf("the first control in <main> is %s; want the filter, autofocused", first)
	}
	if !strings.Contains(body, `<label for="q">`) {
		t.Errorf("the filter has no label")
	}
}

// TestPortalFavouritesNeedCSRFAndStayWithTheirUser: a star is a POST with the session's CSRF
// token, for a role the user holds; it shows at the top for that user only, and comes off again.
func TestPortalFavouritesNeedCSRFAndStayWithTheirUser(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	ctx := context.Background()
	bob := w.AddUser(t, "bob", idptest.GoodPassword)
	if err := w.Store.AddGroupMember(ctx, "devs", "bob"); err != nil {
		t.Fatal(err)
	}
	alice, err := w.Store.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a := w.Browser(t)
	a.Login("alice", idptest.GoodPassword)
	favs := func(u *store.User) int {
		t.Helper()
		list, err := w.Store.ListFavourites(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	star := url.Values{"add": {"111122223333 ReadOnly"}, "q": {"read"}}

	refusals := []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
	}{
		{"without a token", url.Values{"add": {"111122223333 ReadOnly"}}, nil, 403},
		{"with a wrong token", url.Values{"add": {"111122223333 ReadOnly"}, "csrf_token": {"x"}}, nil, 403},
		{"from another site", nil, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"for a role not granted", url.Values{"add": {"111122223333 Root"}}, nil, 403},
		{"for an account not granted", url.Values{"add": {"999999999999 ReadOnly"}}, nil, 403},
		{"without an account and role", url.Values{"add": {"ReadOnly"}}, nil, 400},
		{"both adding and removing", url.Values{"add": {"111122223333 ReadOnly"}, "remove": {"111122223333 Admin"}}, nil, 400},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			form := tt.form
			if form == nil {
				form = url.Values{"add": {"111122223333 ReadOnly"}}
			}
			if _, ok := form["csrf_token"]; !ok && tt.name != "without a token" {
				form.Set("csrf_token", a.Token("/"))
			}
			resp, body := a.Do(http.MethodPost, "/portal/favourites", form, tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d; want %d\n%s", resp.StatusCode, tt.status, body)
			}
			if n := favs(alice); n != 0 {
				t.Fatalf("a refused star stored %d favourites", n)
			}
		})
	}

	resp, body := a.Post("/", "/portal/favourites", star)
	idptest.WantRedirect(t, resp, body, "/?q=read#a-111122223333")
	_, page := a.Get("/")
	top := section(t, page, "fav-title")
	if !strings.Contains(top, `>ReadOnly</a>`) || !strings.Contains(top, `name="remove" value="111122223333 ReadOnly" aria-pressed="true"`) {
		t.Fatalf("alice's favourites section:\n%s", top)
	}
	a.Post("/", "/portal/favourites", star) // twice: still one
	if n := favs(alice); n != 1 {
		t.Fatalf("alice has %d favourites after starring one role twice", n)
	}

	// Bob holds the same role and sees no star of alice's; his own removal cannot take hers off.
	b := w.Browser(t)
	b.Login("bob", idptest.GoodPassword)
	_, page = b.Get("/")
	if strings.Contains(page, `id="fav-title"`) || strings.Contains(page, `aria-pressed="true"`) {
		t.Fatalf("bob sees alice's favourite:\n%s", page)
	}
	resp, body = b.Post("/", "/portal/favourites", url.Values{"remove": {"111122223333 ReadOnly"}})
	idptest.WantRedirect(t, resp, body, "/#a-111122223333")
	if favs(alice) != 1 || favs(bob) != 0 {
		t.Fatalf("bob's removal: alice has %d, bob %d", favs(alice), favs(bob))
	}

	resp, body = a.Post("/", "/portal/favourites", url.Values{"remove": {"111122223333 ReadOnly"}})
	idptest.WantRedirect(t, resp, body, "/#a-111122223333")
	if _, page = a.Get("/"); strings.Contains(page, `id="fav-title"`) || favs(alice) != 0 {
		t.Fatalf("after taking the star off alice still has it:\n%s", page)
	}
}

// section is the <section> of the page labelled by the heading whose id is id.
func section(t *testing.T, page, id string) string {
	t.Helper()
	i := strings.Index(page, `aria-labelledby="`+id+`"`)
	if i < 0 {
		t.Fatalf("no section %s in:\n%s", id, page)
	}
	return page[i : i+strings.Index(page[i:], "</section>")]
}

// TestThePortalShowsRecentRolesDurationsAndMFA: the role last signed in with is at the top; each
// role says the session AWS gives it and whether its account needs a second factor.
func TestThePortalShowsRecentRolesDurationsAndMFA(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	ctx := context.Background()
	if _, err := w.Store.UpdateAccount(ctx, "gov", func(a *store.Account) error {
		a.SessionDuration, a.RequireMFA = 90*time.Minute, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	_, page := b.Get("/")
	if strings.Contains(page, `id="recent-title"`) {
		t.Fatalf("a portal with no sign-in yet lists recent roles")
	}
	for _, want := range []string{
		`>Admin</a><span class="meta">2h</span>`,            // the grant's duration
		`>ReadOnly</a><span class="meta">1h</span>`,         // AWS's default
		`>Auditor</a><span class="meta">1h30m · MFA</span>`, // the account's, and its second factor
		`All my roles here</a> <span class="meta">2h</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the portal lacks %s", want)
		}
	}
	idptest.SignInPost(t, b, b.PortalLink("111122223333", "ReadOnly"))
	idptest.SignInPost(t, b, b.PortalLink("111122223333", ""))      // all roles at once: not one role used
	idptest.SignInPost(t, b, b.PortalLink("111122223333", "Admin")) // newest first
	idptest.SignInPost(t, b, b.PortalLink("111122223333", "Admin"))
	_, page = b.Get("/")
	recent := section(t, page, "recent-title")
	if got := regexp.MustCompile(`>([A-Za-z]+)</a>`).FindAllStringSubmatch(recent, -1); len(got) != 2 || got[0][1] != "Admin" || got[1][1] != "ReadOnly" {
		t.Fatalf("recently used %q; want Admin then ReadOnly, once each:\n%s", got, recent)
	}
	// A role no longer granted leaves the list.
	grants, err := w.Store.ListGrants(ctx, store.GrantFilter{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if g.Role == "Admin" {
			if err := w.Store.DeleteGrant(ctx, g.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, page = b.Get("/")
	if recent = section(t, page, "recent-title"); strings.Contains(recent, "Admin") {
		t.Fatalf("a role no longer granted is still recent:\n%s", recent)
	}
}

// TestThePortalEscapesLabelsQueriesAndRelayState: what an admin or a link put on the page is text.
func TestThePortalEscapesLabelsQueriesAndRelayState(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	const evil = `"><img src=x onerror=alert(1)>`
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.Label = evil; return nil }); err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	_, page := b.Get("/?" + url.Values{"q": {evil}, "relay_state": {"https://console.aws.amazon.com/" + evil}}.Encode())
	if strings.Contains(page, "<img") || strings.Contains(page, evil) {
		t.Fatalf("something reached the page unescaped:\n%s", page)
	}
	_, page = b.Get("/")
	if !strings.Contains(page, `<h2 id="g0">&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</h2>`) {
		t.Errorf("the label is not shown as text:\n%s", page)
	}
	if _, err := w.Store.UpdateAccount(context.Background(), "prod", func(a *store.Account) error { a.Alias = "<b>"; return nil }); !store.IsCode(err, store.Invalid) {
		t.Errorf("an alias with markup was stored: %v", err)
	}
}

// TestThePortalCarriesRelayStateIntoItsLinks: a deep link /?relay_state=URL reaches AWS through
// every link of an account whose partition's console it names, signed for this session.
func TestThePortalCarriesRelayStateIntoItsLinks(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	const deep = "https://console.aws.amazon.com/s3/home"
	_, page := b.Get("/?" + url.Values{"relay_state": {deep}, "q": {"admin"}}.Encode())
	links := regexp.MustCompile(`href="(/aws/signin\?[^"]*)"`).FindAllStringSubmatch(page, -1)
	carried := 0
	for _, l := range links {
		u, _ := url.Parse(html.UnescapeString(l[1]))
		switch u.Query().Get("account") {
		case "111122223333":
			if u.Query().Get("relay_state") != deep {
				t.Errorf("prod's link %s does not carry the deep link", u)
			}
			carried++
		case "444455556666":
			if u.Query().Has("relay_state") {
				t.Errorf("GovCloud's link %s carries a commercial console URL", u)
			}
		}
	}
	if carried != 3 { // Admin, ReadOnly, all roles
		t.Fatalf("%d of prod's links carry relay_state; want 3", carried)
	}
	if !strings.Contains(page, `<input type="hidden" name="relay_state" value="`+deep+`">`) {
		t.Errorf("the filter form and the star form do not keep relay_state")
	}
	for _, l := range links {
		if u, _ := url.Parse(html.UnescapeString(l[1])); u.Query().Get("role") == "Admin" && u.Query().Get("account") == "111122223333" {
			p := idptest.SignInPost(t, b, u.String())
			if p.Relay != deep {
				t.Errorf("the Admin link posts RelayState %q; want %q", p.Relay, deep)
			}
			_, body := b.Get(u.String())
			if strings.Contains(body, "did not come from your accounts page") {
				t.Errorf("the portal's deep link asks for confirmation: its token does not cover relay_state")
			}
		}
	}
	resp, body := b.Post("/", "/portal/favourites", url.Values{"add": {"111122223333 Admin"}, "q": {"admin"}, "relay_state": {deep}})
	idptest.WantRedirect(t, resp, body, "/?"+url.Values{"q": {"admin"}, "relay_state": {deep}}.Encode()+"#a-111122223333")

	_, page = b.Get("/?" + url.Values{"relay_state": {"https://evil.example/"}}.Encode())
	if !strings.Contains(page, "not an AWS console page") || strings.Contains(page, "relay_state=https") || strings.Contains(page, "evil.example") {
		t.Errorf("a relay_state off AWS is carried or not refused:\n%s", page)
	}
}

// portal200 is a server where alice, signed in on the browser it returns, holds ReadOnly and
// PowerUser (through devs) in 200 accounts labelled prod, staging and sandbox in turn, has starred
// five of those roles and has signed in with one.
func portal200(t testing.TB) (*idptest.AWSWeb, *idptest.Browser) {
	t.Helper()
	w := idptest.NewAWSWeb(t)
	ctx := context.Background()
	labels := []string{"prod", "staging", "sandbox"}
	alice, err := w.Store.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		id := fmt.Sprintf("%012d", 900000000000+i)
		a := &store.Account{ID: id, Alias: fmt.Sprintf("team-%03d-%s", i, labels[i%3]), ProviderName: "Rolegate",
			Partition: store.PartitionAWS, Label: labels[i%3], RequireMFA: i%7 == 1}
		if err := w.Store.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{"ReadOnly", "PowerUser"} {
			if err := w.Store.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: id, Role: role}); err != nil {
				t.Fatal(err)
			}
		}
		if i < 5 {
			if err := w.Store.AddFavourite(ctx, &store.Favourite{UserID: alice.ID, AccountID: id, Role: "PowerUser"}, store.MaxFavourites); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	idptest.SignInPost(t, b, b.PortalLink("900000000006", "ReadOnly"))
	return w, b
}

// TestThePortalWith200AccountsStaysUnderItsByteBudget: 200 accounts, 400 roles, all on one page
// (hidden or not), under PortalByteBudget, with no role row missing.
func TestThePortalWith200AccountsStaysUnderItsByteBudget(t *testing.T) {
	_, b := portal200(t)
	for _, q := range []string{"", "staging poweruser"} {
		resp, page := b.Get("/?" + url.Values{"q": {q}}.Encode())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
		if n := strings.Count(page, `<li data-r=`); n != 403 { // 400 and the 3 of prod and gov
			t.Errorf("?q=%s: %d role rows; want 403", q, n)
		}
		if n := strings.Count(page, `<li class="pick"`); n != 6 {
			t.Errorf("?q=%s: %d favourites and recent roles; want 6", q, n)
		}
		if len(page) > PortalByteBudget {
			t.Errorf("?q=%s: the portal is %d bytes; the budget is %d", q, len(page), PortalByteBudget)
		}
		t.Logf("?q=%s: %d bytes (%.1f KiB), %d bytes per role", q, len(page), float64(len(page))/1024, len(page)/403)
	}
}

// BenchmarkPortal200Accounts measures the server's time for the portal of a user with 200
// accounts (the handler alone, without the network) and reports the page's size; the README
// states the budget this holds to.
func BenchmarkPortal200Accounts(b *testing.B) {
	w, br := portal200(b)
	size := benchGet(b, w.Web, br, "/")
	b.ReportMetric(float64(size), "bytes/page")
}
