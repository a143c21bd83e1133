package awsadmin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"rolegate/assertions"
	"rolegate/store"
)

const (
	// RevokePolicyName is the inline policy on each role that holds every revocation, one statement
	// per person, beside whatever other inline policies the role has.
	RevokePolicyName = "RolegateRevokedSessions"
	// MaxRolePolicySize is IAM's limit on the characters of all of a role's inline policies together
	// (whitespace not counted).
	MaxRolePolicySize = 10240
	// ClockSkew is added to the longest session before a statement counts as expired: the clocks of
	// Rolegate's host and of AWS need not agree to the second.
	ClockSkew = 5 * time.Minute

	policyVersion = "2012-10-17"
	sidPrefix     = "RolegateRevoke"
	keySourceID   = "aws:SourceIdentity"
	keyIssueTime  = "aws:TokenIssueTime"
)

// Revocation denies every action to the sessions that carry SourceIdentity and whose credentials
// were issued before Before.
type Revocation struct {
	SourceIdentity string
	Before         time.Time
}

// RevokePolicy is the revocation policy of one role: Rolegate's statements, each a Revocation, and
// any statement someone else put there, kept as it was.
type RevokePolicy struct {
	id    json.RawMessage // the document's Id, when it has one
	stmts []policyStatement
}

type policyStatement struct {
	rev *Revocation     // nil for a statement Rolegate did not write
	raw json.RawMessage // compact JSON of a statement Rolegate did not write
}

// revokeStatement is the one shape of statement Rolegate writes, field for field in IAM's order.
type revokeStatement struct {
	Sid       string
	Effect    string
	Action    string
	Resource  string
	Condition revokeCondition
}

type revokeCondition struct {
	StringEquals map[string]string
	DateLessThan map[string]string
}

// ParseRevokePolicy reads a policy document (as GetRolePolicy returns it, once URL-decoded); ""
// is the empty policy.
func ParseRevokePolicy(doc string) (*RevokePolicy, error) {
	p := &RevokePolicy{}
	if strings.TrimSpace(doc) == "" {
		return p, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &top); err != nil {
		return nil, fmt.Errorf("policy %s is not a JSON object: %w", RevokePolicyName, err)
	}
	p.id = top["Id"]
	raw := bytes.TrimSpace(top["Statement"])
	var list []json.RawMessage
	switch {
	case len(raw) == 0:
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("policy %s: Statement: %w", RevokePolicyName, err)
		}
	default: // IAM's grammar allows one statement without the array
		list = []json.RawMessage{raw}
	}
	for _, s := range list {
		if rev := parseRevocation(s); rev != nil {
			p.stmts = append(p.stmts, policyStatement{rev: rev})
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, s); err != nil {
			return nil, fmt.Errorf("policy %s: a statement: %w", RevokePolicyName, err)
		}
		p.stmts = append(p.stmts, policyStatement{raw: b.Bytes()})
	}
	return p, nil
}

// parseRevocation recognises a statement of exactly the shape Rolegate writes; anything else, even
// close, is someone else's and is left alone.
func parseRevocation(raw json.RawMessage) *Revocation {
	var s revokeStatement
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(&s) != nil || s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" ||
		len(s.Condition.StringEquals) != 1 || len(s.Condition.DateLessThan) != 1 {
		return nil
	}
	id, ok := s.Condition.StringEquals[keySourceID]
	at, ok2 := s.Condition.DateLessThan[keyIssueTime]
	if !ok || !ok2 || id == "" || s.Sid != StatementID(id) {
		return nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil
	}
	return &Revocation{SourceIdentity: id, Before: t.UTC()}
}

// StatementID is the Sid of the statement that revokes sourceIdentity: IAM allows only [A-Za-z0-9]
// in a Sid, so it keeps the letters and digits of the value (to be read) and a hash of it (to stay
// unique: "a.b" and "ab" differ).
func StatementID(sourceIdentity string) string {
	var b strings.Builder
	for _, r := range sourceIdentity {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) && b.Len() < 32 {
			b.WriteRune(r)
		}
	}
	sum := sha256.Sum256([]byte(sourceIdentity))
	return sidPrefix + b.String() + hex.EncodeToString(sum[:4])
}

// RevocationTime is the TokenIssueTime a revocation at now denies before: now rounded up to the
// second, so a session issued in the same second as the revocation is denied too.
func RevocationTime(now time.Time) time.Time {
	t := now.UTC()
	r := t.Truncate(time.Second)
	if r.Before(t) {
		r = r.Add(time.Second)
	}
	return r
}

