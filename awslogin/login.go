// Package awslogin is the client side of `rolegate login`: it gets a signed SAML Response from a
// Rolegate server (a Source: ECP here; the browser and device-code flows are other Sources), lets
// the person pick a role from it, trades it for temporary credentials at STS, and writes them into
// the shared credentials file.
package awslogin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"rolegate/store"
)

// Source is one way to authenticate at the IdP and get a Response for AWS. account is the --account
// the person gave, "" for every account; the IdP answers for that account alone when it is set.
type Source interface {
	SAMLResponse(ctx context.Context, account string) (*Response, error)
}

// SessionSource is a Source that can bring home a Rolegate CLI session with the Response: every
// flow of rolegate login (ECP, browser, device code). CLISession is nil when the IdP issued none.
type SessionSource interface {
	Source
	CLISession() *Session
}

// Login is one `rolegate login`.
type Login struct {
	Source Source
	Prompt Prompter
	Out    io.Writer           // where role lists and progress go (standard error)
	Env    func(string) string // AWS_* variables, HOME
	HTTP   *http.Client        // for STS; nil means the SDK's client, the one a CA bundle can go into

	Profile     string
	Account     string // ID or alias; "" for all
	Role        string // name or ARN; "" to choose
	Region      string
	STSEndpoint string
	Duration    time.Duration // 0: the Response's SessionDuration, else STS's default
}

// Result is what a login wrote.
type Result struct {
	File  string
	Role  Role
	Creds *Credentials
}

// Run authenticates, chooses the role, calls STS and writes the profile. Nothing is written unless
// every step succeeded.
func (l *Login) Run(ctx context.Context) (*Result, error) {
	if err := CheckProfile(l.Profile); err != nil {
		return nil, err
	}
	if l.Duration != 0 && (l.Duration%time.Second != 0 || l.Duration < store.MinSessionDuration || l.Duration > store.MaxSessionDuration) {
		return nil, store.Errorf(store.Invalid, "--duration %s: AWS accepts whole seconds from 15m to 12h", l.Duration)
	}
	path, err := CredentialsFile(l.Env)
	if err != nil {
		return nil, err
	}
	resp, err := l.Source.SAMLResponse(ctx, l.Account)
	if err != nil {
		return nil, err
	}
	if resp.Omitted != "" {
		fmt.Fprintf(l.Out, "Rolegate left out: %s\n", resp.Omitted)
	}
	Label(resp.Roles, KnownAliases(path), l.Account)
	role, err := Choose(resp.Roles, l.Account, l.Role, l.Prompt, l.Out)
	if err != nil {
		return nil, err
	}
	region, err := STSRegion(role.Partition, l.Region, resp.ACS, l.Env)
	if err != nil {
		return nil, err
	}
	endpoint, err := STSEndpoint(role.Partition, region, l.STSEndpoint, l.Env)
	if err != nil {
		return nil, err
	}
	duration := l.Duration
	if duration == 0 {
		duration = resp.SessionDuration
	}
	creds, err := AssumeRole(ctx, l.HTTP, l.Env, l.Profile, endpoint, region, role, resp, duration)
	if err != nil {
		return nil, err
	}
	if err := WriteProfile(path, Profile{Name: l.Profile, Creds: creds, Role: role, Region: l.Region}); err != nil {
		return nil, err
	}
	return &Result{File: path, Role: role, Creds: creds}, nil
}
