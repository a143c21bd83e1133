package assertions_test

import (
	"encoding/base64"
	"fmt"
	"testing"

	"rolegate/assertions"
	"rolegate/store"
)

// The Scale benchmarks are the cost of a sign-in as the roles and session tags grow (issue 14:
// "the cost of 1, 10, 50, 200 roles and of 20 tags"). Each reports the Response's size beside
// the time and allocations: bytes/response (the XML) and b64/response (what AWS counts against
// its 100,000).

// scaleRoles and scaleTags are the sizes the Scale benchmarks measure.
var (
	scaleRoles = []int{1, 10, 50, 200}
	scaleTags  = []int{0, 20}
)

// scaleSignIn is alice granted roles roles in each of accounts accounts (IDs 100000000000 up),
// every account with tags session-tag rules, half of them transitive and half from her attributes.
// Names are of a real organisation's length: role/team-007-PowerUserAccess, cost-centre-07.
func scaleSignIn(accounts, roles, tags int) assertions.AWSSignIn {
	in := signIn()
	in.User.Attributes = map[string]string{}
	in.Account.ID = accountID(0)
	in.Grants, in.TagRules = nil, nil
	for a := range accounts {
		for r := range roles {
			in.Grants = append(in.Grants, &store.Grant{AccountID: accountID(a), Role: fmt.Sprintf("team-%03d-PowerUserAccess", r), Group: "devs"})
		}
		for t := range tags {
			rule := &store.TagRule{AccountID: accountID(a), Key: fmt.Sprintf("cost-centre-%02d", t), Transitive: t%2 == 0}
			if t%2 == 0 {
				rule.FromAttr = rule.Key
			} else {
				rule.Value = fmt.Sprintf("platform-engineering-%02d", t)
			}
			in.TagRules = append(in.TagRules, rule)
			in.User.Attributes[rule.Key] = fmt.Sprintf("attribute-value-%02d", t)
		}
	}
	return in
}

func accountID(i int) string { return fmt.Sprintf("%012d", 100000000000+i) }

// BenchmarkAWSSignInScale is one sign-in to every role of one account that grants roles roles
// (the portal's "all roles" link; AWS shows its role chooser when roles > 1), with tags session
// tags: plan, build, both signatures. A link to one role (account=&role=) builds the roles=1 Response
// whatever the grants; PlanAWS's cost of the other grants is BenchmarkAWSPlanScale's.
func BenchmarkAWSSignInScale(b *testing.B) {
	s := goldenSigner(b)
	for _, n := range scaleRoles {
		for _, t := range scaleTags {
			b.Run(fmt.Sprintf("roles=%d/tags=%d", n, t), func(b *testing.B) {
				in := scaleSignIn(1, n, t)
				var out []byte
				b.ReportAllocs()
				for b.Loop() {
					r, err := assertions.PlanAWS(in)
					if err != nil {
						b.Fatal(err)
					}
					if out, err = assertions.BuildAWS(r, s); err != nil {
						b.Fatal(err)
					}
				}
				reportSize(b, out)
			})
		}
	}
}

// BenchmarkAWSSignInScaleEveryAccount is the Response of "every role the user holds" (ECP or
// rolegate login without an account, AWS's or saml2aws's chooser picks): roles accounts of one role
// each, every one planned from its own grants and tag rules, combined, built and signed once.
func BenchmarkAWSSignInScaleEveryAccount(b *testing.B) {
	s := goldenSigner(b)
	for _, n := range scaleRoles {
		for _, t := range scaleTags {
			b.Run(fmt.Sprintf("roles=%d/tags=%d", n, t), func(b *testing.B) {
				in := scaleSignIn(n, 1, t)
				// As issueAWS: each account's plan gets the account's own grants and tag rules.
				accounts, rules, grants := make([]*store.Account, n), map[string][]*store.TagRule{}, map[string][]*store.Grant{}
				for i := range accounts {
					a := *in.Account
					a.ID = accountID(i)
					accounts[i] = &a
				}
				for _, r := range in.TagRules {
					rules[r.AccountID] = append(rules[r.AccountID], r)
				}
				for _, g := range in.Grants {
					grants[g.AccountID] = append(grants[g.AccountID], g)
				}
				var out []byte
				b.ReportAllocs()
				for b.Loop() {
					plans := make([]*assertions.AWSResponse, 0, n)
					for _, a := range accounts {
						p := in
						p.Account, p.Grants, p.TagRules = a, grants[a.ID], rules[a.ID]
						r, err := assertions.PlanAWS(p)
						if err != nil {
							b.Fatal(err)
						}
						plans = append(plans, r)
					}
					r, left := assertions.CombineAWS(plans)
					if len(left) != 0 || len(r.Roles) != n {
						b.Fatalf("%d roles, %d plans left out", len(r.Roles), len(left))
					}
					var err error
					if out, err = assertions.BuildAWS(r, s); err != nil {
						b.Fatal(err)
					}
				}
				reportSize(b, out)
			})
		}
	}
}

func reportSize(b *testing.B, out []byte) {
	b.ReportMetric(float64(len(out)), "bytes/response")
	b.ReportMetric(float64(base64.StdEncoding.EncodedLen(len(out))), "b64/response")
}
