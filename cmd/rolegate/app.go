package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"rolegate/certs"
	"rolegate/idp/password"
	"rolegate/store"
	"rolegate/store/postgres"
	"rolegate/store/sqlite"
	"rolegate/store/sqlstore"
)

// app is the one configuration loader: flags and environment in, opened dependencies out.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            func(string) string
	dataDir        string
	databaseURL    string
	// creates is set for the commands that may create a store where there is none; firstKEK when
	// serve starts on a PostgreSQL database that holds no signing key yet.
	creates, firstKEK bool
	// now is the clock signing keys are made, activated, retired and reread by.
	now func() time.Time
	// removed is what the last confirmed remove took, for its -o json.
	removed removedJSON
}

// clockKey carries, in the context a run is given, a clock to use instead of time.Now: tests move
// it on to let a key rotation's waits pass at once, in the CLI and a server alike.
type clockKey struct{}

// clockOf is the clock in ctx, else time.Now.
func clockOf(ctx context.Context) func() time.Time {
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok {
		return now
	}
	return time.Now
}

// open opens and migrates the store named by the configuration. Only the commands that set a store
// up (see creators) create one where there is none; the others say that there is none.
func (a *app) open(ctx context.Context) (*sqlstore.Store, error) {
	var s *sqlstore.Store
	var err error
	if a.databaseURL != "" {
		if err := a.checkDataDir(false); err != nil { // it may hold the KEK
			return nil, err
		}
		if s, err = postgres.Open(ctx, a.databaseURL); err != nil {
			return nil, err
		}
		if !a.creates {
			if has, err := s.HasSchema(ctx); err != nil || !has {
				s.Close()
				if err != nil {
					return nil, err
				}
				return nil, store.Errorf(store.NotFound, "no Rolegate store in the PostgreSQL database of --database-url: check the URL; rolegate migrate (or serve) sets one up")
			}
		}
	} else {
		db := filepath.Join(a.dataDir, sqlite.FileName)
		if _, err := os.Stat(db); !a.creates && errors.Is(err, os.ErrNotExist) {
			return nil, store.Errorf(store.NotFound, "no Rolegate store in %s (no %s there): check --data-dir or ROLEGATE_DATA_DIR; rolegate serve, migrate or an add command creates one",
				a.dataDir, sqlite.FileName)
		}
		if err := a.checkDataDir(true); err != nil {
			return nil, err
		}
		if s, err = sqlite.Open(db); err != nil {
			return nil, err
		}
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s, nil
}

// checkDataDir creates the data dir when missing (unless create is false, when a missing one is
// fine) and refuses one that group or others may write.
func (a *app) checkDataDir(create bool) error {
	if create {
		if err := os.MkdirAll(a.dataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	fi, err := os.Stat(a.dataDir)
	if !create && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return store.CheckNotWritableByOthers("data directory", a.dataDir, fi.Mode())
}

// withStore runs fn with an open store and closes it after.
func (a *app) withStore(ctx context.Context, fn func(s store.Store) error) error {
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// withUser runs fn with an open store and the user named name; NotFound when there is none.
func (a *app) withUser(ctx context.Context, name string, fn func(st store.Store, u *store.User) error) error {
	return a.withStore(ctx, func(st store.Store) error {
		u, err := st.GetUser(ctx, name)
		if err != nil {
			return err
		}
		return fn(st, u)
	})
}

// keyring loads the key-encryption key and returns the signing keyring over st, the KEK itself (it
// seals TOTP secrets too) and where the KEK came from, for the log. With no KEK configured, the
// embedded store's is created in the data dir; on PostgreSQL only serve creates one there, on a
// database that holds no signing key yet (firstKEK): another would be a stray no server shares.
func (a *app) keyring(st store.Store) (*certs.Keyring, *certs.KEK, string, error) {
	create := a.databaseURL == "" || a.firstKEK
	kek, source, err := certs.LoadKEK(a.env, a.dataDir, create)
	if err != nil {
		_, missing := os.Stat(filepath.Join(a.dataDir, certs.KEKFileName))
		if a.databaseURL != "" && a.env(certs.EnvKEK) == "" && a.env(certs.EnvKEKFile) == "" && errors.Is(missing, os.ErrNotExist) {
			return nil, nil, "", store.Errorf(store.Invalid, "no key-encryption key for the PostgreSQL store: set %s or %s to the servers' key "+
				"(only the first serve on a database without keys makes one, in the data dir; any other would be a stray no server shares)", certs.EnvKEK, certs.EnvKEKFile)
		}
		return nil, nil, "", err
	}
	return certs.NewKeyring(st, kek, 2048, "Rolegate SAML signing", func() time.Time { return a.now().UTC() }), kek, source, nil
}

// secrets returns the KEK to seal TOTP secrets with, once it has opened the signing keys: a KEK
// other than the servers' would seal secrets that no server can open. (On an empty store Ensure
// creates the signing key, as the first serve would.)
func (a *app) secrets(ctx context.Context, st store.Store) (*certs.KEK, error) {
	ring, kek, _, err := a.keyring(st)
	if err != nil {
		return nil, err
	}
	if err := ring.Ensure(ctx); err != nil {
		return nil, err
	}
	return kek, nil
}

func newHasher() *password.Hasher {
	return password.New(password.DefaultParams, password.DefaultConcurrency())
}

// audit records an admin action taken from the CLI.
func (a *app) audit(ctx context.Context, st store.Store, typ, subject string, details map[string]string) error {
	return a.auditResult(ctx, st, typ, subject, nil, details)
}

// auditResult records an admin action taken from the CLI that failed when err is not nil.
func (a *app) auditResult(ctx context.Context, st store.Store, typ, subject string, err error, details map[string]string) error {
	result := "ok"
	if err != nil {
		result = err.Error()
	}
	if details == nil {
		details = map[string]string{}
	}
	details["via"] = "cli"
	if u, err := user.Current(); err == nil {
		details["os_user"] = u.Username
	}
	return st.AppendAudit(ctx, &store.AuditEvent{Type: typ, User: subject, Result: result, Details: details})
}

// readPassword reads a new password from standard input (--password-stdin) or a terminal prompt.
func (a *app) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		r := bufio.NewReader(io.LimitReader(a.stdin, 4096))
		line, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		return pw, password.CheckPolicy(pw)
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", store.Errorf(store.Invalid, "no terminal to prompt for the password: pass it on standard input with --password-stdin")
	}
	fmt.Fprint(a.stderr, "New password: ")
	first, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	if err := password.CheckPolicy(string(first)); err != nil {
		return "", err
	}
	fmt.Fprint(a.stderr, "Repeat it: ")
	second, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", err
	}
	if string(first) != string(second) {
		return "", store.Errorf(store.Invalid, "the passwords do not match")
	}
	return string(first), nil
}

// parseAttrs parses K=V pairs; an empty V is kept as an empty value.
func parseAttrs(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, store.Errorf(store.Invalid, "attribute %q is not KEY=VALUE", p)
		}
		if err := store.ValidateAttr(k, v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// parseDuration accepts a Go duration ("1h30m") or whole seconds ("5400"); empty means 0.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.ParseInt(s, 10, 64); nerr == nil {
		if n < 0 || n > int64(store.MaxSessionDuration/time.Second) {
			// Checked before multiplying: a huge number would wrap into a valid duration.
			return 0, store.Errorf(store.Invalid, "invalid session duration %s seconds: AWS accepts 900 (15m) to 43200 (12h)", s)
		}
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil {
		return 0, store.Errorf(store.Invalid, "invalid duration %q: use a number of seconds or a duration such as 1h or 90m", s)
	}
	return d, store.ValidateSessionDuration(d)
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a terminal or a script reads it, never a page: "->" stays "->"
	return enc.Encode(v)
}
