package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rolegate/awsadmin"
	"rolegate/store"
)

func spTestdata(name string) string {
	return filepath.Join("..", "..", "testdata", "aws-sp-metadata", name)
}

// writeDoc writes a variant of AWS's global document to a file of the test's own.
func writeDoc(t *testing.T, name string, edit func(string) string) string {
	t.Helper()
	b, err := os.ReadFile(spTestdata("global.xml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAccountSetSPMetadataChecksTheDocumentAndRecordsTheIdPID(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--region", "us-east-2")
		st := c.openStore(t)
		ctx := context.Background()
		stored := func() *store.Account {
			t.Helper()
			a, err := st.GetAccount(ctx, "prod")
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		before := auditCount(t, st)

		out := c.ok(t, "", "account", "set", "prod", "--sp-metadata", spTestdata("regional-us-east-2.xml"))
		if !strings.Contains(out, "SP metadata fits: entity ID urn:amazon:webservices, ACS https://us-east-2.signin.aws.amazon.com/saml\n") || stored().AWS.IdPID != "" {
			t.Fatalf("the regional document: %q, IdP ID %q", out, stored().AWS.IdPID)
		}
		r := c.run("", "account", "set", "prod", "--sp-metadata", spTestdata("provider-us-east-2-SAMLSPEXAMPLE7Q2W4Z9K1.xml"))
		if r.code != 0 || !strings.Contains(r.stdout, "recorded IdP ID SAMLSPEXAMPLE7Q2W4Z9K1\n") || stored().AWS.IdPID != "SAMLSPEXAMPLE7Q2W4Z9K1" ||
			!strings.Contains(r.stderr, "rolegate: note: account prod does not encrypt assertions") {
			t.Fatalf("the per-provider document: exit %d, %q %q, IdP ID %q", r.code, r.stdout, r.stderr, stored().AWS.IdPID)
		}
		if n := auditCount(t, st); n != before+2 {
			t.Fatalf("audit: %d events, want %d", n, before+2)
		}

		// From standard input, with a note when WantAssertionsSigned is missing.
		doc, err := os.ReadFile(spTestdata("regional-us-east-2.xml"))
		if err != nil {
			t.Fatal(err)
		}
		r = c.run(strings.Replace(string(doc), ` WantAssertionsSigned="true"`, "", 1), "account", "set", "prod", "--sp-metadata", "-")
		if r.code != 0 || !strings.Contains(r.stderr, "does not say WantAssertionsSigned") {
			t.Fatalf("from stdin: exit %d, %q", r.code, r.stderr)
		}

		dtd := writeDoc(t, "dtd.xml", func(s string) string {
			return strings.Replace(s, `<?xml version="1.0"?>`, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>`, 1)
		})
		huge := writeDoc(t, "huge.xml", func(s string) string { return s + "<!--" + strings.Repeat("x", awsadmin.MaxSPMetadataBytes) + "-->" })
		wrongID := writeDoc(t, "entity.xml", func(s string) string {
			return strings.Replace(s, `entityID="urn:amazon:webservices"`, `entityID="urn:amazon:webservices:govcloud"`, 1)
		})
		gov := writeDoc(t, "gov.xml", func(s string) string {
			return strings.Replace(s, "https://signin.aws.amazon.com/saml", "https://us-east-2.signin.amazonaws-us-gov.com/saml", 1)
		})
		other := writeDoc(t, "other.xml", func(s string) string {
			return strings.Replace(s, "https://signin.aws.amazon.com/saml", "https://us-east-2.signin.aws.amazon.com/saml/acs/SAMLSPSOMEONEELSE0001", 1)
		})
		for _, tc := range []struct {
			name string
			args []string
			says []string // each on a line of its own
		}{
			{"the global document for an account with a region", []string{"--sp-metadata", spTestdata("global.xml")},
				[]string{"rolegate: sp-metadata: the ACS https://signin.aws.amazon.com/saml is the partition's default endpoint's", "nothing was changed"}},
			{"a document of another region, with the region change it came with", []string{"--region", "eu-west-1", "--sp-metadata", spTestdata("regional-us-east-2.xml")},
				[]string{"rolegate: sp-metadata: the ACS https://us-east-2.signin.aws.amazon.com/saml is region us-east-2's, but Rolegate posts account prod's Responses to https://eu-west-1.signin.aws.amazon.com/saml"}},
			{"a wrong entity ID and an ACS of another partition, each told", []string{"--sp-metadata", wrongID},
				[]string{"rolegate: sp-metadata: the entity ID is \"urn:amazon:webservices:govcloud\"", "rolegate: sp-metadata: the ACS https://signin.aws.amazon.com/saml is the partition's default"}},
			{"an ACS that is no AWS sign-in endpoint", []string{"--sp-metadata", gov}, []string{"is not an AWS sign-in endpoint"}},
			{"another provider than the one recorded", []string{"--sp-metadata", other},
				[]string{"is SAML provider SAMLSPSOMEONEELSE0001's, but account prod's provider is SAMLSPEXAMPLE7Q2W4Z9K1"}},
			{"a DTD", []string{"--sp-metadata", dtd}, []string{"has a DTD"}},
			{"an oversized file", []string{"--sp-metadata", huge}, []string{"larger than"}},
			{"plain http", []string{"--sp-metadata", "http://signin.aws.amazon.com/static/saml-metadata.xml"}, []string{"only an https URL"}},
			{"a host that is not AWS's", []string{"--sp-metadata", "https://metadata.example.com/static/saml-metadata.xml"}, []string{"only from AWS's sign-in hosts of partition aws"}},
			{"another partition's sign-in host", []string{"--sp-metadata", "https://signin.amazonaws.cn/static/saml-metadata.xml"}, []string{"only from AWS's sign-in hosts of partition aws"}},
			{"a file that is not there", []string{"--sp-metadata", filepath.Join(t.TempDir(), "nope.xml")}, []string{"no such file"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				events := auditCount(t, st)
				r := c.run("", append([]string{"account", "set", "prod"}, tc.args...)...)
				if r.code != exitCodes[store.Invalid] || r.stdout != "" {
					t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				for _, want := range tc.says {
					found := false
					for _, l := range lines {
						found = found || strings.Contains(l, want)
					}
					if !found {
						t.Errorf("stderr %q lacks a line saying %q", r.stderr, want)
					}
				}
				if a := stored(); a.Region != "us-east-2" || a.AWS.IdPID != "SAMLSPEXAMPLE7Q2W4Z9K1" || auditCount(t, st) != events {
					t.Fatalf("something was written: region %q, IdP ID %q", a.Region, a.AWS.IdPID)
				}
			})
		}
	})
}
