package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rolegate/assertions/samltest"
	"rolegate/store"
)

// spMetadata is an SP's metadata with one ACS per binding/location pair given.
func spMetadata(entityID string, acs ...[2]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="%s">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
`, entityID)
	for i, a := range acs {
		fmt.Fprintf(&b, "    <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:%s\" Location=\"%s\" index=\"%d\"/>\n", a[0], a[1], i+1)
	}
	b.WriteString("  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n")
	return b.String()
}

const (
	wikiID  = "https://wiki.example.com/saml/metadata"
	wikiACS = "https://wiki.example.com/saml/acs"
)

type spJSONOut struct {
	EntityID      string    `json:"entity_id"`
	ACSURLs       []string  `json:"acs_urls"`
	Release       []string  `json:"release"`
	Restricted    bool      `json:"restricted"`
	AllowedGroups []string  `json:"allowed_groups"`
	AddedAt       time.Time `json:"added_at"`
	Problem       string    `json:"problem"`

	RequireSignedRequests bool   `json:"require_signed_requests"`
	NameIDFormat          string `json:"nameid_format"`
}

func (c *cli) sps(t *testing.T) []spJSONOut {
	t.Helper()
	var list []spJSONOut
	c.list(t, &list, "sp", "list", "--json")
	return list
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSPAddListAndRemove(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		md := spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS}, [2]string{"HTTP-Artifact", wikiACS},
			[2]string{"HTTP-POST", "https://wiki.example.com/saml/acs2"})
		out := c.ok(t, "", "sp", "add", "--metadata", writeFile(t, "wiki.xml", md))
		if want := "added service provider " + wikiID + " (ACS " + wikiACS + ", https://wiki.example.com/saml/acs2)\n"; out != want {
			t.Fatalf("sp add printed %q; want %q", out, want)
		}
		// From standard input, inside an EntitiesDescriptor (with a nested IdP that is not an SP).
		other := `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">
  <md:EntityDescriptor entityID="https://idp.example.org/idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>
  <md:EntitiesDescriptor>` + strings.Replace(spMetadata("urn:example:chat", [2]string{"HTTP-POST", "https://chat.example.com/acs"}), `<?xml version="1.0"?>`, "", 1) +
			`</md:EntitiesDescriptor>
</md:EntitiesDescriptor>`
		c.ok(t, other, "sp", "add", "--metadata", "-")

		list := c.sps(t)
		if len(list) != 2 || list[0].EntityID != wikiID || list[1].EntityID != "urn:example:chat" {
			t.Fatalf("sp list --json = %+v", list)
		}
		if strings.Join(list[0].ACSURLs, " ") != wikiACS+" https://wiki.example.com/saml/acs2" || list[0].AddedAt.IsZero() || list[0].Problem != "" ||
			strings.Join(list[1].ACSURLs, " ") != "https://chat.example.com/acs" {
			t.Fatalf("sp list --json = %+v", list)
		}
		table := c.ok(t, "", "sp", "list")
		if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ENTITY_ID ACS RELEASE NAMEID ACCESS ADDED" ||
			!strings.Contains(lines[1], wikiID) || !strings.Contains(lines[1], wikiACS+",https://wiki.example.com/saml/acs2") {
			t.Fatalf("sp list printed:\n%s", table)
		}

		// The stored metadata is the document as given.
		st := c.openStore(t)
		sp, err := st.GetServiceProvider(context.Background(), wikiID)
		if err != nil || string(sp.Metadata) != md {
			t.Fatalf("stored metadata: %v\n%s", err, sp.Metadata)
		}

		if r := c.run("", "sp", "add", "--metadata", writeFile(t, "again.xml", md)); r.code != exitConflict || !strings.Contains(r.stderr, "already exists") {
			t.Fatalf("adding %s again: exit %d, stderr %q; want %d", wikiID, r.code, r.stderr, exitConflict)
		}

		if out := c.ok(t, "", "sp", "remove", "--yes", wikiID); out != "removed service provider "+wikiID+"\n" {
			t.Fatalf("sp remove printed %q", out)
		}
		if list := c.sps(t); len(list) != 1 || list[0].EntityID != "urn:example:chat" {
			t.Fatalf("after remove: %+v", list)
		}
		if r := c.run("", "sp", "remove", "--yes", wikiID); r.code != exitNotFound {
			t.Fatalf("removing it twice: exit %d, stderr %q; want %d", r.code, r.stderr, exitNotFound)
		}

		events, err := st.ListAudit(context.Background(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			if strings.HasPrefix(e.Type, "sp.") {
				got = append(got, e.Type+" "+e.Details["entity_id"]+" "+e.Result)
			}
		}
		want := []string{"sp.add " + wikiID + " ok", "sp.add urn:example:chat ok", "sp.remove " + wikiID + " ok"}
		if !sameSet(got, want) { // in any order: the audit log lists newest first
			t.Fatalf("audit events %q; want %q", got, want)
		}
	})
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestSPAddRefusesMetadataRolegateCannotUseSafely(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, stdin string
		frag        string // the one line on stderr contains it
	}{
		{"an http ACS is refused, by name",
			spMetadata(wikiID, [2]string{"HTTP-POST", "http://wiki.example.com/saml/acs"}), `"http://wiki.example.com/saml/acs" (binding HTTP-POST, index 1)`},
		{"an http ACS of another binding is refused too",
			spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS}, [2]string{"HTTP-Artifact", "http://wiki.example.com/art"}), `"http://wiki.example.com/art"`},
		{"a javascript: ACS is refused",
			spMetadata(wikiID, [2]string{"HTTP-POST", "javascript:alert(1)"}), "not valid SAML metadata"},
		{"metadata without an HTTP-POST ACS is refused",
			spMetadata(wikiID, [2]string{"HTTP-Artifact", wikiACS}, [2]string{"HTTP-Redirect", wikiACS}), "no AssertionConsumerService with the HTTP-POST binding"},
		{"metadata of an IdP is refused",
			`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.org/idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>`,
			"no SPSSODescriptor"},
		{"text that is not XML is refused", "this is not metadata\n", "not XML"},
		{"broken XML is refused", `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:SPSSODescriptor>`, "metadata"},
		{"another XML document is refused", `<html><body>hello</body></html>`, "root element is <html>"},
		{"an empty entityID is refused", spMetadata("", [2]string{"HTTP-POST", wikiACS}), "entityID is empty"},
		{"two SPs in one EntitiesDescriptor are refused",
			`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` +
				strings.Replace(spMetadata("urn:a", [2]string{"HTTP-POST", wikiACS}), `<?xml version="1.0"?>`, "", 1) +
				strings.Replace(spMetadata("urn:b", [2]string{"HTTP-POST", wikiACS}), `<?xml version="1.0"?>`, "", 1) +
				`</md:EntitiesDescriptor>`, "holding 2 service providers"},
		{"nothing at all is refused", "", "empty"},
		{"more than 1 MiB is refused", spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS}) + "<!--" + strings.Repeat("x", 1<<20) + "-->", "larger than 1 MiB"},
	}
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "migrate") // a store to list, which the refused adds never create
		for _, tc := range cases {
			r := c.run(tc.stdin, "sp", "add", "--metadata", "-")
			if r.code != exitInvalid || !strings.Contains(r.stderr, tc.frag) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit %d and one line containing %q", tc.name, r.code, r.stderr, r.stdout, exitInvalid, tc.frag)
			}
		}
		if r := c.run("", "sp", "add"); r.code != exitInvalid || !strings.Contains(r.stderr, "--metadata") {
			t.Errorf("sp add without --metadata: exit %d, stderr %q", r.code, r.stderr)
		}
		if r := c.run("", "sp", "add", "--metadata", filepath.Join(t.TempDir(), "missing.xml")); r.code != exitInvalid || !strings.Contains(r.stderr, "cannot read") {
			t.Errorf("sp add with a missing file: exit %d, stderr %q", r.code, r.stderr)
		}
		if list := c.sps(t); len(list) != 0 {
			t.Fatalf("refused metadata was stored: %+v", list)
		}
	})
}

// signingMetadata is spMetadata with a signing certificate, and with promise, AuthnRequestsSigned="true".
func signingMetadata(t *testing.T, entityID string, promise bool) string {
	t.Helper()
	_, cert := samltest.KeyPair(t, 2048, "sp")
	attr := ""
	if promise {
		attr = ` AuthnRequestsSigned="true"`
	}
	md := spMetadata(entityID, [2]string{"HTTP-POST", wikiACS})
	return strings.Replace(md, `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`,
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`+attr+`>
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>`+
			base64.StdEncoding.EncodeToString(cert.Raw)+`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`, 1)
}

