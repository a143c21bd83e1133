package awslogin_test

import (
	"strings"
	"testing"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/awslogin"
	"rolegate/store"
)

func roles() []awslogin.Role {
	return []awslogin.Role{
		{Partition: "aws", Account: prodID, Name: "admin", RoleARN: pair(prodID, "admin").RoleARN, ProviderARN: pair(prodID, "admin").ProviderARN},
		{Partition: "aws", Account: prodID, Name: "ops/reader", RoleARN: pair(prodID, "ops/reader").RoleARN, ProviderARN: pair(prodID, "ops/reader").ProviderARN},
		{Partition: "aws", Account: stagingID, Name: "admin", RoleARN: pair(stagingID, "admin").RoleARN, ProviderARN: pair(stagingID, "admin").ProviderARN},
	}
}

func TestChoose(t *testing.T) {
	known := map[string]string{stagingID: "staging"}
	cases := []struct {
		name          string
		account, role string
		prompt        *fakePrompt
		want          string // role ARN
		code          store.Code
		words         []string
	}{
		{name: "account ID and role name pick without asking", account: prodID, role: "admin", want: pair(prodID, "admin").RoleARN},
		{name: "a known alias picks its account", account: "staging", role: "admin", want: pair(stagingID, "admin").RoleARN},
		{name: "an alias is matched regardless of case", account: "STAGING", role: "admin", want: pair(stagingID, "admin").RoleARN},
		{name: "a role's name without its path picks it", role: "reader", want: pair(prodID, "ops/reader").RoleARN},
		{name: "a role's name with its path picks it", role: "ops/reader", want: pair(prodID, "ops/reader").RoleARN},
		{name: "a role ARN picks it", role: pair(stagingID, "admin").RoleARN, want: pair(stagingID, "admin").RoleARN},
		{name: "a name in two accounts without a terminal is refused naming both", role: "admin", prompt: &fakePrompt{},
			code: store.Invalid, words: []string{"several roles", "--account", "111122223333 admin", "staging (444455556666) admin"}},
		{name: "several roles at a terminal are asked about by number", prompt: &fakePrompt{interactive: true, answers: []string{"3"}},
			want: pair(stagingID, "admin").RoleARN},
		{name: "a wrong answer is asked again", prompt: &fakePrompt{interactive: true, answers: []string{"0", "x", "2"}},
			want: pair(prodID, "ops/reader").RoleARN},
		{name: "three wrong answers end it", prompt: &fakePrompt{interactive: true, answers: []string{"0", "4", "-1", "1"}},
			code: store.Invalid, words: []string{"no role chosen"}},
		{name: "an account the user has no role in is refused naming the roles there are", account: "999988887777",
			code: store.Forbidden, words: []string{`no role in account "999988887777"`, "staging (444455556666) admin", "rolegate grant add"}},
		{name: "a role the user does not have is refused", account: prodID, role: "root",
			code: store.Forbidden, words: []string{`no role named "root" in account "111122223333"`}},
		{name: "a prefix of a name is not the name", role: "adm",
			code: store.Forbidden, words: []string{`no role named "adm"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := roles()
			awslogin.Label(rs, known, c.account)
			var out strings.Builder
			var p awslogin.Prompter
			if c.prompt != nil {
				p = c.prompt
			}
			got, err := awslogin.Choose(rs, c.account, c.role, p, &out)
			if c.code != "" {
				wantErr(t, err, c.code, c.words...)
				return
			}
			if err != nil || got.RoleARN != c.want {
				t.Fatalf("got %v, %v; want %s", got.RoleARN, err, c.want)
			}
			if c.prompt != nil && c.prompt.interactive && !strings.Contains(out.String(), "  3) staging (444455556666) admin") {
				t.Fatalf("the list shown:\n%s", out.String())
			}
		})
	}
}

func TestLabel(t *testing.T) {
	t.Run("an alias given as --account names the one account the IdP answered for", func(t *testing.T) {
		rs := roles()[:2]
		awslogin.Label(rs, map[string]string{prodID: "old-name"}, "prod")
		if rs[0].Alias != "prod" || rs[1].Alias != "prod" {
			t.Fatalf("%+v", rs)
		}
	})
	t.Run("an alias given as --account names nothing when the answer spans accounts", func(t *testing.T) {
		rs := roles()
		awslogin.Label(rs, nil, "prod")
		for _, r := range rs {
			if r.Alias != "" {
				t.Fatalf("%+v", rs)
			}
		}
	})
	t.Run("an account ID given as --account is no alias", func(t *testing.T) {
		rs := roles()[:1]
		awslogin.Label(rs, nil, prodID)
		if rs[0].Alias != "" || rs[0].Label() != prodID+" admin" {
			t.Fatalf("%+v", rs)
		}
	})
}

// TestParseResponseTakesEitherOrder reads a Role value written role first, which AWS accepts.
func TestParseResponseTakesEitherOrder(t *testing.T) {
	key, cert := samltest.KeyPair(t, 2048, "idp")
	raw, err := assertions.BuildAWS(&assertions.AWSResponse{
		BaseURL: "https://idp.example.com", ACS: "https://signin.aws.amazon.com/saml", NameID: "u-1",
		Roles: []assertions.RolePair{pair(prodID, "admin"), pair(stagingID, "dev")}, SessionName: "alice", SessionDuration: 7200e9,
		AuthnInstant: now(), Now: now(), ResponseID: "_r1", AssertionID: "_a1",
	}, assertions.Signer{Key: key, Cert: cert})
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.ReadFromBytes(raw)
	for _, v := range doc.FindElements("//AttributeValue") {
		if p, ok := assertions.RoleFromValue(v.Text()); ok && strings.Contains(p.RoleARN, stagingID) {
			v.SetText(p.RoleARN + "," + p.ProviderARN)
		}
	}
	flipped, _ := doc.WriteToBytes()
	resp, err := awslogin.ParseResponse(flipped)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Roles) != 2 || resp.Roles[1].Account != stagingID || resp.Roles[1].Name != "dev" ||
		resp.Roles[1].ProviderARN != pair(stagingID, "dev").ProviderARN || resp.SessionDuration.Hours() != 2 || resp.SessionName != "alice" {
		t.Fatalf("%+v", resp)
	}

	bad := strings.Replace(string(raw), pair(prodID, "admin").RoleValue(), "arn:aws:iam::111122223333:role/admin", 1)
	_, err = awslogin.ParseResponse([]byte(bad))
	wantErr(t, err, store.Internal, "not a role and provider ARN pair")
}
