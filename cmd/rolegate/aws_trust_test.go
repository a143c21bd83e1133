package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"rolegate/store"
)

// trustOut is `aws trust-policy --json`, as far as the tests read it.
type trustOut struct {
	Account     string   `json:"account"`
	Role        string   `json:"role"`
	RoleARN     string   `json:"role_arn"`
	ProviderARN string   `json:"provider_arn"`
	Granted     bool     `json:"granted"`
	Notes       []string `json:"notes"`
	Policy      struct {
		Version   string `json:"Version"`
		Statement []struct {
			Effect    string                         `json:"Effect"`
			Principal map[string]string              `json:"Principal"`
			Action    []string                       `json:"Action"`
			Condition map[string]map[string][]string `json:"Condition"`
		} `json:"Statement"`
	} `json:"trust_policy"`
}

func TestAWSTrustPolicyFollowsTheAccountsSettings(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--provider-name", "Corp", "--partition", "aws-cn", "--region", "cn-northwest-1")

		// Before any grant: printed all the same, with a note naming rolegate grant add.
		r := c.run("", "aws", "trust-policy", "--account", "prod", "--role", "ops/Admin")
		if r.code != 0 || !strings.Contains(r.stderr, "rolegate grant add") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("an ungranted role: exit %d, stderr %q", r.code, r.stderr)
		}
		var plain map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &plain); err != nil || plain["Version"] != "2012-10-17" {
			t.Fatalf("stdout is not the policy alone: %v\n%s", err, r.stdout)
		}

		c.ok(t, "", "group", "add", "ops")
		c.ok(t, "", "grant", "add", "--group", "ops", "--account", "prod", "--role", "ops/Admin")
		var got trustOut
		c.list(t, &got, "aws", "trust-policy", "--account", "111122223333", "--role", "ops/Admin", "--json")
		st := got.Policy.Statement
		if !got.Granted || len(got.Notes) != 0 || got.RoleARN != "arn:aws-cn:iam::111122223333:role/ops/Admin" || len(st) != 1 ||
			st[0].Effect != "Allow" || st[0].Principal["Federated"] != "arn:aws-cn:iam::111122223333:saml-provider/Corp" ||
			got.ProviderARN != st[0].Principal["Federated"] ||
			!slices.Equal(st[0].Action, []string{"sts:AssumeRoleWithSAML"}) ||
			!slices.Equal(st[0].Condition["StringEquals"]["SAML:aud"], []string{"https://cn-northwest-1.signin.amazonaws.cn/saml"}) {
			t.Fatalf("%+v", got)
		}

		// Tags and a source identity add the actions AWS needs for them.
		c.ok(t, "", "tag", "add", "--account", "prod", "--key", "team", "--value", "ops")
		c.ok(t, "", "account", "set", "prod", "--source-identity", "username")
		c.list(t, &got, "aws", "trust-policy", "--account", "prod", "--role", "ops/Admin", "--json")
		if a := got.Policy.Statement[0].Action; !slices.Equal(a, []string{"sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"}) {
			t.Fatalf("actions %v", a)
		}

		for _, bad := range []struct {
			args []string
			code int
			says string
		}{
			{[]string{"--account", "prod"}, exitCodes[store.Invalid], "--account and --role are required"},
			{[]string{"--role", "Admin"}, exitCodes[store.Invalid], "--account and --role are required"},
			{[]string{"--account", "prod", "--role", "bad role"}, exitCodes[store.Invalid], "invalid role name"},
			{[]string{"--account", "nosuch", "--role", "Admin"}, exitCodes[store.NotFound], "not found"},
		} {
			r := c.run("", append([]string{"aws", "trust-policy"}, bad.args...)...)
			if r.code != bad.code || r.stdout != "" || !strings.Contains(r.stderr, bad.says) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d saying %q", bad.args, r.code, r.stdout, r.stderr, bad.code, bad.says)
			}
		}
	})
}
