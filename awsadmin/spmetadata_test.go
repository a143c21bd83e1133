package awsadmin_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"rolegate/awsadmin"
	"rolegate/store"
)

const testIdPID = "SAMLSPEXAMPLE7Q2W4Z9K1"

// spDoc reads one of the copies of AWS's SP metadata in testdata.
func spDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "aws-sp-metadata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func account(p store.Partition, region string) *store.Account {
	return &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: p, Region: region}
}

func checkDoc(t *testing.T, a *store.Account, doc string) *awsadmin.SPCheck {
	t.Helper()
	md, err := awsadmin.ReadSPMetadata([]byte(doc))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return awsadmin.CheckSPMetadata(a, md)
}

func hasLine(lines []string, part string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, part) })
}

func TestEachFormOfAWSsSPMetadataFitsTheAccountItIsFor(t *testing.T) {
	global := spDoc(t, "global.xml")
	toGov := strings.NewReplacer(`entityID="urn:amazon:webservices"`, `entityID="urn:amazon:webservices:govcloud"`,
		"https://signin.aws.amazon.com/saml", "https://us-gov-east-1.signin.amazonaws-us-gov.com/saml")
	toChina := strings.NewReplacer(`entityID="urn:amazon:webservices"`, `entityID="urn:amazon:webservices:cn-north-1"`,
		"https://signin.aws.amazon.com/saml", "https://signin.amazonaws.cn/saml")
	for _, tc := range []struct {
		name    string
		doc     string
		acct    *store.Account
		idpID   string
		noteSay string
	}{
		{"the global document, for an account without a region", global, account(store.PartitionAWS, ""), "", ""},
		{"the regional document, for an account in that region", spDoc(t, "regional-us-east-2.xml"), account(store.PartitionAWS, "us-east-2"), "", ""},
		{"the per-provider document, for an account in its region: the IdP ID is read from its ACS",
			spDoc(t, "provider-us-east-2-"+testIdPID+".xml"), account(store.PartitionAWS, "us-east-2"), testIdPID, "encryption certificate"},
		{"a per-provider document from the default host, for an account without a region",
			strings.Replace(global, "https://signin.aws.amazon.com/saml", "https://signin.aws.amazon.com/saml/acs/"+testIdPID, 1), account(store.PartitionAWS, ""), testIdPID, "does not encrypt"},
		{"a per-provider document from the default region's host, for an account without a region (where its encrypted Responses go)",
			strings.Replace(global, "https://signin.aws.amazon.com/saml", "https://us-east-1.signin.aws.amazon.com/saml/acs/"+testIdPID, 1), account(store.PartitionAWS, ""), testIdPID, ""},
		{"a GovCloud document, for a GovCloud account in its region", toGov.Replace(global), account(store.PartitionGovCloud, "us-gov-east-1"), "", ""},
		{"a China document, for a China account", toChina.Replace(global), account(store.PartitionChina, ""), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkDoc(t, tc.acct, tc.doc)
			if len(c.Problems) != 0 || c.IdPID != tc.idpID {
				t.Fatalf("problems %q, IdP ID %q (want %q)", c.Problems, c.IdPID, tc.idpID)
			}
			if tc.noteSay != "" && !hasLine(c.Notes, tc.noteSay) {
				t.Fatalf("notes %q, want one saying %q", c.Notes, tc.noteSay)
			}
		})
	}
}

