package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	acct, err := s.store.GetAccount(ctx, account)
	if store.IsCode(err, store.NotFound) {
		// The same answer as for an account without grants: no probing for account names.
		deny(store.Errorf(store.Forbidden, "you are not granted any role in account %q", account))
		return
	}
	if err != nil {
		s.failPage(c, err)
		return
	}
	if err := assertions.CheckRelayState(acct.Partition, relay); err != nil {
		deny(err)
		return
	}
	grants, err := s.store.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true})
	if err != nil {
		s.failPage(c, err)
		return
	}
	// Never a password-only session's assertion for an account that requires MFA: step up first.
	// Only for someone granted a role there, so that no one learns which accounts exist.
	if acct.RequireMFA && !hasMFA(sess) && slices.ContainsFunc(grants, func(g *store.Grant) bool { return g.AccountID == acct.ID }) {
		s.stepUp(c)
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
	// A sign-in link followed from another site waits for a click, so a page elsewhere cannot drop a
	// signed-in person into the console at a place of its choosing.
	site := c.GetHeader("Sec-Fetch-Site")
	s.postAssertion(c, audit, "aws_post", plan.ACS, gin.H{
		"Confirm":      site != "" && site != "same-origin" && site != "none",
		"Title":        "Signing in to AWS",
		"SAMLResponse": base64.StdEncoding.EncodeToString(xml),
		"RelayState":   relay,
		"Account":      acct,
		"Roles":        roles,
	})
}

// sessionIndex names the browser session in assertions without revealing its token or hash.
func sessionIndex(sess *store.Session) string {
	sum := sha256.Sum256(append([]byte("rolegate-session-index:"), sess.TokenHash...))
	return "_" + hex.EncodeToString(sum[:16])
}