// Revoke adds r, replacing the statement of the same SourceIdentity if there is one (in its place).
func (p *RevokePolicy) Revoke(r Revocation) {
	r.Before = RevocationTime(r.Before)
	out := p.stmts[:0]
	done := false
	for _, s := range p.stmts {
		if s.rev != nil && s.rev.SourceIdentity == r.SourceIdentity {
			if done {
				continue // a copy (an edit by hand): one statement per person
			}
			s, done = policyStatement{rev: &r}, true
		}
		out = append(out, s)
	}
	if !done {
		out = append(out, policyStatement{rev: &r})
	}
	p.stmts = out
}

// Prune drops Rolegate's statements that deny only sessions issued before cutoff (no such session
// can still be live) and says how many it dropped. Other statements stay.
func (p *RevokePolicy) Prune(cutoff time.Time) int {
	out := p.stmts[:0]
	for _, s := range p.stmts {
		if s.rev != nil && !s.rev.Before.After(cutoff) {
			continue
		}
		out = append(out, s)
	}
	n := len(p.stmts) - len(out)
	p.stmts = out
	return n
}

// Revocations lists Rolegate's statements in the policy's order.
func (p *RevokePolicy) Revocations() []Revocation {
	var out []Revocation
	for _, s := range p.stmts {
		if s.rev != nil {
			out = append(out, *s.rev)
		}
	}
	return out
}

// Empty says whether the policy has no statement left (then it is deleted, not written).
func (p *RevokePolicy) Empty() bool { return len(p.stmts) == 0 }

// Document is the policy as compact JSON, ready for PutRolePolicy.
func (p *RevokePolicy) Document() string {
	stmts := make([]any, len(p.stmts))
	for i, s := range p.stmts {
		if s.rev == nil {
			stmts[i] = s.raw
			continue
		}
		stmts[i] = revokeStatement{Sid: StatementID(s.rev.SourceIdentity), Effect: "Deny", Action: "*", Resource: "*",
			Condition: revokeCondition{
				StringEquals: map[string]string{keySourceID: s.rev.SourceIdentity},
				DateLessThan: map[string]string{keyIssueTime: s.rev.Before.UTC().Format(time.RFC3339)},
			}}
	}
	doc := struct {
		Version   string
		Id        json.RawMessage `json:",omitempty"`
		Statement []any
	}{policyVersion, p.id, stmts}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // IAM counts characters: no \u003c for a '<'
	if err := enc.Encode(doc); err != nil {
		panic(err) // strings and compacted raw JSON always encode
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// PolicySize is how IAM measures a policy against its size limit: characters, whitespace outside
// strings not counted.
func PolicySize(doc string) int {
	var b bytes.Buffer
	if json.Compact(&b, []byte(doc)) != nil {
		return utf8.RuneCountInString(doc)
	}
	return utf8.RuneCount(b.Bytes())
}

// LongestSession is the longest session any grant of account a can give: a grant's duration,
// else the account's, else AWS's default; never more than AWS's 12 hours.
func LongestSession(a *store.Account, grants []*store.Grant) time.Duration {
	longest := a.SessionDuration
	if longest == 0 {
		longest = assertions.DefaultAWSDuration
	}
	for _, g := range grants {
		if g.AccountID == a.ID && g.SessionDuration > longest {
			longest = g.SessionDuration
		}
	}
	return min(longest, store.MaxSessionDuration)
}

// RolePolicyAPI is the part of IAM that revocation uses; *iam.Client has it.
type RolePolicyAPI interface {
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

// What a role revision did.
const (
	RoleWritten   = "written"   // PutRolePolicy
	RoleDeleted   = "deleted"   // the last statement was pruned: DeleteRolePolicy
	RoleUnchanged = "unchanged" // nothing to add or prune
	RoleMissing   = "missing"   // IAM has no such role: skipped
	RoleFailed    = "failed"
)

// RoleChange is the outcome of revising one role's revocation policy.
type RoleChange struct {
	Role     string // as granted: "path/name"
	Outcome  string // one of the Role* constants
	Document string // the policy written, or that a dry run would write
	Pruned   int    // statements pruned
	DryRun   bool   // nothing was written
	Err      error  // for RoleFailed and RoleMissing
}

// RoleName is the name IAM's role APIs take: a granted role's last path segment.
func RoleName(role string) string { return role[strings.LastIndex(role, "/")+1:] }

// ReviseRole reads role's inline policies, adds rev to its revocation policy (nil: none, prune only),
// prunes statements issued before cutoff when prune is set or the role's inline policies would
// otherwise pass IAM's limit, and writes the result (nothing with dryRun).
func ReviseRole(ctx context.Context, api RolePolicyAPI, role string, rev *Revocation, prune bool, cutoff time.Time, dryRun bool) RoleChange {
	out := RoleChange{Role: role, DryRun: dryRun}
	fail := func(err error) RoleChange {
		out.Outcome, out.Err = RoleFailed, err
		var missing *types.NoSuchEntityException
		if errors.As(err, &missing) {
			out.Outcome = RoleMissing
		}
		return out
	}
	name := RoleName(role)
	current, others, err := readRolePolicies(ctx, api, name)
	if err != nil {
		return fail(err)
	}
	p, err := ParseRevokePolicy(current)
	if err != nil {
		return fail(err)
	}
	if rev != nil {
		p.Revoke(*rev)
	}
	budget := MaxRolePolicySize - others
	if prune || PolicySize(p.Document()) > budget {
		out.Pruned = p.Prune(cutoff)
	}
	doc := p.Document()
	switch {
	case p.Empty() && current == "":
		out.Outcome = RoleUnchanged
		return out
	case p.Empty():
		out.Outcome = RoleDeleted
	case rev == nil && out.Pruned == 0:
		out.Outcome, out.Document = RoleUnchanged, doc
		return out
	default:
		if size := PolicySize(doc); size > budget {
			return fail(store.Errorf(store.Conflict, "the policy would take %d characters and the role's other inline policies take %d: over IAM's limit of %d for a role (no statement in it has expired yet)",
				size, others, MaxRolePolicySize))
		}
		out.Outcome, out.Document = RoleWritten, doc
	}
	if dryRun {
		return out
	}
	if out.Outcome == RoleDeleted {
		_, err = api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(RevokePolicyName)})
	} else {
		_, err = api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(RevokePolicyName), PolicyDocument: aws.String(doc)})
	}
	if err != nil {
		return fail(err)
	}
	return out
}

