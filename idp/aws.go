package idp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"rolegate/assertions"
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
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	account, role, region, relay := q.Get("account"), q.Get("role"), q.Get("region"), q.Get("relay_state")
	if account == "" || len(account) > 64 || len(role) > 576 || len(region) > 32 {
		s.failPage(c, store.Errorf(store.Invalid, "the sign-in link names no account, or its values are too long"))
		return
	}
	audit := s.assertionEvent(c, u.Name, map[string]string{"account": account, "role": role})
	deny := func(err error) { s.refuseAssertion(c, audit, err) }
	// An unknown account, one where nothing is granted and a role not granted get one answer that
	// names none of them, before anything else of the link is read, after the same reads (so not
	// even the time taken tells): no probing for accounts or roles.
	grants, err := s.store.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true})
	if err != nil {
		s.failPage(c, err)
		return
	}
	acct, err := s.store.GetAccount(ctx, account)
	if err != nil && !store.IsCode(err, store.NotFound) {
		s.failPage(c, err)
		return
	}
	if err != nil || !slices.ContainsFunc(grants, func(g *store.Grant) bool { return g.AccountID == acct.ID && (role == "" || g.Role == role) }) {
		deny(errNotGranted)
		return
	}
	// Never a password-only session's assertion for an account that requires MFA: step up first.
	if acct.RequireMFA && !hasMFA(sess) {
		s.stepUp(c)
		return
	}
	if err := assertions.CheckRelayState(acct.Partition, relay); err != nil {
		deny(err)
		return
	}
	rules, err := s.store.ListTagRules(ctx, acct.ID)
	if err != nil {
		s.failPage(c, err)
		return
	}
	in := assertions.AWSSignIn{BaseURL: s.cfg.BaseURL, User: u, Account: acct, Grants: grants, TagRules: rules,
		Role: role, Region: region, AuthnInstant: sess.AuthenticatedAt, MFA: hasMFA(sess), SessionIndex: sessionIndex(sess), Now: s.now(),
		ResponseID: newXMLID(), AssertionID: newXMLID()}
	if slices.Contains(s.cfg.DemoAccounts, acct.ID) {
		in.ACS = strings.TrimRight(s.cfg.BaseURL, "/") + demoACSPath
	}
	plan, err := assertions.PlanAWS(in)
	if err != nil {
		deny(err)
		return
	}
	key, err := s.keys.Current(ctx)
	if err != nil {
		s.failPage(c, err)
		return
	}
	xml, err := assertions.BuildAWS(plan, assertions.Signer{Key: key.Signer, Cert: key.Cert})
	if err != nil {
		deny(err)
		return
	}
	var roles []string
	for _, r := range plan.Roles {
		roles = append(roles, r.RoleARN)
	}
	audit.Details = map[string]string{"account": acct.ID, "roles": strings.Join(roles, " "), "session_name": plan.SessionName,
		"source_identity": plan.SourceIdentity, "assertion_id": plan.AssertionID, "acs": plan.ACS,
		"session_duration": plan.Duration().String(), "authn_context": plan.AuthnContext, "auth_methods": sess.AuthMethods, "signing_key": key.ID}
	// Only a click on the portal's own link (which carries a token bound to this session) signs in
	// at once. Any other link, such as one that came through the sign-in form's or the second
	// step's next, or from another site, waits for a click: a page elsewhere cannot drop a
	// signed-in person into the console at a place of its choosing.
	site := c.GetHeader("Sec-Fetch-Site")
	fromPortal := s.portalLink(c, q) && (site == "" || site == "same-origin")
	s.postAssertion(c, audit, "aws_post", plan.ACS, gin.H{
		"Confirm":      !fromPortal,
		"Title":        "Signing in to AWS",
		"SAMLResponse": base64.StdEncoding.EncodeToString(xml),
		"RelayState":   relay,
		"Account":      acct,
		"Roles":        roles,
	})
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
