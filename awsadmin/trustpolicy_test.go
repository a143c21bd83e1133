package awsadmin_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"rolegate/awsadmin"
	"rolegate/store"
)

// policyOf builds the policy and reads it back as plain JSON, as IAM would parse it.
func policyOf(t *testing.T, in awsadmin.TrustInput) (map[string]any, []string) {
	t.Helper()
	p, notes, err := awsadmin.TrustPolicy(in)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	return doc, notes
}

func TestTrustPolicyNamesTheProviderTheActionsAndExactlyTheEndpointsRolegatePostsTo(t *testing.T) {
	const uuid = "a1b2c3d4-1111-2222-3333-444455556666"
	for _, tc := range []struct {
		name      string
		partition store.Partition
		region    string
		encrypt   store.EncryptMode
		idpID     string
		tags      bool
		regions   []string
		sourceID  store.NameSource
		principal string
		actions   []string
		aud       []string
		note      string
	}{
		{name: "a commercial account without a region: the default endpoint only, the sign-in action only",
			partition: store.PartitionAWS,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.aws.amazon.com/saml"}},
		{name: "a commercial account with a region: its regional endpoint, not the default one",
			partition: store.PartitionAWS, region: "eu-west-1",
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://eu-west-1.signin.aws.amazon.com/saml"}},
		{name: "a stored region Rolegate's list does not know signs in, and is trusted, at the default endpoint",
			partition: store.PartitionAWS, region: "eu-west-9",
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.aws.amazon.com/saml"}},
		{name: "GovCloud: its ARN partition and its sign-in host",
			partition: store.PartitionGovCloud, region: "us-gov-east-1",
			principal: "arn:aws-us-gov:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://us-gov-east-1.signin.amazonaws-us-gov.com/saml"}},
		{name: "GovCloud without a region: the partition's default endpoint",
			partition: store.PartitionGovCloud,
			principal: "arn:aws-us-gov:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.amazonaws-us-gov.com/saml"}},
		{name: "China: its ARN partition and its sign-in host",
			partition: store.PartitionChina, region: "cn-northwest-1",
			principal: "arn:aws-cn:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://cn-northwest-1.signin.amazonaws.cn/saml"}},
		{name: "China without a region: the partition's default endpoint",
			partition: store.PartitionChina,
			principal: "arn:aws-cn:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.amazonaws.cn/saml"}},
		{name: "tag rules need sts:TagSession",
			partition: store.PartitionAWS, tags: true,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML", "sts:TagSession"},
			aud:       []string{"https://signin.aws.amazon.com/saml"}},
		{name: "a source identity needs sts:SetSourceIdentity",
			partition: store.PartitionAWS, sourceID: store.FromEmail,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML", "sts:SetSourceIdentity"},
			aud:       []string{"https://signin.aws.amazon.com/saml"}},
		{name: "tags and a source identity need both",
			partition: store.PartitionAWS, tags: true, sourceID: store.FromUsername,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"},
			aud:       []string{"https://signin.aws.amazon.com/saml"}},
		{name: "encryption required with the IdP ID known adds the per-provider ACS of the account's region",
			partition: store.PartitionAWS, region: "us-east-2", encrypt: store.EncryptRequired, idpID: uuid,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://us-east-2.signin.aws.amazon.com/saml", "https://us-east-2.signin.aws.amazon.com/saml/acs/" + uuid}},
		{name: "encryption allowed without a region: the per-provider ACS of the partition's default region",
			partition: store.PartitionAWS, encrypt: store.EncryptAllowed, idpID: uuid,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.aws.amazon.com/saml", "https://us-east-1.signin.aws.amazon.com/saml/acs/" + uuid}},
		{name: "encryption in GovCloud: the per-provider ACS on GovCloud's sign-in host",
			partition: store.PartitionGovCloud, encrypt: store.EncryptRequired, idpID: uuid,
			principal: "arn:aws-us-gov:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.amazonaws-us-gov.com/saml", "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml/acs/" + uuid}},
		{name: "encryption without the IdP ID yet: the plain endpoint, and a note saying how to learn it",
			partition: store.PartitionAWS, encrypt: store.EncryptRequired,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.aws.amazon.com/saml"},
			note:      "rolegate aws register --account prod"},
		{name: "regions links ask for add their endpoints after the account's own, once each",
			partition: store.PartitionAWS, region: "eu-west-1", regions: []string{"us-west-2", "eu-west-1", "us-west-2"},
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://eu-west-1.signin.aws.amazon.com/saml", "https://us-west-2.signin.aws.amazon.com/saml"}},
		{name: "a region links ask for, on an account that encrypts, adds both of that region's endpoints",
			partition: store.PartitionAWS, encrypt: store.EncryptAllowed, idpID: uuid, regions: []string{"eu-west-1"},
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud: []string{"https://signin.aws.amazon.com/saml", "https://us-east-1.signin.aws.amazon.com/saml/acs/" + uuid,
				"https://eu-west-1.signin.aws.amazon.com/saml", "https://eu-west-1.signin.aws.amazon.com/saml/acs/" + uuid}},
		{name: "an IdP ID known while encryption is off adds nothing",
			partition: store.PartitionAWS, idpID: uuid,
			principal: "arn:aws:iam::111122223333:saml-provider/Rolegate",
			actions:   []string{"sts:AssumeRoleWithSAML"},
			aud:       []string{"https://signin.aws.amazon.com/saml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: tc.partition, Region: tc.region,
				SourceIdentitySource: tc.sourceID, AWS: store.AWSLink{Encrypt: tc.encrypt, IdPID: tc.idpID}}
			doc, notes := policyOf(t, awsadmin.TrustInput{Account: acct, TagRules: tc.tags, Regions: tc.regions})
			want := map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{map[string]any{
					"Effect":    "Allow",
					"Principal": map[string]any{"Federated": tc.principal},
					"Action":    strs(tc.actions),
					"Condition": map[string]any{"StringEquals": map[string]any{"SAML:aud": strs(tc.aud)}},
				}},
			}
			if !reflect.DeepEqual(doc, want) {
				got, _ := json.MarshalIndent(doc, "", "  ")
				exp, _ := json.MarshalIndent(want, "", "  ")
				t.Fatalf("policy:\n%s\nwant:\n%s", got, exp)
			}
			if tc.note == "" && len(notes) > 0 || tc.note != "" && !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Fatalf("notes %q, want one saying %q", notes, tc.note)
			}
		})
	}
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// The policy is printed indented, as AWS's examples are, with the keys in their order; IAM counts
// its size without white space.
func TestTrustPolicyTextKeepsAWSKeyOrderAndFitsIAMsQuota(t *testing.T) {
	acct := &store.Account{ID: "111122223333", Alias: "prod", ProviderName: strings.Repeat("p", 128), Partition: store.PartitionAWS,
		Region: "ap-southeast-5", SourceIdentitySource: store.FromEmail,
		AWS: store.AWSLink{Encrypt: store.EncryptRequired, IdPID: strings.Repeat("A", 64)}}
	p, _, err := awsadmin.TrustPolicy(awsadmin.TrustInput{Account: acct, TagRules: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	order := []string{`"Version": "2012-10-17"`, `"Statement"`, `"Effect": "Allow"`, `"Principal"`, `"Federated"`, `"Action"`, `"Condition"`, `"StringEquals"`, `"SAML:aud"`}
	at := -1
	for _, k := range order {
		i := strings.Index(text, k)
		if i <= at {
			t.Fatalf("%s out of order or missing:\n%s", k, text)
		}
		at = i
	}
	if n := len(strings.Join(strings.Fields(text), "")); n > awsadmin.MaxTrustPolicyLen {
		t.Fatalf("the longest policy is %d characters without white space, over IAM's %d", n, awsadmin.MaxTrustPolicyLen)
	}
}

func TestTrustPolicyRefusesAnAccountWithoutAPartition(t *testing.T) {
	_, _, err := awsadmin.TrustPolicy(awsadmin.TrustInput{Account: &store.Account{ID: "111122223333", Alias: "x", ProviderName: "P", Partition: "aws-mars"}})
	if !store.IsCode(err, store.Invalid) {
		t.Fatalf("got %v", err)
	}
}

func TestTrustPolicyRefusesARegionOfAnotherPartition(t *testing.T) {
	acct := &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS}
	for _, r := range []string{"cn-north-1", "us-gov-west-1", "evil.example.com/", "eu-west-9"} {
		if _, _, err := awsadmin.TrustPolicy(awsadmin.TrustInput{Account: acct, Regions: []string{r}}); !store.IsCode(err, store.Invalid) {
			t.Errorf("region %q: %v", r, err)
		}
	}
}