func TestSPMetadataThatDoesNotFitTheAccountIsExplainedInWords(t *testing.T) {
	global, regional, provider := spDoc(t, "global.xml"), spDoc(t, "regional-us-east-2.xml"), spDoc(t, "provider-us-east-2-"+testIdPID+".xml")
	known := account(store.PartitionAWS, "us-east-2")
	known.AWS.IdPID = "SAMLSPOTHERPROVIDER0001"
	for _, tc := range []struct {
		name string
		doc  string
		acct *store.Account
		says string
	}{
		{"a wrong entity ID", strings.Replace(global, `entityID="urn:amazon:webservices"`, `entityID="https://sp.example.com/saml"`, 1),
			account(store.PartitionAWS, ""), `the entity ID is "https://sp.example.com/saml", but AWS's sign-in in partition aws is urn:amazon:webservices`},
		{"the commercial entity ID for a GovCloud account", strings.Replace(global, "https://signin.aws.amazon.com/saml", "https://signin.amazonaws-us-gov.com/saml", 1),
			account(store.PartitionGovCloud, ""), "urn:amazon:webservices:govcloud"},
		{"an ACS of another partition", global, account(store.PartitionGovCloud, ""), "is in partition aws, but account prod is in partition aws-us-gov"},
		{"an ACS of China for a commercial account", strings.Replace(global, "https://signin.aws.amazon.com/saml", "https://cn-north-1.signin.amazonaws.cn/saml", 1),
			account(store.PartitionAWS, ""), "is in partition aws-cn"},
		{"the global document for an account with a region", global, account(store.PartitionAWS, "us-east-2"),
			"the ACS https://signin.aws.amazon.com/saml is the partition's default endpoint's, but Rolegate posts account prod's Responses to https://us-east-2.signin.aws.amazon.com/saml; use the document of that endpoint (https://us-east-2.signin.aws.amazon.com/static/saml-metadata.xml)"},
		{"a regional document for an account without a region", regional, account(store.PartitionAWS, ""),
			"is region us-east-2's, but Rolegate posts account prod's Responses to https://signin.aws.amazon.com/saml"},
		{"a regional document for an account in another region", regional, account(store.PartitionAWS, "eu-west-1"), "https://eu-west-1.signin.aws.amazon.com/static/saml-metadata.xml"},
		{"a per-provider document of another region", provider, account(store.PartitionAWS, "eu-west-1"),
			"https://eu-west-1.signin.aws.amazon.com/static/saml/" + testIdPID + "/saml-metadata.xml"},
		{"a per-provider document of another provider than the one IAM reported", provider, known,
			"is SAML provider " + testIdPID + "'s, but account prod's provider is SAMLSPOTHERPROVIDER0001"},
		{"an ACS that is not AWS's", strings.Replace(global, "https://signin.aws.amazon.com/saml", "https://signin.aws.amazon.com.evil.example/saml", 1),
			account(store.PartitionAWS, ""), "is not an AWS sign-in endpoint"},
		{"an ACS over plain http", strings.Replace(global, "https://signin.aws.amazon.com/saml", "http://signin.aws.amazon.com/saml", 1),
			account(store.PartitionAWS, ""), "is not an AWS sign-in endpoint"},
		{"an IdP ID that would leave its path segment", strings.Replace(global, "https://signin.aws.amazon.com/saml", "https://signin.aws.amazon.com/saml/acs/..%2F..%2Fx", 1),
			account(store.PartitionAWS, ""), "is not an AWS sign-in endpoint"},
		{"two providers in one document", strings.Replace(global, `<AttributeConsumingService`,
			`<AssertionConsumerService index="2" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://signin.aws.amazon.com/saml/acs/SAMLSPB"/>
    <AssertionConsumerService index="3" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://signin.aws.amazon.com/saml/acs/SAMLSPC"/>
    <AttributeConsumingService`, 1), account(store.PartitionAWS, ""), "names two SAML providers, SAMLSPB and SAMLSPC"},
		{"no HTTP-POST ACS", strings.Replace(global, "bindings:HTTP-POST", "bindings:HTTP-Artifact", 1), account(store.PartitionAWS, ""), "no HTTP-POST AssertionConsumerService"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkDoc(t, tc.acct, tc.doc)
			if !hasLine(c.Problems, tc.says) {
				t.Fatalf("problems %q, want one saying %q", c.Problems, tc.says)
			}
			for _, p := range c.Problems {
				if strings.Contains(p, "\n") {
					t.Fatalf("a problem of more than one line: %q", p)
				}
			}
		})
	}
}

