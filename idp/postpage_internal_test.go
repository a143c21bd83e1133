package idp

import (
	"encoding/base64"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// postCases are forms and frames of every shape the handlers give, with hostile values in each
// place: RelayStates and ACS URLs that try to end their attribute, other URL schemes, markup in
// names, NUL, non-ASCII and percent escapes.
func postCases() []struct {
	name string
	f    *authn.PostForm
	fr   frame
} {
	xml := []byte(`<?xml version="1.0"?><samlp:Response ID="_r">+/?~</samlp:Response>`)
	prod := &store.Account{ID: "111122223333", Alias: "prod", Partition: store.PartitionAWS, Region: "eu-west-1", ProviderName: "Rolegate"}
	evil := &store.Account{ID: `"><script>alert(1)</script>`, Alias: `</strong><img src=x onerror=alert(1)>&amp;'+` + "\x00é"}
	alice := &store.User{Name: "alice", DisplayName: "Alice Liddell", Email: "alice@example.com"}
	mallory := &store.User{Name: `mallory"><script>alert(1)</script>`}
	signed := frame{Nonce: "bm9uY2Utbm9uY2Utbm9uYw", CSRF: "Y3NyZi10b2tlbg", User: alice, SignedIn: true}
	hostileRelays := []string{
		`"><script>alert(1)</script>`,
		`https://console.aws.amazon.com/" onfocus="alert(1)`,
		`https://console.aws.amazon.com/'><form action=https://evil.example>`,
		"https://console.aws.amazon.com/s3/home?region=eu-west-1&tab=a+b#%41%zz\x00é</code></p>",
	}
	hostileACS := []string{
		`javascript:alert(1)`,
		` JavaScript:alert(1)`,
		`data:text/html,<script>alert(1)</script>`,
		`https://evil.example/" onmouseover="alert(1)`,
		`https://signin.aws.amazon.com/saml?a=b&c=d+e f'%41%zz%4`,
		`//evil.example/path`,
		"https://signin.aws.amazon.com/saml\x00<>é",
	}
	type tc = struct {
		name string
		f    *authn.PostForm
		fr   frame
	}
	aws := func(name string, f authn.PostForm, fr frame) tc {
		f.Page = authn.PageAWSPost
		if f.Title == "" {
			f.Title = "Signing in to AWS"
		}
		if f.ACS == "" {
			f.ACS = "https://signin.aws.amazon.com/saml"
		}
		if f.Account == nil {
			f.Account = prod
		}
		if f.SAMLResponse == "" {
			f.XML = xml
		}
		return tc{name, &f, fr}
	}
	sso := func(name string, f authn.PostForm, fr frame) tc {
		f.Page = authn.PageSSOPost
		f.Title = "Signing in"
		if f.ACS == "" {
			f.ACS = "https://sp.example.com/saml/acs"
		}
		if f.SP == "" {
			f.SP = "https://sp.example.com/saml/metadata"
		}
		f.SAMLResponse = base64.StdEncoding.EncodeToString(xml)
		return tc{name, &f, fr}
	}
	cases := []tc{
		aws("a portal click posts at once", authn.PostForm{}, signed),
		aws("another link waits for a click", authn.PostForm{Confirm: true}, signed),
		aws("a RelayState goes in the form", authn.PostForm{RelayState: "https://console.aws.amazon.com/s3/home?region=eu-west-1"}, signed),
		aws("a RelayState is shown on a page that waits", authn.PostForm{Confirm: true, RelayState: "https://console.aws.amazon.com/"}, signed),
		aws("a user without a display name", authn.PostForm{}, frame{Nonce: "n", CSRF: "c", User: &store.User{Name: "bob"}, SignedIn: true}),
		aws("a half-signed-in user", authn.PostForm{}, frame{Nonce: "n", CSRF: "c", User: alice}),
		aws("nobody signed in", authn.PostForm{}, frame{Nonce: "n", CSRF: "c"}),
		aws("the default title", authn.PostForm{Title: "Rolegate"}, signed),
		aws("markup in the account and user names", authn.PostForm{Account: evil, Confirm: true, Title: `<title>"&'+`}, frame{Nonce: "n", CSRF: `"><x`, User: mallory, SignedIn: true}),
		aws("a Response given in base64", authn.PostForm{SAMLResponse: "PHg+Pz8/PC94Pg=="}, signed),
		sso("an SP's page", authn.PostForm{RelayState: "state-1"}, signed),
		sso("an SP's page without a RelayState", authn.PostForm{}, frame{Nonce: "n", CSRF: "c", User: mallory}),
		sso("an SP named with markup", authn.PostForm{SP: `"><script>alert(1)</script>`, RelayState: `'"<>&+`}, signed),
	}
	for _, r := range hostileRelays {
		cases = append(cases, aws("the hostile RelayState "+r, authn.PostForm{RelayState: r}, signed),
			aws("the hostile RelayState on a page that waits "+r, authn.PostForm{RelayState: r, Confirm: true}, signed),
			sso("the hostile RelayState for an SP "+r, authn.PostForm{RelayState: r}, signed))
	}
	for _, a := range hostileACS {
		cases = append(cases, aws("the hostile ACS "+a, authn.PostForm{ACS: a}, signed),
			sso("the hostile ACS for an SP "+a, authn.PostForm{ACS: a}, signed))
	}
	return cases
}

// writePost writes f's page as a request does.
func writePost(t *testing.T, f *authn.PostForm, fr frame) string {
	t.Helper()
	p, err := cutShape(pages[f.Page], shapeOf(f, fr))
	if err != nil {
		t.Fatal(err)
	}
	v := postValues(f, fr)
	b, err := p.write(nil, &v, f.XML)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestThePostPagesAreWrittenByteForByteAsTheTemplateWritesThem(t *testing.T) {
	for _, tc := range postCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			want, err := renderPost(pages[f.Page], f, tc.fr)
			if err != nil {
				t.Fatal(err)
			}
			if got := writePost(t, f, tc.fr); got != want {
				t.Errorf("the written page differs from the template's:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// No value breaks out of its place: a browser's parse of the page finds the one form with its
// action, the Response and the RelayState exactly as given, one script only when the page posts
// itself (and with the nonce), and each name as text.
func TestNoValueBreaksOutOfThePostPage(t *testing.T) {
	for _, tc := range postCases() {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			page := writePost(t, f, tc.fr)
			var actions, responses, relays, scripts []string
			var text strings.Builder
			z := html.NewTokenizer(strings.NewReader(page))
			for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
				tok := z.Token()
				attr := map[string]string{}
				for _, a := range tok.Attr {
					attr[a.Key] = a.Val
				}
				switch {
				case tt == html.TextToken:
					text.WriteString(tok.Data)
				case tt == html.StartTagToken && tok.Data == "script":
					scripts = append(scripts, attr["nonce"])
				case tt == html.StartTagToken && tok.Data == "form" && attr["method"] == "post" && attr["action"] != "/logout":
					actions = append(actions, attr["action"])
				case tok.Data == "input" && attr["name"] == "SAMLResponse":
					responses = append(responses, attr["value"])
				case tok.Data == "input" && attr["name"] == "RelayState":
					relays = append(relays, attr["value"])
				}
			}
			wantAction := f.ACS
			if low := strings.ToLower(strings.TrimSpace(f.ACS)); strings.HasPrefix(low, "javascript:") || strings.HasPrefix(low, "data:") {
				wantAction = "#ZgotmplZ"
			}
			if len(actions) != 1 || !sameURL(actions[0], wantAction) {
				t.Errorf("form actions %q, want one, %q", actions, wantAction)
			}
			b64 := f.SAMLResponse
			if f.XML != nil {
				b64 = base64.StdEncoding.EncodeToString(f.XML)
			}
			if len(responses) != 1 || responses[0] != b64 {
				t.Errorf("SAMLResponse inputs %q, want one, %q", responses, b64)
			}
			wantRelay := strings.ReplaceAll(f.RelayState, "\x00", "\uFFFD")
			if f.RelayState == "" && len(relays) != 0 || f.RelayState != "" && (len(relays) != 1 || relays[0] != wantRelay) {
				t.Errorf("RelayState inputs %q, want %q", relays, f.RelayState)
			}
			if wantScripts := f.Page == authn.PageSSOPost || !f.Confirm; wantScripts && (len(scripts) != 1 || scripts[0] != tc.fr.Nonce) || !wantScripts && len(scripts) != 0 {
				t.Errorf("scripts with nonces %q (the page's nonce %q, waits for a click %v)", scripts, tc.fr.Nonce, f.Confirm)
			}
			for _, name := range []string{f.SP, f.Title} {
				if name != "" && !strings.Contains(text.String(), strings.ReplaceAll(name, "\x00", "\uFFFD")) {
					t.Errorf("%q is not in the page's text", name)
				}
			}
			if f.Account != nil && !strings.Contains(text.String(), strings.ReplaceAll(f.Account.Alias, "\x00", "\uFFFD")) {
				t.Errorf("the alias %q is not in the page's text", f.Account.Alias)
			}
		})
	}
}

// sameURL reports whether a browser's reading of an action is the URL given, as html/template
// normalises it (percent-encoding what a URL may not hold).
func sameURL(got, want string) bool {
	return got == want || got == html.UnescapeString(string(appendURLAttr(nil, want)))
}

func TestAPostPageRefusesAResponseThatIsNotBase64(t *testing.T) {
	for _, b64 := range []string{`QUJD"onfocus=alert(1)`, "QUJD<script>", "QUJD&amp;", "QUJD QUJD", "QUJDé"} {
		f := &authn.PostForm{Page: authn.PageSSOPost, Title: "Signing in", ACS: "https://sp.example.com/acs", SAMLResponse: b64, SP: "sp"}
		fr := frame{Nonce: "n", CSRF: "c"}
		p, err := cutShape(pages[f.Page], shapeOf(f, fr))
		if err != nil {
			t.Fatal(err)
		}
		v := postValues(f, fr)
		if page, err := p.write(nil, &v, nil); err == nil {
			t.Errorf("%q went out in\n%s", b64, page)
		}
	}
}

// A change to a template that the cut pages cannot follow (here: the RelayState moved into a
// URL) is found when the shape is first cut, before any page of it is written.
func TestACutPageThatDiffersFromItsTemplateIsRefused(t *testing.T) {
	moved := template.Must(template.New("layout.html").Funcs(template.FuncMap{"asset": assetURL, "duration": wholeDuration}).
		ParseFS(templateFS, "templates/layout.html"))
	template.Must(moved.New("content").Parse(`<form method="post" action="{{.ACS}}"><input type="hidden" {{.SAMLResponse}}><a href="{{.RelayState}}">{{.SP}}</a></form>`))
	f := &authn.PostForm{Page: authn.PageSSOPost, Title: "Signing in", ACS: "https://sp.example.com/acs", SAMLResponse: "QUJD", RelayState: "rs", SP: "sp"}
	if _, err := cutShape(moved, shapeOf(f, frame{Nonce: "n", CSRF: "c"})); err == nil {
		t.Fatal("a cut page that escapes the RelayState otherwise than its template was accepted")
	}
}

// BenchmarkPostPage is a sign-in's auto-POST page around a golden Response: written from its cuts,
// as a request does, and through its template, as it was before (base64 to a string, the
// template's run, its buffer), for comparison.
func BenchmarkPostPage(b *testing.B) {
	xml, err := os.ReadFile(filepath.Join("..", "testdata", "golden", "aws-all-roles.xml"))
	if err != nil {
		b.Fatal(err)
	}
	f := &authn.PostForm{Page: authn.PageAWSPost, Title: "Signing in to AWS", ACS: "https://signin.aws.amazon.com/saml", XML: xml,
		RelayState: "https://console.aws.amazon.com/s3/home", Account: &store.Account{ID: "111122223333", Alias: "prod"}}
	fr := frame{Nonce: "bm9uY2Utbm9uY2Utbm9uYw", CSRF: "Y3NyZi10b2tlbi1jc3JmLXRva2Vu", User: &store.User{Name: "alice"}, SignedIn: true}
	b.Run("cut", func(b *testing.B) {
		p, err := cutShape(pages[f.Page], shapeOf(f, fr))
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			v := postValues(f, fr)
			if buf, err = p.write(buf[:0], &v, f.XML); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := renderPost(pages[f.Page], f, fr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
