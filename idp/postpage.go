package idp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// The auto-POST pages (templates/aws_post.html and sso_post.html in layout.html) are what every
// sign-in answers with, around a Response of several kilobytes. They are written without running
// html/template per request: each shape of a page (which of its {{if}}s hold) is rendered once by
// the template with a marker in place of each value and cut at the markers, and a request writes
// the cuts and its values, each escaped as html/template escapes it there, with the Response
// base64-encoded straight into the page. When a shape is first cut, the cuts are checked against
// the template with hostile values: a shape they cannot reproduce is a 500, never a page written
// otherwise than the template would write it.

// Slots: the values a post page shows. Each is escaped as the template escapes it where it is.
const (
	slotTitle       = iota // HTML text and attribute values: html/template's attribute escaper
	slotNonce              //
	slotCSRF               //
	slotUserName           //
	slotDisplayName        //
	slotAlias              //
	slotAccountID          //
	slotSP                 //
	slotRelay              //
	slotACS                // a URL attribute: filtered, normalised, then escaped
	slotResponse           // base64, which the template takes as it is (samlResponseInput)
	nSlots
)

// postShape is which of a post page's {{if}}s hold. The templates compare their values only
// with "" (and the Title with "Rolegate"), so every value of one shape renders the same around it.
type postShape struct {
	page                                                 string
	account, confirm, relay, user, signedIn, displayName bool
	title                                                string // the Title when it is "" or "Rolegate", else "*" (a slot)
}

func shapeOf(f *authn.PostForm, fr frame) postShape {
	k := postShape{page: f.Page, account: f.Account != nil, confirm: f.Confirm, relay: f.RelayState != "",
		user: fr.User != nil, signedIn: fr.SignedIn, title: "*"}
	if fr.User != nil {
		k.displayName = fr.User.DisplayName != ""
	}
	if f.Title == "" || f.Title == "Rolegate" {
		k.title = f.Title
	}
	return k
}

// postValues are the slots' values of f in fr.
func postValues(f *authn.PostForm, fr frame) (v [nSlots]string) {
	v[slotTitle], v[slotNonce], v[slotCSRF], v[slotSP], v[slotRelay], v[slotACS], v[slotResponse] =
		f.Title, fr.Nonce, fr.CSRF, f.SP, f.RelayState, f.ACS, f.SAMLResponse
	if u := fr.User; u != nil {
		v[slotUserName], v[slotDisplayName] = u.Name, u.DisplayName
	}
	if a := f.Account; a != nil {
		v[slotAlias], v[slotAccountID] = a.Alias, a.ID
	}
	return v
}

// postData is the template's data for f in fr: what the page used to be rendered from, and what
// it is cut from with markers.
func postData(f *authn.PostForm, fr frame) (gin.H, error) {
	b64 := f.SAMLResponse
	if f.XML != nil {
		b64 = base64.StdEncoding.EncodeToString(f.XML)
	}
	input, err := samlResponseInput(b64)
	if err != nil {
		return nil, err
	}
	d := gin.H{"Title": f.Title, "ACS": f.ACS, "SAMLResponse": input, "RelayState": f.RelayState,
		"Nonce": fr.Nonce, "CSRF": fr.CSRF, "User": fr.User, "SignedIn": fr.SignedIn}
	switch f.Page {
	case authn.PageAWSPost:
		d["Account"], d["Confirm"] = f.Account, f.Confirm
	case authn.PageSSOPost:
		d["SP"] = f.SP
	default:
		return nil, fmt.Errorf("idp: no post page %q", f.Page)
	}
	return d, nil
}

