// Package c14n is a fast Exclusive XML Canonicalization 1.0 (without comments, no InclusiveNamespaces
// PrefixList) for signing with goxmldsig. Its Canonicalizer gives, for every tree, exactly what
// goxmldsig's own exclusive canonicaliser gives: the same bytes, and the same tree left behind.
// goxmldsig's rewrites the element in place (namespace declarations moved to where they are
// visibly used, attributes sorted), and a Response's bytes on the wire are that rewritten tree, so
// this one rewrites it the same way, but only the attribute lists that are not already canonical.
//
// It handles the trees Rolegate signs: prefixed or unprefixed elements, prefixed namespace
// declarations, unprefixed attributes and text. Anything else anywhere in the subtree (a comment,
// a processing instruction, CDATA, a prefixed attribute such as xml:lang or xsi:type, a default
// namespace declaration, a prefix declared outside the subtree, a duplicate attribute) makes it
// hand the whole call to goxmldsig's canonicaliser, untouched: safe by construction. Like
// goxmldsig's, it looks for declarations no higher than el: goxmldsig detaches a SignedInfo with the
// declarations in scope copied onto it, and Rolegate signs an Assertion before it has a parent.
package c14n

import (
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Exclusive is the fast canonicaliser; it is stateless, so one value serves every goroutine.
type Exclusive struct{}

var _ dsig.Canonicalizer = Exclusive{}

// fallback is goxmldsig's exclusive canonicaliser, with the empty prefix list Rolegate signs with.
var fallback = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")

// Algorithm is exclusive c14n without comments: the URI the signature names.
func (Exclusive) Algorithm() dsig.AlgorithmID { return dsig.CanonicalXML10ExclusiveAlgorithmId }

// Canonicalize returns el's canonical form, rewriting el as goxmldsig's canonicaliser would.
func (Exclusive) Canonicalize(el *etree.Element) ([]byte, error) {
	if out, ok := Try(el); ok {
		return out, nil
	}
	return fallback.Canonicalize(el)
}

// Try is Canonicalize without the fallback: ok is false, and el untouched, when the subtree holds
// something this package leaves to goxmldsig.
func Try(el *etree.Element) (out []byte, ok bool) {
	s := pool.Get().(*state)
	defer s.release()
	if !s.element(el) {
		return nil, false
	}
	for _, r := range s.rewrites {
		canon := s.attrs[r.from:r.to]
		if len(canon) <= len(r.el.Attr) {
			n := copy(r.el.Attr, canon)
			clear(r.el.Attr[n:])
			r.el.Attr = r.el.Attr[:n]
		} else {
			r.el.Attr = append([]etree.Attr(nil), canon...)
		}
	}
	return append(make([]byte, 0, len(s.buf)), s.buf...), true
}

// ns binds a prefix to a namespace URI.
type ns struct{ prefix, uri string }

// rewrite says that el's attributes become attrs[from:to], its canonical list.
type rewrite struct {
	el       *etree.Element
	from, to int
}

// state is one call's scratch, pooled: the output, the declarations in scope and those already
// rendered by an ancestor (innermost last), and the canonical attribute lists to write back.
type state struct {
	buf             []byte
	scope, rendered []ns
	attrs           []etree.Attr
	rewrites        []rewrite
}

var pool = sync.Pool{New: func() any { return &state{buf: make([]byte, 0, 8<<10)} }}

func (s *state) release() {
	if cap(s.buf) > 1<<20 {
		return // an outsized tree's buffer is not kept
	}
	clear(s.scope[:cap(s.scope)])
	clear(s.rendered[:cap(s.rendered)])
	clear(s.attrs[:cap(s.attrs)])
	clear(s.rewrites[:cap(s.rewrites)])
	s.buf, s.scope, s.rendered, s.attrs, s.rewrites = s.buf[:0], s.scope[:0], s.rendered[:0], s.attrs[:0], s.rewrites[:0]
	pool.Put(s)
}

func lookup(in []ns, prefix string) (string, bool) {
	for i := len(in) - 1; i >= 0; i-- {
		if in[i].prefix == prefix {
			return in[i].uri, true
		}
	}
	return "", false
}

// element renders el and its subtree into s.buf, or reports false for a tree it leaves to goxmldsig.
func (s *state) element(el *etree.Element) bool {
	scoped, rendered := len(s.scope), len(s.rendered)
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			if a.Key == "" || a.Key == "xml" || a.Key == "xmlns" {
				return false // reserved or empty prefixes: goxmldsig's errors and rules
			}
			if _, dup := lookup(s.scope[scoped:], a.Key); dup {
				return false
			}
			s.scope = append(s.scope, ns{a.Key, a.Value})
		case a.Space != "" || a.Key == "xmlns":
			return false // goxmldsig sorts prefixed attributes by rules of its own; default namespaces
		}
	}
	from := len(s.attrs)
	// The element's prefix is the only one visibly used (attributes are unprefixed): declare it
	// unless an ancestor's rendering already did, with the same URI.
	if p := el.Space; p != "" {
		if p == "xml" || p == "xmlns" {
			return false
		}
		uri, ok := lookup(s.scope, p)
		if !ok {
			return false // declared outside the subtree: goxmldsig refuses it
		}
		if r, ok := lookup(s.rendered, p); !ok || r != uri {
			s.attrs = append(s.attrs, etree.Attr{Space: "xmlns", Key: p, Value: uri})
			s.rendered = append(s.rendered, ns{p, uri})
		}
	}
	// Then the unprefixed attributes by name (insertion sort: there are a handful).
	named := len(s.attrs)
	for _, a := range el.Attr {
		if a.Space != "" {
			continue
		}
		i := len(s.attrs)
		s.attrs = append(s.attrs, a)
		for ; i > named && s.attrs[i-1].Key >= a.Key; i-- {
			if s.attrs[i-1].Key == a.Key {
				return false // a duplicate: no one canonical order
			}
			s.attrs[i] = s.attrs[i-1]
		}
		s.attrs[i] = a
	}
	canon := s.attrs[from:]
	if sameAttrs(canon, el.Attr) {
		s.attrs = s.attrs[:from]
	} else {
		s.rewrites = append(s.rewrites, rewrite{el, from, len(s.attrs)})
	}

	s.buf = append(s.buf, '<')
	s.buf = appendName(s.buf, el.Space, el.Tag)
	for _, a := range canon {
		s.buf = append(s.buf, ' ')
		s.buf = appendName(s.buf, a.Space, a.Key)
		s.buf = append(s.buf, '=', '"')
		s.buf = escape(s.buf, a.Value, true)
		s.buf = append(s.buf, '"')
	}
	s.buf = append(s.buf, '>')
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if !s.element(t) {
				return false
			}
		case *etree.CharData:
			if t.IsCData() {
				return false // goxmldsig writes CDATA sections as they are
			}
			s.buf = escape(s.buf, t.Data, false)
		default:
			return false // comments (goxmldsig removes them from the tree), processing instructions, directives
		}
	}
	s.buf = append(s.buf, '<', '/')
	s.buf = appendName(s.buf, el.Space, el.Tag)
	s.buf = append(s.buf, '>')
	s.scope, s.rendered = s.scope[:scoped], s.rendered[:rendered]
	return true
}

