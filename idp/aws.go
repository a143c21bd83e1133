package idp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// demoACSPath is where demo accounts' sign-ins go instead of AWS.
const demoACSPath = "/debug/aws-signin"

// newXMLID returns a random XML ID (an XML ID may not start with a digit).
func newXMLID() string {
	var b [20]byte
	rand.Read(b[:])
	return "_" + hex.EncodeToString(b[:])
}

// awsSignIn is IdP-initiated sign-in to the AWS console: it answers with a page whose form posts the
// signed Response to the account's sign-in endpoint.
func (s *Server) awsSignIn(c *gin.Context) {
	u, sess, ok := s.requireLogin(c)
	if !ok || s.mustChange(c, u) {
		return
	}
	q := c.Request.URL.Query()
	account, role, region, relay := q.Get("account"), q.Get("role"), q.Get("region"), q.Get("relay_state")
	if account == "" || len(account) > 64 || len(role) > 576 || len(region) > 32 {
		s.failPage(c, store.Errorf(store.Invalid, "the sign-in link names no account, or its values are too long"))
		return
	}
	out, audit, err := s.issueAWS(c, awsIssue{User: u, Methods: sess.AuthMethods, AuthnInstant: sess.AuthenticatedAt,
		SessionIndex: sessionIndex(sess), Account: account, Role: role, Region: region, Relay: relay, ToConsole: true})
	if errors.Is(err, errStepUp) {
		s.stepUp(c)
		return
	} else if err != nil {
		s.failPage(c, err)
		return
	}
	// Only a click on the portal's own link (which carries a token bound to this session) signs in
	// at once. Any other link, such as one that came through the sign-in form's or the second
	// step's next, or from another site, waits for a click: a page elsewhere cannot drop a
	// signed-in person into the console at a place of its choosing.
	site := c.GetHeader("Sec-Fetch-Site")
	fromPortal := s.portalLink(c, q) && (site == "" || site == "same-origin")
	s.postAssertion(c, audit, &authn.PostForm{Page: authn.PageAWSPost, Title: "Signing in to AWS", ACS: out.Plan.ACS,
		XML: out.XML, RelayState: relay, Account: out.Account, Confirm: !fromPortal})
}

// errNotGranted is the one answer to a sign-in link for an account or role the user may not use.
var errNotGranted = store.Errorf(store.Forbidden, "you may not sign in with that link; choose an account and role on your accounts page")

// portalParam is the query parameter of a portal link's token.
const portalParam = "portal_token"

// linkToken is the token of a portal link with query q: bound to the session (its token) and to
// everything the link asks for, so it cannot be moved to another session or another link.
func linkToken(sessionToken string, q url.Values) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	for _, k := range []string{"portal-link", q.Get("account"), q.Get("role"), q.Get("region"), q.Get("relay_state")} {
		m.Write([]byte(k))
		m.Write([]byte{0})
	}
	return tokenEncoding.EncodeToString(m.Sum(nil))
}

// portalLink reports whether the request carries the token of a portal link of this session.
func (s *Server) portalLink(c *gin.Context, q url.Values) bool {
	w, err := s.signedIn(c)
	return err == nil && linkOf(w.token, q)
}

// linkOf reports whether q is a portal link of the session whose token is sessionToken.
func linkOf(sessionToken string, q url.Values) bool {
	got := q.Get(portalParam)
	return sessionToken != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(linkToken(sessionToken, q))) == 1
}

// ctxPrevToken is the token this request's session had before it was renewed in this request.
const ctxPrevToken = "rg.prev_token"

// carryLink returns next, and when it is a portal link of the session as it was before this
// request renewed it (a second factor, a password change), the same link for the renewed session:
// a portal click that had to step up still signs in at once afterwards.
func (s *Server) carryLink(c *gin.Context, next string) string {
	prev := c.GetString(ctxPrevToken)
	w, err := s.signedIn(c)
	u, perr := url.Parse(next)
	if err != nil || perr != nil || u.Path != "/aws/signin" {
		return next
	}
	q := u.Query()
	if !linkOf(prev, q) {
		return next
	}
	q.Set(portalParam, linkToken(w.token, q))
	return u.Path + "?" + q.Encode()
}

// sessionIndex names the browser session in assertions without revealing its token or hash.
func sessionIndex(sess *store.Session) string {
	sum := sha256.Sum256(append([]byte("rolegate-session-index:"), sess.TokenHash...))
	return "_" + hex.EncodeToString(sum[:16])
}