func TestAnSPCanBeMadeToSignItsRequests(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		flag := func(id string) bool {
			t.Helper()
			for _, sp := range c.sps(t) {
				if sp.EntityID == id {
					st := c.openStore(t)
					got, err := st.GetServiceProvider(context.Background(), id)
					if err != nil || got.RequireSignedRequests != sp.RequireSignedRequests {
						t.Fatalf("the store says %+v, %v; the list says %v", got, err, sp.RequireSignedRequests)
					}
					return sp.RequireSignedRequests
				}
			}
			t.Fatalf("%s is not listed", id)
			return false
		}
		c.ok(t, "", "sp", "add", "--require-signed-requests", "--metadata", writeFile(t, "wiki.xml", signingMetadata(t, wikiID, false)))
		if !flag(wikiID) {
			t.Fatal("sp add --require-signed-requests did not keep the flag")
		}
		c.ok(t, spMetadata("urn:example:chat", [2]string{"HTTP-POST", "https://chat.example.com/acs"}), "sp", "add", "--metadata", "-")
		if flag("urn:example:chat") {
			t.Fatal("an SP added without the flag must sign")
		}

		if out := c.ok(t, "", "sp", "set", wikiID, "--require-signed-requests=false"); !strings.HasSuffix(out, "; unsigned requests accepted\n") {
			t.Fatalf("sp set =false printed %q", out)
		}
		if flag(wikiID) {
			t.Fatal("--require-signed-requests=false left the flag on")
		}
		if out := c.ok(t, "", "sp", "set", wikiID, "--require-signed-requests"); !strings.HasSuffix(out, "; its requests must be signed\n") {
			t.Fatalf("sp set printed %q", out)
		}
		if !flag(wikiID) {
			t.Fatal("--require-signed-requests left the flag off")
		}

		// An SP whose metadata promises signatures keeps having to sign; the admin is told so.
		const promiser = "urn:example:promiser"
		c.ok(t, signingMetadata(t, promiser, true), "sp", "add", "--metadata", "-")
		if out := c.ok(t, "", "sp", "set", promiser, "--require-signed-requests=false"); !strings.Contains(out, `its requests must be signed (its metadata says AuthnRequestsSigned="true")`) {
			t.Fatalf("sp set =false on an SP that promised signatures printed %q", out)
		}

		refused := []struct {
			name  string
			stdin string
			args  []string
			code  int
			frag  string
		}{
			{"demanding signatures of an SP without a signing certificate (sp add)", spMetadata("urn:example:nokey", [2]string{"HTTP-POST", wikiACS}),
				[]string{"sp", "add", "--require-signed-requests", "--metadata", "-"}, exitInvalid, "has no signing certificate"},
			{"metadata that promises signatures without a signing certificate", strings.Replace(spMetadata("urn:example:nokey", [2]string{"HTTP-POST", wikiACS}),
				`protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true"`, 1),
				[]string{"sp", "add", "--metadata", "-"}, exitInvalid, `says AuthnRequestsSigned="true" but has no signing certificate`},
			{"demanding signatures of an SP without a signing certificate (sp set)", "",
				[]string{"sp", "set", "urn:example:chat", "--require-signed-requests"}, exitInvalid, "has no signing certificate"},
			{"setting an unknown SP", "", []string{"sp", "set", "https://ghost.example.com", "--require-signed-requests"}, exitNotFound, "ghost.example.com"},
			{"sp set without a flag", "", []string{"sp", "set", wikiID}, exitInvalid, "nothing to change"},
			{"a flag value that is not a boolean", "", []string{"sp", "set", wikiID, "--require-signed-requests=maybe"}, exitInvalid, "maybe"},
		}
		for _, tc := range refused {
			r := c.run(tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.frag) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit %d and one line containing %q", tc.name, r.code, r.stderr, r.stdout, tc.code, tc.frag)
			}
		}
		if !flag(wikiID) || flag("urn:example:chat") || len(c.sps(t)) != 3 {
			t.Fatalf("a refused command changed something: %+v", c.sps(t))
		}

		st := c.openStore(t)
		events, err := st.ListAudit(context.Background(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			if e.Type == "sp.set" || e.Type == "sp.add" {
				got = append(got, e.Type+" "+e.Details["entity_id"]+" "+e.Details["require_signed_requests"])
			}
		}
		want := []string{"sp.add " + wikiID + " true", "sp.add urn:example:chat false", "sp.set " + wikiID + " false", "sp.set " + wikiID + " true",
			"sp.add " + promiser + " false", "sp.set " + promiser + " false"}
		if !sameSet(got, want) {
			t.Fatalf("audit events %q; want %q", got, want)
		}
	})
}
