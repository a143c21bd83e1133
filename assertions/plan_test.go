package assertions_test

import (
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/store"
)

func signIn() assertions.AWSSignIn {
	return assertions.AWSSignIn{
		BaseURL: "https://idp.example.com",
		User: &store.User{Name: "alice", Subject: "rg-abc", Email: "alice.smith@example.com",
			Attributes: map[string]string{"team": "platform", "bad": "a,b"}},
		Account: &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS,
			SessionNameSource: store.FromUsername, SessionDuration: 4 * time.Hour},
		Grants: []*store.Grant{
			{AccountID: "111122223333", Role: "ReadOnly", Group: "devs"},
			{AccountID: "111122223333", Role: "Admin", User: "alice", SessionDuration: time.Hour},
			{AccountID: "111122223333", Role: "ReadOnly", User: "alice"},
			{AccountID: "444455556666", Role: "Other", Group: "devs"},
		},
		TagRules: []*store.TagRule{
			{AccountID: "111122223333", Key: "team", FromAttr: "team", Transitive: true},
			{AccountID: "111122223333", Key: "env", Value: "prod"},
			{AccountID: "111122223333", Key: "missing", FromAttr: "nope"},
			{AccountID: "444455556666", Key: "elsewhere", Value: "x"},
		},
		AuthnInstant: now.Add(-time.Minute), Now: now, ResponseID: "_r", AssertionID: "_a",
	}
}

func TestPlanAWS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*assertions.AWSSignIn)
		check  func(t *testing.T, r *assertions.AWSResponse)
		err    string
	}{
		{"all roles in the account, each once, none from other accounts", nil, func(t *testing.T, r *assertions.AWSResponse) {
			if len(r.Roles) != 2 || r.Roles[0].RoleARN != "arn:aws:iam::111122223333:role/Admin" ||
				r.Roles[1].RoleARN != "arn:aws:iam::111122223333:role/ReadOnly" ||
				r.Roles[0].ProviderARN != "arn:aws:iam::111122223333:saml-provider/Rolegate" {
				t.Fatalf("roles %+v", r.Roles)
			}
			if r.SessionDuration != time.Hour {
				t.Fatalf("the shortest grant duration wins: %s", r.SessionDuration)
			}
			if r.ACS != "https://signin.aws.amazon.com/saml" || r.NameID != "rg-abc" || r.SessionName != "alice" || r.SourceIdentity != "" {
				t.Fatalf("%s %s %s %q", r.ACS, r.NameID, r.SessionName, r.SourceIdentity)
			}
			if len(r.Tags) != 2 || r.Tags[0] != (assertions.Tag{Key: "team", Value: "platform", Transitive: true}) ||
				r.Tags[1] != (assertions.Tag{Key: "env", Value: "prod"}) {
				t.Fatalf("tags %+v", r.Tags)
			}
			if r.AuthnContext != assertions.ContextPassword {
				t.Fatal(r.AuthnContext)
			}
		}, ""},
		{"one role, with the account's duration", func(in *assertions.AWSSignIn) { in.Role = "ReadOnly" }, func(t *testing.T, r *assertions.AWSResponse) {
			if len(r.Roles) != 1 || !strings.HasSuffix(r.Roles[0].RoleARN, "role/ReadOnly") || r.SessionDuration != 4*time.Hour {
				t.Fatalf("%+v %s", r.Roles, r.SessionDuration)
			}
		}, ""},
		{"a role not granted is forbidden", func(in *assertions.AWSSignIn) { in.Role = "Other" }, nil, "not granted role \"Other\""},
		{"no grant in the account is forbidden", func(in *assertions.AWSSignIn) { in.Grants = in.Grants[3:] }, nil, "not granted any role"},
		{"the account's region picks its regional endpoint", func(in *assertions.AWSSignIn) { in.Account.Region = "eu-west-1" }, func(t *testing.T, r *assertions.AWSResponse) {
			if r.ACS != "https://eu-west-1.signin.aws.amazon.com/saml" {
				t.Fatal(r.ACS)
			}
		}, ""},
		{"a link asking for the account's own region is planned", func(in *assertions.AWSSignIn) { in.Account.Region, in.Region = "eu-west-1", "eu-west-1" }, func(t *testing.T, r *assertions.AWSResponse) {
			if r.ACS != "https://eu-west-1.signin.aws.amazon.com/saml" {
				t.Fatal(r.ACS)
			}
		}, ""},
		{"a link asking for another region than the account's gets that region's endpoint", func(in *assertions.AWSSignIn) {
			in.Account.Region, in.Region = "eu-west-1", "eu-west-2"
		}, func(t *testing.T, r *assertions.AWSResponse) {
			if r.ACS != "https://eu-west-2.signin.aws.amazon.com/saml" {
				t.Fatal(r.ACS)
			}
		}, ""},
		{"a region of another partition is refused", func(in *assertions.AWSSignIn) { in.Region = "cn-north-1" }, nil, "not in partition aws"},
		{"GovCloud ARNs and endpoint", func(in *assertions.AWSSignIn) {
			in.Account.Partition, in.Account.Region = store.PartitionGovCloud, "us-gov-west-1"
		}, func(t *testing.T, r *assertions.AWSResponse) {
			if r.ACS != "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml" || !strings.HasPrefix(r.Roles[0].RoleARN, "arn:aws-us-gov:iam::") {
				t.Fatalf("%s %s", r.ACS, r.Roles[0].RoleARN)
			}
		}, ""},
		{"session name and source identity from the email", func(in *assertions.AWSSignIn) {
			in.Account.SessionNameSource, in.Account.SourceIdentitySource = store.FromEmail, store.FromEmail
		}, func(t *testing.T, r *assertions.AWSResponse) {
			if r.SessionName != "alice.smith@example.com" || r.SourceIdentity != "alice.smith@example.com" {
				t.Fatalf("%s %s", r.SessionName, r.SourceIdentity)
			}
		}, ""},
		{"email as the source without an email is refused", func(in *assertions.AWSSignIn) {
			in.Account.SessionNameSource, in.User.Email = store.FromEmail, ""
		}, nil, "has none"},
		{"an attribute that breaks the tag rule is refused, naming the tag", func(in *assertions.AWSSignIn) {
			in.TagRules = append(in.TagRules, &store.TagRule{AccountID: "111122223333", Key: "bad", FromAttr: "bad"})
		}, nil, "tag rule \"bad\""},
		{"MFA says so in the context", func(in *assertions.AWSSignIn) { in.MFA = true }, func(t *testing.T, r *assertions.AWSResponse) {
			if r.AuthnContext != assertions.ContextMFA {
				t.Fatal(r.AuthnContext)
			}
		}, ""},
		{"the demo ACS override is used as given", func(in *assertions.AWSSignIn) { in.ACS = "http://localhost:8080/debug/aws-signin" },
			func(t *testing.T, r *assertions.AWSResponse) {
				if r.ACS != "http://localhost:8080/debug/aws-signin" {
					t.Fatal(r.ACS)
				}
			}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := signIn()
			if tc.change != nil {
				tc.change(&in)
			}
			r, err := assertions.PlanAWS(in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
			if _, err := assertions.BuildAWS(r, testSigner(t)); err != nil {
				t.Fatalf("the plan does not build: %v", err)
			}
		})
	}
}