func sameAttrs(a, b []etree.Attr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Space != b[i].Space || a[i].Key != b[i].Key || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}

func appendName(b []byte, space, local string) []byte {
	if space != "" {
		b = append(append(b, space...), ':')
	}
	return append(b, local...)
}

// escape appends s as etree's canonical writer does, which is what goxmldsig's canonicaliser
// writes: in text & < > and CR as references; in attribute values & < " TAB LF CR. A character
// XML does not allow, or a byte that is not UTF-8, becomes U+FFFD.
func escape(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c, w := s[i], 1
		var esc string
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				esc = "&amp;"
			case c == '<':
				esc = "&lt;"
			case c == '>' && !attr:
				esc = "&gt;"
			case c == '"' && attr:
				esc = "&quot;"
			case c == '\t' && attr:
				esc = "&#x9;"
			case c == '\n' && attr:
				esc = "&#xA;"
			case c == '\r':
				esc = "&#xD;"
			case c < 0x20 && c != '\t' && c != '\n':
				esc = "\uFFFD"
			default:
				i++
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			if w = n; xmlChar(r) && !(r == utf8.RuneError && n == 1) {
				i += n
				continue
			}
			esc = "\uFFFD"
		}
		b = append(append(b, s[last:i]...), esc...)
		i += w
		last = i
	}
	return append(b, s[last:]...)
}

// xmlChar is XML 1.0's Char production above ASCII.
func xmlChar(r rune) bool {
	return r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
