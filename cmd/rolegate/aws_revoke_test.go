package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"rolegate/assertions"
	"rolegate/awsadmin"
	"rolegate/awstest/iamtest"
	"rolegate/store"
)

// The accounts: prod (prodID) takes SourceIdentity from the user name, and alice and bob hold Admin
// there through group admins; dev (devID) takes it from the email, and alice holds ops/ReadOnly
// directly, for up to 8 h; legacy sends none, and admins hold Admin.
const legacyID = "777788889999"

// adminProfiles are the profiles whose credentials act in each account.
var adminProfiles = map[string]string{"prod": prodID, "dev": devID, "legacy": legacyID}

// revokeEnv is a store with three accounts, two users and their grants, and an IAM stand-in that
// holds the granted roles; each account's admin profile has credentials that act in it.
type revokeEnv struct {
	*cli
	iam *iamtest.IAM
}

// forEachBackendSerial runs fn on each backend in turn: AWS's SDK reads its configuration from the
// process environment, which a parallel test may not set.
func forEachBackendSerial(t *testing.T, fn func(t *testing.T, e *revokeEnv)) {
	s := iamtest.New(t)
	setAWSEnv(t, s, t.TempDir(), adminProfiles)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			fn(t, &revokeEnv{cli: newCLI(t, backend), iam: s})
		})
	}
}

// setup makes the accounts, users, grants and roles; each backend's run gets its own role names
// (the stand-in is shared), so it returns the suffix its roles carry.
func (e *revokeEnv) setup(t *testing.T) string {
	t.Helper()
	sfx := e.backend
	e.ok(t, "", "account", "add", prodID, "--alias", "prod", "--source-identity", "username", "--session-duration", "2h")
	e.ok(t, "", "account", "add", devID, "--alias", "dev", "--source-identity", "email")
	e.ok(t, "", "account", "add", legacyID, "--alias", "legacy")
	e.ok(t, "", "user", "add", "alice", "--email", "alice@example.com", "--no-password")
	e.ok(t, "", "user", "add", "bob", "--no-password")
	e.ok(t, "", "group", "add", "admins")
	e.ok(t, "", "group", "add-member", "admins", "alice")
	e.ok(t, "", "group", "add-member", "admins", "bob")
	e.ok(t, "", "grant", "add", "--group", "admins", "--account", "prod", "--role", "Admin"+sfx)
	e.ok(t, "", "grant", "add", "--user", "alice", "--account", "dev", "--role", "ops/ReadOnly"+sfx, "--session-duration", "8h")
	e.ok(t, "", "grant", "add", "--group", "admins", "--account", "legacy", "--role", "Admin"+sfx)
	for alias := range adminProfiles {
		e.ok(t, "", "account", "set", alias, "--aws-profile", alias)
	}
	e.iam.CreateRole(prodID, "Admin"+sfx)
	e.iam.CreateRole(devID, "ReadOnly"+sfx)
	e.iam.CreateRole(legacyID, "Admin"+sfx)
	return sfx
}

func (e *revokeEnv) revoke(args ...string) result {
	return e.run("", append([]string{"aws", "revoke", "--endpoint-url", e.iam.URL()}, args...)...)
}

// put writes an inline policy through IAM's API, as an admin would by hand.
func (e *revokeEnv) put(t *testing.T, acct, role, name, doc string) {
	t.Helper()
	c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.iam.URL()),
		Credentials: credentials.StaticCredentialsProvider{Value: e.iam.Credentials(acct)}})
	if _, err := c.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
}

// writes counts the calls that change IAM since the first `from` calls.
func (e *revokeEnv) writes(from int) (n int) {
	for _, c := range e.iam.Calls()[from:] {
		if c.Action == "PutRolePolicy" || c.Action == "DeleteRolePolicy" {
			n++
		}
	}
	return n
}

// denial is one statement as IAM's policy grammar reads it.
type denial struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Condition map[string]map[string]string
}