// An account saved with a region AWS opened after Rolegate's list was written (or the list lacks)
// still signs in, at the partition's default endpoint; a link that asks for such a region is refused.
func TestAStoredRegionTheListDoesNotKnowSignsInAtTheDefaultEndpoint(t *testing.T) {
	in := signIn()
	in.Account.Region = "eu-west-9"
	if err := in.Account.Validate(); err != nil {
		t.Fatalf("a stored account with a well-formed region of its partition: %v", err)
	}
	r, err := assertions.PlanAWS(in)
	if err != nil || r.ACS != "https://signin.aws.amazon.com/saml" {
		t.Fatalf("ACS %q, %v; want the default endpoint", r.ACS, err)
	}
	in.Account.Region = "eu-west-2"
	if r, err := assertions.PlanAWS(in); err != nil || r.ACS != "https://eu-west-2.signin.aws.amazon.com/saml" {
		t.Fatalf("a known region: ACS %v, %v", r, err)
	}
	in.Region = "eu-west-9"
	if _, err := assertions.PlanAWS(in); err == nil {
		t.Fatal("a link asking for a region Rolegate does not know was planned")
	}
	for _, bad := range []string{"cn-north-1", "us-gov-west-1", "EU-WEST-1", "eu-west"} {
		in.Account.Region = bad
		if err := in.Account.Validate(); err == nil {
			t.Errorf("region %q stored for a commercial account", bad)
		}
	}
}
