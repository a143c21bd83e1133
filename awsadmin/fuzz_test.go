package awsadmin_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rolegate/assertions"
	"rolegate/awsadmin"
	"rolegate/internal/fuzzcheck"
	"rolegate/store"
)

// fuzzAccounts are the accounts a fuzzed document is checked against: with and without a region,
// in each partition.
var fuzzAccounts = []*store.Account{
	{ID: "111122223333", Alias: "prod", Partition: store.PartitionAWS, Region: "us-east-2"},
	{ID: "111122223333", Alias: "prod", Partition: store.PartitionAWS},
	{ID: "222233334444", Alias: "gov", Partition: store.PartitionGovCloud, Region: "us-gov-west-1"},
	{ID: "333344445555", Alias: "cn", Partition: store.PartitionChina},
}

// FuzzReadSPMetadata feeds AWS SP metadata documents (`rolegate account set --sp-metadata`) to the
// reader and to the check against an account. A refusal is Invalid; a document with a DTD is never
// accepted; every certificate it yields is one; and a document the check finds no problem with
// names only https ACS URLs on the account's own sign-in host, or, for an encrypting provider of an
// account without a region, its partition's default region's.
func FuzzReadSPMetadata(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "aws-sp-metadata", "*.xml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no AWS SP metadata in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for i := range fuzzAccounts {
			f.Add(uint8(i), b)
		}
	}
	f.Add(uint8(0), []byte(`<!DOCTYPE x [<!ENTITY a "b">]><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:amazon:webservices"/>`))
	f.Fuzz(func(t *testing.T, ai uint8, raw []byte) {
		a := fuzzAccounts[int(ai)%len(fuzzAccounts)]
		md, err := awsadmin.ReadSPMetadata(raw)
		if err != nil {
			if !store.IsCode(err, store.Invalid) {
				t.Fatalf("ReadSPMetadata: %v, not Invalid", err)
			}
			return
		}
		for d := xml.NewDecoder(bytes.NewReader(raw)); ; {
			tok, err := d.RawToken()
			if err != nil {
				break
			}
			if _, ok := tok.(xml.Directive); ok {
				t.Fatal("accepted a document with a DTD")
			}
		}
		for _, c := range md.EncryptionCerts {
			if c == nil || len(c.Raw) == 0 {
				t.Fatal("an empty encryption certificate")
			}
		}
		c := awsadmin.CheckSPMetadata(a, md)
		if len(c.Problems) > 0 {
			return
		}
		plain, err := assertions.AccountSignInURL(a)
		if err != nil {
			t.Fatal(err)
		}
		hosts := []string{fuzzcheck.Authority(plain)}
		if a.Region == "" {
			def, err := assertions.SignInURL(a.Partition, store.DefaultRegions[a.Partition])
			if err != nil {
				t.Fatal(err)
			}
			hosts = append(hosts, fuzzcheck.Authority(def))
		}
		if len(md.ACS) == 0 {
			t.Fatal("no problem found with a document without an HTTP-POST ACS")
		}
		for _, acs := range md.ACS {
			if !fuzzcheck.HasScheme(acs, "https") || strings.ContainsFunc(acs, func(r rune) bool { return r <= ' ' || r == '\\' || r == 0x7f }) {
				t.Fatalf("no problem found with the ACS %q", acs)
			}
			if h := fuzzcheck.Authority(acs); h != hosts[0] && (len(hosts) == 1 || h != hosts[1]) {
				t.Fatalf("no problem found with the ACS %q for account %s (%s): its host is %q, want %q", acs, a.Alias, a.Partition, h, hosts)
			}
		}
	})
}

// FuzzCheckSPMetadataURL feeds addresses to the check that decides what Rolegate fetches (the
// --sp-metadata URL, and every redirect on the way): an accepted one is an https URL on one of the
// partition's sign-in hosts, port 443 at most, with a /static/ path and no query or fragment.
func FuzzCheckSPMetadataURL(f *testing.F) {
	for _, s := range []string{
		"https://signin.aws.amazon.com/static/saml-metadata.xml",
		"https://us-east-2.signin.aws.amazon.com/static/saml/SAMLSPEXAMPLE7Q2W4Z9K1/saml-metadata.xml",
		"https://signin.amazonaws-us-gov.com:443/static/saml-metadata.xml",
		"https://signin.aws.amazon.com@169.254.169.254/static/saml-metadata.xml",
		"https://signin.aws.amazon.com%2f@evil/static/saml-metadata.xml",
		"http://signin.aws.amazon.com/static/saml-metadata.xml",
	} {
		for i := range fuzzAccounts {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, ai uint8, raw string) {
		p := fuzzAccounts[int(ai)%len(fuzzAccounts)].Partition
		u, err := awsadmin.CheckSPMetadataURL(p, raw)
		if err != nil {
			if !store.IsCode(err, store.Invalid) {
				t.Fatalf("CheckSPMetadataURL: %v, not Invalid", err)
			}
			return
		}
		def, _ := assertions.SignInURL(p, "")
		host := strings.TrimSuffix(fuzzcheck.Authority(raw), ":443")
		region, sub := strings.CutSuffix(host, "."+fuzzcheck.Authority(def))
		if !fuzzcheck.HasScheme(raw, "https") || (host != fuzzcheck.Authority(def) && !(sub && store.KnownRegion(p, region))) {
			t.Fatalf("accepted %q for partition %s", raw, p)
		}
		if u.Host != fuzzcheck.Authority(raw) && strings.ToLower(u.Host) != fuzzcheck.Authority(raw) {
			t.Fatalf("accepted %q, whose host reads as %q", raw, u.Host)
		}
		if !strings.HasPrefix(u.Path, "/static/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
			t.Fatalf("accepted %q with path %q", raw, u.Path)
		}
	})
}
