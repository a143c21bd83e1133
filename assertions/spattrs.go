package assertions

import (
	"slices"

	"rolegate/store"
)

// SPAttribute is a user attribute Rolegate can release to a generic SAML SP, named as its standard
// names it: Name is "urn:oid:" and the attribute type's OID, sent with NameFormat AttrNameFmtURI
// (the SAML V2.0 X.500/LDAP Attribute Profile), and FriendlyName is the type's short name.
type SPAttribute struct {
	Key          string // the store.ReleaseAttrs key: `rolegate sp set --release KEY`
	Name         string
	FriendlyName string
	Standard     string                                        // where the OID is defined
	values       func(u *store.User, groups []string) []string // empty: the attribute is left out
}

// NameFormat is the NameFormat of every SPAttribute.
func (SPAttribute) NameFormat() string { return AttrNameFmtURI }

// SPAttributes is every attribute Rolegate sends to SPs, in store.ReleaseAttrs order. AWS's
// attributes are AWS's own names (see aws.go).
var SPAttributes = []SPAttribute{
	{store.ReleaseEmail, "urn:oid:0.9.2342.19200300.100.1.3", "mail", "RFC 4524 section 2.16 (COSINE)",
		func(u *store.User, _ []string) []string { return nonEmpty(u.Email) }},
	{store.ReleaseName, "urn:oid:2.16.840.1.113730.3.1.241", "displayName", "RFC 2798 section 2.3 (inetOrgPerson)",
		func(u *store.User, _ []string) []string { return nonEmpty(u.DisplayName) }},
	{store.ReleaseUsername, "urn:oid:0.9.2342.19200300.100.1.1", "uid", "RFC 4519 section 2.39",
		func(u *store.User, _ []string) []string { return nonEmpty(u.Name) }},
	{store.ReleaseGroups, "urn:oid:1.3.6.1.4.1.5923.1.5.1.1", "isMemberOf", "eduMember (Internet2 MACE-Dir)",
		func(_ *store.User, groups []string) []string { return groups }},
}

func nonEmpty(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// Released is one attribute of an assertion, with its values.
type Released struct {
	SPAttribute
	Values []string
}

// ReleasedAttributes returns the attributes in release with the user's values, in table order;
// an attribute without a value (no email, no groups) is left out.
func ReleasedAttributes(release []string, u *store.User, groups []string) []Released {
	var out []Released
	for _, a := range SPAttributes {
		if !slices.Contains(release, a.Key) {
			continue
		}
		if vs := a.values(u, groups); len(vs) > 0 {
			out = append(out, Released{a, slices.Clone(vs)})
		}
	}
	return out
}
