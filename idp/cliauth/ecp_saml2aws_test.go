package cliauth_test

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"rolegate/awstest/ststest"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/internal/testtools"
)

// saml2awsBinary is an unmodified saml2aws (pinned in .ci/saml2aws, built by .ci/run): from
// ROLEGATE_SAML2AWS, else on PATH. Missing, the test is skipped on a developer's machine and fails
// under CI=true.
func saml2awsBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("ROLEGATE_SAML2AWS")
	if bin == "" {
		bin, _ = exec.LookPath("saml2aws")
	}
	if bin == "" {
		testtools.Missing(t, "saml2aws", "saml2aws not found (the ECP interoperability test): "+
			"(cd .ci/saml2aws && go build -o /tmp/saml2aws github.com/versent/saml2aws/v2/cmd/saml2aws) and set ROLEGATE_SAML2AWS=/tmp/saml2aws")
	}
	return bin
}

// saml2aws runs `saml2aws login` against the server with --idp-provider ShibbolethECP, STS and
// the sign-in page answered by sts (through HTTPS_PROXY, as saml2aws's STS endpoint cannot be set),
// and returns the credentials file it wrote.
func (w *awsWeb) saml2aws(t *testing.T, bin string, sts *ststest.Server, args ...string) (string, error) {
	t.Helper()
	return w.saml2awsAt(t, bin, sts, "/saml/ecp?account=prod", "arn:aws:iam::111122223333:role/Admin", args...)
}

// saml2awsAt is saml2aws with the ECP URL's path and the role to pick.
func (w *awsWeb) saml2awsAt(t *testing.T, bin string, sts *ststest.Server, path, role string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	creds := filepath.Join(home, "credentials")
	cmd := exec.Command(bin, append([]string{"login", "--idp-provider", "ShibbolethECP", "--url", w.Srv.URL + path,
		"--username", "alice", "--password", "correct horse battery", "--skip-prompt", "--disable-keychain", "--force",
		"--role", role, "--profile", "rolegate-test", "--credentials-file", creds}, args...)...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "HTTPS_PROXY=" + sts.ProxyURL, "NO_PROXY=127.0.0.1",
		"AWS_CA_BUNDLE=" + sts.CAFile, "SSL_CERT_FILE=" + sts.CAFile}
	out, err := cmd.CombinedOutput()
	t.Logf("saml2aws %s:\n%s", strings.Join(args, " "), out)
	b, _ := os.ReadFile(creds)
	return string(b), err
}

func TestAnUnmodifiedSaml2awsLogsInThroughECP(t *testing.T) {
	bin := saml2awsBinary(t)
	w := newAWSWeb(t)
	sts := ststest.New(t, ststest.Config{MetadataURL: w.Srv.URL + "/saml/metadata"})

	// Password only.
	file, err := w.saml2aws(t, bin, sts, "--mfa", "auto")
	calls := sts.Calls()
	if err != nil || len(calls) != 1 || calls[0].Error != "" {
		t.Fatalf("saml2aws: %v, STS saw %+v", err, calls)
	}
	if !strings.Contains(file, "[rolegate-test]") || credValue(file, "aws_access_key_id") != calls[0].AccessKeyID ||
		credValue(file, "aws_session_token") == "" || credValue(file, "x_principal_arn") != "arn:aws:sts::111122223333:assumed-role/Admin/alice" {
		t.Fatalf("credentials file:\n%s", file)
	}
	if calls[0].Verdict.AuthnContext != "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport" {
		t.Fatalf("verdict %+v", calls[0].Verdict)
	}

	// With a factor: the code is required, and then accepted once.
	secret, _ := w.Enrolled(t, "alice")
	if _, err := w.saml2aws(t, bin, sts, "--mfa", "auto"); err == nil {
		t.Fatal("saml2aws signed in without the code")
	}
	code := mfa.Code(secret, mfa.Step(w.Clock.Now()), mfa.Digits)
	file, err = w.saml2aws(t, bin, sts, "--mfa", "passcode", "--mfa-token", code)
	calls = sts.Calls()
	last := calls[len(calls)-1]
	if err != nil || last.Error != "" || last.Verdict.AuthnContext != "https://refeds.org/profile/mfa" ||
		credValue(file, "aws_access_key_id") != last.AccessKeyID {
		t.Fatalf("saml2aws with the code: %v, STS saw %+v\n%s", err, last, file)
	}
	if _, err := w.saml2aws(t, bin, sts, "--mfa", "passcode", "--mfa-token", code); err == nil {
		t.Fatal("saml2aws signed in with a code used already")
	}
	if !containsPrefix(w.AuditOf(t, "mfa"), "alice replayed") || !containsPrefix(w.AuditOf(t, "mfa"), "alice missing_code") {
		t.Fatalf("audit: %v", w.AuditOf(t, "mfa"))
	}
}

