package awslogin_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/awslogin"
	"rolegate/store"
)

const existing = `# my credentials, kept by hand
[default]
aws_access_key_id = AKIAEXAMPLEDEFAULT
aws_secret_access_key = defaultsecret

; the staging profile from another tool
[work]
# a note on work
aws_access_key_id = ASIAOLD
aws_secret_access_key = oldsecret
aws_session_token = oldtoken
x_rolegate_account_alias = stale
region = eu-west-1
output = json

# a note on ci, above its section
[ ci ]
aws_access_key_id = AKIACI
aws_secret_access_key = cisecret
`

func profileFor(name, key string) awslogin.Profile {
	return awslogin.Profile{
		Name:  name,
		Creds: &awslogin.Credentials{AccessKeyID: key, SecretAccessKey: "s-" + key, SessionToken: "t-" + key, Expiration: time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC), AssumedRoleARN: "arn:aws:sts::111122223333:assumed-role/admin/alice"},
		Role:  awslogin.Role{Account: prodID, Alias: "prod", Name: "admin"},
	}
}

func TestWriteProfileKeepsEverythingElse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := awslogin.WriteProfile(path, profileFor("work", "ASIANEW")); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	for _, keep := range []string{"# my credentials, kept by hand", "[default]\naws_access_key_id = AKIAEXAMPLEDEFAULT\naws_secret_access_key = defaultsecret",
		"; the staging profile from another tool", "# a note on work", "region = eu-west-1", "output = json",
		"# a note on ci, above its section\n[ ci ]\naws_access_key_id = AKIACI"} {
		if !strings.Contains(got, keep) {
			t.Errorf("lost %q:\n%s", keep, got)
		}
	}
	for _, gone := range []string{"ASIAOLD", "oldsecret", "oldtoken", "stale"} {
		if strings.Contains(got, gone) {
			t.Errorf("kept the old %q:\n%s", gone, got)
		}
	}
	for _, want := range []string{"aws_access_key_id = ASIANEW", "aws_session_token = t-ASIANEW", "aws_security_token = t-ASIANEW",
		"x_security_token_expires = 2026-11-30T16:00:00Z", "aws_session_expiration = 2026-11-30T16:00:00Z",
		"x_rolegate_account = 111122223333", "x_rolegate_account_alias = prod", "# rolegate login: prod (111122223333) admin, expires 2026-11-30T16:00:00Z"} {
		if strings.Count(got, want) != 1 {
			t.Errorf("want %q once:\n%s", want, got)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v: a 0644 file must become 0600", fi.Mode().Perm())
	}

	// A second login replaces its own lines instead of adding to them.
	if err := awslogin.WriteProfile(path, profileFor("work", "ASIATHIRD")); err != nil {
		t.Fatal(err)
	}
	again := readFile(t, path)
	if strings.Count(again, "aws_access_key_id") != 3 || strings.Count(again, "# rolegate login:") != 1 || strings.Contains(again, "ASIANEW") {
		t.Fatalf("second write:\n%s", again)
	}
	if strings.Replace(again, "ASIATHIRD", "ASIANEW", -1) != got {
		t.Fatalf("a second write changed more than the credentials:\n%s\nvs\n%s", got, again)
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".credentials-*")); len(tmp) != 0 {
		t.Fatalf("temporary files left beside the credentials file: %v", tmp)
	}
}

func TestWriteProfileRefusesToOverwriteLongTermKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(path, []byte(existing), 0o600)
	for _, name := range []string{"default", "ci"} {
		err := awslogin.WriteProfile(path, profileFor(name, "ASIANEW"))
		wantErr(t, err, store.Conflict, "long-term access keys", "another --profile")
	}
	if readFile(t, path) != existing {
		t.Fatal("the file changed after a refusal")
	}
}

func TestWriteProfileNewFileAndNewProfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "credentials")
	if err := awslogin.WriteProfile(path, profileFor("a", "ASIAA")); err != nil {
		t.Fatal(err)
	}
	if err := awslogin.WriteProfile(path, profileFor("b", "ASIAB")); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	if !strings.HasPrefix(got, "[a]\n# rolegate login:") || !strings.Contains(got, "\n\n[b]\n") || !strings.Contains(got, "ASIAA") {
		t.Fatalf("got:\n%s", got)
	}
	if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
		t.Fatalf("a created folder is %v, want 0700", fi.Mode().Perm())
	}
}

func TestWriteProfileKeepsASymlinkedFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles-credentials")
	os.WriteFile(real, []byte("[other]\nx = 1\n"), 0o600)
	link := filepath.Join(dir, "credentials")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := awslogin.WriteProfile(link, profileFor("work", "ASIAL")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	if !strings.Contains(readFile(t, real), "ASIAL") {
		t.Fatal("the file the link points at was not updated")
	}
}

