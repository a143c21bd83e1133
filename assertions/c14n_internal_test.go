package assertions

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"rolegate/assertions/samltest"
	"rolegate/internal/c14n"
	"rolegate/internal/c14n/c14ntest"
	"rolegate/store"
)

// checking canonicalises with internal/c14n's fast path and fails the test unless it took the call
// and gave goxmldsig's bytes and goxmldsig's rewritten tree; it counts the calls by element.
type checking struct {
	t     *testing.T
	calls map[string]int
}

func (c *checking) Algorithm() dsig.AlgorithmID { return c14n.Exclusive{}.Algorithm() }

func (c *checking) Canonicalize(el *etree.Element) ([]byte, error) {
	c.t.Helper()
	c.calls[el.Tag]++
	return sameAsGoxmldsig(c.t, el), nil
}

// sameAsGoxmldsig is c14ntest.Compare, failing the test unless the fast path took el as well.
func sameAsGoxmldsig(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	out, fast := c14ntest.Compare(t, el)
	if !fast {
		t.Fatalf("%s: the fast path left it to goxmldsig", el.FullTag())
	}
	return out
}

// useCanonicalizer makes sign use c until the test ends.
func useCanonicalizer(t *testing.T, c dsig.Canonicalizer) {
	old := canonicalizer
	canonicalizer = c
	t.Cleanup(func() { canonicalizer = old })
}

// Every Response the builder makes, under every option, is canonicalised (the Assertion, the
// Response and each SignedInfo) by the fast path to goxmldsig's bytes, and the Response sent is
// byte for byte the one goxmldsig's canonicaliser makes.
func TestBuildAWSCanonicalisesAsGoxmldsigUnderEveryOption(t *testing.T) {
	signKey, signCert := samltest.KeyPair(t, 2048, "signing")
	s := Signer{Key: signKey, Cert: signCert}
	_, encCert := samltest.KeyPair(t, 2048, "encryption")
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	special := "a & b < c > d \" e ' f \t g \r h \n i é 日本 😀"
	base := func() *AWSResponse {
		return &AWSResponse{
			BaseURL: "https://idp.example.com", ACS: "https://signin.aws.amazon.com/saml", NameID: "rg_5f2b9c",
			Roles:       []RolePair{{RoleARN: "arn:aws:iam::111122223333:role/Admin", ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"}},
			SessionName: "alice", AuthnInstant: now.Add(-time.Minute), Now: now, ResponseID: "_r1", AssertionID: "_a1",
		}
	}
	variants := map[string]func(*AWSResponse){
		"minimal": func(*AWSResponse) {},
		"everything": func(r *AWSResponse) {
			r.InResponseTo, r.SessionIndex, r.SourceIdentity = "_req", "_s1", "alice@example.com"
			r.SessionDuration, r.AuthnContext, r.Audience = 2*time.Hour, ContextMFA, "urn:amazon:webservices:govcloud"
			r.Tags = []Tag{{Key: "team", Value: "platform", Transitive: true}, {Key: "ünïcödé", Value: "日本 語\u00a0x\u2028y"},
				{Key: "cost-center", Value: "42"}, {Key: "empty", Value: ""}, {Key: "a:b/c=d+e-f@g", Value: "_.:/=+-@"}}
		},
		"many roles": func(r *AWSResponse) {
			for i := range 60 {
				r.Roles = append(r.Roles, RolePair{RoleARN: "arn:aws:iam::111122223333:role/R" + strings.Repeat("x", i),
					ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"})
			}
		},
		"special characters": func(r *AWSResponse) {
			r.NameID, r.InResponseTo, r.SessionIndex = special, special, special
			r.ACS, r.Audience, r.BaseURL = "https://x/?a=1&b=<2>\"'", special, "https://idp.example.com/é&<>"
		},
	}
	for name, change := range variants {
		for _, m := range []store.SignMode{store.SignBoth, store.SignAssertion, store.SignResponse} {
			for _, enc := range []string{"", AlgAES256GCM, AlgAES128CBC} {
				for _, prefix := range []string{"", "saml2p"} {
					t.Run(strings.Join([]string{name, m.String(), "enc=" + enc, "prefix=" + prefix}, "/"), func(t *testing.T) {
						build := func(c dsig.Canonicalizer) []byte {
							useCanonicalizer(t, c)
							r := base()
							change(r)
							r.Sign, r.ProtocolPrefix = m, prefix
							if enc != "" {
								r.Encrypt = &Encryption{Cert: encCert, Rand: rand.NewChaCha8([32]byte{1}), Content: enc}
							}
							out, err := BuildAWS(r, s)
							if err != nil {
								t.Fatal(err)
							}
							return out
						}
						check := &checking{t: t, calls: map[string]int{}}
						got := build(check)
						want := build(c14ntest.Goxmldsig)
						if !bytes.Equal(got, want) {
							t.Fatalf("the Response differs from the one goxmldsig's canonicaliser makes\n got %s\nwant %s", got, want)
						}
						signatures := map[bool]int{true: 1}
						wantCalls := map[string]int{
							"Assertion":  signatures[m != store.SignResponse],
							"Response":   signatures[m != store.SignAssertion],
							"SignedInfo": signatures[m != store.SignResponse] + signatures[m != store.SignAssertion],
						}
						for tag, n := range wantCalls {
							if check.calls[tag] != n {
								t.Errorf("%s canonicalised %d times, want %d (calls: %v)", tag, check.calls[tag], n, check.calls)
							}
						}
					})
				}
			}
		}
	}
}

// The golden Responses, read back, canonicalise by the fast path to goxmldsig's bytes: the
// Response, each Assertion and each SignedInfo (detached as goxmldsig detaches it to sign it).
func TestGoldensCanonicaliseAsGoxmldsig(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "golden", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(raw); err != nil {
				t.Fatal(err)
			}
			resp := doc.Root()
			var n int
			for _, el := range resp.FindElements("//SignedInfo") {
				ctx, err := etreeutils.NSBuildParentContext(el)
				if err != nil {
					t.Fatal(err)
				}
				detached, err := etreeutils.NSDetatch(ctx, el)
				if err != nil {
					t.Fatal(err)
				}
				sameAsGoxmldsig(t, detached)
				n++
			}
			for _, el := range resp.FindElements("//Assertion") {
				sameAsGoxmldsig(t, el)
				n++
			}
			sameAsGoxmldsig(t, resp)
			if n < 3 {
				t.Errorf("%d SignedInfos and Assertions; the goldens are signed twice", n)
			}
		})
	}
}
