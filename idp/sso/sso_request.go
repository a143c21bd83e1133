package sso

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crewjam/saml"
	"github.com/gin-gonic/gin"

	"rolegate/assertions"
	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/store"
)

// What an AuthnRequest may ask, and how Rolegate checks and honours it: the request's own fields,
// its signature, ForceAuthn, IsPassive and RequestedAuthnContext.

// checkAuthnRequest checks what crewjam assumes (it dereferences the Issuer) or does not check: the
// ID is an XML NCName (the Response's InResponseTo echoes it, and a CR or TAB there would break the
// signatures over it), the IssueInstant is not in the future (authn.MaxRequestSkew: an SP's clock
// may run ahead), and the Response can go by HTTP-POST. A request older than crewjam's MaxIssueDelay
// (90 s) is refused as expired.
func checkAuthnRequest(r *saml.AuthnRequest, now time.Time) error {
	switch {
	case r.Issuer == nil || strings.TrimSpace(r.Issuer.Value) == "":
		return errors.New("the AuthnRequest names no Issuer: Rolegate cannot tell which application sent it")
	case r.ID == "" || len(r.ID) > authn.MaxRequestID:
		return fmt.Errorf("the AuthnRequest has no ID, or one longer than %d characters", authn.MaxRequestID)
	case !isNCName(r.ID):
		return fmt.Errorf("the AuthnRequest's ID %q is not an XML NCName (a letter or _ first; then letters, digits, '.', '-', '_'; no colon, space or control character)",
			text.Bounded(r.ID, 64))
	case r.IssueInstant.After(now.Add(authn.MaxRequestSkew)):
		return fmt.Errorf("the AuthnRequest was issued at %s, more than %d s in the future: check the application's clock",
			r.IssueInstant.UTC().Format(time.RFC3339), int(authn.MaxRequestSkew/time.Second))
	case r.ProtocolBinding != "" && r.ProtocolBinding != saml.HTTPPostBinding:
		return fmt.Errorf("the AuthnRequest asks for the response binding %s; Rolegate answers only with HTTP-POST", bindingName(r.ProtocolBinding))
	}
	return nil
}

// isNCName reports whether s matches the NCName production of Namespaces in XML 1.0: an XML Name
// without colons.
func isNCName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		if !nameStartChar(r) && (i == 0 || !nameChar(r)) {
			return false
		}
	}
	return true
}

func nameStartChar(r rune) bool {
	return r >= 'A' && r <= 'Z' || r == '_' || r >= 'a' && r <= 'z' ||
		r >= 0xC0 && r <= 0xD6 || r >= 0xD8 && r <= 0xF6 || r >= 0xF8 && r <= 0x2FF ||
		r >= 0x370 && r <= 0x37D || r >= 0x37F && r <= 0x1FFF || r >= 0x200C && r <= 0x200D ||
		r >= 0x2070 && r <= 0x218F || r >= 0x2C00 && r <= 0x2FEF || r >= 0x3001 && r <= 0xD7FF ||
		r >= 0xF900 && r <= 0xFDCF || r >= 0xFDF0 && r <= 0xFFFD || r >= 0x10000 && r <= 0xEFFFF
}

func nameChar(r rune) bool {
	return r == '-' || r == '.' || r >= '0' && r <= '9' || r == 0xB7 ||
		r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
}

// ---- signatures

// SPRequestSigning reads an SP's metadata: whether it promises to sign its AuthnRequests
// (AuthnRequestsSigned="true"), and whether it publishes a signing certificate to check them with.
func SPRequestSigning(ed *saml.EntityDescriptor) (promised, verifiable bool) {
	for _, d := range ed.SPSSODescriptors {
		promised = promised || (d.AuthnRequestsSigned != nil && *d.AuthnRequestsSigned)
		for _, k := range d.KeyDescriptors {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				verifiable = verifiable || c.Data != ""
			}
		}
	}
	return promised, verifiable
}

// signingDemand says why the SP's requests must be signed, or "" when they need not be.
func signingDemand(reg *store.ServiceProvider, ed *saml.EntityDescriptor) string {
	if promised, _ := SPRequestSigning(ed); promised {
		return `its metadata says AuthnRequestsSigned="true"`
	}
	if reg.RequireSignedRequests {
		return "it is registered with --require-signed-requests"
	}
	return ""
}

// carriesSignature reports whether the request came signed in any of the ways crewjam verifies:
// SigAlg and Signature beside it (HTTP-Redirect, HTTP-POST-SimpleSign) or a ds:Signature inside.
func carriesSignature(c *gin.Context, r *saml.AuthnRequest) bool {
	params := c.Request.URL.Query()
	if c.Request.Method == http.MethodPost {
		params = c.Request.PostForm
	}
	return r.Signature != nil || params.Has("SigAlg") || params.Has("Signature")
}

// ---- RequestedAuthnContext

