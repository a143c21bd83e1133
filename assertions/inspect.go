package assertions

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
	dsig "github.com/russellhaering/goxmldsig"
)

// Verdict is what AWS would make of a Response, in the words the demo checker shows.
type Verdict struct {
	Accepted bool
	Problems []string // why AWS would refuse; empty when Accepted

	Issuer          string
	NameID          string
	Roles           []RolePair
	SessionName     string
	SessionDuration time.Duration // as AWS applies it: the attribute, capped by SessionNotOnOrAfter
	Tags            []Tag
	SourceIdentity  string
	AuthnContext    string
	// ResponseSigned and AssertionSigned say which signatures verified: at least one, and the
	// Assertion read is always one a verified signature covers.
	ResponseSigned  bool
	AssertionSigned bool
	// Encryption names the algorithms of an EncryptedAssertion that decrypted; "" for a plain one.
	Encryption string
}

// Expect is what the checker holds the Response to.
type Expect struct {
	EntityID string              // the IdP's entity ID: the Issuer
	ACS      string              // where the Response was posted: Destination and Recipient
	Certs    []*x509.Certificate // the certificates the IdP's metadata publishes
	Now      time.Time
	// Decrypt are the private keys the account's IAM SAML provider holds, to open an EncryptedAssertion.
	Decrypt []*rsa.PrivateKey
}

// InspectAWS checks an XML Response as AWS's sign-in endpoint would: signature against the published
// certificates, issuer, destination, recipient, audience, validity times and every attribute rule.
// It never trusts a part of the document the signature does not cover.
func InspectAWS(raw []byte, want Expect) *Verdict {
	v := &Verdict{}
	fail := func(format string, args ...any) *Verdict {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
		return v
	}
	if n := base64.StdEncoding.EncodedLen(len(raw)); n > MaxSAMLResponseLen {
		return fail("the Response is %d base64 characters; AWS accepts at most %d", n, MaxSAMLResponseLen)
	}
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return fail("the XML does not survive a round trip (%v): AWS would reject it", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return fail("the Response is not XML")
	}
	resp := doc.Root()
	if resp.Tag != "Response" || resp.NamespaceURI() != NSProtocol {
		return fail("the document is not a SAML 2.0 Response")
	}
	vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: want.Certs})
	vctx.Clock = dsig.NewFakeClockAt(want.Now)
	if resp.FindElement("./Signature") != nil {
		signed, err := vctx.Validate(resp)
		if err != nil {
			return fail("the Response signature does not verify against the IdP metadata: %v", err)
		}
		resp, v.ResponseSigned = signed, true
	}
	if got := resp.SelectAttrValue("Destination", ""); got != want.ACS {
		fail("Destination is %q, not the endpoint it was posted to (%s)", got, want.ACS)
	}
	if st := resp.FindElement("./Status/StatusCode"); st == nil || st.SelectAttrValue("Value", "") != StatusSuccess {
		fail("the Status is not Success")
	}
	as := resp.SelectElements("Assertion")
	if eas := resp.SelectElements("EncryptedAssertion"); len(eas) > 0 {
		if len(eas) != 1 || len(as) != 0 {
			return fail("the Response must hold exactly one Assertion or EncryptedAssertion, found %d and %d", len(as), len(eas))
		}
		a, err := decryptAssertion(eas[0], want.Decrypt, v)
		if err != nil {
			return fail("%v", err)
		}
		as = []*etree.Element{a}
	}
	if len(as) != 1 {
		return fail("the Response must hold exactly one Assertion, found %d", len(as))
	}
	// A signed Response covers the Assertion it holds (SAML profiles 4.1.3.5: the Response or each
	// Assertion signed); resp is then the verified copy, so as[0] is what that signature covered.
	// An Assertion's own signature, when there is one, must verify too.
	a := as[0]
	switch {
	case a.FindElement("./Signature") != nil:
		signed, err := vctx.Validate(a)
		if err != nil {
			return fail("the Assertion signature does not verify against the IdP metadata: %v", err)
		}
		a, v.AssertionSigned = signed, true
	case !v.ResponseSigned:
		return fail("neither the Response nor the Assertion is signed: AWS refuses an assertion no signature covers")
	}
	v.Issuer = text(a, "./Issuer")
	if v.Issuer != want.EntityID {
		fail("Issuer is %q, not the IdP's entity ID %q: AWS says \"Issuer not present in specified provider\"", v.Issuer, want.EntityID)
	}
	if ri := text(resp, "./Issuer"); ri != "" && ri != want.EntityID {
		fail("the Response Issuer %q differs from the entity ID", ri)
	}
	v.NameID = text(a, "./Subject/NameID")
	if v.NameID == "" {
		fail("the Subject has no NameID: AWS refuses with AccessDenied")
	}
	scs := a.FindElements("./Subject/SubjectConfirmation")
	if len(scs) != 1 || scs[0].SelectAttrValue("Method", "") != MethodBearer {
		fail("AWS wants exactly one bearer SubjectConfirmation, found %d", len(scs))
	} else if scd := scs[0].FindElement("./SubjectConfirmationData"); scd == nil {
		fail("the SubjectConfirmation has no SubjectConfirmationData")
	} else {
		if r := scd.SelectAttrValue("Recipient", ""); r != want.ACS {
			fail("Recipient is %q, not the endpoint it was posted to (%s)", r, want.ACS)
		}
		checkNotOnOrAfter(v, scd, "SubjectConfirmationData", want.Now)
	}
	if cond := a.FindElement("./Conditions"); cond != nil {
		if nb, err := parseTime(cond.SelectAttrValue("NotBefore", "")); err == nil && want.Now.Before(nb) {
			fail("the assertion is not valid before %s", nb.Format(time.RFC3339))
		}
		checkNotOnOrAfter(v, cond, "Conditions", want.Now)
		aud := text(cond, "./AudienceRestriction/Audience")
		if aud != AudienceAWS && aud != "https://signin.aws.amazon.com/saml" {
			fail("Audience is %q; AWS wants %s", aud, AudienceAWS)
		}
	}
	authn := a.FindElement("./AuthnStatement")
	if authn == nil {
		fail("there is no AuthnStatement")
	} else {
		v.AuthnContext = text(authn, "./AuthnContext/AuthnContextClassRef")
	}
	inspectAttributes(v, a, authn, want.Now)
	v.Accepted = len(v.Problems) == 0
	return v
}

