package c14n_test

import (
	"testing"

	"github.com/beevik/etree"
)

// gen builds an element tree from fuzz bytes: few prefixes and URIs (so that they collide, rebind
// and redeclare), attributes and text full of what must be escaped, and now and then what the fast
// path leaves to goxmldsig (comments, CDATA, processing instructions, prefixed attributes, default
// namespaces).
type gen struct {
	b []byte
	i int
}

var (
	prefixes = []string{"", "a", "b", "saml", "a", "ds"}
	uris     = []string{"urn:a", "urn:b", "http://www.w3.org/2000/09/xmldsig#", "", "urn:a&<\"\t"}
	tags     = []string{"E", "Assertion", "F", "Signature"}
	keys     = []string{"ID", "Version", "a", "b", "Z", "Algorithm"}
	pieces   = []string{"&", "<", ">", `"`, "'", "\t", "\n", "\r", "a", "é", "日", "\x01", "\xff", " ", "]]>", "😀"}
)

func (g *gen) next() byte {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return g.b[g.i-1]
}

func (g *gen) pick(from []string) string { return from[int(g.next())%len(from)] }

func (g *gen) text() string {
	var s []byte
	for range g.next() % 6 {
		if c := g.next(); c&0x80 == 0 {
			s = append(s, pieces[int(c)%len(pieces)]...)
		} else {
			s = append(s, c) // often not UTF-8
		}
	}
	return string(s)
}

func (g *gen) element(depth int) *etree.Element {
	el := etree.NewElement(g.pick(tags))
	el.Space = g.pick(prefixes)
	for range g.next() % 5 {
		switch k := g.next() % 10; {
		case k < 3:
			if p := g.pick(prefixes); p != "" {
				el.CreateAttr("xmlns:"+p, g.pick(uris))
			}
		case k < 8:
			el.CreateAttr(g.pick(keys), g.text())
		case k == 8:
			if p := g.pick(prefixes); p != "" {
				el.CreateAttr(p+":"+g.pick(keys), g.text())
			}
		default:
			el.CreateAttr("xmlns", g.pick(uris))
		}
	}
	if depth >= 5 {
		return el
	}
	for range g.next() % 4 {
		switch k := g.next() % 12; {
		case k < 6:
			el.AddChild(g.element(depth + 1))
		case k < 10:
			el.CreateCharData(g.text())
		case k == 10:
			el.CreateComment(g.text())
		default:
			if g.next()%2 == 0 {
				el.CreateCData(g.text())
			} else {
				el.CreateProcInst("pi", g.text())
			}
		}
	}
	return el
}

// seeds mostly build trees the fast path takes (the first bytes declare the root's prefix).
var seeds = [][]byte{
	{0, 1, 1, 0, 1, 0, 3, 0, 1, 1, 0, 0, 0},
	{1, 3, 3, 0, 1, 0, 1, 3, 2, 0, 2, 4, 1, 0, 1, 5, 3, 0, 5, 0, 1, 2, 1, 4, 0, 3, 17, 18},
	{2, 2, 4, 0, 3, 0, 0, 1, 5, 3, 4, 7, 3, 0, 2, 3, 1, 1, 0, 2, 4, 40, 33, 34, 35, 36, 6, 2, 1, 1, 1},
	{0, 1, 2, 0, 1, 0, 4, 3, 1, 2, 4, 1, 1, 3, 2, 0, 3, 1, 0, 0, 2, 1, 7, 0, 1, 9, 2, 9, 14},
	{0, 2, 3, 0, 1, 2, 2, 5, 4, 0, 3, 3, 0, 4, 6, 0, 2, 1, 0, 2, 0, 4, 0, 4, 9, 16, 200, 1, 3},
	{1, 1, 2, 0, 2, 0, 9, 1, 0, 3, 10, 3, 0},        // a default namespace
	{1, 1, 2, 0, 2, 0, 8, 1, 0, 2, 0, 3, 10, 2, 3},  // a prefixed attribute, a comment
	{0, 1, 1, 0, 1, 0, 1, 11, 0, 3, 0, 1, 11, 1, 2}, // CDATA, a processing instruction
}

// FuzzCanonicalize: for any tree, the fast path either gives goxmldsig's bytes and leaves goxmldsig's
// tree, or stands aside without touching the tree (and goxmldsig's canonicaliser does the work).
func FuzzCanonicalize(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		same(t, (&gen{b: b}).element(0))
	})
}

// The seeds take both paths, so that the fuzz target's seeds check the fast path in plain go test.
func TestFuzzSeedsTakeBothPaths(t *testing.T) {
	var fast, slow int
	for _, s := range seeds {
		if same(t, (&gen{b: s}).element(0)) {
			fast++
		} else {
			slow++
		}
	}
	if fast < 4 || slow < 2 {
		t.Errorf("%d seeds take the fast path and %d the fallback; want at least 4 and 2", fast, slow)
	}
}