// credValue is the value of key in a credentials file.
func credValue(file, key string) string {
	for _, line := range strings.Split(file, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestSaml2awsPicksARoleOfAnyAccountWhenTheURLNamesNone(t *testing.T) {
	bin := saml2awsBinary(t)
	w := newAWSWeb(t)
	w.addStage(t)
	sts := ststest.New(t, ststest.Config{MetadataURL: w.Srv.URL + "/saml/metadata"})
	file, err := w.saml2awsAt(t, bin, sts, "/saml/ecp", "arn:aws:iam::777788889999:role/Deployer", "--mfa", "auto")
	calls := sts.Calls()
	if err != nil || len(calls) != 1 || calls[0].Error != "" || len(calls[0].Verdict.Roles) != 3 ||
		credValue(file, "x_principal_arn") != "arn:aws:sts::777788889999:assumed-role/Deployer/alice" {
		t.Fatalf("saml2aws: %v, STS saw %+v\n%s", err, calls, file)
	}
}

func TestTheSTSStandInRefusesWhatSTSWould(t *testing.T) {
	w := newAWSWeb(t)
	sts := ststest.New(t, ststest.Config{MetadataURL: w.Srv.URL + "/saml/metadata", Untrusted: []string{"arn:aws:iam::111122223333:role/ReadOnly"}})
	resp, body := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 200 {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	good := string(asSaml2aws(t, body))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: sts.CAPool}}}
	assume := func(response, role, duration string) (int, string) {
		form := url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"}, "RoleArn": {role},
			"PrincipalArn": {"arn:aws:iam::111122223333:saml-provider/Rolegate"}, "SAMLAssertion": {base64.StdEncoding.EncodeToString([]byte(response))}}
		if duration != "" {
			form.Set("DurationSeconds", duration)
		}
		r, err := client.PostForm(sts.Endpoint, form)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	admin := "arn:aws:iam::111122223333:role/Admin"
	for _, c := range []struct {
		name, response, role, duration string
		status                         int
		code                           string
	}{
		{"the Response as issued", good, admin, "", 200, "<AccessKeyId>ASIA"},
		{"a role the Response does not carry", good, "arn:aws:iam::111122223333:role/Root", "", 400, "contain the requested Role and Metadata"},
		{"a role whose trust policy does not trust the provider", good, "arn:aws:iam::111122223333:role/ReadOnly", "", 403, "<Code>AccessDenied</Code>"},
		{"a duration over the role's maximum", good, admin, "7200", 400, "<Code>ValidationError</Code>"},
		{"the right role with another account's provider", good, strings.Replace(admin, "111122223333", "999999999999", 1), "", 400, "<Code>InvalidIdentityToken</Code>"},
		{"a tampered session name", strings.Replace(good, ">alice<", ">root<", 1), admin, "", 400, "<Code>InvalidIdentityToken</Code>"},
		{"not XML", "nothing", admin, "", 400, "<Code>InvalidIdentityToken</Code>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := assume(c.response, c.role, c.duration)
			if status != c.status || !strings.Contains(body, c.code) || !strings.HasPrefix(body, "<") {
				t.Fatalf("%d, want %d with %s:\n%s", status, c.status, c.code, body)
			}
		})
	}
}
