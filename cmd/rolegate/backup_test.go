package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/certs"
	"rolegate/store"
	"rolegate/store/sqlite"
)

// awsResponse has the signed-in browser ask srv for an IdP-initiated sign-in to account as Admin
// and returns the SAML Response the auto-POST form carries.
func awsResponse(browser *http.Client, srv *server, account string) ([]byte, error) {
	res, err := browser.Get(srv.url + "/aws/signin?account=" + account + "&role=Admin")
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	m := samlRespRE.FindStringSubmatch(string(body))
	if res.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("sign-in to %s: status %d, no SAMLResponse in %.300s", account, res.StatusCode, body)
	}
	return base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
}

// seedPeople gives c's store three people with passwords, a group and grants to two accounts.
func seedPeople(t *testing.T, c *cli) []string {
	people := []string{"alice", "bob", "carol"}
	for _, p := range people {
		c.ok(t, goodPassword+"\n", "user", "add", p, "--password-stdin", "--must-change=false", "--email", p+"@example.com")
	}
	c.ok(t, "", "group", "add", "admins")
	c.ok(t, "", "group", "add-member", "admins", "alice")
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")
	c.ok(t, "", "grant", "add", "--group", "admins", "--account", "prod", "--role", "Admin")
	for _, p := range people {
		c.ok(t, "", "grant", "add", "--user", p, "--account", "dev", "--role", "Admin")
	}
	return people
}

