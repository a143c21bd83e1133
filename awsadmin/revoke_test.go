package awsadmin

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/store"
)

var t0 = time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)

// stmt is a statement as IAM's grammar reads it, for checking documents from outside the code.
type stmt struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func statements(t *testing.T, doc string) []stmt {
	t.Helper()
	var p struct {
		Version   string
		Statement []stmt
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("policy %s: %v", doc, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("Version = %q; want 2012-10-17", p.Version)
	}
	return p.Statement
}

// checkDeny checks that s denies everything to sourceIdentity's sessions issued before before.
func checkDeny(t *testing.T, s stmt, sourceIdentity string, before time.Time) {
	t.Helper()
	if s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" {
		t.Errorf("statement %+v: want Effect Deny, Action *, Resource *", s)
	}
	if len(s.Condition) != 2 || len(s.Condition["StringEquals"]) != 1 || len(s.Condition["DateLessThan"]) != 1 {
		t.Errorf("condition %v: want exactly StringEquals aws:SourceIdentity and DateLessThan aws:TokenIssueTime", s.Condition)
	}
	if got := s.Condition["StringEquals"]["aws:SourceIdentity"]; got != sourceIdentity {
		t.Errorf("aws:SourceIdentity = %v; want %q", got, sourceIdentity)
	}
	if got := s.Condition["DateLessThan"]["aws:TokenIssueTime"]; got != before.UTC().Format(time.RFC3339) {
		t.Errorf("aws:TokenIssueTime = %v; want %s", got, before.UTC().Format(time.RFC3339))
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(s.Sid) || s.Sid != StatementID(sourceIdentity) {
		t.Errorf("Sid = %q; want StatementID(%q), only [A-Za-z0-9]", s.Sid, sourceIdentity)
	}
}

func TestStatementID(t *testing.T) {
	sid := regexp.MustCompile(`^RolegateRevoke[A-Za-z0-9]+$`)
	ids := map[string]string{}
	for _, v := range []string{"alice", "a.b", "ab", "alice@example.com", "x+y=z,w", strings.Repeat("long", 16), "Zoë"} {
		id := StatementID(v)
		if !sid.MatchString(id) {
			t.Errorf("StatementID(%q) = %q: IAM allows only [A-Za-z0-9]", v, id)
		}
		if len(id) > 64 {
			t.Errorf("StatementID(%q) = %q: longer than 64", v, id)
		}
		if other, ok := ids[id]; ok {
			t.Errorf("StatementID(%q) = StatementID(%q) = %q", v, other, id)
		}
		ids[id] = v
	}
	if !strings.HasPrefix(StatementID("alice@example.com"), "RolegateRevokealiceexamplecom") {
		t.Errorf("StatementID(alice@example.com) = %q: want the value's letters and digits readable", StatementID("alice@example.com"))
	}
}

func TestRevocationTime(t *testing.T) {
	for _, c := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"a whole second stays", t0, t0},
		{"a fraction rounds up, so a session of the same second is denied", t0.Add(time.Millisecond), t0.Add(time.Second)},
		{"another zone becomes UTC", t0.In(time.FixedZone("x", 3600)), t0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := RevocationTime(c.now); !got.Equal(c.want) || got.Location() != time.UTC {
				t.Errorf("RevocationTime(%v) = %v; want %v UTC", c.now, got, c.want)
			}
		})
	}
}