// denials reads a role's revocation policy back from the stand-in, checks its structure, and
// returns Rolegate's statements by SourceIdentity and the others in order.
func (e *revokeEnv) denials(t *testing.T, acct, role string) (map[string]time.Time, []json.RawMessage) {
	t.Helper()
	doc, ok := e.iam.RolePolicy(acct, role, awsadmin.RevokePolicyName)
	if !ok {
		t.Fatalf("role %s in %s has no policy %s", role, acct, awsadmin.RevokePolicyName)
	}
	var p struct {
		Version   string
		Statement []json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil || p.Version != "2012-10-17" {
		t.Fatalf("policy %s: want Version 2012-10-17 and a Statement array (%v)", doc, err)
	}
	byID := map[string]time.Time{}
	var others []json.RawMessage
	for _, raw := range p.Statement {
		var s denial
		if json.Unmarshal(raw, &s) != nil || !strings.HasPrefix(s.Sid, "RolegateRevoke") {
			others = append(others, raw)
			continue
		}
		if !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(s.Sid) || s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" {
			t.Errorf("statement %s: want an alphanumeric Sid, Effect Deny, Action *, Resource *", raw)
		}
		id, at := s.Condition["StringEquals"]["aws:SourceIdentity"], s.Condition["DateLessThan"]["aws:TokenIssueTime"]
		before, err := time.Parse(time.RFC3339, at)
		if len(s.Condition) != 2 || len(s.Condition["StringEquals"]) != 1 || len(s.Condition["DateLessThan"]) != 1 || id == "" || err != nil || !strings.HasSuffix(at, "Z") {
			t.Errorf("statement %s: want exactly StringEquals aws:SourceIdentity and DateLessThan aws:TokenIssueTime in RFC 3339 UTC", raw)
		}
		if _, dup := byID[id]; dup {
			t.Errorf("policy %s: two statements for %s", doc, id)
		}
		byID[id] = before
	}
	return byID, others
}

// statement is a revocation statement as Rolegate writes it, for seeding policies.
func statement(sourceIdentity string, before time.Time) string {
	return fmt.Sprintf(`{"Sid":%q,"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":%q},"DateLessThan":{"aws:TokenIssueTime":%q}}}`,
		awsadmin.StatementID(sourceIdentity), sourceIdentity, before.UTC().Format(time.RFC3339))
}

