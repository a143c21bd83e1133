package assertions

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/internal/c14n"
	"rolegate/store"
)

// SAML namespaces and values used in Responses.
const (
	NSAssertion     = "urn:oasis:names:tc:SAML:2.0:assertion"
	StatusSuccess   = "urn:oasis:names:tc:SAML:2.0:status:Success"
	MethodBearer    = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	AttrNameFmtURI  = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	ContextPassword = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	ContextMFA      = "https://refeds.org/profile/mfa"
)

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

// Signer is a signing key and its certificate.
type Signer struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// AWSResponse is everything a Response for AWS says. Nothing in it is read from a clock or a random
// source: Now and the IDs come from the caller.
type AWSResponse struct {
	BaseURL      string // the IdP's; the Issuer is EntityID(BaseURL)
	ACS          string // the sign-in endpoint: Destination and Recipient
	Audience     string // AudienceAWS when empty
	InResponseTo string

	NameID          string // persistent, opaque, stable per user
	Roles           []RolePair
	SessionName     string
	SessionDuration time.Duration // 0 leaves the attribute out (AWS's default: 1 h)
	Tags            []Tag
	SourceIdentity  string // "" leaves it out

	AuthnInstant time.Time
	AuthnContext string // ContextPassword or ContextMFA
	SessionIndex string

	Now                     time.Time
	ResponseID, AssertionID string // XML IDs: start with a letter or underscore
	// Sign says what carries a signature: both (store.SignBoth), the Assertion alone (inside the
	// encryption when encrypted), or the Response alone, whose signature covers the Assertion.
	Sign store.SignMode
	// ProtocolPrefix is the Response's namespace prefix, "samlp" when empty. ECP clients that
	// match on prefixes (saml2aws's ShibbolethECP) want "saml2p", as the Shibboleth IdP writes it.
	ProtocolPrefix string
	// Encrypt, when set, puts the Assertion (signed first, unless Sign is store.SignResponse) in an
	// EncryptedAssertion to its certificate; the Response is signed after, unless Sign is
	// store.SignAssertion.
	Encrypt *Encryption
}

// Check applies every AWS rule to r and names the one it breaks.
func (r *AWSResponse) Check() error {
	if err := CheckRoles(r.Roles); err != nil {
		return err
	}
	if err := CheckSessionName(r.SessionName); err != nil {
		return err
	}
	if err := CheckDuration(r.SessionDuration); err != nil {
		return err
	}
	if err := CheckTags(r.Tags); err != nil {
		return err
	}
	if r.SourceIdentity != "" {
		if err := CheckSourceIdentity(r.SourceIdentity); err != nil {
			return err
		}
	}
	switch {
	case r.Sign != store.SignBoth && r.Sign != store.SignAssertion && r.Sign != store.SignResponse:
		return fmt.Errorf("assertions: invalid signing mode %q", r.Sign)
	case r.NameID == "":
		return store.Errorf(store.Invalid, "the NameID is empty: AWS refuses a Subject without one")
	case r.ACS == "":
		return store.Errorf(store.Invalid, "no ACS: the Recipient and Destination would be empty")
	case r.Now.IsZero() || r.AuthnInstant.IsZero():
		return fmt.Errorf("assertions: Now and AuthnInstant are required")
	case !xmlID(r.ResponseID) || !xmlID(r.AssertionID) || r.ResponseID == r.AssertionID:
		return fmt.Errorf("assertions: ResponseID and AssertionID must be distinct XML IDs")
	}
	return nil
}

func xmlID(s string) bool {
	if len(s) < 2 || !(s[0] == '_' || (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z')) {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c == '.' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')) {
			return false
		}
	}
	return true
}

func samlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Duration is what the session will last: the SessionDuration attribute, or AWS's default.
func (r *AWSResponse) Duration() time.Duration {
	if r.SessionDuration == 0 {
		return DefaultAWSDuration
	}
	return r.SessionDuration
}