// Rolegate signs every assertion and Response whatever the document asks, so a document that does
// not ask for signed assertions cannot make a sign-in fail: it is told, not refused.
func TestWantAssertionsSignedMissingOrFalseIsANoteNotAMismatch(t *testing.T) {
	global := spDoc(t, "global.xml")
	for name, doc := range map[string]string{
		"missing": strings.Replace(global, ` WantAssertionsSigned="true"`, "", 1),
		"false":   strings.Replace(global, `WantAssertionsSigned="true"`, `WantAssertionsSigned="false"`, 1),
	} {
		c := checkDoc(t, account(store.PartitionAWS, ""), doc)
		if len(c.Problems) != 0 || !hasLine(c.Notes, "Rolegate signs every assertion regardless") {
			t.Errorf("%s: problems %q, notes %q", name, c.Problems, c.Notes)
		}
	}
	if c := checkDoc(t, account(store.PartitionAWS, ""), global); len(c.Notes) != 0 {
		t.Errorf("AWS's own document: notes %q", c.Notes)
	}
}

func TestReadSPMetadataRefusesWhatIsNotOneSPEntityDescriptor(t *testing.T) {
	global := spDoc(t, "global.xml")
	laughs := `<?xml version="1.0"?>
<!DOCTYPE EntityDescriptor [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol3;"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>`
	external := strings.Replace(global, `<?xml version="1.0"?>`, `<?xml version="1.0"?>
<!DOCTYPE EntityDescriptor SYSTEM "http://169.254.169.254/latest/meta-data/">`, 1)
	for _, tc := range []struct {
		name, doc, says string
	}{
		{"an entity-expansion document", laughs, "has a DTD"},
		{"a DTD naming an external resource", external, "has a DTD"},
		{"an oversized document", global + "<!--" + strings.Repeat("x", awsadmin.MaxSPMetadataBytes) + "-->", "larger than"},
		{"an empty document", " \n", "empty"},
		{"not XML", "{\"entityID\": \"urn:amazon:webservices\"}", "not"},
		{"IdP metadata", `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:amazon:webservices"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>`,
			"0 SPSSODescriptor"},
		{"another root element", `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>`, "not one SAML md:EntityDescriptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md, err := awsadmin.ReadSPMetadata([]byte(tc.doc))
			if md != nil || !store.IsCode(err, store.Invalid) || !strings.Contains(store.ErrorMessage(err), tc.says) {
				t.Fatalf("got %v, %v; want an invalid error saying %q", md, err, tc.says)
			}
		})
	}
}

func TestOnlyAddressesOfDocumentsAWSPublishesAreFetched(t *testing.T) {
	for _, tc := range []struct {
		p   store.Partition
		url string
		ok  bool
	}{
		{store.PartitionAWS, "https://signin.aws.amazon.com/static/saml-metadata.xml", true},
		{store.PartitionAWS, "https://us-east-2.signin.aws.amazon.com/static/saml-metadata.xml", true},
		{store.PartitionAWS, "https://us-east-2.signin.aws.amazon.com/static/saml/" + testIdPID + "/saml-metadata.xml", true},
		{store.PartitionAWS, "https://signin.aws.amazon.com:443/static/saml-metadata.xml", true},
		{store.PartitionGovCloud, "https://signin.amazonaws-us-gov.com/static/saml-metadata.xml", true},
		{store.PartitionChina, "https://cn-northwest-1.signin.amazonaws.cn/static/saml-metadata.xml", true},
		{store.PartitionAWS, "http://signin.aws.amazon.com/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://evil.example/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://signin.aws.amazon.com.evil.example/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://evil.example#.signin.aws.amazon.com/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://signin.aws.amazon.com@evil.example/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://user@signin.aws.amazon.com/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://signin.aws.amazon.com:8443/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://169.254.169.254/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://mars-east-1.signin.aws.amazon.com/static/saml-metadata.xml", false},
		{store.PartitionAWS, "https://signin.aws.amazon.com/static/saml-metadata.xml?x=1", false},
		{store.PartitionAWS, "https://signin.aws.amazon.com/oauth?redirect_uri=x", false},
		{store.PartitionAWS, "https://signin.aws.amazon.com/static/saml/../../x/saml-metadata.xml", false},
		{store.PartitionAWS, "https://signin.amazonaws-us-gov.com/static/saml-metadata.xml", false},
		{store.PartitionGovCloud, "https://signin.aws.amazon.com/static/saml-metadata.xml", false},
		{store.PartitionAWS, "file:///etc/passwd", false},
	} {
		_, err := awsadmin.CheckSPMetadataURL(tc.p, tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: %v, want ok=%v", tc.p, tc.url, err, tc.ok)
		}
	}
}

