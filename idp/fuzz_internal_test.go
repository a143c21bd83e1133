package idp

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalNext feeds "next" values (the sign-in, MFA and password pages) to the check that keeps
// the redirect after them on this server. What it keeps is next itself, else "/". A kept value
// resolves against the base URL to this origin, as written and once percent-decoded, and holds
// nothing a browser reads differently from net/url: no backslash, control character or "//" start.
func FuzzLocalNext(f *testing.F) {
	for _, s := range []string{"/", "/aws/signin?account=prod&role=Admin", "/saml/sso/continue", "//evil.example/",
		"/\\evil.example", "https://evil.example/", "/%2F%2Fevil.example", "/%5Cevil.example", "/\t/evil.example",
		"/a/../..//evil.example", "javascript:alert(1)", "/login?next=//evil.example", "/%zz"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://idp.example.test/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := localNext(next)
		if got == "/" {
			return
		}
		if got != next {
			t.Fatalf("localNext(%q) = %q, neither itself nor /", next, got)
		}
		dec, err := url.PathUnescape(next)
		if err != nil {
			t.Fatalf("kept %q, which does not percent-decode", next)
		}
		for _, s := range []string{next, dec} {
			if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") ||
				strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' || r >= 0x80 && r < 0xa0 }) {
				t.Fatalf("kept %q (decoded %q)", next, dec)
			}
			u, err := url.Parse(s)
			if err != nil {
				continue // the decoded form need not parse; its shape is checked above
			}
			if r := base.ResolveReference(u); r.Scheme != "https" || r.Host != "idp.example.test" || r.User != nil {
				t.Fatalf("kept %q, which leads to %s", next, r)
			}
		}
	})
}