// allAudit is every audit event in c's store, oldest first.
func allAudit(t *testing.T, c *cli) []*store.AuditEvent {
	t.Helper()
	events, err := c.openStore(t).ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// The check: a backup taken while the server signs people in, restored elsewhere, signs
// with the same key; users, grants, keys and audit events come through.
func TestABackupTakenDuringSignInsRestoresElsewhereAndSignsWithTheSameKey(t *testing.T) {
	c := newCLI(t, "sqlite")
	people := seedPeople(t, c)
	srv := c.serve(t, "--rate-burst", "100000", "--rate-per-second", "10000")
	origMD := srv.get(t, "/saml/metadata")
	entityID := entityIDRE.FindStringSubmatch(origMD)[1]
	origCerts := metadataX509(t, origMD)
	if len(origCerts) != 1 {
		t.Fatalf("the original server publishes %d certificates, want 1", len(origCerts))
	}

	// The load: each person signs in and asks for AWS sign-ins, over and over, until told to stop.
	stop := make(chan struct{})
	var signIns atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(people))
	for _, p := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				browser, res, err := trySignIn(srv.url, p, goodPassword)
				if err == nil && res.StatusCode != http.StatusSeeOther {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
				if err != nil {
					errs <- fmt.Errorf("%s signs in: %v", p, err)
					return
				}
				for i := 0; i < 5; i++ {
					if _, err := awsResponse(browser, srv, "dev"); err != nil {
						errs <- fmt.Errorf("%s: %v", p, err)
						return
					}
					signIns.Add(1)
				}
			}
		}()
	}
	for signIns.Load() < 15 {
		time.Sleep(10 * time.Millisecond)
	}
	// Backups, until one of them sees sign-ins complete while it copies.
	var before []*store.AuditEvent
	var r result
	var out string
	backups := t.TempDir()
	for i := 0; ; i++ {
		before = allAudit(t, c) // everything recorded before the backup begins is in it
		out = filepath.Join(backups, fmt.Sprintf("rolegate-%d.bak", i))
		start := signIns.Load()
		r = c.run("", "backup", "--out", out)
		if during := signIns.Load() - start; r.code != 0 || during > 0 {
			t.Logf("backup %d: %d sign-ins during it; %s", i, during, strings.TrimSpace(r.stdout))
			break
		}
		if i == 100 {
			t.Fatal("no sign-in completed during any of 100 backups")
		}
	}
	for after := signIns.Load(); signIns.Load() < after+15; { // and the sign-ins go on after it
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if r.code != 0 {
		t.Fatalf("backup during sign-ins: exit %d, stderr %s", r.code, r.stderr)
	}
	kekPath := filepath.Join(c.dataDir, certs.KEKFileName)
	for _, want := range []string{"does NOT contain the key-encryption key", "keep it apart", kekPath} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("backup's warning does not say %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "3 users, 1 group, 2 accounts, 4 grants") || !strings.Contains(r.stdout, "1 signing key") {
		t.Errorf("backup does not say what it holds: %s", r.stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the backup file: %v, %v; want mode 0600", fi, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(backups, ".*")); len(leftovers) != 0 {
		t.Errorf("backup left files behind: %v", leftovers)
	}
	srv.stop(t)
	orig := allAudit(t, c)

	// Elsewhere: a new data dir, the KEK carried apart.
	c2 := newCLI(t, "sqlite")
	restored := c2.ok(t, "", "restore", "--from", out, "--kek-file", kekPath)
	if !strings.Contains(restored, "3 users") || !strings.Contains(restored, "key-encryption key id") {
		t.Errorf("restore does not say what it restored: %s", restored)
	}
	if !reflect.DeepEqual(c2.users(t), c.users(t)) {
		t.Errorf("users after the restore:\n%v\nwant\n%v", c2.users(t), c.users(t))
	}
	var grants, grants2 []grantJSONOut
	c.list(t, &grants, "grant", "list", "--json")
	c2.list(t, &grants2, "grant", "list", "--json")
	if len(grants) != 4 || !reflect.DeepEqual(grants2, grants) {
		t.Errorf("grants after the restore:\n%v\nwant\n%v", grants2, grants)
	}
	if k, k2 := c.keys(t), c2.keys(t); !reflect.DeepEqual(k2, k) {
		t.Errorf("signing keys after the restore:\n%v\nwant\n%v", k2, k)
	}
	// The restored audit log is the original's up to one moment (a consistent snapshot), holding all
	// that was there before the backup began, then the restore's own event.
	got := allAudit(t, c2)
	if len(got) == 0 || got[len(got)-1].Type != "store.restore" {
		t.Fatalf("the restored audit log does not end with the restore: %d events", len(got))
	}
	got = got[:len(got)-1]
	if len(got) < len(before) || len(got) > len(orig) || !reflect.DeepEqual(got, orig[:len(got)]) {
		t.Fatalf("the restored audit log (%d events) is not the original's (%d) up to a moment at or after the backup began (%d)", len(got), len(orig), len(before))
	}
	if !hasType(orig, "store.backup") {
		t.Errorf("the backup is not in the original's audit log")
	}

	// The restored server signs with the original key, under the original entity ID.
	srv2 := c2.serve(t)
	defer srv2.stop(t)
	md2 := srv2.get(t, "/saml/metadata")
	if got := entityIDRE.FindStringSubmatch(md2)[1]; got != entityID {
		t.Errorf("the restored server's entity ID is %s, want %s", got, entityID)
	}
	if got, want := metadataCerts(t, md2), metadataCerts(t, origMD); !reflect.DeepEqual(got, want) {
		t.Errorf("the restored server publishes %v, want %v", got, want)
	}
	browser, res := signIn(t, srv2.url, "alice", goodPassword)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice signs in to the restored server: status %d", res.StatusCode)
	}
	resp, err := awsResponse(browser, srv2, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, xpath := range responseSigs {
		if err := samltest.VerifyXMLSec(t, resp, origCerts[0], xpath); err != nil {
			t.Errorf("xmlsec1 with the original certificate: %v", err)
		}
	}
	v := assertions.InspectAWS(resp, assertions.Expect{EntityID: entityID, ACS: prodACS, Certs: origCerts, Now: time.Now()})
	if !v.Accepted {
		t.Errorf("an IAM holding the original metadata refuses the restored server's Response: %v", v.Problems)
	}
	// The checks can fail: another certificate, or one changed character, and xmlsec1 refuses.
	_, other := samltest.KeyPair(t, 2048, "not Rolegate")
	if err := samltest.VerifyXMLSec(t, resp, other, samltest.AssertionSignature); err == nil {
		t.Errorf("xmlsec1 verifies the Response with a certificate that did not sign it")
	}
	tampered := bytes.Replace(resp, []byte("alice"), []byte("alicf"), 1)
	if bytes.Equal(tampered, resp) {
		t.Fatal("alice is not named in the Response")
	}
	if err := samltest.VerifyXMLSec(t, tampered, origCerts[0], samltest.AssertionSignature); err == nil {
		t.Errorf("xmlsec1 verifies a Response with a changed name")
	}
	inspected := assertions.InspectAWS(resp, assertions.Expect{EntityID: entityID, ACS: prodACS, Certs: []*x509.Certificate{other}, Now: time.Now()})
	if inspected.Accepted {
		t.Errorf("an IAM holding another certificate accepts the restored server's Response")
	}
}

func hasType(events []*store.AuditEvent, typ string) bool {
	for _, e := range events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// storeState is what a data dir holds, by file name and content, to show a refusal changed nothing.
func storeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestBackupAndRestoreRefuseWhatTheyCannotDoSafely(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
	c.ok(t, "", "user", "mfa", "enroll", "alice", "--totp") // makes the KEK and the signing key
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bak")
	if r := c.run("", "backup", "--out", good); r.code != 0 {
		t.Fatalf("backup: exit %d, %s", r.code, r.stderr)
	}
	kek := filepath.Join(c.dataDir, certs.KEKFileName)
	otherKEK := writeKEKFile(t, t.TempDir())
	junk := filepath.Join(dir, "junk.bak")
	if err := os.WriteFile(junk, []byte("not a database, not at all, but long enough to look like one maybe"), 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "existing.bak")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A store open here is live: its write-ahead log lies beside it.
	if _, err := c.openStore(t).ListUsers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, sqlite.FileName+"-wal")); err != nil {
		t.Fatalf("no write-ahead log beside an open store: %v", err)
	}
	otherInDir := newCLI(t, "sqlite")
	writeKEKFile(t, otherInDir.dataDir)
	openToOthers := newCLI(t, "sqlite")
	if err := os.Chmod(writeKEKFile(t, openToOthers.dataDir), 0o644); err != nil {
		t.Fatal(err)
	}
	occupied := newCLI(t, "sqlite")
	occupied.ok(t, "", "migrate")
	// Names that reach the data dir's files through a symbolic link.
	dataLink, liveLink := filepath.Join(dir, "datalink"), filepath.Join(dir, "live.db")
	if err := os.Symlink(c.dataDir, dataLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(c.dataDir, sqlite.FileName), liveLink); err != nil {
		t.Fatal(err)
	}
	// The right KEK, in a file that others may read.
	kekText, err := os.ReadFile(kek)
	if err != nil {
		t.Fatal(err)
	}
	readableKEK := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(readableKEK, kekText, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(readableKEK, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	pg := &cli{backend: "postgres", dataDir: t.TempDir(), dbURL: "postgres://nobody@127.0.0.1:1/none", env: map[string]string{}}

	for _, tc := range []struct {
		name  string
		c     *cli
		env   map[string]string
		args  []string
		code  int
		says  string
		check string // a path whose content must not change
	}{
		{"backup over an existing file without --force", c, nil, []string{"backup", "--out", existing}, exitConflict, "--force", existing},
		{"backup with --force onto the live database", c, nil, []string{"backup", "--out", filepath.Join(c.dataDir, sqlite.FileName), "--force"}, exitInvalid, "elsewhere", ""},
		{"backup onto the KEK", c, nil, []string{"backup", "--out", kek, "--force"}, exitInvalid, "elsewhere", kek},
		{"backup through a link to the data dir onto its journal", c, nil, []string{"backup", "--out", filepath.Join(dataLink, sqlite.FileName+"-journal")}, exitInvalid, "elsewhere", ""},
		{"backup without --out", c, nil, []string{"backup"}, exitInvalid, "--out", ""},
		{"backup into a missing directory", c, nil, []string{"backup", "--out", filepath.Join(dir, "missing", "x.bak")}, exitInvalid, "no directory", ""},
		{"backup of a data dir without a store", newCLI(t, "sqlite"), nil, []string{"backup", "--out", filepath.Join(dir, "none.bak")}, 5, "no Rolegate store", ""},
		{"backup on PostgreSQL", pg, nil, []string{"backup", "--out", filepath.Join(dir, "pg.bak")}, exitInvalid, "pg_dump", ""},
		{"restore on PostgreSQL", pg, nil, []string{"restore", "--from", good}, exitInvalid, "pg_restore", ""},
		{"restore into a data dir that holds a store", occupied, nil, []string{"restore", "--from", good, "--kek-file", kek}, exitConflict, "empty data dir", ""},
		{"restore with another KEK", newCLI(t, "sqlite"), nil, []string{"restore", "--from", good, "--kek-file", otherKEK}, exitInvalid, "cannot be opened with this key-encryption key", ""},
		{"restore with another KEK in the environment", newCLI(t, "sqlite"), map[string]string{certs.EnvKEKFile: otherKEK}, []string{"restore", "--from", good}, exitInvalid, "cannot be opened", ""},
		{"restore with --kek-file into a data dir that holds another KEK", otherInDir, nil, []string{"restore", "--from", good, "--kek-file", kek}, exitConflict, "another key-encryption key", ""},
		{"restore into a data dir whose KEK others may read", openToOthers, nil, []string{"restore", "--from", good}, exitInvalid, "chmod 600", ""},
		{"restore without any KEK", newCLI(t, "sqlite"), nil, []string{"restore", "--from", good}, exitInvalid, "no key-encryption key is configured", ""},
		{"restore with --kek-file and a KEK in the environment", newCLI(t, "sqlite"), map[string]string{certs.EnvKEKFile: kek}, []string{"restore", "--from", good, "--kek-file", kek}, exitInvalid, "drop --kek-file", ""},
		{"restore of a file that is no backup", newCLI(t, "sqlite"), nil, []string{"restore", "--from", junk, "--kek-file", kek}, exitInvalid, "not a Rolegate backup", ""},
		{"restore of a live database", newCLI(t, "sqlite"), nil, []string{"restore", "--from", filepath.Join(c.dataDir, sqlite.FileName), "--kek-file", kek}, exitInvalid, "live database", ""},
		{"restore of a live database through a link", newCLI(t, "sqlite"), nil, []string{"restore", "--from", liveLink, "--kek-file", kek}, exitInvalid, "live database", ""},
		{"restore of a missing file", newCLI(t, "sqlite"), nil, []string{"restore", "--from", filepath.Join(dir, "missing.bak"), "--kek-file", kek}, exitInvalid, "missing.bak", ""},
		{"restore without --from", newCLI(t, "sqlite"), nil, []string{"restore"}, exitInvalid, "--from", ""},
		{"backup with --force onto a directory", c, nil, []string{"backup", "--out", t.TempDir(), "--force"}, exitInvalid, "not a regular file", ""},
		{"restore of a directory", newCLI(t, "sqlite"), nil, []string{"restore", "--from", t.TempDir(), "--kek-file", kek}, exitInvalid, "not a regular file", ""},
		{"restore with a --kek-file that holds no key", newCLI(t, "sqlite"), nil, []string{"restore", "--from", good, "--kek-file", junk}, exitInvalid, "--kek-file", ""},
		{"restore with a missing --kek-file", newCLI(t, "sqlite"), nil, []string{"restore", "--from", good, "--kek-file", filepath.Join(dir, "missing-kek")}, exitInvalid, "--kek-file", ""},
		{"restore with a --kek-file that others may read", newCLI(t, "sqlite"), nil, []string{"restore", "--from", good, "--kek-file", readableKEK}, exitInvalid, "chmod 600", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != nil {
				tc.c.env = tc.env
			}
			var content []byte
			if tc.check != "" {
				content, _ = os.ReadFile(tc.check)
			}
			target := storeState(t, tc.c.dataDir)
			r := tc.c.run("", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.says) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and one line that says %q", r.code, r.stdout, r.stderr, tc.code, tc.says)
			}
			if tc.check != "" {
				if now, _ := os.ReadFile(tc.check); !bytes.Equal(now, content) {
					t.Errorf("%s changed", tc.check)
				}
			}
			if tc.c != c && !reflect.DeepEqual(storeState(t, tc.c.dataDir), target) {
				t.Errorf("the refused command changed its data dir: %v", keysOf(storeState(t, tc.c.dataDir)))
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) != 0 {
				t.Errorf("left behind: %v", leftovers)
			}
		})
	}
	// The live store is untouched by every refusal above, and still works.
	if users := c.users(t); len(users) != 1 {
		t.Errorf("the live store lists %d users after the refusals", len(users))
	}
	// --force replaces an existing backup, and a restore with the right KEK in place works.
	if r := c.run("", "backup", "--out", existing, "--force"); r.code != 0 {
		t.Fatalf("backup --force: exit %d, %s", r.code, r.stderr)
	}
	fresh := newCLI(t, "sqlite")
	fresh.env[certs.EnvKEKFile] = kek
	fresh.ok(t, "", "restore", "--from", existing)
	if _, err := os.Stat(filepath.Join(fresh.dataDir, certs.KEKFileName)); !os.IsNotExist(err) {
		t.Errorf("a restore with the KEK in the environment put a KEK in the data dir: %v", err)
	}
	if users := fresh.users(t); len(users) != 1 {
		t.Errorf("the restored store lists %d users", len(users))
	}
	// With the KEK in the data dir already, --kek-file naming the same key is fine.
	same := newCLI(t, "sqlite")
	text, err := os.ReadFile(kek)
	if err == nil {
		err = os.MkdirAll(same.dataDir, 0o700)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(same.dataDir, certs.KEKFileName), text, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	if out := same.ok(t, "", "restore", "--from", existing, "--kek-file", kek); !strings.Contains(out, filepath.Join(same.dataDir, certs.KEKFileName)) {
		t.Errorf("restore names the KEK it found in the data dir: %s", out)
	}
}