func policy(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// between checks that a revocation time is the time of the run, rounded up to the second.
func between(t *testing.T, what string, got, start, end time.Time) {
	t.Helper()
	if got.Before(start.Truncate(time.Second)) || got.After(end.Truncate(time.Second).Add(time.Second)) {
		t.Errorf("%s: TokenIssueTime %v; want the time of the run, %v to %v", what, got, start, end)
	}
}

func auditTypes(t *testing.T, st store.Store, typ string) []*store.AuditEvent {
	t.Helper()
	all, err := st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.AuditEvent
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

const foreignStatement = `{"Sid":"BreakGlass","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}`

func TestAWSRevoke(t *testing.T) {
	forEachBackendSerial(t, func(t *testing.T, e *revokeEnv) {
		sfx := e.setup(t)
		admin, readOnly := "Admin"+sfx, "ReadOnly"+sfx
		st := e.openStore(t)

		t.Run("each granted role gets the user's SourceIdentity and the time of the revocation", func(t *testing.T) {
			from, start := len(e.iam.Calls()), time.Now()
			r := e.revoke("--user", "alice")
			end := time.Now()
			if r.code != 0 {
				t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			prod, others := e.denials(t, prodID, admin)
			if len(prod) != 1 || len(others) != 0 {
				t.Fatalf("prod %s: statements %v %s; want alice's alone", admin, prod, others)
			}
			between(t, "prod", prod["alice"], start, end)
			dev, _ := e.denials(t, devID, readOnly)
			if len(dev) != 1 || dev["alice@example.com"].IsZero() {
				t.Errorf("dev %s: statements %v; want alice@example.com's (the account takes the email)", readOnly, dev)
			}
			if !dev["alice@example.com"].Equal(prod["alice"]) {
				t.Errorf("dev denies before %v, prod before %v: want one time of revocation", dev["alice@example.com"], prod["alice"])
			}
			if _, ok := e.iam.RolePolicy(legacyID, admin, awsadmin.RevokePolicyName); ok {
				t.Errorf("legacy, without source identity, got a policy")
			}
			if !strings.Contains(r.stdout, "rolegate account set legacy --source-identity username") {
				t.Errorf("stdout %q: want the legacy account refused with the command that turns source identity on", r.stdout)
			}
			var puts []string
			for _, c := range e.iam.Calls()[from:] {
				if c.Action == "PutRolePolicy" {
					puts = append(puts, c.Account+"/"+c.Params.Get("RoleName")+"/"+c.Params.Get("PolicyName"))
				}
			}
			slices.Sort(puts)
			if want := []string{prodID + "/" + admin + "/RolegateRevokedSessions", devID + "/" + readOnly + "/RolegateRevokedSessions"}; !slices.Equal(puts, want) {
				t.Errorf("PutRolePolicy calls %v; want %v", puts, want)
			}
			var audited []string
			for _, ev := range auditTypes(t, st, "aws.revoke") {
				if ev.User == "alice" && ev.Result == "ok" && ev.Details["role"] != "" {
					audited = append(audited, ev.Details["account"]+"/"+ev.Details["role"]+"/"+ev.Details["source_identity"])
				}
			}
			slices.Sort(audited)
			if want := []string{"dev/ops/" + readOnly + "/alice@example.com", "prod/" + admin + "/alice"}; !slices.Equal(audited, want) {
				t.Errorf("aws.revoke audit %v; want %v", audited, want)
			}
		})

		t.Run("a second user goes beside the first, and a second revocation moves the first's time", func(t *testing.T) {
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			e.put(t, prodID, admin, awsadmin.RevokePolicyName, policy(statement("alice", old), foreignStatement))
			start := time.Now()
			if r := e.revoke("--user", "bob"); r.code != 0 {
				t.Fatalf("revoke bob: exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			got, others := e.denials(t, prodID, admin)
			if len(got) != 2 || !got["alice"].Equal(old) || len(others) != 1 || string(others[0]) != foreignStatement {
				t.Fatalf("statements %v, others %s; want alice's untouched, bob's, and the foreign one kept", got, others)
			}
			between(t, "bob", got["bob"], start, time.Now())
			start = time.Now()
			if r := e.revoke("--user", "ALICE", "--account", "prod"); r.code != 0 {
				t.Fatalf("revoke alice again: exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			got, others = e.denials(t, prodID, admin)
			if len(got) != 2 || len(others) != 1 {
				t.Fatalf("statements %v, others %s; want alice's and bob's, and the foreign one", got, others)
			}
			between(t, "alice again", got["alice"], start, time.Now())
			if evs := auditTypes(t, st, "aws.revoke"); evs[len(evs)-1].User != "alice" {
				t.Errorf("--user ALICE audited as %q; want the user's name, alice", evs[len(evs)-1].User)
			}
		})

		t.Run("prune drops only the statements no live session can match", func(t *testing.T) {
			now := time.Now()
			// prod's sessions last at most 2 h (+ clock skew): 3 h ago has expired, 1 h ago has not.
			e.put(t, prodID, admin, awsadmin.RevokePolicyName, policy(statement("carol", now.Add(-3*time.Hour)), foreignStatement, statement("dave", now.Add(-time.Hour))))
			// dev's ReadOnly grant gives 8 h: 3 h ago is still live there.
			e.put(t, devID, readOnly, awsadmin.RevokePolicyName, policy(statement("erin", now.Add(-3*time.Hour))))
			r := e.revoke("--prune")
			if r.code != 0 {
				t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			got, others := e.denials(t, prodID, admin)
			if _, ok := got["carol"]; ok || got["dave"].IsZero() || len(got) != 1 || len(others) != 1 {
				t.Errorf("prod: statements %v, others %s; want dave's and the foreign one only", got, others)
			}
			if got, _ := e.denials(t, devID, readOnly); got["erin"].IsZero() {
				t.Errorf("dev: statements %v; want erin's kept (8 h sessions)", got)
			}
			e.put(t, prodID, admin, awsadmin.RevokePolicyName, policy(statement("carol", now.Add(-3*time.Hour))))
			from := len(e.iam.Calls())
			if r := e.revoke("--prune", "--account", "prod"); r.code != 0 || !strings.Contains(r.stdout, "deleted policy") {
				t.Fatalf("exit %d: %s%s; want the emptied policy deleted", r.code, r.stdout, r.stderr)
			}
			if _, ok := e.iam.RolePolicy(prodID, admin, awsadmin.RevokePolicyName); ok {
				t.Errorf("the policy whose statements all expired is still there")
			}
			if n := e.writes(from); n != 1 {
				t.Errorf("%d writes; want one DeleteRolePolicy", n)
			}
			from = len(e.iam.Calls())
			if r := e.revoke("--prune", "--account", "prod"); r.code != 0 || e.writes(from) != 0 {
				t.Errorf("pruning a role without the policy: exit %d, %d writes; want 0 and none (%s)", r.code, e.writes(from), r.stdout)
			}
		})

		t.Run("a role IAM does not have is reported and skipped, the others go on", func(t *testing.T) {
			e.ok(t, "", "grant", "add", "--user", "bob", "--account", "prod", "--role", "Ghost"+sfx)
			defer func() {
				grants, _ := st.ListGrants(context.Background(), store.GrantFilter{User: "bob"})
				for _, g := range grants {
					st.DeleteGrant(context.Background(), g.ID)
				}
			}()
			r := e.revoke("--user", "bob")
			if r.code == 0 || !strings.Contains(r.stdout, "Ghost"+sfx+": skipped: IAM has no such role") {
				t.Errorf("exit %d, stdout %q; want non-zero and Ghost reported", r.code, r.stdout)
			}
			if got, _ := e.denials(t, prodID, admin); got["bob"].IsZero() {
				t.Errorf("bob's Admin role was not revoked after the missing one: %v", got)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			for _, c := range []struct {
				name string
				args []string
				code int
				want string
			}{
				{"source identity off: nothing revoked, the command named", []string{"--user", "alice", "--account", "legacy"}, exitCodes[store.Invalid],
					"rolegate account set legacy --source-identity username"},
				{"no user and no prune", nil, exitCodes[store.Invalid], "--user is required"},
				{"an unknown user", []string{"--user", "mallory"}, exitCodes[store.NotFound], "mallory"},
				{"an unknown account", []string{"--user", "alice", "--account", "nowhere"}, exitCodes[store.NotFound], "nowhere"},
				{"an account where the user holds no role", []string{"--user", "bob", "--account", "dev"}, exitCodes[store.NotFound], "holds no role"},
			} {
				t.Run(c.name, func(t *testing.T) {
					from := len(e.iam.Calls())
					r := e.revoke(c.args...)
					if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
						t.Errorf("exit %d, output %q; want %d and %q", r.code, r.stdout+r.stderr, c.code, c.want)
					}
					if n := e.writes(from); n != 0 {
						t.Errorf("%d writes to IAM; want none", n)
					}
				})
			}
		})

		t.Run("a dry run prints the policy and writes nothing", func(t *testing.T) {
			before, _ := e.iam.RolePolicy(devID, readOnly, awsadmin.RevokePolicyName)
			audits := len(auditTypes(t, st, "aws.revoke"))
			from := len(e.iam.Calls())
			r := e.revoke("--user", "alice", "--account", "dev", "--dry-run")
			if r.code != 0 || !strings.Contains(r.stdout, "would deny") {
				t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			if n := e.writes(from); n != 0 {
				t.Errorf("%d writes to IAM; want none", n)
			}
			if after, _ := e.iam.RolePolicy(devID, readOnly, awsadmin.RevokePolicyName); after != before {
				t.Errorf("the policy changed: %s", after)
			}
			if n := len(auditTypes(t, st, "aws.revoke")); n != audits {
				t.Errorf("a dry run was audited as a revocation")
			}
			var printed string
			for _, line := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(line, "{") {
					printed = line
				}
			}
			var p struct{ Statement []denial }
			if err := json.Unmarshal([]byte(printed), &p); err != nil || len(p.Statement) != 2 {
				t.Fatalf("printed policy %q: want erin's and alice's statements (%v)", printed, err)
			}
			if s := p.Statement[1]; s.Condition["StringEquals"]["aws:SourceIdentity"] != "alice@example.com" {
				t.Errorf("printed statement %+v: want alice@example.com", s)
			}
		})

		t.Run("the size limit: expired statements make room, else a clear failure", func(t *testing.T) {
			now := time.Now()
			// Expired statements that fill the role's room but for less than one more; each is shorter
			// than alice's ("p000" against "alice"), so hers cannot fit beside them.
			var stmts []string
			for i := 0; ; i++ {
				next := append(stmts, statement(fmt.Sprintf("p%03d", i), now.Add(-5*time.Hour)))
				if awsadmin.PolicySize(policy(next...)) > awsadmin.MaxRolePolicySize {
					break
				}
				stmts = next
			}
			doc := policy(stmts...)
			e.put(t, prodID, admin, awsadmin.RevokePolicyName, doc)
			r := e.revoke("--user", "alice", "--account", "prod")
			if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("pruned %d expired", len(stmts))) {
				t.Fatalf("exit %d: %s%s; want the expired statements pruned to make room", r.code, r.stdout, r.stderr)
			}
			if got, _ := e.denials(t, prodID, admin); len(got) != 1 || got["alice"].IsZero() {
				t.Errorf("statements %v; want alice's alone", got)
			}
			// Another inline policy takes nearly all of the role's room: nothing can make enough.
			cur, _ := e.iam.RolePolicy(prodID, admin, awsadmin.RevokePolicyName)
			big := func(n int) string {
				return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", n) + `"}]}`
			}
			room := awsadmin.MaxRolePolicySize - awsadmin.PolicySize(cur) - awsadmin.PolicySize(big(0)) - 50
			e.put(t, prodID, admin, "Big", big(room))
			from := len(e.iam.Calls())
			r = e.revoke("--user", "bob", "--account", "prod")
			if r.code == 0 || !strings.Contains(r.stdout, "over IAM's limit of 10240") {
				t.Errorf("exit %d, stdout %q; want a clear failure naming the limit", r.code, r.stdout)
			}
			if n := e.writes(from); n != 0 {
				t.Errorf("%d writes; want none", n)
			}
			e.put(t, prodID, admin, "Big", big(1))
		})

		t.Run("an assertion AWS may still accept is pointed out, one past its time is not", func(t *testing.T) {
			ctx := context.Background()
			issued := time.Now().Add(-time.Minute)
			for _, ev := range []*store.AuditEvent{
				{Time: time.Now().Add(-time.Hour), Type: "assertion", User: "alice", Result: "ok"},
				{Time: issued, Type: "assertion", User: "alice", Result: "refused: not granted"},
				{Time: issued, Type: "assertion", User: "bob", Result: "ok"},
			} {
				if err := st.AppendAudit(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			if r := e.revoke("--user", "alice", "--account", "prod"); r.code != 0 || strings.Contains(r.stdout, "note:") {
				t.Errorf("exit %d, stdout %q; want no note: alice's only assertion expired long ago", r.code, r.stdout)
			}
			if err := st.AppendAudit(ctx, &store.AuditEvent{Time: issued, Type: "assertion", User: "alice", Result: "ok"}); err != nil {
				t.Fatal(err)
			}
			want := issued.Add(assertions.AssertionLifetime + awsadmin.ClockSkew).UTC().Format(time.RFC3339)
			if r := e.revoke("--user", "alice", "--account", "prod"); r.code != 0 || !strings.Contains(r.stdout, "AWS may accept until about "+want) {
				t.Errorf("exit %d, stdout %q; want the note naming %s", r.code, r.stdout, want)
			}
		})

		t.Run("user disable --revoke-aws disables, then revokes", func(t *testing.T) {
			start := time.Now()
			out := e.ok(t, "", "user", "disable", "bob", "--revoke-aws", "--endpoint-url", e.iam.URL())
			if !strings.Contains(out, "disabled user bob") || !strings.Contains(out, "denied sessions with SourceIdentity bob") {
				t.Errorf("stdout %q", out)
			}
			if got, _ := e.denials(t, prodID, admin); got["bob"].Before(start.Truncate(time.Second)) {
				t.Errorf("bob's statement denies before %v; want this run's time", got["bob"])
			}
			e.ok(t, "", "user", "enable", "bob")
			if r := e.run("", "user", "disable", "bob", "--endpoint-url", e.iam.URL()); r.code != exitCodes[store.Invalid] || !strings.Contains(r.stderr, "--revoke-aws") {
				t.Errorf("--endpoint-url without --revoke-aws: exit %d, stderr %q; want it refused", r.code, r.stderr)
			}
			if u, _ := st.GetUser(context.Background(), "bob"); u.Disabled {
				t.Errorf("a refused disable disabled bob")
			}
			e.iam.FailNext("PutRolePolicy", "AccessDenied", 403)
			r := e.run("", "user", "disable", "bob", "--revoke-aws", "--endpoint-url", e.iam.URL())
			if r.code == 0 || !strings.Contains(r.stderr, "bob stays disabled, but revoking their AWS sessions failed") {
				t.Errorf("exit %d, stderr %q; want non-zero and the disable said to stand", r.code, r.stderr)
			}
			u, err := st.GetUser(context.Background(), "bob")
			if err != nil || !u.Disabled {
				t.Errorf("bob is not disabled after a failed revocation (%v)", err)
			}
			var failed bool
			for _, ev := range auditTypes(t, st, "aws.revoke") {
				failed = failed || (ev.User == "bob" && strings.Contains(ev.Result, "AccessDenied"))
			}
			if !failed {
				t.Errorf("the failed revocation was not audited with its cause")
			}
		})

		t.Run("the statement names the SourceIdentity that sign-in sends", func(t *testing.T) {
			ctx := context.Background()
			e.ok(t, "", "user", "add", "dara", "--email", "o'brien@example.com", "--no-password")
			e.ok(t, "", "grant", "add", "--user", "dara", "--account", "dev", "--role", "ops/ReadOnly"+sfx)
			if r := e.revoke("--user", "dara"); r.code != 0 {
				t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			u, _ := st.GetUser(ctx, "dara")
			acct, _ := st.GetAccount(ctx, "dev")
			grants, _ := st.ListGrants(ctx, store.GrantFilter{User: "dara", Effective: true})
			plan, err := assertions.PlanAWS(assertions.AWSSignIn{BaseURL: "https://idp.example.com", User: u, Account: acct, Grants: grants, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := e.denials(t, devID, readOnly)
			if plan.SourceIdentity == u.Email || got[plan.SourceIdentity].IsZero() {
				t.Errorf("statements %v; want one for %q, the mapped value sign-in sends for %s", got, plan.SourceIdentity, u.Email)
			}
		})
	})
}
