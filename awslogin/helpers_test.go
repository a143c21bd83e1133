package awslogin_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/awslogin"
	"rolegate/awslogin/logintest"
	"rolegate/awstest/ststest"
	"rolegate/store"
)

// fakePrompt is a person at a terminal who gives answers in order, or no terminal at all.
type fakePrompt struct {
	interactive bool
	answers     []string
	asked       []string
}

func (f *fakePrompt) Interactive() bool { return f.interactive }

func (f *fakePrompt) Line(p string) (string, error) { return f.answer(p) }

func (f *fakePrompt) Secret(p string) (string, error) { return f.answer(p) }

func (f *fakePrompt) answer(p string) (string, error) {
	f.asked = append(f.asked, p)
	if !f.interactive || len(f.answers) == 0 {
		return "", store.Errorf(store.Invalid, "no terminal to ask %q", p)
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a, nil
}

const (
	prodID    = "111122223333"
	stagingID = "444455556666"
)

func pair(account, role string) assertions.RolePair {
	return assertions.RolePair{
		RoleARN:     assertions.ARN(store.PartitionAWS, account, "role/"+role),
		ProviderARN: assertions.ARN(store.PartitionAWS, account, "saml-provider/Rolegate"),
	}
}

// rig is an ECP stand-in and an STS stand-in that trusts it, with a credentials file in a
// temporary directory named by AWS_SHARED_CREDENTIALS_FILE.
type rig struct {
	idp   *logintest.IdP
	sts   *ststest.Server
	file  string
	env   map[string]string
	out   strings.Builder
	roles []assertions.RolePair
}

func newRig(t *testing.T, users map[string]logintest.User) *rig {
	t.Helper()
	r := &rig{idp: logintest.NewIdP(t, users)}
	r.idp.Aliases = map[string]string{prodID: "prod", stagingID: "staging"}
	r.sts = ststest.New(t, ststest.Config{MetadataURL: r.idp.URL + "/saml/metadata", MaxSessionDurations: map[string]time.Duration{}})
	r.file = filepath.Join(t.TempDir(), "aws", "credentials")
	// STS over TLS with its test CA, trusted through AWS_CA_BUNDLE as behind a TLS-intercepting proxy.
	r.env = map[string]string{"AWS_SHARED_CREDENTIALS_FILE": r.file, "AWS_CA_BUNDLE": r.sts.CAFile}
	return r
}

func (r *rig) getenv(k string) string { return r.env[k] }

// login runs one login as user with the given code and prompt.
func (r *rig) login(user, pw, otp string, p awslogin.Prompter, edit func(*awslogin.Login)) (*awslogin.Result, error) {
	l := &awslogin.Login{
		Source:      &awslogin.ECP{URL: r.idp.URL, Creds: awslogin.ECPCredentials{Username: user, Password: pw, OTP: otp}, Prompt: p},
		Prompt:      p,
		Out:         &r.out,
		Env:         r.getenv,
		Profile:     "work",
		STSEndpoint: r.sts.Endpoint,
	}
	if edit != nil {
		edit(l)
	}
	return l.Run(context.Background())
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// samltestKey is an impostor's signing key: not the one in the IdP's metadata.
func samltestKey(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	return samltest.KeyPair(t, 2048, "impostor")
}

func now() time.Time { return time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC) }
