package awsadmin_test

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/awsadmin"
	"rolegate/store"
)

// TestSAMLAudIsEveryRecipientRolegateProduces holds the trust policy against the planner itself:
// for every partition, region, encryption mode and way in (a browser link with or without
// region=, a command line), the Recipient of a sign-in Rolegate would issue is in SAML:aud, and
// every SAML:aud value is the Recipient of some sign-in once the account has its key.
func TestSAMLAudIsEveryRecipientRolegateProduces(t *testing.T) {
	_, cert := samltest.KeyPair(t, 2048, "enc")
	const idp = "SAMLSPEXAMPLE7Q2W4Z9K1"
	others := map[store.Partition]string{store.PartitionAWS: "ap-south-1", store.PartitionGovCloud: "us-gov-east-1", store.PartitionChina: "cn-northwest-1"}
	for _, acct := range []store.Account{
		{Partition: store.PartitionAWS}, {Partition: store.PartitionAWS, Region: "eu-west-1"}, {Partition: store.PartitionAWS, Region: "us-east-1"},
		{Partition: store.PartitionGovCloud}, {Partition: store.PartitionGovCloud, Region: "us-gov-west-1"},
		{Partition: store.PartitionChina}, {Partition: store.PartitionChina, Region: "cn-north-1"},
	} {
		for _, mode := range []store.EncryptMode{store.EncryptOff, store.EncryptAllowed, store.EncryptRequired} {
			for _, id := range []string{"", idp} {
				for _, withKey := range []bool{false, true} {
					a := acct
					a.ID, a.Alias, a.ProviderName, a.AWS = "111122223333", "prod", "Rolegate", store.AWSLink{Encrypt: mode, IdPID: id}
					var enc *assertions.Encryption
					if withKey {
						enc = &assertions.Encryption{Cert: cert, Rand: rand.Reader}
					}
					other := others[a.Partition]
					p, _, err := awsadmin.TrustPolicy(awsadmin.TrustInput{Account: &a, Regions: []string{other}})
					if err != nil {
						t.Fatal(err)
					}
					aud := p.Statement[0].Condition["StringEquals"]["SAML:aud"]
					produced := map[string]bool{}
					for _, region := range []string{"", assertions.AccountRegion(&a), other} {
						for _, cli := range []bool{false, true} {
							plan, err := assertions.PlanAWS(assertions.AWSSignIn{User: &store.User{Name: "alice", Subject: "s"}, Account: &a,
								Grants: []*store.Grant{{AccountID: a.ID, Role: "Admin"}}, Region: region, Encryption: enc, ClientReads: cli,
								Now: time.Now(), AuthnInstant: time.Now(), ResponseID: "_r", AssertionID: "_a"})
							if err != nil {
								continue // refused: no Recipient
							}
							produced[plan.ACS] = true
							if !slices.Contains(aud, plan.ACS) {
								t.Errorf("%s %s region %q, mode %q, IdP ID %q, key %v, link region %q, command line %v: Recipient %s is not in SAML:aud %q",
									a.Partition, a.Region, a.Region, mode, id, withKey, region, cli, plan.ACS, aud)
							}
						}
					}
					// An account that requires encryption keeps its plain endpoints in SAML:aud: IAM's
					// Required mode refuses a plain assertion anyway, and the command line's
					// flows need them back the moment it is set to allowed.
					for _, u := range aud {
						if !produced[u] && withKey && (mode != store.EncryptRequired || strings.Contains(u, "/acs/")) {
							t.Errorf("%s region %q, mode %q, IdP ID %q: SAML:aud names %s, which no sign-in goes to", a.Partition, a.Region, mode, id, u)
						}
					}
				}
			}
		}
	}
}
