package awslogin

import (
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/store"
)

// Response is a signed SAML Response for AWS, as an authentication method hands it over, with what
// the CLI reads from it. The CLI does not verify the signature: STS does, and the Response came over
// the IdP's own TLS connection.
type Response struct {
	Raw             []byte // the Response document, exactly what goes to STS (base64)
	ACS             string // where the IdP meant it to go; "" when the method does not say
	Roles           []Role
	SessionName     string
	SessionDuration time.Duration // the SessionDuration attribute; 0 when absent
	Omitted         string        // accounts the IdP left out of an every-account Response, and why
}

// Role is one role the Response grants.
type Role struct {
	Partition   store.Partition
	Account     string // 12-digit account ID
	Alias       string // the account's alias where known; "" otherwise
	Name        string // the role's name, path included ("ops/admin")
	RoleARN     string
	ProviderARN string
}

// Label is how a role is shown: "prod (111122223333) admin".
func (r Role) Label() string {
	if r.Alias != "" {
		return r.Alias + " (" + r.Account + ") " + r.Name
	}
	return r.Account + " " + r.Name
}

// ParseResponse reads the roles, session name and duration from a Response document.
func ParseResponse(raw []byte) (*Response, error) {
	bad := func(why string) error {
		return store.Errorf(store.Internal, "the IdP's answer holds no usable SAML Response: %s", why)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return nil, bad("not XML")
	}
	resp := doc.Root()
	if resp.Tag != "Response" || resp.NamespaceURI() != assertions.NSProtocol {
		return nil, bad("the document is not a SAML 2.0 Response")
	}
	if st := resp.FindElement("./Status/StatusCode"); st == nil || st.SelectAttrValue("Value", "") != assertions.StatusSuccess {
		status := "none"
		if st != nil {
			status = st.SelectAttrValue("Value", "")
			if sub := st.FindElement("./StatusCode"); sub != nil {
				status += " / " + sub.SelectAttrValue("Value", "")
			}
		}
		msg := ""
		if m := resp.FindElement("./Status/StatusMessage"); m != nil {
			msg = ": " + printable(m.Text())
		}
		return nil, store.Errorf(store.Unauthorized, "the IdP refused the sign-in (SAML status %s)%s", printable(status), msg)
	}
	if resp.FindElement("./EncryptedAssertion") != nil {
		return nil, store.Errorf(store.Invalid, "the IdP encrypted the assertion for AWS, so the CLI cannot read the roles in it: "+
			"ask an admin to allow unencrypted assertions for this account (rolegate account set ACCOUNT --encrypt allowed)")
	}
	as := resp.SelectElements("Assertion")
	if len(as) != 1 {
		return nil, bad("it holds no single Assertion")
	}
	out := &Response{Raw: raw}
	for _, at := range as[0].FindElements("./AttributeStatement/Attribute") {
		var vals []string
		for _, v := range at.SelectElements("AttributeValue") {
			vals = append(vals, strings.TrimSpace(v.Text()))
		}
		switch at.SelectAttrValue("Name", "") {
		case assertions.AttrRole:
			for _, v := range vals {
				r, err := parseRole(v)
				if err != nil {
					return nil, err
				}
				out.Roles = append(out.Roles, r)
			}
		case assertions.AttrRoleSessionName:
			if len(vals) > 0 {
				out.SessionName = vals[0]
			}
		case assertions.AttrSessionDuration:
			if len(vals) > 0 {
				n, err := strconv.Atoi(vals[0])
				if err != nil || assertions.CheckDuration(time.Duration(n)*time.Second) != nil {
					return nil, bad("its SessionDuration " + strconv.Quote(vals[0]) + " is not 900 to 43200 seconds")
				}
				out.SessionDuration = time.Duration(n) * time.Second
			}
		}
	}
	if len(out.Roles) == 0 {
		return nil, store.Errorf(store.Forbidden, "the IdP granted you no AWS role: ask an admin for a grant (rolegate grant add)")
	}
	return out, nil
}

// parseRole reads one Role value, in either order as AWS takes it.
func parseRole(v string) (Role, error) {
	rp, ok := assertions.RoleFromValue(v)
	if ok {
		if err := assertions.CheckRoles([]assertions.RolePair{rp}); err != nil {
			ok = false
		}
	}
	if !ok {
		return Role{}, store.Errorf(store.Internal, "the IdP sent a Role value that is not a role and provider ARN pair: %q", v)
	}
	// arn:PARTITION:iam::ACCOUNT:role/NAME, checked above.
	f := strings.SplitN(rp.RoleARN, ":", 6)
	return Role{Partition: store.Partition(f[1]), Account: f[4], Name: strings.TrimPrefix(f[5], "role/"),
		RoleARN: rp.RoleARN, ProviderARN: rp.ProviderARN}, nil
}
