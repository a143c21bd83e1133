package awslogin

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"rolegate/store"
)

// A CLI session lets credential-process and exec get fresh credentials without a prompt: `rolegate
// login` (every mode) asks the IdP for one and keeps it with the profile's state, in a 0600 file of its
// own (never in the shared credentials file, which other tools read and rewrite).
const (
	headerCLISession = "X-Rolegate-CLI-Session"
	refreshPath      = "/cli/refresh"
	// RefreshAhead is how long before their expiry cached credentials are replaced.
	RefreshAhead = 5 * time.Minute
)

// Session is a CLI session the IdP issued: its token is a bearer secret.
type Session struct {
	ID      string    `json:"id"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// issuedSession reads the session the IdP handed out with a Response; nil when there is none.
func issuedSession(res *http.Response) *Session {
	tok := res.Header.Get(headerCLISession)
	exp, err := time.Parse(time.RFC3339, res.Header.Get(headerCLISession+"-Expires"))
	if tok == "" || err != nil || len(tok) > 128 {
		return nil
	}
	return &Session{ID: printable(res.Header.Get(headerCLISession + "-ID")), Token: tok, Expires: exp}
}

// State is what Rolegate keeps for a profile: where it signed in, the role it chose, the CLI
// session, and the credentials cache.
type State struct {
	URL         string        `json:"url"`
	Session     *Session      `json:"session"`
	Account     string        `json:"account"` // the role's account ID
	RoleARN     string        `json:"role_arn"`
	RoleName    string        `json:"role_name"`
	Region      string        `json:"region,omitempty"`       // --region at login
	STSEndpoint string        `json:"sts_endpoint,omitempty"` // --sts-endpoint at login
	Duration    time.Duration `json:"duration,omitempty"`     // --duration at login
	Creds       *Credentials  `json:"credentials"`
}

// StatePath is the profile's state file: $XDG_CONFIG_HOME/rolegate/profiles/P.json, else under
// ~/.config.
func StatePath(env func(string) string, profile string) (string, error) {
	if err := CheckProfile(profile); err != nil {
		return "", err
	}
	dir := env("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := env("HOME")
		if home == "" {
			return "", store.Errorf(store.Invalid, "neither XDG_CONFIG_HOME nor HOME is set: cannot find Rolegate's profile state")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "rolegate", "profiles", profile+".json"), nil
}

// SaveState writes the profile's state, mode 0600 in a 0700 directory, by an atomic rename.
func SaveState(env func(string) string, profile string, st *State) error {
	path, err := StatePath(env, profile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return store.Errorf(store.Invalid, "cannot create %s: %v", filepath.Dir(path), err)
	}
	if err := privateDirs(path); err != nil {
		return err
	}
	// The lock credential-process holds while it refreshes, which would write the state it read.
	unlock, err := lockFile(path)
	if err != nil {
		return store.Errorf(store.Invalid, "cannot lock %s: %v", path, err)
	}
	defer unlock()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// loginAgain is the refusal when the profile has no live CLI session.
func loginAgain(profile, why string) error {
	return store.Errorf(store.Unauthorized, "%s: run rolegate login --profile %s again", why, profile)
}

// privateDirs refuses the state file at path when another user could change its directory or
// the rolegate directory above it, both made 0700 by the first login.
func privateDirs(path string) error {
	profiles := filepath.Dir(path)
	for _, dir := range []string{profiles, filepath.Dir(profiles)} {
		if err := private(dir); err != nil {
			return err
		}
	}
	return nil
}

// CheckStateDir refuses, before a login, the profile's state directory when SaveState would: one
// that exists and another user could change. No place for state (no HOME) is no refusal.
func CheckStateDir(env func(string) string, profile string) error {
	path, err := StatePath(env, profile)
	if err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return privateDirs(path)
}

// loadState reads the profile's state; Unauthorized when there is none.
func loadState(path, profile string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, loginAgain(profile, "profile "+profile+" has no Rolegate session")
	} else if err != nil {
		return nil, store.Errorf(store.Invalid, "cannot read %s: %v", path, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.URL == "" || st.RoleARN == "" {
		return nil, loginAgain(profile, "the Rolegate state of profile "+profile+" in "+path+" is unreadable")
	}
	return &st, nil
}

// Refresh gets a Response from the IdP with a CLI session: no prompt. It is the Source
// credential-process uses.
type Refresh struct {
	URL     string // the IdP, as given to login
	Profile string // for the words of a refusal
	Session *Session
	Role    string // the role's name; "" for every role
	HTTP    *http.Client
}

// SAMLResponse implements Source.
func (r *Refresh) SAMLResponse(ctx context.Context, account string) (*Response, error) {
	u, err := idpURL(r.URL, refreshPath)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if account != "" {
		q.Set("account", account)
	}
	if r.Role != "" {
		q.Set("role", r.Role)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Session.Token)
	res, raw, err := send(r.HTTP, req) // no redirect: it would carry the token where the login did not go
	if err != nil {
		return nil, err
	}
	said := message(raw)
	switch res.StatusCode {
	case http.StatusOK:
		env, fault, err := parseEnvelope(raw)
		if err != nil || env != nil {
			return env, err
		}
		return nil, store.Errorf(store.Internal, "the IdP's answer holds no Response: %s", fault)
	case http.StatusUnauthorized:
		return nil, loginAgain(r.Profile, "the IdP ended your Rolegate session ("+said+")")
	case http.StatusForbidden:
		return nil, store.Errorf(store.Forbidden, "the IdP refused fresh credentials: %s", said)
	case http.StatusTooManyRequests:
		return nil, store.Errorf(store.Unauthorized, "the IdP is rate-limiting this address: try again in a minute (%s)", said)
	}
	return nil, store.Errorf(store.Internal, "the IdP failed (HTTP %d): %s", res.StatusCode, said)
}

// Process is one credential-process (or exec, or console) run for a profile: cached credentials,
// or fresh ones through the CLI session and STS when fewer than RefreshAhead remain.
type Process struct {
	Profile string
	Env     func(string) string
	HTTP    *http.Client
	Now     func() time.Time
}

// Credentials returns credentials valid for RefreshAhead at least, and the profile's state.
func (p *Process) Credentials(ctx context.Context) (*Credentials, *State, error) {
	path, err := StatePath(p.Env, p.Profile)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, loginAgain(p.Profile, "profile "+p.Profile+" has no Rolegate session")
	}
	if err := privateDirs(path); err != nil {
		return nil, nil, err
	}
	// The SDKs run credential_process from many processes at once: one refreshes, the others wait
	// and read what it wrote.
	unlock, err := lockFile(path)
	if err != nil {
		return nil, nil, store.Errorf(store.Invalid, "cannot lock %s: %v", path, err)
	}
	defer unlock()
	st, err := loadState(path, p.Profile)
	if err != nil {
		return nil, nil, err
	}
	if st.Creds != nil && st.Creds.Expiration.Sub(now()) > RefreshAhead {
		return st.Creds, st, nil
	}
	if st.Session == nil || !now().Before(st.Session.Expires) {
		return nil, nil, loginAgain(p.Profile, "the Rolegate session of profile "+p.Profile+" has expired")
	}
	src := &Refresh{URL: st.URL, Profile: p.Profile, Session: st.Session, Role: st.RoleName, HTTP: p.HTTP}
	resp, err := src.SAMLResponse(ctx, st.Account)
	if err != nil {
		return nil, nil, err
	}
	var chosen *Role
	for i, r := range resp.Roles {
		if r.RoleARN == st.RoleARN {
			chosen = &resp.Roles[i]
		}
	}
	if chosen == nil {
		return nil, nil, store.Errorf(store.Forbidden, "Rolegate no longer grants you %s: ask an admin, or run rolegate login --profile %s to pick another role", st.RoleARN, p.Profile)
	}
	region, err := STSRegion(chosen.Partition, st.Region, resp.ACS, p.Env)
	if err != nil {
		return nil, nil, err
	}
	endpoint, err := STSEndpoint(chosen.Partition, region, st.STSEndpoint, p.Env)
	if err != nil {
		return nil, nil, err
	}
	duration := st.Duration
	if duration == 0 {
		duration = resp.SessionDuration
	}
	creds, err := AssumeRole(ctx, p.HTTP, p.Env, p.Profile, endpoint, region, *chosen, resp, duration)
	if err != nil {
		return nil, nil, err
	}
	st.Creds = creds
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	if err := writeAtomic(path, b); err != nil {
		return nil, nil, err
	}
	return creds, st, nil
}

// ProcessJSON is the credential_process output: Version 1, the keys, and the expiry in RFC 3339.
func ProcessJSON(c *Credentials) ([]byte, error) {
	return json.Marshal(struct {
		Version                                    int
		AccessKeyId, SecretAccessKey, SessionToken string
		Expiration                                 string
	}{1, c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration.UTC().Format(time.RFC3339)})
}