// contextPasswordPlain is SAML's class for a password sent in the clear; Rolegate never asserts it, but
// ranks it so that "minimum" and "better" comparisons against it work.
const contextPasswordPlain = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"

// contextRank orders the classes Rolegate knows; a higher rank is stronger.
var contextRank = map[string]int{
	contextPasswordPlain:       1,
	assertions.ContextPassword: 2, // a password over TLS: any Rolegate sign-in
	assertions.ContextMFA:      3, // the password and a second factor
}

// producedContexts are the classes Rolegate asserts, weakest first.
var producedContexts = []string{assertions.ContextPassword, assertions.ContextMFA}

// acceptableContexts returns the classes Rolegate may assert for a RequestedAuthnContext, weakest
// first (nil when the request asks for none), and false when Rolegate can assert none of them. The
// comparisons follow saml-core §3.3.2.2.1: exact (the default) wants one of the classes named,
// minimum one at least as strong as one of them, better one stronger than one of them, maximum one
// no stronger than one of them.
func acceptableContexts(rac *saml.RequestedAuthnContext) ([]string, bool, error) {
	if rac == nil {
		return nil, true, nil
	}
	var ok func(have, want int) bool
	switch rac.Comparison {
	case "", "exact":
	case "minimum":
		ok = func(have, want int) bool { return have >= want }
	case "better":
		ok = func(have, want int) bool { return have > want }
	case "maximum":
		ok = func(have, want int) bool { return have <= want }
	default:
		return nil, false, fmt.Errorf("the AuthnRequest's RequestedAuthnContext has the Comparison %q; SAML knows exact, minimum, better and maximum",
			text.Bounded(rac.Comparison, 64))
	}
	want := rac.ClassRefs()
	var out []string
	for _, have := range producedContexts {
		match := rac.Comparison != "better" && slices.Contains(want, have)
		for _, w := range want {
			if r, known := contextRank[w]; known && ok != nil && ok(contextRank[have], r) {
				match = true
			}
		}
		if match {
			out = append(out, have)
		}
	}
	return out, len(out) > 0, nil
}

// sessionContext is the class to assert for a session: the strongest of those acceptable that the
// session reached (any class when the request asked for none). stepUp is true when only a second
// factor would reach one.
func (s *Handler) sessionContext(acceptable []string, sess *store.Session) (class string, stepUp bool) {
	if len(acceptable) == 0 {
		acceptable = producedContexts
	}
	for _, c := range slices.Backward(acceptable) {
		if c != assertions.ContextMFA || s.HasMFA(sess) {
			return c, false
		}
	}
	return "", true
}

// ---- ForceAuthn and IsPassive

// forcedAgain reports whether a ForceAuthn request still needs its user to sign in again: a session
// is new at each password sign-in (a second factor or a new token keeps its CreatedAt), so one made
// after the request has seen the password since.
func forcedAgain(p *store.PendingRequest, sess *store.Session) bool {
	return p.ForceAuthn && !sess.CreatedAt.After(p.CreatedAt)
}

// reauthURL is the sign-in page that asks for the password even with a live session, then goes on
// to /saml/sso/continue.
var reauthURL = "/login?" + url.Values{"next": {ssoContinuePath}, "reauth": {"1"}}.Encode()

// passiveSession returns the browser's session, if any, and the NoPassive status when it cannot
// answer an IsPassive request without a page: nobody signed in, a second factor or a password
// change still due, ForceAuthn, or a context only a second factor would reach.
func (s *Handler) passiveSession(c *gin.Context, p *store.PendingRequest) (*webSession, *saml.StatusError, error) {
	noPassive := &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusNoPassive,
		Message: "the user would have to sign in"}
	u, sess, err := s.SignedIn(c)
	if store.IsCode(err, store.Unauthorized) {
		return nil, noPassive, nil
	} else if err != nil {
		return nil, nil, err
	}
	w := &webSession{user: u, sess: sess}
	need, err := s.NeedsMFA(c, w.user, w.sess)
	if err != nil {
		return nil, nil, err
	}
	if _, stepUp := s.sessionContext(p.AuthnContexts, w.sess); need || stepUp || w.user.MustChangePassword || p.ForceAuthn {
		return w, noPassive, nil
	}
	return w, nil, nil
}

// requestDenied answers a passive request whose signed-in user may not use the SP: a 403 page
// would be a page.
var requestDenied = &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusRequestDenied,
	Message: "the user may not sign in to this application"}

// subjectUnsupported answers a request that names its Subject: SAML core 3.4.1.4 wants the IdP to
// authenticate exactly that principal or return an error, and Rolegate does not keep the Subject
// while the user signs in, so anyone could sign in in its stead.
var subjectUnsupported = &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusRequestUnsupported,
	Message: "Rolegate does not take a Subject in an AuthnRequest"}

// noAuthnContext is the status of a request whose RequestedAuthnContext Rolegate cannot satisfy.
var noAuthnContext = &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusNoAuthnContext,
	Message: "Rolegate cannot authenticate the user in the requested context"}
