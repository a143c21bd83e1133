package assertions_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"rolegate/assertions"
	"rolegate/store"
)

func TestPlanAppliesTheAccountsEncryptionMode(t *testing.T) {
	const id = "A1B2C3D4-0000-1111-2222-333344445555"
	enc := &assertions.Encryption{Cert: selfSigned(t, 2048, "enc"), Rand: rand.Reader}
	for _, tc := range []struct {
		name      string
		mode      store.EncryptMode
		partition store.Partition
		region    string // the account's
		asked     string // the link's
		idpID     string
		key       bool
		client    bool
		acs       string // "" with encrypted false: the plain endpoint
		encrypted bool
		err       string
	}{
		{name: "off: plain, to the plain endpoint, even with a key and an IdP ID", mode: store.EncryptOff, idpID: id, key: true,
			acs: "https://signin.aws.amazon.com/saml"},
		{name: "required with a key and an IdP ID: encrypted, to the default region's /acs/ endpoint", mode: store.EncryptRequired, idpID: id, key: true,
			acs: "https://us-east-1.signin.aws.amazon.com/saml/acs/" + id, encrypted: true},
		{name: "the account's region picks the regional endpoint", mode: store.EncryptRequired, idpID: id, key: true, region: "eu-west-1",
			acs: "https://eu-west-1.signin.aws.amazon.com/saml/acs/" + id, encrypted: true},
		{name: "the region a link asks for wins over the account's", mode: store.EncryptRequired, idpID: id, key: true, region: "eu-west-1", asked: "us-west-2",
			acs: "https://us-west-2.signin.aws.amazon.com/saml/acs/" + id, encrypted: true},
		{name: "GovCloud's default region", mode: store.EncryptAllowed, partition: store.PartitionGovCloud, idpID: id, key: true,
			acs: "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml/acs/" + id, encrypted: true},
		{name: "China's default region", mode: store.EncryptAllowed, partition: store.PartitionChina, idpID: id, key: true,
			acs: "https://cn-north-1.signin.amazonaws.cn/saml/acs/" + id, encrypted: true},
		{name: "required without an IdP ID is refused, naming aws register", mode: store.EncryptRequired, key: true,
			err: "requires encrypted assertions, but Rolegate does not know the IdP ID AWS gave its SAML provider: an admin runs `rolegate aws register --account prod`"},
		{name: "required without a current key is refused, naming aws register", mode: store.EncryptRequired, idpID: id,
			err: "it has no current encryption key in IAM: an admin runs `rolegate aws register --account prod`"},
		{name: "allowed without an IdP ID falls back to plain", mode: store.EncryptAllowed, key: true, acs: "https://signin.aws.amazon.com/saml"},
		{name: "allowed without a key falls back to plain, in the account's region", mode: store.EncryptAllowed, idpID: id, region: "eu-west-1",
			acs: "https://eu-west-1.signin.aws.amazon.com/saml"},
		{name: "allowed, for a command line that reads the roles: plain", mode: store.EncryptAllowed, idpID: id, key: true, client: true,
			acs: "https://signin.aws.amazon.com/saml"},
		{name: "required, for a command line: refused, saying why and what to do", mode: store.EncryptRequired, idpID: id, key: true, client: true,
			err: "the command line cannot read the roles in one: sign in to it in the browser, or ask an admin to run `rolegate account set prod --encrypt allowed`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := signIn()
			a := *in.Account
			a.AWS = store.AWSLink{Encrypt: tc.mode, IdPID: tc.idpID}
			a.Region = tc.region
			if tc.partition != "" {
				a.Partition = tc.partition
			}
			in.Account, in.Region, in.ClientReads = &a, tc.asked, tc.client
			if tc.key {
				in.Encryption = enc
			}
			r, err := assertions.PlanAWS(in)
			if tc.err != "" {
				if !store.IsCode(err, store.Forbidden) || !strings.Contains(store.ErrorMessage(err), tc.err) {
					t.Fatalf("err = %v; want Forbidden saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ACS != tc.acs || (r.Encrypt != nil) != tc.encrypted || (tc.encrypted && r.Encrypt != enc) {
				t.Fatalf("ACS %s, encrypted %v; want %s, %v", r.ACS, r.Encrypt != nil, tc.acs, tc.encrypted)
			}
		})
	}
}

func TestEncryptedSignInURLRefusesABadIdPID(t *testing.T) {
	for _, id := range []string{"", "../../evil", "a b", strings.Repeat("A", 65)} {
		if u, err := assertions.EncryptedSignInURL(store.PartitionAWS, "", id); !store.IsCode(err, store.Invalid) {
			t.Errorf("%q: %s %v", id, u, err)
		}
	}
}
