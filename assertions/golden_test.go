package assertions_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/internal/opensslsign"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenSigner is the golden key through the build's signer (libcrypto's with -tags openssl): the
// goldens then show that both builds sign the same bytes.
func goldenSigner(t testing.TB) assertions.Signer {
	t.Helper()
	priv, cert := goldenKey(t)
	k, err := opensslsign.New(priv)
	if err != nil {
		t.Fatal(err)
	}
	return assertions.Signer{Key: k, Cert: cert}
}

// goldenKey is the golden signing key, in Go, and its certificate.
func goldenKey(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	read := func(name string) *pem.Block {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", name)
		}
		return blk
	}
	k, err := x509.ParsePKCS8PrivateKey(read("signing-key.pem").Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(read("signing-cert.pem").Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey), cert
}

// The goldens pin every byte of what Rolegate sends AWS; a change to them is a change to the wire.
func TestGoldenResponses(t *testing.T) {
	s := goldenSigner(t)
	for _, tc := range []struct {
		file   string
		change func(*assertions.AWSSignIn)
	}{
		{"aws-all-roles.xml", nil},
		{"aws-one-role-regional-email.xml", func(in *assertions.AWSSignIn) {
			in.Role, in.Region, in.Account.Region = "Admin", "eu-central-1", "eu-central-1"
			in.Account.SessionNameSource, in.Account.SourceIdentitySource = "email", "username"
			in.MFA = true
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in := signIn()
			if tc.change != nil {
				tc.change(&in)
			}
			r, err := assertions.PlanAWS(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := assertions.BuildAWS(r, s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "testdata", "golden", tc.file)
			if *update {
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("%s differs from what BuildAWS makes now; if the change is intended, run with -update and review the diff", path)
			}
			if err := samltest.VerifyXMLSec(t, want, s.Cert, samltest.AssertionSignature); err != nil {
				t.Fatal(err)
			}
		})
	}
}