// awsStandIn serves as every AWS sign-in host: its client dials the test server whatever the host,
// and checks its certificate, so the URL and redirect rules are the real ones.
func awsStandIn(t *testing.T, h http.HandlerFunc) *http.Client {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
	tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	return &http.Client{Transport: tr}
}

func TestFetchSPMetadataStaysOnAWSsHostsAndWithinBounds(t *testing.T) {
	global := spDoc(t, "global.xml")
	client := awsStandIn(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Host + r.URL.Path {
		case "signin.aws.amazon.com/static/saml-metadata.xml":
			w.Write([]byte(global))
		case "us-east-2.signin.aws.amazon.com/static/saml-metadata.xml":
			http.Redirect(w, r, "https://signin.aws.amazon.com/static/saml-metadata.xml", http.StatusFound)
		case "us-west-2.signin.aws.amazon.com/static/saml-metadata.xml":
			http.Redirect(w, r, "https://evil.example/static/saml-metadata.xml", http.StatusFound)
		case "eu-west-1.signin.aws.amazon.com/static/saml-metadata.xml":
			http.Redirect(w, r, "http://signin.aws.amazon.com/static/saml-metadata.xml", http.StatusMovedPermanently)
		case "eu-west-2.signin.aws.amazon.com/static/saml-metadata.xml":
			w.Write([]byte(strings.Repeat("<x/>", awsadmin.MaxSPMetadataBytes/4+1)))
		case "eu-west-3.signin.aws.amazon.com/static/saml-metadata.xml":
			http.Redirect(w, r, "https://eu-west-3.signin.aws.amazon.com/static/saml-metadata.xml", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	got, err := awsadmin.FetchSPMetadata(ctx, store.PartitionAWS, "https://signin.aws.amazon.com/static/saml-metadata.xml", client)
	if err != nil || string(got) != global {
		t.Fatalf("the global document: %v", err)
	}
	if got, err = awsadmin.FetchSPMetadata(ctx, store.PartitionAWS, "https://us-east-2.signin.aws.amazon.com/static/saml-metadata.xml", client); err != nil || string(got) != global {
		t.Fatalf("a redirect to another AWS sign-in host is followed: %v", err)
	}
	for _, tc := range []struct {
		name, url, says string
	}{
		{"a redirect off AWS's hosts", "https://us-west-2.signin.aws.amazon.com/static/saml-metadata.xml", "redirects to https://evil.example/static/saml-metadata.xml, which is not AWS's sign-in"},
		{"a redirect to plain http", "https://eu-west-1.signin.aws.amazon.com/static/saml-metadata.xml", "which is not AWS's sign-in"},
		{"an oversized document", "https://eu-west-2.signin.aws.amazon.com/static/saml-metadata.xml", "larger than"},
		{"a redirect loop", "https://eu-west-3.signin.aws.amazon.com/static/saml-metadata.xml", "more than 3 redirects"},
		{"a document that is not there", "https://ap-south-1.signin.aws.amazon.com/static/saml-metadata.xml", "AWS answered 404"},
		{"a host that is not AWS's, never dialled", "https://evil.example/static/saml-metadata.xml", "only from AWS's sign-in hosts"},
		{"plain http, never dialled", "http://signin.aws.amazon.com/static/saml-metadata.xml", "only an https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := awsadmin.FetchSPMetadata(ctx, store.PartitionAWS, tc.url, client)
			if b != nil || !store.IsCode(err, store.Invalid) || !strings.Contains(store.ErrorMessage(err), tc.says) {
				t.Fatalf("got %d bytes, %v; want an invalid error saying %q", len(b), err, tc.says)
			}
		})
	}
}
