package idp

import (
	"testing"

	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// FuzzPostPage: whatever the values and the shape, a post page written from its cuts is the page
// its template writes.
func FuzzPostPage(f *testing.F) {
	f.Add(uint8(0), "Signing in to AWS", "https://console.aws.amazon.com/", "https://signin.aws.amazon.com/saml", "alice", "Alice", "prod", "111122223333", "sp", "c", "n")
	f.Add(uint8(0xff), "\x00\xff\xfe<\"'&+`=\t\n", "%zz%4\u2028\ufdd0", " JaVaScRiPt:x", "\xed\xa0\x80", "\ufffd", "</strong>", "\r\n", "&#34;", "{{.X}}", "rgslot03z")
	f.Fuzz(func(t *testing.T, bits uint8, title, relay, acs, name, display, alias, id, sp, csrf, nonce string) {
		fr := frame{Nonce: nonce, CSRF: csrf, SignedIn: bits&1 != 0}
		if bits&2 != 0 {
			fr.User = &store.User{Name: name, DisplayName: display}
		}
		form := &authn.PostForm{Page: authn.PageAWSPost, Title: title, ACS: acs, RelayState: relay, Confirm: bits&4 != 0,
			Account: &store.Account{Alias: alias, ID: id}, XML: []byte("<x/>" + title)}
		if bits&8 != 0 {
			form = &authn.PostForm{Page: authn.PageSSOPost, Title: title, ACS: acs, RelayState: relay, SP: sp, XML: []byte(sp)}
		}
		want, err := renderPost(pages[form.Page], form, fr)
		if err != nil {
			t.Fatal(err)
		}
		if got := writePost(t, form, fr); got != want {
			t.Fatalf("the written page differs from the template's:\n got %q\nwant %q", got, want)
		}
	})
}