// formOf is a form and frame of shape k whose values are v.
func formOf(k postShape, v *[nSlots]string) (*authn.PostForm, frame) {
	f := &authn.PostForm{Page: k.page, Title: k.title, ACS: v[slotACS], SAMLResponse: v[slotResponse], Confirm: k.confirm, SP: v[slotSP]}
	if k.title == "*" {
		f.Title = v[slotTitle]
	}
	if k.relay {
		f.RelayState = v[slotRelay]
	}
	if k.account {
		f.Account = &store.Account{Alias: v[slotAlias], ID: v[slotAccountID]}
	}
	fr := frame{Nonce: v[slotNonce], CSRF: v[slotCSRF], SignedIn: k.signedIn}
	if k.user {
		fr.User = &store.User{Name: v[slotUserName]}
		if k.displayName {
			fr.User.DisplayName = v[slotDisplayName]
		}
	}
	return f, fr
}

// markPrefix starts every marker: "rgslot", two digits, "z". Letters and digits pass every
// escaper unchanged.
const markPrefix = "rgslot"

func mark(slot int) string { return fmt.Sprintf("%s%02dz", markPrefix, slot) }

// postProbe is a hostile value for every slot: quotes, angle brackets, ampersands, '+', NUL,
// non-ASCII, percent escapes good and bad, and a URL scheme.
var postProbe = func() (v [nSlots]string) {
	for i := range v {
		v[i] = fmt.Sprintf(`"'<b>&amp;+%%41%%zz é`+"\x00"+` javascript:x%d</b>`, i)
	}
	v[slotACS] = `https://h.example/a b/"'<>&+%41%zz?q=1&r=é#f`
	v[slotResponse] = "PHg+Pz8/PC94Pg=="
	return v
}()

// cutPage is a post page of one shape, cut at its slots.
type cutPage struct {
	cuts []cut
	size int // of the literal parts
}

// cut is a literal part of a page and the slot that follows it (-1 at the end).
type cut struct {
	lit  string
	slot int
}

// cutShape renders shape k of page t with markers and cuts it at them, then checks the cuts write
// what the template writes for hostile values.
func cutShape(t *template.Template, k postShape) (*cutPage, error) {
	var marks [nSlots]string
	for i := range marks {
		marks[i] = mark(i)
	}
	f, fr := formOf(k, &marks)
	page, err := renderPost(t, f, fr)
	if err != nil {
		return nil, err
	}
	p := &cutPage{}
	rest := page
	for {
		i := strings.Index(rest, markPrefix)
		if i < 0 {
			p.cuts = append(p.cuts, cut{lit: rest, slot: -1})
			break
		}
		slot := -1
		if j := i + len(markPrefix); j+2 < len(rest) {
			slot = int(rest[j]-'0')*10 + int(rest[j+1]-'0')
		}
		if slot < 0 || slot >= nSlots || !strings.HasPrefix(rest[i:], mark(slot)) {
			return nil, fmt.Errorf("idp: %s: a marker came out changed at %q", k.page, rest[i:min(len(rest), i+16)])
		}
		p.cuts = append(p.cuts, cut{lit: rest[:i], slot: slot})
		rest = rest[i+len(mark(slot)):]
	}
	for _, c := range p.cuts {
		p.size += len(c.lit)
	}
	f, fr = formOf(k, &postProbe)
	want, err := renderPost(t, f, fr)
	if err != nil {
		return nil, err
	}
	if got, err := p.write(nil, &postProbe, nil); err != nil || string(got) != want {
		return nil, fmt.Errorf("idp: %s: the cut page does not write what the template writes (%v)", k.page, err)
	}
	return p, nil
}

// renderPost runs page t's template: what the cut pages are made from and checked against.
func renderPost(t *template.Template, f *authn.PostForm, fr frame) (string, error) {
	d, err := postData(f, fr)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		return "", fmt.Errorf("idp: rendering %s: %w", f.Page, err)
	}
	return buf.String(), nil
}

