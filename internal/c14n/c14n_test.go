package c14n_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/internal/c14n"
	"rolegate/internal/c14n/c14ntest"
)

// same is c14ntest.Compare for these tests: whether the fast path took el.
func same(t testing.TB, el *etree.Element) bool {
	t.Helper()
	_, fast := c14ntest.Compare(t, el)
	return fast
}

func parse(t testing.TB, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	if err := doc.ReadFromString(s); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return doc.Root()
}

var cases = []struct {
	name string
	xml  string
	fast bool
}{
	{"a Response whose saml declaration moves to the Issuer and whose attributes are sorted",
		`<samlp:Response xmlns:samlp="urn:p" xmlns:saml="urn:a" ID="_r" Version="2.0" IssueInstant="t" Destination="d"><saml:Issuer>i</saml:Issuer><samlp:Status><samlp:StatusCode Value="s"/></samlp:Status><saml:Assertion xmlns:saml="urn:a" ID="_a"/></samlp:Response>`, true},
	{"unused declarations dropped, a rebound prefix redeclared, a same-URI redeclaration not",
		`<a:x xmlns:a="u1" xmlns:b="u2" xmlns:c="unused"><a:y xmlns:a="u3"><a:z xmlns:a="u3"/></a:y><b:w xmlns:a="u1"><a:v/></b:w></a:x>`, true},
	{"a declaration rendered in one branch is not in scope in its sibling",
		`<r:r xmlns:r="ur" xmlns:s="us"><s:a/><s:b/></r:r>`, true},
	{"unprefixed elements without a default namespace",
		`<r:r xmlns:r="ur"><plain b="2" a="1">text</plain></r:r>`, true},
	{"escaping in text and attribute values",
		"<r:r xmlns:r=\"u\" v=\"&amp; &lt; &gt; &quot; ' &#9; &#10; &#13; é 日本\">&amp; &lt; &gt; \" ' \t \n &#13; é 😀</r:r>", true},
	{"whitespace text kept", "<r:r xmlns:r=\"u\">\n  <r:s> a </r:s>\n</r:r>", true},
	{"a comment goes to goxmldsig", `<r:r xmlns:r="u"><!-- c --><r:s/></r:r>`, false},
	{"a processing instruction goes to goxmldsig", `<r:r xmlns:r="u"><?pi x?></r:r>`, false},
	{"CDATA goes to goxmldsig", `<r:r xmlns:r="u"><![CDATA[<&>]]></r:r>`, false},
	{"xml:lang goes to goxmldsig", `<r:r xmlns:r="u" xml:lang="en"/>`, false},
	{"a prefixed attribute goes to goxmldsig", `<r:r xmlns:r="u" xmlns:x="ux" x:type="s" a="1"/>`, false},
	{"a default namespace goes to goxmldsig", `<r xmlns="u"><s/></r>`, false},
	{"a prefix declared outside the subtree goes to goxmldsig (which refuses it)", `<r:r/>`, false},
	{"xmlns:xml goes to goxmldsig", `<r:r xmlns:r="u" xmlns:xml="http://www.w3.org/XML/1998/namespace"/>`, false},
}

func TestTheFastPathMatchesGoxmldsigOrStandsAside(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if fast := same(t, parse(t, tc.xml)); fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
		})
	}
}

func TestControlCharactersAndBadUTF8BecomeTheReplacementCharacter(t *testing.T) {
	el := etree.NewElement("r:r")
	el.CreateAttr("xmlns:r", "u")
	el.CreateAttr("v", "a\x01b\xffc\uFFFEd\U0010FFFF")
	el.SetText("a\x00b\xc3c\x7fd")
	if !same(t, el) {
		t.Fatal("fast path not taken")
	}
	got, _ := c14n.Try(el.Copy())
	if want := "<r:r xmlns:r=\"u\" v=\"a\uFFFDb\uFFFDc\uFFFDd\U0010FFFF\">a\uFFFDb\uFFFDc\x7fd</r:r>"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAnAlreadyCanonicalTreeIsLeftAsItIs(t *testing.T) {
	el := parse(t, `<r:r xmlns:r="u" a="1" b="2"><r:s c="3"/></r:r>`)
	attrs := &el.Attr[0]
	if _, ok := c14n.Try(el); !ok {
		t.Fatal("fast path not taken")
	}
	if &el.Attr[0] != attrs {
		t.Error("the attribute list of a canonical element was replaced")
	}
}

func TestDuplicateAttributesGoToGoxmldsig(t *testing.T) {
	el := etree.NewElement("r:r")
	el.Attr = []etree.Attr{{Space: "xmlns", Key: "r", Value: "u"}, {Key: "a", Value: "1"}, {Key: "a", Value: "2"}}
	if _, ok := c14n.Try(el); ok {
		t.Error("duplicate attributes: fast path taken")
	}
	el.Attr = []etree.Attr{{Space: "xmlns", Key: "r", Value: "u"}, {Space: "xmlns", Key: "r", Value: "v"}}
	if _, ok := c14n.Try(el); ok {
		t.Error("duplicate declarations: fast path taken")
	}
}

func TestAlgorithmIsExclusiveWithoutComments(t *testing.T) {
	if got := (c14n.Exclusive{}).Algorithm(); got != dsig.CanonicalXML10ExclusiveAlgorithmId {
		t.Errorf("Algorithm() = %s", got)
	}
}

// BenchmarkCanonicalize is one canonicalisation of a golden Response (two signatures, every role)
// by goxmldsig's exclusive canonicaliser and by this package's.
func BenchmarkCanonicalize(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "aws-all-roles.xml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		c    dsig.Canonicalizer
	}{{"goxmldsig", dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")}, {"c14n", c14n.Exclusive{}}} {
		b.Run(c.name, func(b *testing.B) {
			el := parse(b, string(raw))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.c.Canonicalize(el); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Canonicalising a golden Response, once it is in canonical form (after the first call, as when
// the Response's canonicalisation reaches the signed Assertion), allocates only the bytes returned.
func TestACanonicalTreeCostsOneAllocation(t *testing.T) {
	if raced {
		t.Skip("the race detector empties sync.Pool at random")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "aws-all-roles.xml"))
	if err != nil {
		t.Fatal(err)
	}
	el := parse(t, string(raw))
	if _, ok := c14n.Try(el); !ok {
		t.Fatal("fast path not taken")
	}
	if n := testing.AllocsPerRun(50, func() { c14n.Try(el) }); n != 1 {
		t.Errorf("%v allocations per call, want 1", n)
	}
}
