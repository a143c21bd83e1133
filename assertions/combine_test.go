package assertions

import (
	"slices"
	"testing"
	"time"
)

func TestCombineAWSJoinsOnlyAccountsWhoseSessionAttributesAgree(t *testing.T) {
	plan := func(account string, d time.Duration, si string, tags ...Tag) *AWSResponse {
		return &AWSResponse{ACS: "https://signin.aws.amazon.com/saml", SessionName: "alice", SessionDuration: d, SourceIdentity: si, Tags: tags,
			AuthnContext: ContextPassword, Roles: []RolePair{{RoleARN: "arn:aws:iam::" + account + ":role/R", ProviderARN: "arn:aws:iam::" + account + ":saml-provider/P"}}}
	}
	team := Tag{Key: "team", Value: "platform"}
	for _, c := range []struct {
		name  string
		plans []*AWSResponse
		in    int   // roles in the combined Response
		left  []int // plans left out
	}{
		{"identical settings go in together", []*AWSResponse{plan("111111111111", time.Hour, ""), plan("222222222222", time.Hour, "")}, 2, nil},
		{"a longer duration is not shortened to fit", []*AWSResponse{plan("111111111111", time.Hour, ""), plan("222222222222", 2*time.Hour, ""),
			plan("333333333333", time.Hour, "")}, 2, []int{1}},
		{"an account without the tag does not get it", []*AWSResponse{plan("111111111111", time.Hour, "", team), plan("222222222222", time.Hour, "")}, 1, []int{1}},
		{"an account without source identity does not get one", []*AWSResponse{plan("111111111111", time.Hour, "alice"), plan("222222222222", time.Hour, "")}, 1, []int{1}},
		{"an omitted duration differs from a set one", []*AWSResponse{plan("111111111111", 0, ""), plan("222222222222", time.Hour, "")}, 1, []int{1}},
		{"a transitive tag differs from a plain one", []*AWSResponse{plan("111111111111", time.Hour, "", team),
			plan("222222222222", time.Hour, "", Tag{Key: "team", Value: "platform", Transitive: true})}, 1, []int{1}},
		{"the largest group wins", []*AWSResponse{plan("111111111111", 0, ""), plan("222222222222", time.Hour, ""), plan("333333333333", time.Hour, "")}, 2, []int{0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, left := CombineAWS(c.plans)
			if len(got.Roles) != c.in || len(left) != len(c.left) {
				t.Fatalf("%d roles, left out %v; want %d, %v", len(got.Roles), left, c.in, c.left)
			}
			for i := range left {
				if left[i] != c.left[i] {
					t.Fatalf("left out %v, want %v", left, c.left)
				}
			}
			// Every plan that went in has exactly the combined Response's session attributes.
			for i, p := range c.plans {
				if !slices.Contains(left, i) && sessionKey(p) != sessionKey(got) {
					t.Fatalf("plan %d went in with other attributes", i)
				}
			}
		})
	}
}
