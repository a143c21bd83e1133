package assertions

import (
	"slices"
	"strings"
	"testing"

	"rolegate/store"
)

// Each name is pinned to the OID its standard defines; a typo (such as the dot once missing before
// "100" in uid and mail) fails here.
func TestEveryAttributeSentToSPsHasItsStandardsName(t *testing.T) {
	want := []struct{ key, name, friendly string }{
		{"email", "urn:oid:0.9.2342.19200300.100.1.3", "mail"},       // RFC 4524 2.16
		{"name", "urn:oid:2.16.840.1.113730.3.1.241", "displayName"}, // RFC 2798 2.3
		{"username", "urn:oid:0.9.2342.19200300.100.1.1", "uid"},     // RFC 4519 2.39
		{"groups", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "isMemberOf"}, // eduMember
	}
	if len(SPAttributes) != len(want) {
		t.Fatalf("%d attributes in the table; want %d", len(SPAttributes), len(want))
	}
	var keys []string
	for i, a := range SPAttributes {
		w := want[i]
		if a.Key != w.key || a.Name != w.name || a.FriendlyName != w.friendly || a.NameFormat() != "urn:oasis:names:tc:SAML:2.0:attrname-format:uri" || a.Standard == "" {
			t.Errorf("attribute %d: %+v; want %+v", i, a, w)
		}
		keys = append(keys, a.Key)
	}
	if !slices.Equal(keys, store.ReleaseAttrs) {
		t.Errorf("the table's keys %v are not the release vocabulary %v", keys, store.ReleaseAttrs)
	}
}

func TestOnlyTheReleasedAttributesThatHaveValuesAreSent(t *testing.T) {
	u := &store.User{Name: "alice", Email: "alice@example.com", DisplayName: "Alice"}
	names := func(rs []Released) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.FriendlyName+"="+strings.Join(r.Values, "|"))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name    string
		release []string
		u       *store.User
		groups  []string
		want    string
	}{
		{"nothing released sends nothing", nil, u, []string{"devs"}, ""},
		{"email only sends mail only", []string{"email"}, u, []string{"devs"}, "mail=alice@example.com"},
		{"everything, in table order", []string{"groups", "username", "name", "email"}, u, []string{"devs", "ops"},
			"mail=alice@example.com displayName=Alice uid=alice isMemberOf=devs|ops"},
		{"a user without email, display name or groups sends only uid", store.ReleaseAttrs, &store.User{Name: "bob"}, nil, "uid=bob"},
		{"an unknown key sends nothing", []string{"password", "Email"}, u, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(ReleasedAttributes(tc.release, tc.u, tc.groups)); got != tc.want {
				t.Fatalf("got %q; want %q", got, tc.want)
			}
		})
	}
}
