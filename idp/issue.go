package idp

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/assertions"
	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// assertionEvent starts the audit record of one assertion, issued or refused.
func (s *Server) assertionEvent(c *gin.Context, user string, details map[string]string) *store.AuditEvent {
	return &store.AuditEvent{Time: s.now(), Type: "assertion", User: user, ClientAddr: c.ClientIP(),
		UserAgent: bounded(c.Request.UserAgent(), maxUserAgent), Details: details}
}

// refuseAssertion records a refused assertion and shows the person why.
func (s *Server) refuseAssertion(c *gin.Context, e *store.AuditEvent, err error) {
	s.recordRefusal(c, e, err)
	s.failPage(c, err)
}

// postAssertion records an issued assertion (result "ok" unless e has one), then answers with
// f's auto-POST page; the page's CSP lets forms go to f.ACS's origin. No audit record, no
// assertion.
func (s *Server) postAssertion(c *gin.Context, e *store.AuditEvent, f *authn.PostForm) {
	if err := s.recordIssued(c, e); err != nil {
		s.failPage(c, err)
		return
	}
	if u, err := url.Parse(f.ACS); err == nil {
		c.Set(ctxAction, []string{u.Scheme + "://" + u.Host})
	}
	s.postPage(c, f)
}

// awsIssue asks for a Response for AWS: who, how and when they authenticated, and for what. Every
// way in (the browser's sign-in links, ECP, and the command line's flows) comes through issueAWS
// with one, so grants, MFA policy, the plan and the audit are the same whichever way it came.
type awsIssue struct {
	User         *store.User
	Methods      string // how the user authenticated, as a session's AuthMethods ("pwd,otp")
	AuthnInstant time.Time
	SessionIndex string
	Account      string // an alias or ID; "" for every account the user holds a role in
	Role         string // "" for every role granted
	Region       string
	Relay        string
	ACS          string            // the sign-in URL the client named; "" for the account's (or the demo checker)
	Details      map[string]string // added to the audit record: the way in
	Prefix       string            // the Response's namespace prefix; see assertions.AWSResponse
	// ToConsole says the browser posts the Response to AWS's sign-in endpoint. Every other way in
	// is a program that reads the roles in it, so its Response is never encrypted.
	ToConsole bool
}

// issuedAWS is a signed Response and what went into it.
type issuedAWS struct {
	XML     []byte
	Plan    *assertions.AWSResponse
	Account *store.Account // the account asked for; nil for every account
	Roles   []string       // role ARNs
	Omitted []string       // accounts left out of an every-account Response, each with why
}

// errStepUp says that an account requires a second factor the authentication did not use.
var errStepUp = store.Errorf(store.Unauthorized, "this account requires a second factor: sign in with your authenticator app's code")

