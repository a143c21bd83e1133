package awslogin_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"rolegate/awslogin"
)

// refreshes runs a login with src and then one through its CLI session alone, and checks that STS
// issued credentials both times, without a prompt for the second.
func refreshes(t *testing.T, p *realIdP, src awslogin.SessionSource) {
	t.Helper()
	sts, _, env := p.stsAndFile(t)
	l := &awslogin.Login{Source: src, Out: io.Discard, Env: func(k string) string { return env[k] }, Profile: "wire", Account: "prod"}
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := src.CLISession()
	if s == nil || s.Token == "" || !strings.HasPrefix(s.ID, "cs_") || s.Expires.Before(time.Now().Add(11*time.Hour)) {
		t.Fatalf("no CLI session from the login: %+v", s)
	}
	l.Source = &awslogin.Refresh{URL: p.url, Profile: "wire", Session: s, Role: res.Role.Name}
	if _, err := l.Run(context.Background()); err != nil {
		t.Fatalf("refresh through the session: %v", err)
	}
	if iss := sts.Issued(); len(iss) != 2 || iss[1].RoleArn != res.Role.RoleARN {
		t.Fatalf("STS issued %+v", iss)
	}
	// A forged token refreshes nothing.
	l.Source = &awslogin.Refresh{URL: p.url, Profile: "wire", Session: &awslogin.Session{Token: strings.Repeat("A", 43)}}
	if _, err := l.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "session has ended") {
		t.Fatalf("a forged token: %v", err)
	}
}

func TestABrowserLoginBringsACLISessionThatRefreshes(t *testing.T) {
	p := newRealIdP(t)
	person := signedIn(t, p.url, "alice")
	refreshes(t, p, &awslogin.Browser{URL: p.url, Out: io.Discard, Open: person.answer("approve"), WantSession: true, Host: "laptop"})
	// Not asked for, none comes.
	src := &awslogin.Browser{URL: p.url, Out: io.Discard, Open: person.answer("approve")}
	sts, _, env := p.stsAndFile(t)
	l := &awslogin.Login{Source: src, Out: io.Discard, Env: func(k string) string { return env[k] }, Profile: "web", Account: "prod"}
	if _, err := l.Run(context.Background()); err != nil || src.CLISession() != nil || len(sts.Issued()) != 1 {
		t.Fatalf("without asking: %v %+v", err, src.CLISession())
	}
}

func TestADeviceLoginBringsACLISessionThatRefreshes(t *testing.T) {
	p := newRealIdP(t)
	person := signedIn(t, p.url, "alice")
	r := &deviceRun{p: p}
	r.act = func(n int, code string) {
		r.advance(10 * time.Second)
		if n == 0 {
			person.decide(code, "approve")
		}
	}
	src := r.source()
	src.WantSession = true
	refreshes(t, p, src)
}
