package assertions_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/store"
)

func TestSessionNameMapsAnyNameIntoAWSsAlphabet(t *testing.T) {
	long := strings.Repeat("x", 70)
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"alice.smith+aws@example.com", "alice.smith+aws@example.com"},
		{"a", "a_-"},
		{"José Núñez", "Jos--N--ez-"},
		{strings.Repeat("y", 64), strings.Repeat("y", 64)},
	} {
		got, err := assertions.SessionName(tc.in)
		if err != nil || !strings.HasPrefix(got, tc.want) || (got != tc.in && len(got) != len(tc.want)+8) {
			t.Errorf("SessionName(%q) = %q, %v; want %q (plus a hash when changed)", tc.in, got, err, tc.want)
		}
		if err := assertions.CheckSessionName(got); err != nil {
			t.Errorf("the mapped name %q breaks the rule: %v", got, err)
		}
	}
	a, _ := assertions.SessionName(long)
	b, _ := assertions.SessionName(long + "z")
	if len(a) != 64 || len(b) != 64 || a == b || assertions.CheckSessionName(a) != nil {
		t.Errorf("long names: %q and %q must be 64 valid characters and differ", a, b)
	}
	// Values that differ only where characters were replaced still map apart.
	for _, pair := range [][2]string{{"a!b@corp.com", "a#b@corp.com"}, {"jörg@corp.com", "jürg@corp.com"}, {"a", "a_"}} {
		x, _ := assertions.SessionName(pair[0])
		y, _ := assertions.SessionName(pair[1])
		if x == y {
			t.Errorf("%q and %q both map to %q", pair[0], pair[1], x)
		}
	}
	if _, err := assertions.SessionName(""); err == nil {
		t.Error("an empty source must be refused")
	}
}

