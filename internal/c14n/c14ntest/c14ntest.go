// Package c14ntest holds c14n's property for tests: the fast path agrees with goxmldsig.
package c14ntest

import (
	"bytes"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/internal/c14n"
)

// Goxmldsig is goxmldsig's exclusive canonicaliser with the empty prefix list Rolegate signs with:
// the reference.
var Goxmldsig = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")

// Compare canonicalises el with c14n.Try and a copy of el with Goxmldsig. When the fast path takes
// el, it fails the test unless goxmldsig accepts it too, with the same bytes, and both leave the
// same tree; when it stands aside, it fails the test if el was changed. It returns the canonical
// bytes (nil when the fast path stood aside) and whether the fast path took el.
func Compare(t testing.TB, el *etree.Element) (out []byte, fast bool) {
	t.Helper()
	theirs := el.Copy()
	want, err := Goxmldsig.Canonicalize(theirs)
	before := Write(el)
	got, fast := c14n.Try(el)
	if !fast {
		if after := Write(el); after != before {
			t.Fatalf("Try stood aside but changed the tree:\nbefore %s\nafter  %s", before, after)
		}
		return nil, false
	}
	if err != nil {
		t.Fatalf("goxmldsig refuses %s (%v); the fast path gave %s", before, err, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("canonical bytes differ for %s\n got %s\nwant %s", before, got, want)
	}
	if a, b := Write(el), Write(theirs); a != b {
		t.Fatalf("the tree left behind differs for %s\n got %s\nwant %s", before, a, b)
	}
	return got, true
}

// Write is el serialised as etree writes it by default, as a Response is sent.
func Write(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, err := doc.WriteToString()
	if err != nil {
		panic(err) // writing to a string does not fail
	}
	return s
}
