package assertions_test

import (
	"bytes"
	"testing"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/store"
)

// Values at the edges of what AWS and the configuration allow (line and paragraph separators and
// other Unicode spaces that XML 1.0 keeps as they are, letters outside the BMP, an entity ID with
// markup in it) are signed so that xmlsec1 verifies every signature against the certificate
// alone, and the checker accepts the Response; one character changed after signing fails each.
func TestEdgeValuesSignSoThatXMLSecVerifiesThem(t *testing.T) {
	s := testSigner(t)
	values := []string{"a\u2028b\u2029c\u00a0d\u3000e", "\U0001D518\U0001D52B", "=+-@:/._", "日本 語", " lead trail ", "\u1680x\u205f", "ǅ"}
	for _, m := range signModes {
		for _, prefix := range []string{"", "saml2p"} {
			t.Run(m.String()+"/prefix="+prefix, func(t *testing.T) {
				r := validResponse()
				r.Sign, r.ProtocolPrefix, r.Tags = m, prefix, []assertions.Tag{{Key: "\U0001D518 key\u2028", Value: ""}}
				for i, v := range values {
					r.Tags = append(r.Tags, assertions.Tag{Key: "k" + string(rune('a'+i)), Value: v})
				}
				r.BaseURL = `https://idp.example.com/x?a=1&b=<é>"'`
				exp := expect(s, now.Add(60e9))
				exp.EntityID = r.BaseURL + "/saml/metadata"
				out, err := assertions.BuildAWS(r, s)
				if err != nil {
					t.Fatal(err)
				}
				if v := assertions.InspectAWS(out, exp); !v.Accepted {
					t.Errorf("verdict %+v", v)
				}
				changed := bytes.Replace(out, []byte("ǅ"), []byte("ǆ"), 1)
				for _, sig := range []struct {
					xpath string
					want  bool
				}{{samltest.ResponseSignature, m != store.SignAssertion}, {samltest.AssertionSignature, m != store.SignResponse}} {
					if !sig.want {
						continue
					}
					if err := samltest.VerifyXMLSec(t, out, s.Cert, sig.xpath); err != nil {
						t.Errorf("%s: %v", sig.xpath, err)
					}
					if samltest.VerifyXMLSec(t, changed, s.Cert, sig.xpath) == nil {
						t.Errorf("%s: verifies with a tag value changed after signing", sig.xpath)
					}
				}
			})
		}
	}
}
