package awslogin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"rolegate/store"
)

// Keys this package writes into a profile besides the three the SDKs read: saml2aws's expiry and
// principal fields, the expiry other helpers write, and the account (with its alias) for later role lists.
const (
	keyAccount      = "x_rolegate_account"
	keyAccountAlias = "x_rolegate_account_alias"
	// ownComment starts the comment line this package keeps at the top of its profiles.
	ownComment = "# rolegate login:"
)

var ownKeys = []string{"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token",
	"x_principal_arn", "x_security_token_expires", "aws_session_expiration", keyAccount, keyAccountAlias}

var profileRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,64}$`)

// CredentialsFile is the shared credentials file: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials.
func CredentialsFile(env func(string) string) (string, error) {
	return awsFile(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

// ConfigFile is the shared config file: AWS_CONFIG_FILE, else ~/.aws/config.
func ConfigFile(env func(string) string) (string, error) {
	return awsFile(env, "AWS_CONFIG_FILE", "config")
}

func awsFile(env func(string) string, variable, name string) (string, error) {
	if f := env(variable); f != "" {
		return f, nil
	}
	home := env("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", store.Errorf(store.Invalid, "no home directory for ~/.aws/%s: set %s", name, variable)
		}
	}
	return filepath.Join(home, ".aws", name), nil
}

// CheckProfile refuses a profile name that the INI format or the AWS tools would read differently.
func CheckProfile(name string) error {
	if !profileRE.MatchString(name) {
		return store.Errorf(store.Invalid, "invalid profile name %q: 1-64 characters of letters, digits and _+=,.@-", name)
	}
	return nil
}

// Profile is what login writes into one profile.
type Profile struct {
	Name   string
	Creds  *Credentials
	Role   Role
	Region string // written only when set; a region set by hand otherwise stays
}

// WriteProfile sets profile p in the credentials file at path and keeps everything else: other
// profiles, comments, and keys of p that are not this package's. The new file replaces the old by
// an atomic rename, so a reader sees the old file or the new one, never half; it is mode 0600.
func WriteProfile(path string, p Profile) error {
	if err := CheckProfile(p.Name); err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // keep a symlinked file (dotfiles) a symlink
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return store.Errorf(store.Invalid, "cannot create %s: %v", dir, err)
	}
	unlock, err := lockFile(path)
	if err != nil {
		return store.Errorf(store.Invalid, "cannot lock the credentials file %s: %v", path, err)
	}
	defer unlock()
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return store.Errorf(store.Invalid, "cannot read the credentials file %s: %v", path, err)
	}
	// Values come from STS and the IdP: one with a line break could add a section or a key of its
	// choosing (long-term keys in [default], say), so nothing unprintable goes in.
	for _, v := range []string{p.Creds.AccessKeyID, p.Creds.SecretAccessKey, p.Creds.SessionToken, p.Creds.AssumedRoleARN,
		p.Role.Account, p.Role.Alias, p.Role.Name, p.Role.RoleARN, p.Region} {
		if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
			return store.Errorf(store.Internal, "refusing to write profile %q: a value from STS or the IdP holds a line break or other control character", p.Name)
		}
	}
	if longTermKeys(string(old), p.Name) {
		return store.Errorf(store.Conflict, "profile %q in %s holds long-term access keys, which a login would overwrite: pass another --profile", p.Name, path)
	}
	return writeAtomic(path, []byte(setProfile(string(old), p)))
}

// writeAtomic replaces path with data in a 0600 file (see WriteFileAtomic).
func writeAtomic(path string, data []byte) error { return WriteFileAtomic(path, data, 0o600) }

// WriteFileAtomic replaces path with data by an atomic rename of a file of that mode written beside
// it: a reader sees the old file or the new one, never half.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return store.Errorf(store.Invalid, "cannot write in %s: %v", dir, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return store.Errorf(store.Invalid, "cannot replace %s: %v", path, err)
	}
	return nil
}

// section finds a "[name]" header line; the AWS tools allow spaces inside the brackets.
func section(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return "", false
	}
	return strings.TrimSpace(t[1 : len(t)-1]), true
}

// keyOf is the key of a "key = value" line, "" for comments and blanks.
func keyOf(line string) string {
	t := strings.TrimSpace(line)
	if t == "" || t[0] == '#' || t[0] == ';' {
		return ""
	}
	k, _, ok := strings.Cut(t, "=")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(k))
}

func setProfile(text string, p Profile) string {
	exp := p.Creds.Expiration.UTC().Format(time.RFC3339)
	values := map[string]string{
		"aws_access_key_id":        p.Creds.AccessKeyID,
		"aws_secret_access_key":    p.Creds.SecretAccessKey,
		"aws_session_token":        p.Creds.SessionToken,
		"aws_security_token":       p.Creds.SessionToken, // boto2 and older tools read this name
		"x_principal_arn":          p.Creds.AssumedRoleARN,
		"x_security_token_expires": exp,
		"aws_session_expiration":   exp,
		keyAccount:                 p.Role.Account,
		keyAccountAlias:            p.Role.Alias,
	}
	var fresh []string
	fresh = append(fresh, fmt.Sprintf("%s %s, expires %s", ownComment, p.Role.Label(), exp))
	for _, k := range ownKeys {
		if values[k] != "" {
			fresh = append(fresh, k+" = "+values[k])
		}
	}
	if p.Region != "" {
		fresh = append(fresh, "region = "+p.Region)
	}

	// A file with Windows line endings keeps them, for the new lines too.
	crlf := strings.Contains(text, "\r\n")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	var out []string
	found := false
	for i := 0; i < len(lines); i++ {
		name, isHeader := section(lines[i])
		if !isHeader || name != p.Name {
			out = append(out, lines[i])
			continue
		}
		// The profile's first section gets the fresh keys; a second section of the same name (a
		// careless edit) loses its stale ones too, or tools would read those instead or refuse the file.
		out = append(out, lines[i])
		if !found {
			out = append(out, fresh...)
		}
		found = true
		// Keep the section's other lines: comments, blank lines and keys that are not ours.
		for i+1 < len(lines) {
			if _, next := section(lines[i+1]); next {
				break
			}
			i++
			l := lines[i]
			k := keyOf(l)
			if isOwn(k) || (k == "region" && p.Region != "") || strings.HasPrefix(strings.TrimSpace(l), ownComment) {
				continue
			}
			out = append(out, l)
		}
	}
	if !found {
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" {
			out = append(out, "")
		}
		out = append(out, "["+p.Name+"]")
		out = append(out, fresh...)
	}
	nl := "\n"
	if crlf {
		nl = "\r\n"
	}
	return strings.Join(out, nl) + nl
}

func isOwn(k string) bool { return slices.Contains(ownKeys, k) }

// longTermKeys reports whether profile name holds an access key without a session token: an IAM
// user's own keys, which no login should destroy.
func longTermKeys(text, name string) bool {
	in, key, token := false, false, false
	for _, l := range strings.Split(text, "\n") {
		if s, ok := section(l); ok {
			in = s == name
			continue
		}
		if in {
			key = key || keyOf(l) == "aws_access_key_id"
			token = token || keyOf(l) == "aws_session_token"
		}
	}
	return key && !token
}

// KnownAliases reads the account aliases earlier logins wrote into the credentials file at path:
// account ID to alias. A missing or unreadable file knows none.
func KnownAliases(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	var account, alias string
	flush := func() {
		if account != "" && alias != "" {
			out[account] = alias
		}
		account, alias = "", ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if _, ok := section(l); ok {
			flush()
			continue
		}
		_, v, _ := strings.Cut(l, "=")
		switch keyOf(l) {
		case keyAccount:
			account = strings.TrimSpace(v)
		case keyAccountAlias:
			alias = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}