func TestRevokePolicy(t *testing.T) {
	t.Run("a first revocation is one deny statement", func(t *testing.T) {
		p, err := ParseRevokePolicy("")
		if err != nil {
			t.Fatal(err)
		}
		p.Revoke(Revocation{SourceIdentity: "alice", Before: t0})
		s := statements(t, p.Document())
		if len(s) != 1 {
			t.Fatalf("statements %+v; want one", s)
		}
		checkDeny(t, s[0], "alice", t0)
	})
	t.Run("a second person goes beside the first, a re-revocation replaces in place", func(t *testing.T) {
		p, _ := ParseRevokePolicy("")
		p.Revoke(Revocation{SourceIdentity: "alice", Before: t0})
		p, err := ParseRevokePolicy(p.Document()) // as read back from IAM
		if err != nil {
			t.Fatal(err)
		}
		p.Revoke(Revocation{SourceIdentity: "bob@example.com", Before: t0.Add(time.Minute)})
		p.Revoke(Revocation{SourceIdentity: "alice", Before: t0.Add(2 * time.Hour)})
		s := statements(t, p.Document())
		if len(s) != 2 {
			t.Fatalf("statements %+v; want alice's and bob's", s)
		}
		checkDeny(t, s[0], "alice", t0.Add(2*time.Hour))
		checkDeny(t, s[1], "bob@example.com", t0.Add(time.Minute))
	})
	t.Run("special characters stay as they are", func(t *testing.T) {
		p, _ := ParseRevokePolicy("")
		p.Revoke(Revocation{SourceIdentity: "a+b=c,d.e@f-g_h", Before: t0})
		doc := p.Document()
		if strings.Contains(doc, `\u`) || strings.ContainsAny(doc, " \n") {
			t.Errorf("document %s: want compact JSON without escapes", doc)
		}
		checkDeny(t, statements(t, doc)[0], "a+b=c,d.e@f-g_h", t0)
	})
	t.Run("someone else's statements stay, even near copies of Rolegate's", func(t *testing.T) {
		mine := `{"Sid":"` + StatementID("alice") + `","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":"alice"},"DateLessThan":{"aws:TokenIssueTime":"2026-11-29T00:00:00Z"}}}`
		foreign := []string{
			`{"Sid":"Admin","Effect":"Deny","Action":"s3:*","Resource":"*"}`,
			strings.Replace(mine, `"Deny"`, `"Allow"`, 1),
			strings.Replace(mine, `"Sid":"RolegateRevoke`, `"Sid":"Other`, 1),
			strings.Replace(mine, `"Resource":"*"`, `"Resource":"*","NotAction":"x"`, 1),
			strings.Replace(mine, `"aws:SourceIdentity":"alice"`, `"aws:SourceIdentity":"alice","aws:userid":"x"`, 1),
			strings.Replace(mine, `"2026-11-29T00:00:00Z"`, `"yesterday"`, 1),
		}
		doc := `{"Version": "2012-10-17", "Id": "keep", "Statement": [` + strings.Join(foreign, ",\n ") + `]}`
		p, err := ParseRevokePolicy(doc)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Revocations()) != 0 {
			t.Errorf("Revocations() = %v; want none recognised", p.Revocations())
		}
		p.Revoke(Revocation{SourceIdentity: "alice", Before: t0})
		if n := p.Prune(t0.Add(-time.Hour)); n != 0 {
			t.Errorf("Prune dropped %d; want none", n)
		}
		out := p.Document()
		for _, f := range foreign {
			if !strings.Contains(out, f) {
				t.Errorf("document %s lost %s", out, f)
			}
		}
		if !strings.Contains(out, `"Id":"keep"`) {
			t.Errorf("document %s lost its Id", out)
		}
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(out), &top) != nil || len(top) != 3 {
			t.Errorf("document %s: want Version, Id and Statement", out)
		}
	})
	t.Run("one statement without the array is read", func(t *testing.T) {
		p, err := ParseRevokePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`)
		if err != nil {
			t.Fatal(err)
		}
		p.Revoke(Revocation{SourceIdentity: "alice", Before: t0})
		if s := statements(t, p.Document()); len(s) != 2 || s[0].Sid != "" {
			t.Errorf("statements %+v; want the old one, then alice's", s)
		}
	})
	t.Run("a document that is not JSON is refused", func(t *testing.T) {
		for _, doc := range []string{"{", `["x"]`, `{"Statement":[1,}`} {
			if _, err := ParseRevokePolicy(doc); err == nil {
				t.Errorf("ParseRevokePolicy(%q) passed", doc)
			}
		}
	})
}

func TestPrune(t *testing.T) {
	cutoff := t0.Add(-12 * time.Hour)
	p, _ := ParseRevokePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"x:y","Resource":"*"}]}`)
	p.Revoke(Revocation{SourceIdentity: "at-cutoff", Before: cutoff})
	p.Revoke(Revocation{SourceIdentity: "before-cutoff", Before: cutoff.Add(-time.Hour)})
	p.Revoke(Revocation{SourceIdentity: "after-cutoff", Before: cutoff.Add(time.Second)})
	if n := p.Prune(cutoff); n != 2 {
		t.Errorf("Prune dropped %d; want the statements at and before the cutoff", n)
	}
	s := statements(t, p.Document())
	if len(s) != 2 || s[0].Action != "x:y" {
		t.Fatalf("statements %+v; want the foreign one and after-cutoff", s)
	}
	checkDeny(t, s[1], "after-cutoff", cutoff.Add(time.Second))
	p2, _ := ParseRevokePolicy("")
	p2.Revoke(Revocation{SourceIdentity: "old", Before: cutoff})
	if p2.Prune(cutoff); !p2.Empty() {
		t.Errorf("a policy whose statements all expired is not empty: %s", p2.Document())
	}
}

func TestPolicySize(t *testing.T) {
	if got := PolicySize("{\n  \"a\": \"b c\"\n}"); got != len(`{"a":"b c"}`) {
		t.Errorf("PolicySize counts whitespace outside strings: %d", got)
	}
	if got := PolicySize(`{"a":"é"}`); got != 9 {
		t.Errorf("PolicySize counts bytes, not characters: %d", got)
	}
}

func TestLongestSession(t *testing.T) {
	a := &store.Account{ID: "111122223333"}
	g := func(acct string, d time.Duration) *store.Grant {
		return &store.Grant{AccountID: acct, SessionDuration: d}
	}
	for _, c := range []struct {
		name    string
		account time.Duration
		grants  []*store.Grant
		want    time.Duration
	}{
		{"no durations: AWS's default hour", 0, []*store.Grant{g(a.ID, 0)}, time.Hour},
		{"the account's default", 2 * time.Hour, []*store.Grant{g(a.ID, 0)}, 2 * time.Hour},
		{"a longer grant", 2 * time.Hour, []*store.Grant{g(a.ID, time.Hour), g(a.ID, 8*time.Hour)}, 8 * time.Hour},
		{"another account's grant does not count", time.Hour, []*store.Grant{g("444455556666", 10*time.Hour)}, time.Hour},
		{"never more than 12 hours", 0, []*store.Grant{g(a.ID, 13*time.Hour)}, 12 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.SessionDuration = c.account
			if got := LongestSession(a, c.grants); got != c.want {
				t.Errorf("LongestSession = %v; want %v", got, c.want)
			}
		})
	}
}

func TestRoleName(t *testing.T) {
	for in, want := range map[string]string{"Admin": "Admin", "ops/Admin": "Admin", "a/b/ReadOnly": "ReadOnly"} {
		if got := RoleName(in); got != want {
			t.Errorf("RoleName(%q) = %q; want %q", in, got, want)
		}
	}
}
