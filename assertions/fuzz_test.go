package assertions_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"rolegate/assertions"
	"rolegate/internal/fuzzcheck"
	"rolegate/store"
)

// FuzzReadMetadata feeds IdP metadata documents to the reader `rolegate aws` checks IAM's copy with.
// An accepted document yields at least one certificate, each of which is in the document and reads
// back, from its own DER in base64, as the same certificate.
func FuzzReadMetadata(f *testing.F) {
	raw, err := os.ReadFile("../testdata/golden/signing-cert.pem")
	if err != nil {
		f.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		f.Fatal("testdata/golden/signing-cert.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: "https://idp.example.com", SigningCerts: []*x509.Certificate{cert}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(md)
	f.Add(bytes.Replace(md, []byte(`use="signing"`), []byte(`use="encryption"`), 1))
	f.Add([]byte(`<EntityDescriptor entityID="x"><IDPSSODescriptor><KeyDescriptor><X509Certificate> </X509Certificate></KeyDescriptor></IDPSSODescriptor></EntityDescriptor>`))
	f.Fuzz(func(t *testing.T, md []byte) {
		id, certs, err := assertions.ReadMetadata(md)
		if err != nil {
			if id != "" || certs != nil {
				t.Fatalf("a refused document still gave %q and %d certificates", id, len(certs))
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("accepted metadata without a signing certificate")
		}
		for _, c := range certs {
			b64 := base64.StdEncoding.EncodeToString(c.Raw)
			again, err := assertions.ParseMetadataCert(b64)
			if err != nil || again == nil || !again.Equal(c) {
				t.Fatalf("a certificate read from the metadata does not read back from its DER: %v", err)
			}
			if !strings.Contains(certTexts(md), b64[:min(len(b64), 64)]) {
				t.Fatalf("a certificate that is not in the document: %s...", b64[:64])
			}
		}
	})
}

// certTexts is the text of every X509Certificate element as encoding/xml reads it, entities
// decoded and the ASCII white space ParseMetadataCert ignores dropped.
func certTexts(md []byte) string {
	var out strings.Builder
	d := xml.NewDecoder(bytes.NewReader(md))
	in := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "X509Certificate" || in > 0 {
				in++
			}
		case xml.EndElement:
			if in > 0 {
				in--
			}
		case xml.CharData:
			if in > 0 {
				out.WriteString(strings.Map(func(r rune) rune {
					if strings.ContainsRune(" \t\n\f\r", r) {
						return -1
					}
					return r
				}, string(tok)))
			}
		}
	}
	return out.String()
}

// consoleHost is the AWS console's host in each partition, written out again here rather than read
// from the package under test.
var consoleHost = map[store.Partition]string{
	store.PartitionAWS:      "console.aws.amazon.com",
	store.PartitionGovCloud: "console.amazonaws-us-gov.com",
	store.PartitionChina:    "console.amazonaws.cn",
}

// FuzzCheckRelayState feeds RelayState values (relay_state on /aws/signin) to the check that keeps
// them on AWS's console. An accepted value is an https URL whose authority, as written and as any
// browser reads it, is the partition's console host or one known region's, with no user info, port,
// white space, backslash or control character.
func FuzzCheckRelayState(f *testing.F) {
	for _, s := range []string{
		"https://console.aws.amazon.com/s3/home",
		"https://us-east-2.console.aws.amazon.com/ec2/home?region=us-east-2#Instances:",
		"https://console.amazonaws-us-gov.com/",
		"https://console.aws.amazon.com.evil.example/",
		"https://evil.example\\@console.aws.amazon.com/",
		"https://console.aws.amazon.com%2F@evil.example/",
		"https://CONSOLE.aws.amazon.com:443/",
		"//console.aws.amazon.com/",
		"https://user@console.aws.amazon.com/",
		"https://nope.console.aws.amazon.com/",
	} {
		for p := range 3 {
			f.Add(uint8(p), s)
		}
	}
	parts := []store.Partition{store.PartitionAWS, store.PartitionGovCloud, store.PartitionChina}
	f.Fuzz(func(t *testing.T, pi uint8, relay string) {
		p := parts[int(pi)%len(parts)]
		err := assertions.CheckRelayState(p, relay)
		if err != nil {
			if !store.IsCode(err, store.Invalid) {
				t.Fatalf("CheckRelayState(%q) = %v, not Invalid", relay, err)
			}
			return
		}
		if relay == "" {
			return
		}
		if !fuzzcheck.HasScheme(relay, "https") {
			t.Fatalf("accepted %q, which does not start https://", relay)
		}
		if strings.ContainsFunc(relay, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
			t.Fatalf("accepted %q, which holds white space, a backslash or a control character", relay)
		}
		authority := fuzzcheck.Authority(relay)
		host := authority
		want := consoleHost[p]
		region, sub := strings.CutSuffix(host, "."+want)
		if host != want && !(sub && store.KnownRegion(p, region)) {
			t.Fatalf("accepted %q for partition %s: its authority is %q", relay, p, authority)
		}
	})
}