// readRolePolicies returns the role's revocation policy ("" when it has none) and the size of its
// other inline policies, which share IAM's limit. A missing role is IAM's NoSuchEntity.
func readRolePolicies(ctx context.Context, api RolePolicyAPI, role string) (current string, others int, err error) {
	pages := iam.NewListRolePoliciesPaginator(api, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", 0, err
		}
		for _, name := range page.PolicyNames {
			got, err := api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			if err != nil {
				return "", 0, err
			}
			doc, err := policyDocument(aws.ToString(got.PolicyDocument))
			if err != nil {
				return "", 0, fmt.Errorf("inline policy %s: %w", name, err)
			}
			if name == RevokePolicyName {
				current = doc
			} else {
				others += PolicySize(doc)
			}
		}
	}
	return current, others, nil
}

// policyDocument decodes a document as GetRolePolicy returns it: IAM URL-encodes it (RFC 3986: a
// space is %20, a '+' stays or is %2B), so it starts "%7B"; emulators (moto, LocalStack) send the
// JSON as it is, which decoding would corrupt ("100%25" is a literal "%25" there).
func policyDocument(got string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(got), "{") {
		return got, nil
	}
	return url.PathUnescape(got)
}

// RevokeRequest asks to revoke one person's live AWS sessions, or, with User "" and Prune, only to
// prune the revocation policies.
type RevokeRequest struct {
	User    string // a user name; "" with Prune: prune only
	Account string // an alias or ID; "" for every account where User holds a role (prune only: every account)
	Prune   bool
	DryRun  bool
	Now     time.Time
	Options Options
}

// AccountRevocation is what a revocation did in one account.
type AccountRevocation struct {
	Account    *store.Account
	Revocation *Revocation   // what was denied; nil when pruning only or refused
	Longest    time.Duration // the longest session the account's grants give (what prune keeps)
	Refused    error         // nothing was tried there, and why (source identity off, no role held)
	Err        error         // IAM could not be reached
	Roles      []RoleChange  // one per role
}

// RevokeResult is what a revocation did.
type RevokeResult struct {
	User     string // the user's name as the store spells it; "" when pruning only
	Accounts []*AccountRevocation
	// Redeemable, when not zero, is until when AWS may still accept an assertion Rolegate issued to
	// the user before the revocation: a session made from it later is issued after the revocation
	// time, so the policy does not deny it.
	Redeemable time.Time
}