// issueAWS plans, signs and prepares the audit of a Response for in. A refusal is audited here and
// returned with its reason; errStepUp and internal errors are returned unaudited. The caller
// records the issued event (recordIssued) before it hands the Response out.
func (s *Server) issueAWS(c *gin.Context, in awsIssue) (*issuedAWS, *store.AuditEvent, error) {
	ctx := c.Request.Context()
	details := make(map[string]string, 16) // room for what the audit records of an issued Response
	details["account"], details["role"] = in.Account, in.Role
	for k, v := range in.Details {
		details[k] = v
	}
	audit := s.assertionEvent(c, in.User.Name, details)
	deny := func(err error) (*issuedAWS, *store.AuditEvent, error) {
		s.recordRefusal(c, audit, err)
		return nil, audit, err
	}
	grants, err := s.store.ListGrants(ctx, store.GrantFilter{User: in.User.Name, Effective: true})
	if err != nil {
		return nil, audit, err
	}
	mfa := hasMFA(&store.Session{AuthMethods: in.Methods})
	encKeys := map[string]string{} // account ID to the ID of the encryption key its Response is encrypted to
	// plan plans the Response for acct with its tag rules. Only a Response the browser posts to AWS
	// is ever encrypted (assertions.encryptFor), so only then is the account's key read.
	plan := func(acct *store.Account, grants []*store.Grant, rules []*store.TagRule) (*assertions.AWSResponse, error) {
		var enc *assertions.Encryption
		if in.ToConsole {
			var err error
			if enc, err = s.encryptionOf(ctx, acct, encKeys); err != nil {
				return nil, err
			}
		}
		p := assertions.AWSSignIn{BaseURL: s.cfg.BaseURL, User: in.User, Account: acct, Grants: grants, TagRules: rules,
			Role: in.Role, Region: in.Region, ACS: in.ACS, AuthnInstant: in.AuthnInstant, MFA: mfa, SessionIndex: in.SessionIndex,
			Now: s.now(), ResponseID: newXMLID(), AssertionID: newXMLID(), Encryption: enc, ClientReads: !in.ToConsole}
		if in.ACS != "" {
			if p.Region, err = assertions.SignInRegion(acct.Partition, in.ACS); err != nil {
				return nil, err
			}
			p.ACS = ""
		} else if slices.Contains(s.cfg.DemoAccounts, acct.ID) {
			p.ACS = strings.TrimRight(s.cfg.BaseURL, "/") + demoACSPath
		}
		return assertions.PlanAWS(p)
	}
	out := &issuedAWS{}
	if in.Account != "" {
		// An unknown account, one where nothing is granted and a role not granted get one answer that
		// names none of them, before anything else is read: no probing for accounts or roles.
		acct, err := s.store.GetAccount(ctx, in.Account)
		if store.IsCode(err, store.NotFound) {
			return deny(errNotGranted)
		} else if err != nil {
			return nil, audit, err
		}
		c.Set(ctxMetricAccount, acct.ID)
		if !slices.ContainsFunc(grants, func(g *store.Grant) bool { return g.AccountID == acct.ID && (in.Role == "" || g.Role == in.Role) }) {
			return deny(errNotGranted)
		}
		// Never a password-only assertion for an account that requires MFA.
		if acct.RequireMFA && !mfa {
			return nil, audit, errStepUp
		}
		if err := assertions.CheckRelayState(acct.Partition, in.Relay); err != nil {
			return deny(err)
		}
		rules, err := s.store.ListTagRules(ctx, acct.ID)
		if err != nil {
			return nil, audit, err
		}
		if out.Plan, err = plan(acct, grants, rules); store.Fault(err) {
			return nil, audit, err
		} else if err != nil {
			return deny(err)
		}
		out.Account = acct
		audit.Details["account"] = acct.ID
	} else {
		// Every account: each planned as if asked for alone, then those whose session attributes
		// agree go in together (assertions.CombineAWS); the others are left out and named. The
		// accounts and their tag rules are read at once, not a query or two per account.
		c.Set(ctxMetricAccount, accountAll)
		ids := make([]string, len(grants))
		for i, g := range grants {
			ids[i] = g.AccountID
		}
		accts, err := s.store.ListAccountsByID(ctx, ids)
		if err != nil {
			return nil, audit, err
		}
		all, err := s.store.ListTagRulesOf(ctx, ids)
		if err != nil {
			return nil, audit, err
		}
		// Each account's plan gets its own grants and rules: all of them, each time, would make the
		// plans' work grow with the square of the accounts.
		rules, held := map[string][]*store.TagRule{}, map[string][]*store.Grant{}
		for _, r := range all {
			rules[r.AccountID] = append(rules[r.AccountID], r)
		}
		for _, g := range grants {
			held[g.AccountID] = append(held[g.AccountID], g)
		}
		var plans []*assertions.AWSResponse
		var planned []string
		for _, acct := range accts { // by ID
			if acct.RequireMFA && !mfa {
				out.Omitted = append(out.Omitted, acct.Alias+" ("+acct.ID+"): it requires a second factor")
				continue
			}
			p, err := plan(acct, held[acct.ID], rules[acct.ID])
			if store.Fault(err) {
				return nil, audit, err
			} else if err != nil {
				out.Omitted = append(out.Omitted, acct.Alias+" ("+acct.ID+"): "+store.ErrorMessage(err))
				continue
			}
			plans, planned = append(plans, p), append(planned, acct.Alias+" ("+acct.ID+")")
		}
		if len(plans) == 0 {
			if len(out.Omitted) == 0 {
				return deny(store.Errorf(store.Forbidden, "you hold no role in any account"))
			}
			return deny(store.Errorf(store.Forbidden, "no account can be signed in to: %s", strings.Join(out.Omitted, "; ")))
		}
		var left []int
		out.Plan, left = assertions.CombineAWS(plans)
		for _, i := range left {
			out.Omitted = append(out.Omitted, planned[i]+": its session name, duration, tags, source identity, sign-in endpoint or authentication context differ from the other accounts'; ask for it with account="+strings.Fields(planned[i])[0])
		}
		var accounts []string
		seen := map[string]bool{}
		for _, r := range out.Plan.Roles {
			if a := strings.Split(r.RoleARN, ":")[4]; !seen[a] {
				seen[a], accounts = true, append(accounts, a)
			}
		}
		audit.Details["account"] = strings.Join(accounts, " ")
		if len(out.Omitted) > 0 {
			audit.Details["omitted"] = strings.Join(out.Omitted, "; ")
		}
	}
	out.Plan.ProtocolPrefix = in.Prefix
	key, err := s.keys.Current(ctx)
	if err != nil {
		return nil, audit, err
	}
	if out.XML, err = assertions.BuildAWS(out.Plan, assertions.Signer{Key: key.Signer, Cert: key.Cert}); err != nil {
		return deny(err)
	}
	p := out.Plan
	for _, r := range p.Roles {
		out.Roles = append(out.Roles, r.RoleARN)
	}
	d := audit.Details
	d["roles"], d["session_name"], d["source_identity"] = strings.Join(out.Roles, " "), p.SessionName, p.SourceIdentity
	d["response_id"], d["assertion_id"], d["acs"] = p.ResponseID, p.AssertionID, p.ACS
	d["session_duration"], d["authn_context"], d["auth_methods"] = p.Duration().String(), p.AuthnContext, in.Methods
	d["signing_key"], d["encrypted"] = key.ID, strconv.FormatBool(p.Encrypt != nil)
	if p.Encrypt != nil && out.Account != nil {
		audit.Details["encryption_key"] = encKeys[out.Account.ID]
	}
	delete(audit.Details, "role")
	return out, audit, nil
}