func TestCredentialsFileLocation(t *testing.T) {
	env := map[string]string{"HOME": "/home/alice"}
	get := func(k string) string { return env[k] }
	if p, _ := awslogin.CredentialsFile(get); p != "/home/alice/.aws/credentials" {
		t.Fatalf("default %q", p)
	}
	env["AWS_SHARED_CREDENTIALS_FILE"] = "/tmp/elsewhere"
	if p, _ := awslogin.CredentialsFile(get); p != "/tmp/elsewhere" {
		t.Fatalf("AWS_SHARED_CREDENTIALS_FILE ignored: %q", p)
	}
}

func TestKnownAliasesComeFromEarlierLogins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(path, []byte(existing), 0o600)
	p := profileFor("work", "ASIAX")
	p.Role = awslogin.Role{Account: stagingID, Alias: "staging", Name: "dev"}
	if err := awslogin.WriteProfile(path, p); err != nil {
		t.Fatal(err)
	}
	got := awslogin.KnownAliases(path)
	if len(got) != 1 || got[stagingID] != "staging" {
		t.Fatalf("aliases %v", got)
	}
	if len(awslogin.KnownAliases(filepath.Join(t.TempDir(), "none"))) != 0 {
		t.Fatal("a missing file knows aliases")
	}
}

func TestWriteProfileParallelLoginsLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := awslogin.WriteProfile(path, profileFor(fmt.Sprintf("p%d", i), fmt.Sprintf("ASIA%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := readFile(t, path)
	for i := range 20 {
		if !strings.Contains(got, fmt.Sprintf("[p%d]\n", i)) {
			t.Errorf("profile p%d was lost", i)
		}
	}
}

// A file with Windows line endings keeps them: the profile's new lines end in CRLF too, not a
// mixture that editors and diff tools show as damage.
func TestWriteProfileKeepsCRLFLineEndings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	old := "# mine\r\n[other]\r\naws_access_key_id = AKIAOTHER\r\naws_secret_access_key = s\r\n\r\n[work]\r\nregion = eu-west-1\r\n"
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ASIANEW", "ASIAAGAIN", "ASIAMORE"} {
		for _, name := range []string{"work", "new"} {
			if err := awslogin.WriteProfile(path, profileFor(name, key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, _ := os.ReadFile(path)
	text := string(b)
	if strings.Count(text, "\n") != strings.Count(text, "\r\n") || strings.Contains(text, "\r\r") ||
		!strings.Contains(text, "aws_access_key_id = ASIAMORE\r\n") || !strings.HasPrefix(text, "# mine\r\n[other]\r\n") ||
		strings.Count(text, "aws_access_key_id = ASIAMORE\r\n") != 2 || !strings.Contains(text, "region = eu-west-1\r\n") {
		t.Fatalf("credentials file:\n%q", text)
	}
}

// A hostile STS (an --sts-endpoint or AWS_ENDPOINT_URL_STS the user was given) answers a key with a
// line break in it, to plant long-term keys in another profile: nothing is written.
func TestWriteProfileRefusesValuesThatWouldAddLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(path, []byte(existing), 0o600)
	for _, bad := range []string{"ASIANEW\n[default]\naws_access_key_id = AKIAEVIL", "ASIANEW\raws_x = 1", "ASIA\u202eNEW"} {
		err := awslogin.WriteProfile(path, profileFor("work", bad))
		wantErr(t, err, store.Internal, "control character")
	}
	p := profileFor("work", "ASIANEW")
	p.Role.Alias = "prod\n[default]"
	wantErr(t, awslogin.WriteProfile(path, p), store.Internal, "control character")
	if readFile(t, path) != existing {
		t.Fatal("the file changed after a refusal")
	}
}

// A file edited by hand may hold the profile twice: the stale keys of the second section go too,
// or the SDKs would take them (later keys win) and other tools refuse the file.
func TestWriteProfileLeavesNoStaleKeysInARepeatedSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(path, []byte("[work]\naws_access_key_id = ASIAOLD1\n\n[other]\nregion = x\n\n[work]\naws_session_token = STALE2\naws_secret_access_key = STALESECRET\noutput = json\n"), 0o600)
	if err := awslogin.WriteProfile(path, profileFor("work", "ASIANEW")); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	if strings.Contains(got, "STALE") || strings.Contains(got, "ASIAOLD1") || strings.Count(got, "aws_access_key_id = ASIANEW") != 1 ||
		!strings.Contains(got, "output = json") || !strings.Contains(got, "[other]\nregion = x") {
		t.Fatalf("got:\n%s", got)
	}
}