func text(el *etree.Element, path string) string {
	if f := el.FindElement(path); f != nil {
		return strings.TrimSpace(f.Text())
	}
	return ""
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func checkNotOnOrAfter(v *Verdict, el *etree.Element, what string, now time.Time) {
	t, err := parseTime(el.SelectAttrValue("NotOnOrAfter", ""))
	if err != nil {
		v.Problems = append(v.Problems, what+" has no valid NotOnOrAfter")
	} else if !now.Before(t) {
		v.Problems = append(v.Problems, fmt.Sprintf("the assertion expired at %s (%s)", t.Format(time.RFC3339), what))
	}
}

func inspectAttributes(v *Verdict, a, authn *etree.Element, now time.Time) {
	attrs := map[string][]string{}
	for _, at := range a.FindElements("./AttributeStatement/Attribute") {
		name := at.SelectAttrValue("Name", "")
		for _, val := range at.SelectElements("AttributeValue") {
			attrs[name] = append(attrs[name], strings.TrimSpace(val.Text()))
		}
	}
	problem := func(err error) {
		if err != nil {
			v.Problems = append(v.Problems, err.Error())
		}
	}
	for _, val := range attrs[AttrRole] {
		rp, ok := RoleFromValue(val)
		if !ok {
			v.Problems = append(v.Problems, fmt.Sprintf("Role value %q is not a pair of ARNs", val))
			continue
		}
		v.Roles = append(v.Roles, rp)
	}
	problem(CheckRoles(v.Roles))
	names := attrs[AttrRoleSessionName]
	if len(names) != 1 {
		v.Problems = append(v.Problems, "RoleSessionName is required in AuthnResponse (exactly one value)")
	} else {
		v.SessionName = names[0]
		problem(CheckSessionName(v.SessionName))
	}
	v.SessionDuration = DefaultAWSDuration
	if ds := attrs[AttrSessionDuration]; len(ds) > 0 {
		n, err := strconv.Atoi(ds[0])
		if err != nil || len(ds) != 1 {
			v.Problems = append(v.Problems, fmt.Sprintf("SessionDuration %q is not one whole number of seconds", ds))
		} else {
			v.SessionDuration = time.Duration(n) * time.Second
			problem(CheckDuration(v.SessionDuration))
		}
	}
	if authn != nil {
		if snoa, err := parseTime(authn.SelectAttrValue("SessionNotOnOrAfter", "")); err == nil && snoa.Sub(now) < v.SessionDuration {
			v.SessionDuration = snoa.Sub(now).Truncate(time.Second) // AWS takes the shorter
		}
	}
	transitive := map[string]bool{}
	for _, k := range attrs[AttrTransitiveTagKeys] {
		transitive[strings.ToLower(k)] = true
	}
	for name, vals := range attrs {
		key, ok := strings.CutPrefix(name, AttrPrincipalTag)
		if !ok {
			continue
		}
		if len(vals) != 1 {
			v.Problems = append(v.Problems, fmt.Sprintf("session tag %q has %d values; AWS takes exactly one", key, len(vals)))
			continue
		}
		v.Tags = append(v.Tags, Tag{Key: key, Value: vals[0], Transitive: transitive[strings.ToLower(key)]})
	}
	sort.Slice(v.Tags, func(i, j int) bool { return v.Tags[i].Key < v.Tags[j].Key })
	problem(CheckTags(v.Tags))
	if si := attrs[AttrSourceIdentity]; len(si) > 0 {
		v.SourceIdentity = si[0]
		problem(CheckSourceIdentity(v.SourceIdentity))
	}
}
