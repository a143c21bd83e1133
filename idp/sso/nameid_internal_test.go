package sso

import (
	"strings"
	"testing"

	"github.com/crewjam/saml"

	"rolegate/assertions"
	"rolegate/store"
)

// What a hostile or broken SP may put in a NameIDPolicy: chooseNameIDFormat honours the SP's own
// name and padding around a known URI, and refuses anything else with a bounded message.
func TestChooseNameIDFormatWithOddPolicies(t *testing.T) {
	const spID = "https://sp.example.com/saml"
	str := func(s string) *string { return &s }
	long := "urn:x:" + strings.Repeat("a", 10000)
	for _, c := range []struct {
		name        string
		pol         *saml.NameIDPolicy
		fixed, want string // want "" for InvalidNameIDPolicy
	}{
		{"an SPNameQualifier naming the SP itself", &saml.NameIDPolicy{SPNameQualifier: str(spID)}, "", store.NameIDPersistent},
		{"an empty SPNameQualifier", &saml.NameIDPolicy{SPNameQualifier: str(""), Format: str(assertions.NameIDTransient)}, "", store.NameIDTransient},
		{"an empty Format", &saml.NameIDPolicy{Format: str("")}, store.NameIDTransient, store.NameIDTransient},
		{"a known Format padded with whitespace", &saml.NameIDPolicy{Format: str(" \n" + assertions.NameIDTransient + "\t")}, "", store.NameIDTransient},
		{"a known Format in other case", &saml.NameIDPolicy{Format: str(strings.ToUpper(assertions.NameIDTransient))}, "", ""},
		{"a Format that is a store key, not a URI", &saml.NameIDPolicy{Format: str(store.NameIDTransient)}, "", ""},
		{"an SPNameQualifier differing in case from the SP", &saml.NameIDPolicy{SPNameQualifier: str(strings.ToUpper(spID))}, "", ""},
		{"a huge unknown Format", &saml.NameIDPolicy{Format: str(long)}, "", ""},
		{"a huge SPNameQualifier", &saml.NameIDPolicy{SPNameQualifier: str(long)}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, st := chooseNameIDFormat(c.pol, &store.ServiceProvider{EntityID: spID, NameIDFormat: c.fixed})
			if c.want != "" {
				if st != nil || got != c.want {
					t.Fatalf("got %q, %v; want %q", got, st, c.want)
				}
				return
			}
			if st == nil || st.SecondLevel != saml.StatusInvalidNameIDPolicy || st.TopLevel != saml.StatusRequester {
				t.Fatalf("got %q, %+v; want InvalidNameIDPolicy from the requester", got, st)
			}
			if len(st.Message) > 2048 {
				t.Fatalf("the status message is %d bytes: the SP's value is not bounded", len(st.Message))
			}
		})
	}
}