// BuildAWS checks r against AWS's rules and returns the signed Response XML: the Assertion signed,
// then encrypted when r.Encrypt says so, then the Response signed; r.Sign may leave out one of the
// two signatures.
func BuildAWS(r *AWSResponse, s Signer) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	issuer := EntityID(r.BaseURL)
	audience := r.Audience
	if audience == "" {
		audience = AudienceAWS
	}
	// Each instant is written once and used wherever it appears.
	now, expires := samlTime(r.Now), samlTime(r.Now.Add(AssertionLifetime))

	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", NSAssertion)
	a.CreateAttr("ID", r.AssertionID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", now)
	a.CreateElement("saml:Issuer").SetText(issuer)

	subj := a.CreateElement("saml:Subject")
	nid := subj.CreateElement("saml:NameID")
	nid.CreateAttr("Format", NameIDPersistent)
	nid.SetText(r.NameID)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", MethodBearer)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	if r.InResponseTo != "" {
		scd.CreateAttr("InResponseTo", r.InResponseTo)
	}
	scd.CreateAttr("NotOnOrAfter", expires)
	scd.CreateAttr("Recipient", r.ACS)

	cond := a.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", samlTime(r.Now.Add(-time.Minute))) // a little room for SPs whose clocks run behind
	cond.CreateAttr("NotOnOrAfter", expires)
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(audience)

	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", samlTime(r.AuthnInstant))
	if r.SessionIndex != "" {
		as.CreateAttr("SessionIndex", r.SessionIndex)
	}
	as.CreateAttr("SessionNotOnOrAfter", samlTime(r.Now.Add(r.Duration())))
	ctx := r.AuthnContext
	if ctx == "" {
		ctx = ContextPassword
	}
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(ctx)

	st := a.CreateElement("saml:AttributeStatement")
	attr := func(name string, values ...string) {
		el := st.CreateElement("saml:Attribute")
		el.CreateAttr("Name", name)
		el.CreateAttr("NameFormat", AttrNameFmtURI)
		for _, v := range values {
			el.CreateElement("saml:AttributeValue").SetText(v)
		}
	}
	var roles []string
	for _, rp := range r.Roles {
		roles = append(roles, rp.RoleValue())
	}
	attr(AttrRole, roles...)
	attr(AttrRoleSessionName, r.SessionName)
	if r.SessionDuration != 0 {
		attr(AttrSessionDuration, strconv.FormatInt(int64(r.SessionDuration/time.Second), 10))
	}
	var transitive []string
	for _, t := range r.Tags {
		attr(AttrPrincipalTag+t.Key, t.Value)
		if t.Transitive {
			transitive = append(transitive, t.Key)
		}
	}
	if len(transitive) > 0 {
		attr(AttrTransitiveTagKeys, transitive...)
	}
	if r.SourceIdentity != "" {
		attr(AttrSourceIdentity, r.SourceIdentity)
	}

	if r.Sign != store.SignResponse {
		if err := sign(a, s); err != nil {
			return nil, err
		}
	}

	pp := r.ProtocolPrefix
	if pp == "" {
		pp = "samlp"
	}
	resp := etree.NewElement(pp + ":Response")
	resp.CreateAttr("xmlns:"+pp, NSProtocol)
	resp.CreateAttr("xmlns:saml", NSAssertion)
	resp.CreateAttr("ID", r.ResponseID)
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", now)
	resp.CreateAttr("Destination", r.ACS)
	if r.InResponseTo != "" {
		resp.CreateAttr("InResponseTo", r.InResponseTo)
	}
	resp.CreateElement("saml:Issuer").SetText(issuer)
	resp.CreateElement(pp+":Status").CreateElement(pp+":StatusCode").CreateAttr("Value", StatusSuccess)
	if r.Encrypt != nil {
		var err error
		if a, err = EncryptAssertion(a, r.Encrypt); err != nil {
			return nil, err
		}
	}
	resp.AddChild(a)
	if r.Sign != store.SignAssertion {
		if err := sign(resp, s); err != nil {
			return nil, err
		}
	}
	out := writeResponse(resp, responseSize(r, s))
	if n := base64.StdEncoding.EncodedLen(len(out)); n > MaxSAMLResponseLen {
		return nil, store.Errorf(store.Invalid, "the Response would be %d base64 characters, over AWS's limit of %d: %s",
			n, MaxSAMLResponseLen, sizeCulprits(r))
	}
	return out, nil
}

// responseSize is a little over the size of r's Response signed by s: the buffer it is written in
// starts so, and is not grown.
func responseSize(r *AWSResponse, s Signer) int {
	n := 2560 + 256*len(r.Roles)
	for _, t := range r.Tags {
		n += 192 + len(t.Key) + len(t.Value)
	}
	if r.Encrypt != nil {
		n += n/2 + 1024 // the EncryptedAssertion's base64 and its wrapped key
	}
	sig := 1024 + len(s.Cert.Raw)*4/3 // SignedInfo, the value and the certificate
	if r.Sign == store.SignBoth {
		sig *= 2
	}
	return n + sig
}

// canonicalizer is exclusive c14n without comments and no prefix list: goxmldsig's bytes and
// rewritten tree, made without its copies and maps (tests swap in a checking one).
var canonicalizer dsig.Canonicalizer = c14n.Exclusive{}

// sign signs el in place (enveloped, RSA-SHA256, SHA-256 digest, exclusive c14n), places the Signature
// right after the Issuer, where the SAML schema wants it.
func sign(el *etree.Element, s Signer) error {
	if s.Key == nil || s.Cert == nil {
		return fmt.Errorf("assertions: no signing key")
	}
	ctx, err := dsig.NewSigningContext(s.Key, [][]byte{s.Cert.Raw})
	if err != nil {
		return err
	}
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return err
	}
	ctx.Canonicalizer = canonicalizer
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		return fmt.Errorf("assertions: sign: %w", err)
	}
	// No copy: el is ours alone, and the canonicaliser has already rewritten it in place (the
	// bytes sent are its canonical form), so a copy would only duplicate the tree.
	el.InsertChildAt(1, sig) // index 0 is the Issuer
	return nil
}

// sizeCulprits names what makes a Response large: the roles (one per grant) and the biggest tag.
func sizeCulprits(r *AWSResponse) string {
	msg := fmt.Sprintf("it carries %d roles (one per grant in the account; sign in to one role at a time, or grant fewer)", len(r.Roles))
	var big Tag
	for _, t := range r.Tags {
		if len(t.Key)+len(t.Value) > len(big.Key)+len(big.Value) {
			big = t
		}
	}
	if big.Key != "" {
		msg += fmt.Sprintf(" and %d session tags, the largest %q (%d characters)", len(r.Tags), big.Key, len(big.Key)+len(big.Value))
	}
	return msg
}