// Revoke writes, on every role the user is granted (directly or through groups, as sign-in sees
// grants) in the account or accounts asked for, a statement that denies the sessions carrying the
// user's SourceIdentity issued before req.Now. Per-account and per-role failures are in the result;
// the error is for a request that cannot start (unknown user or account).
func Revoke(ctx context.Context, st store.Store, req RevokeRequest) (*RevokeResult, error) {
	accts, u, err := revoke(ctx, st, req)
	if err != nil {
		return nil, err
	}
	res := &RevokeResult{Accounts: accts}
	if u == nil {
		return res, nil
	}
	res.User = u.Name
	window := assertions.AssertionLifetime + ClockSkew
	issued, err := st.ListAudit(ctx, store.AuditFilter{User: u.Name, Since: req.Now.Add(-window), Types: []string{"assertion"}})
	if err != nil {
		return nil, err
	}
	for _, e := range issued {
		if e.Result == "ok" && e.Time.Add(window).After(res.Redeemable) {
			res.Redeemable = e.Time.Add(window)
		}
	}
	return res, nil
}

// revoke does Revoke's work and returns the user it revoked (nil when pruning only).
func revoke(ctx context.Context, st store.Store, req RevokeRequest) ([]*AccountRevocation, *store.User, error) {
	var u *store.User
	var held []*store.Grant
	if req.User != "" {
		var err error
		if u, err = st.GetUser(ctx, req.User); err != nil {
			return nil, nil, err
		}
		if held, err = st.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true}); err != nil {
			return nil, nil, err
		}
	} else if !req.Prune {
		return nil, nil, store.Errorf(store.Invalid, "name the user whose sessions to revoke (--user), or only prune (--prune)")
	}
	var accts []*store.Account
	if req.Account != "" {
		a, err := st.GetAccount(ctx, req.Account)
		if err != nil {
			return nil, nil, err
		}
		accts = append(accts, a)
	} else {
		all, err := st.ListAccounts(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range all {
			if u == nil || len(grantedRoles(held, a.ID)) > 0 {
				accts = append(accts, a)
			}
		}
		if u != nil && len(accts) == 0 {
			return nil, nil, store.Errorf(store.NotFound, "user %s holds no role in any account: there is nothing to revoke", u.Name)
		}
	}

	var out []*AccountRevocation
	for _, a := range accts {
		res := &AccountRevocation{Account: a}
		out = append(out, res)
		grants, err := st.ListGrants(ctx, store.GrantFilter{Account: a.ID})
		if err != nil {
			return nil, nil, err
		}
		res.Longest = LongestSession(a, grants)
		roles := grantedRoles(grants, a.ID)
		if u != nil {
			if roles = grantedRoles(held, a.ID); len(roles) == 0 {
				res.Refused = store.Errorf(store.NotFound, "user %s holds no role in account %s", u.Name, a.Alias)
				continue
			}
			if a.SourceIdentitySource == store.FromNone {
				res.Refused = store.Errorf(store.Invalid, "source identity is off, so sessions there carry none to deny: turn it on with `rolegate account set %s --source-identity username` (sessions issued before that stay live)", a.Alias)
				continue
			}
			id, err := assertions.SourceIdentity(u, a)
			if err != nil {
				res.Refused = err
				continue
			}
			res.Revocation = &Revocation{SourceIdentity: id, Before: RevocationTime(req.Now)}
		}
		if len(roles) == 0 {
			continue
		}
		client, err := IAM(ctx, a, req.Options)
		if err != nil {
			res.Err = err
			continue
		}
		cutoff := req.Now.Add(-res.Longest - ClockSkew)
		for _, role := range roles {
			res.Roles = append(res.Roles, ReviseRole(ctx, client, role, res.Revocation, req.Prune, cutoff, req.DryRun))
		}
	}
	return out, u, nil
}

// grantedRoles lists the roles grants give in account, one per IAM role name, in grant order.
func grantedRoles(grants []*store.Grant, account string) []string {
	var roles []string
	seen := map[string]bool{}
	for _, g := range grants {
		if g.AccountID == account && !seen[RoleName(g.Role)] {
			seen[RoleName(g.Role)] = true
			roles = append(roles, g.Role)
		}
	}
	return roles
}