// encryptionOf returns the account's current encryption certificate to encrypt to, nil when
// the account does not encrypt or has no current key, and notes the key's ID in ids.
func (s *Server) encryptionOf(ctx context.Context, acct *store.Account, ids map[string]string) (*assertions.Encryption, error) {
	if acct.AWS.Encrypt == store.EncryptOff {
		return nil, nil
	}
	k, err := s.currentEncryptionKey(ctx, acct.ID)
	if err != nil || k == nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(k.Certificate)
	if err != nil {
		return nil, fmt.Errorf("idp: certificate of encryption key %s: %w", k.ID, err)
	}
	ids[acct.ID] = k.ID
	return &assertions.Encryption{Cert: cert, Rand: rand.Reader}, nil
}

// currentEncryptionKey is the account's current encryption key, nil when it has none.
func (s *Server) currentEncryptionKey(ctx context.Context, accountID string) (*store.EncryptionKey, error) {
	keys, err := s.store.ListEncryptionKeys(ctx, accountID)
	for _, k := range keys {
		if k.State == store.KeyCurrent {
			return k, err
		}
	}
	return nil, err
}

// recordRefusal records a refused assertion.
func (s *Server) recordRefusal(c *gin.Context, e *store.AuditEvent, err error) {
	e.Result = "refused: " + store.ErrorMessage(err)
	s.countAssertion(c, e, string(store.ErrorCode(err)))
	if aerr := s.store.AppendAudit(c.Request.Context(), e); aerr != nil {
		s.log.Error("audit", "request_id", c.GetString(ctxRequestID), "err", aerr)
	}
}

// recordIssued records an issued assertion (result "ok" unless e has one). No audit record, no
// assertion: the caller hands the Response out only without an error.
func (s *Server) recordIssued(c *gin.Context, e *store.AuditEvent) error {
	if e.Result == "" {
		e.Result = "ok"
	}
	if err := s.store.AppendAudit(c.Request.Context(), e); err != nil {
		return err
	}
	reason := "" // issued
	if e.Type != "assertion" {
		reason = "status" // an SP's request answered with a SAML status and no assertion
	}
	s.countAssertion(c, e, reason)
	return nil
}