func TestAWSRulesAtTheirBoundaries(t *testing.T) {
	tags := func(n int) []assertions.Tag {
		out := make([]assertions.Tag, n)
		for i := range out {
			out[i] = assertions.Tag{Key: fmt.Sprintf("k%d", i), Value: "v"}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"a 2-character session name is accepted", assertions.CheckSessionName("ab"), true},
		{"a 1-character session name is refused", assertions.CheckSessionName("a"), false},
		{"a 64-character session name is accepted", assertions.CheckSessionName(strings.Repeat("a", 64)), true},
		{"a 65-character session name is refused", assertions.CheckSessionName(strings.Repeat("a", 65)), false},
		{"a session name with a space is refused", assertions.CheckSessionName("al ice"), false},
		{"a session name with every allowed symbol is accepted", assertions.CheckSessionName("a_+=,.@-Z9"), true},
		{"a source identity like a user name is accepted", assertions.CheckSourceIdentity("alice@example.com"), true},
		{"a source identity of 1 character is refused", assertions.CheckSourceIdentity("a"), false},
		{"a source identity of 65 characters is refused", assertions.CheckSourceIdentity(strings.Repeat("a", 65)), false},
		{"a source identity starting with aws: is refused", assertions.CheckSourceIdentity("aws:alice"), false},
		{"a source identity starting with AWS: is refused", assertions.CheckSourceIdentity("AWS:alice"), false},
		{"a source identity merely starting with aws is accepted", assertions.CheckSourceIdentity("awsalice"), true},
		{"a 1-character tag key is accepted", assertions.CheckTagKey("k"), true},
		{"an empty tag key is refused", assertions.CheckTagKey(""), false},
		{"a 128-character tag key is accepted", assertions.CheckTagKey(strings.Repeat("k", 128)), true},
		{"a 129-character tag key is refused", assertions.CheckTagKey(strings.Repeat("k", 129)), false},
		{"a tag key with spaces and symbols is accepted", assertions.CheckTagKey("Cost Center_.:/=+-@"), true},
		{"a tag key with a # is refused", assertions.CheckTagKey("cost#center"), false},
		{"a tag key in the aws: namespace is refused", assertions.CheckTagKey("aws:team"), false},
		{"a tag key with letters beyond ASCII is accepted", assertions.CheckTagKey("équipe"), true},
		{"an empty tag value is accepted", assertions.CheckTagValue("k", ""), true},
		{"a 256-character tag value is accepted", assertions.CheckTagValue("k", strings.Repeat("v", 256)), true},
		{"a 257-character tag value is refused", assertions.CheckTagValue("k", strings.Repeat("v", 257)), false},
		{"a tag value with a comma is refused", assertions.CheckTagValue("k", "a,b"), false},
		{"50 tags are accepted", assertions.CheckTags(tags(50)), true},
		{"51 tags are refused", assertions.CheckTags(tags(51)), false},
		{"two keys differing only in case are refused", assertions.CheckTags([]assertions.Tag{{Key: "Team"}, {Key: "team"}}), false},
		{"a session of 900 s is accepted", assertions.CheckDuration(900 * time.Second), true},
		{"a session of 899 s is refused", assertions.CheckDuration(899 * time.Second), false},
		{"a session of 43200 s is accepted", assertions.CheckDuration(43200 * time.Second), true},
		{"a session of 43201 s is refused", assertions.CheckDuration(43201 * time.Second), false},
		{"a session of a fraction of a second is refused", assertions.CheckDuration(1000*time.Second + time.Millisecond), false},
		{"no session duration leaves the attribute out", assertions.CheckDuration(0), true},
		{"no role is refused", assertions.CheckRoles(nil), false},
		{"a role and provider in one account are accepted", assertions.CheckRoles([]assertions.RolePair{{
			RoleARN: "arn:aws:iam::111122223333:role/path/Admin", ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"}}), true},
		{"a role and provider in two accounts are refused", assertions.CheckRoles([]assertions.RolePair{{
			RoleARN: "arn:aws:iam::111122223333:role/Admin", ProviderARN: "arn:aws:iam::444455556666:saml-provider/Rolegate"}}), false},
		{"a role and provider in two partitions are refused", assertions.CheckRoles([]assertions.RolePair{{
			RoleARN: "arn:aws-cn:iam::111122223333:role/Admin", ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"}}), false},
		{"a provider ARN in the role's place is refused", assertions.CheckRoles([]assertions.RolePair{{
			RoleARN: "arn:aws:iam::111122223333:saml-provider/Rolegate", ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"}}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", tc.err, tc.ok)
			}
			if tc.err != nil && !strings.Contains(tc.err.Error(), "rule") && !strings.Contains(tc.err.Error(), "ARN") &&
				!strings.Contains(tc.err.Error(), "twice") && !strings.Contains(tc.err.Error(), "different") {
				t.Fatalf("the error does not name the rule: %v", tc.err)
			}
		})
	}
}

func TestSignInURLPerPartitionAndRegion(t *testing.T) {
	for _, tc := range []struct {
		p            store.Partition
		region, want string
	}{
		{store.PartitionAWS, "", "https://signin.aws.amazon.com/saml"},
		{store.PartitionAWS, "us-east-2", "https://us-east-2.signin.aws.amazon.com/saml"},
		{store.PartitionGovCloud, "", "https://signin.amazonaws-us-gov.com/saml"},
		{store.PartitionGovCloud, "us-gov-east-1", "https://us-gov-east-1.signin.amazonaws-us-gov.com/saml"},
		{store.PartitionChina, "", "https://signin.amazonaws.cn/saml"},
		{store.PartitionChina, "cn-north-1", "https://cn-north-1.signin.amazonaws.cn/saml"},
	} {
		if got, err := assertions.SignInURL(tc.p, tc.region); err != nil || got != tc.want {
			t.Errorf("SignInURL(%s, %q) = %q, %v; want %q", tc.p, tc.region, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		p      store.Partition
		region string
	}{{store.PartitionAWS, "cn-north-1"}, {store.PartitionChina, "us-east-1"}, {store.PartitionAWS, "evil.com/x"}, {"aws-iso", ""},
		{store.PartitionAWS, "us-evil-1"}, {store.PartitionGovCloud, "us-gov-north-9"}} {
		if got, err := assertions.SignInURL(bad.p, bad.region); err == nil {
			t.Errorf("SignInURL(%s, %q) = %q, want an error", bad.p, bad.region, got)
		}
	}
}

// Every endpoint Rolegate posts an account's Responses to is in AccountSignInURLs, which its roles'
// trust policies list in SAML:aud; nothing else is.
func TestAnAccountsSignInEndpointsAreItsRegionsAndItsProvidersOwn(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    store.Account
		want []string
	}{
		{"no region: the default endpoint", store.Account{Partition: store.PartitionAWS}, []string{"https://signin.aws.amazon.com/saml"}},
		{"a region: that region's only", store.Account{Partition: store.PartitionAWS, Region: "eu-west-1"}, []string{"https://eu-west-1.signin.aws.amazon.com/saml"}},
		{"a region the list lacks: the default endpoint", store.Account{Partition: store.PartitionAWS, Region: "eu-west-9"}, []string{"https://signin.aws.amazon.com/saml"}},
		{"encryption with the IdP ID: the provider's endpoint in the account's region as well",
			store.Account{Partition: store.PartitionChina, Region: "cn-northwest-1", AWS: store.AWSLink{Encrypt: store.EncryptAllowed, IdPID: "SAMLSPX"}},
			[]string{"https://cn-northwest-1.signin.amazonaws.cn/saml", "https://cn-northwest-1.signin.amazonaws.cn/saml/acs/SAMLSPX"}},
		{"encryption with the IdP ID and no region: the provider's endpoint in the default region",
			store.Account{Partition: store.PartitionGovCloud, AWS: store.AWSLink{Encrypt: store.EncryptRequired, IdPID: "SAMLSPX"}},
			[]string{"https://signin.amazonaws-us-gov.com/saml", "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml/acs/SAMLSPX"}},
		{"encryption without the IdP ID: nothing more yet", store.Account{Partition: store.PartitionAWS, AWS: store.AWSLink{Encrypt: store.EncryptRequired}},
			[]string{"https://signin.aws.amazon.com/saml"}},
		{"an IdP ID without encryption: nothing more", store.Account{Partition: store.PartitionAWS, AWS: store.AWSLink{IdPID: "SAMLSPX"}},
			[]string{"https://signin.aws.amazon.com/saml"}},
	} {
		got, err := assertions.AccountSignInURLs(&tc.a)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", "SAMLSP?x=1", strings.Repeat("A", 65)} {
		if u, err := assertions.EncryptedSignInURL(store.PartitionAWS, "", bad); err == nil {
			t.Errorf("IdP ID %q made %q", bad, u)
		}
	}
}

func TestRelayStateOnlyToTheConsoleOfThePartition(t *testing.T) {
	for _, tc := range []struct {
		p     store.Partition
		relay string
		ok    bool
	}{
		{store.PartitionAWS, "", true},
		{store.PartitionAWS, "https://console.aws.amazon.com/ec2/home?region=ap-northeast-1", true},
		{store.PartitionAWS, "https://us-east-2.console.aws.amazon.com/s3/buckets/x", true},
		{store.PartitionGovCloud, "https://console.amazonaws-us-gov.com/iam/home", true},
		{store.PartitionChina, "https://console.amazonaws.cn/", true},
		{store.PartitionAWS, "http://console.aws.amazon.com/", false},
		{store.PartitionAWS, "https://console.aws.amazon.com.evil.com/", false},
		{store.PartitionAWS, "https://evil.com/?x=console.aws.amazon.com", false},
		{store.PartitionAWS, "https://console.aws.amazon.com@evil.com/", false},
		{store.PartitionAWS, "https://evil.com\\@console.aws.amazon.com/", false},
		{store.PartitionAWS, "https://a.b.console.aws.amazon.com/", false},
		{store.PartitionAWS, "https://console.aws.amazon.com:8443/", false},
		{store.PartitionAWS, "//console.aws.amazon.com/", false},
		{store.PartitionAWS, "javascript:alert(1)", false},
		{store.PartitionAWS, "https://console.amazonaws-us-gov.com/", false},
		{store.PartitionGovCloud, "https://console.aws.amazon.com/", false},
		{store.PartitionAWS, "https://eu-west-9.console.aws.amazon.com/", false}, // a region AWS does not have
		{store.PartitionAWS, "https://cn-north-1.console.aws.amazon.com/", false},
		{store.PartitionGovCloud, "https://us-gov-east-1.console.amazonaws-us-gov.com/", true},
		{store.PartitionAWS, "https://console.aws.amazon.com/" + strings.Repeat("a", 2100), false},
	} {
		if err := assertions.CheckRelayState(tc.p, tc.relay); (err == nil) != tc.ok {
			t.Errorf("CheckRelayState(%s, %.60q) = %v, want ok=%v", tc.p, tc.relay, err, tc.ok)
		}
	}
}

func TestBuildRefusesWhatAWSWouldRefuse(t *testing.T) {
	s := testSigner(t)
	for _, tc := range []struct {
		name   string
		change func(r *assertions.AWSResponse)
		want   string
	}{
		{"a bad session name", func(r *assertions.AWSResponse) { r.SessionName = "a b" }, "RoleSessionName"},
		{"a bad source identity", func(r *assertions.AWSResponse) { r.SourceIdentity = "aws:x" }, "SourceIdentity"},
		{"a bad tag", func(r *assertions.AWSResponse) { r.Tags = []assertions.Tag{{Key: "aws:x"}} }, "reserved"},
		{"no roles", func(r *assertions.AWSResponse) { r.Roles = nil }, "Role"},
		{"no NameID", func(r *assertions.AWSResponse) { r.NameID = "" }, "NameID"},
		{"a long session", func(r *assertions.AWSResponse) { r.SessionDuration = 13 * time.Hour }, "SessionDuration"},
		{"too many roles for the size limit", func(r *assertions.AWSResponse) {
			for i := range 700 {
				r.Roles = append(r.Roles, assertions.RolePair{
					RoleARN:     fmt.Sprintf("arn:aws:iam::111122223333:role/some/long/path/Role%04d", i),
					ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"})
			}
		}, "carries 701 roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validResponse()
			tc.change(r)
			out, err := assertions.BuildAWS(r, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != nil {
				t.Fatalf("err = %v, want one naming %q and no output", err, tc.want)
			}
		})
	}
}