// write appends the page with the values v to b; xml, when not nil, is the Response, base64-encoded
// in place of v[slotResponse].
func (p *cutPage) write(b []byte, v *[nSlots]string, xml []byte) ([]byte, error) {
	n := p.size + base64.StdEncoding.EncodedLen(len(xml))
	for _, s := range v {
		n += len(s) + len(s)/8 // room for some escapes
	}
	b = slices.Grow(b, n)
	for _, c := range p.cuts {
		b = append(b, c.lit...)
		switch c.slot {
		case -1:
		case slotResponse:
			if xml != nil {
				b = base64.StdEncoding.AppendEncode(b, xml)
			} else if err := checkBase64(v[slotResponse]); err != nil {
				return nil, err
			} else {
				b = append(b, v[slotResponse]...)
			}
		case slotACS:
			b = appendURLAttr(b, v[slotACS])
		default:
			b = appendHTML(b, v[c.slot])
		}
	}
	return b, nil
}

// htmlEscapes are html/template's replacements in text and quoted attributes (htmlReplacementTable).
var htmlEscapes = [...]string{0: "\uFFFD", '"': "&#34;", '&': "&amp;", '\'': "&#39;", '+': "&#43;", '<': "&lt;", '>': "&gt;"}

// appendHTML appends s as html/template writes a string in HTML text, RCDATA or a quoted
// attribute: only ASCII is replaced, so bytes serve for runes.
func appendHTML(b []byte, s string) []byte {
	done := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; int(c) < len(htmlEscapes) && htmlEscapes[c] != "" {
			b = append(append(b, s[done:i]...), htmlEscapes[c]...)
			done = i + 1
		}
	}
	return append(b, s[done:]...)
}

// appendURLAttr appends s as html/template writes a string as a whole quoted URL attribute: a
// scheme other than http, https or mailto becomes "#ZgotmplZ", what a URL may not hold is
// percent-encoded (keeping valid escapes), and the result is escaped as an attribute.
func appendURLAttr(b []byte, s string) []byte {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		return append(b, "#ZgotmplZ"...)
	}
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~!#$*,/:;=?@[]", c) >= 0:
			b = append(b, c)
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '+':
			b = append(b, "&#43;"...)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// checkBase64 lets through only the base64 alphabet, which a quoted attribute takes as it is.
func checkBase64(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return fmt.Errorf("idp: the Response's base64 holds %q", c)
		}
	}
	return nil
}

// samlResponseInput is the auto-POST form's hidden input's attributes for a base64 Response,
// written out as they are: the template's escaper would go through the Response character by
// character only to write its '+' as "&#43;", which a quoted attribute does not need. Only the
// base64 alphabet goes out so; anything else is refused.
func samlResponseInput(b64 string) (template.HTMLAttr, error) {
	if err := checkBase64(b64); err != nil {
		return "", err
	}
	return template.HTMLAttr(`name="SAMLResponse" value="` + b64 + `"`), nil
}

// cutPages are the shapes cut so far; there are a few dozen at most.
var cutPages sync.Map // postShape -> *cutPage

// pageBufs are the buffers post pages are written in: a page is some kilobytes, once per sign-in.
var pageBufs = sync.Pool{New: func() any { return new([]byte) }}

// postPage answers with f's auto-POST page.
func (s *Server) postPage(c *gin.Context, f *authn.PostForm) {
	fr, err := s.frame(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	k := shapeOf(f, fr)
	p, ok := cutPages.Load(k)
	if !ok {
		t, ok := pages[f.Page]
		if !ok {
			s.fail(c, fmt.Errorf("idp: no page template %q", f.Page))
			return
		}
		cp, err := cutShape(t, k)
		if err != nil {
			s.fail(c, err)
			return
		}
		p, _ = cutPages.LoadOrStore(k, cp)
	}
	v := postValues(f, fr)
	buf := pageBufs.Get().(*[]byte)
	page, err := p.(*cutPage).write((*buf)[:0], &v, f.XML)
	if err != nil {
		pageBufs.Put(buf)
		s.fail(c, err)
		return
	}
	s.sendPage(c, http.StatusOK, fr.Nonce, page)
	*buf = page // the response writer keeps no reference to what it was given
	pageBufs.Put(buf)
}
