package assertions

import (
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
)

// writeResponse writes what etree's Document.WriteTo writes: the goldens pin a Response's bytes,
// and this the tokens a Response does not hold today.
func TestAResponseIsWrittenAsEtreeWritesIt(t *testing.T) {
	for _, tc := range []struct{ name, xml string }{
		{"nested elements with prefixes, attributes and text", `<samlp:Response xmlns:samlp="urn:p" ID="_r"><saml:Issuer xmlns:saml="urn:a">https://idp.example/</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:ok"/></samlp:Status></samlp:Response>`},
		{"empty elements with and without a prefix", `<a><b/><p:c xmlns:p="urn:p"/><d></d></a>`},
		{"text and attribute values that need escaping", `<a k="&lt;&amp;&quot;'&#xA;&#x9;&#xD;">&lt;tag&gt; &amp; "quotes" 'single' é&#xD;</a>`},
		{"CDATA, a comment, a processing instruction and mixed content", `<a>text<![CDATA[<raw> & ]]]]><![CDATA[>]]><!-- note --><?pi data?><b>in</b>tail</a>`},
		{"attributes with prefixes", `<a xmlns:x="urn:x" x:k="v" k="w"/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := etree.NewDocument()
			if err := doc.ReadFromString(tc.xml); err != nil {
				t.Fatal(err)
			}
			root := doc.Root()
			want := etree.NewDocument()
			want.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
			want.SetRoot(root.Copy())
			wantBytes, err := want.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			if got := writeResponse(root, 0); string(got) != string(wantBytes) {
				t.Errorf("written\n%s\nwant\n%s", got, wantBytes)
			}
		})
	}
}

// BenchmarkWriteResponse is the serialization of a golden Response: by writeResponse, and by
// etree's Document.WriteToBytes as it was before, for comparison.
func BenchmarkWriteResponse(b *testing.B) {
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(filepath.Join("..", "testdata", "golden", "aws-all-roles.xml")); err != nil {
		b.Fatal(err)
	}
	root := doc.Root()
	b.Run("writeResponse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeResponse(root, 8192)
		}
	})
	b.Run("etree", func(b *testing.B) {
		out := etree.NewDocument()
		out.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
		out.SetRoot(root.Copy())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := out.WriteToBytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
