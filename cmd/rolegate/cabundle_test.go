package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rolegate/awstest/ststest"
)

// `rolegate login` reaches STS over TLS through a proxy's CA as the AWS tools do: the CA bundle named
// by AWS_CA_BUNDLE, else by ca_bundle in the profile's section of the shared config file. Not
// parallel: the SDK reads AWS_CA_BUNDLE from the process environment too, so it is emptied here.
func TestLoginTrustsTheCABundleTheAWSToolsTrust(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	// newTLSRig is the login rig (awstest/ststest answers over TLS with its own test CA) with no bundle.
	newTLSRig := func(t *testing.T) (*loginRig, *ststest.Server) {
		r := newLoginRig(t)
		delete(r.env, "AWS_CA_BUNDLE")
		r.env["AWS_CONFIG_FILE"] = filepath.Join(t.TempDir(), "config")
		return r, r.sts
	}
	login := func(r *loginRig) (int, string, string) {
		return r.run(goodPassword+"\n", "--username", "alice", "--password-stdin", "--profile", "ci")
	}
	// issued says the credentials file holds the one key STS issued, nothing else written when none.
	issued := func(t *testing.T, r *loginRig, sts *ststest.Server) {
		t.Helper()
		calls := sts.Calls()
		b, _ := os.ReadFile(r.file)
		if len(calls) != 1 || calls[0].Error != "" || !strings.Contains(string(b), "[ci]\n") || !strings.Contains(string(b), "aws_access_key_id = "+calls[0].AccessKeyID) {
			t.Fatalf("calls %+v, credentials file:\n%s", calls, b)
		}
	}
	refused := func(t *testing.T, r *loginRig, sts *ststest.Server, code int, errOut string, words ...string) {
		t.Helper()
		if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("exit %d, err %q: want one line and a non-zero exit", code, errOut)
		}
		for _, w := range words {
			if !strings.Contains(errOut, w) {
				t.Fatalf("err %q does not say %q", errOut, w)
			}
		}
		if _, err := os.Stat(r.file); !os.IsNotExist(err) || len(sts.Calls()) != 0 {
			t.Fatalf("written or called after a refusal: %v, %d calls", err, len(sts.Calls()))
		}
	}

	t.Run("AWS_CA_BUNDLE alone makes STS's certificate trusted", func(t *testing.T) {
		r, sts := newTLSRig(t)
		r.env["AWS_CA_BUNDLE"] = sts.CAFile
		if code, out, errOut := login(r); code != 0 {
			t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
		}
		issued(t, r, sts)
	})
	t.Run("without a bundle the proxy's certificate is refused, in one line", func(t *testing.T) {
		r, sts := newTLSRig(t)
		code, _, errOut := login(r)
		refused(t, r, sts, code, errOut, "cannot reach STS at "+sts.Endpoint, "certificate", "set AWS_CA_BUNDLE")
	})
	t.Run("ca_bundle in the profile's section of the shared config does it too", func(t *testing.T) {
		r, sts := newTLSRig(t)
		os.WriteFile(r.env["AWS_CONFIG_FILE"], []byte("[default]\nregion = eu-west-1\n\n[profile ci]\nca_bundle = "+sts.CAFile+"\n"), 0o600)
		if code, out, errOut := login(r); code != 0 {
			t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
		}
		issued(t, r, sts)
	})
	t.Run("another profile's ca_bundle is not this one's", func(t *testing.T) {
		r, sts := newTLSRig(t)
		os.WriteFile(r.env["AWS_CONFIG_FILE"], []byte("[profile other]\nca_bundle = "+sts.CAFile+"\n"), 0o600)
		code, _, errOut := login(r)
		refused(t, r, sts, code, errOut, "certificate")
	})
	t.Run("a missing bundle file is one line and nothing written", func(t *testing.T) {
		r, sts := newTLSRig(t)
		r.env["AWS_CA_BUNDLE"] = filepath.Join(t.TempDir(), "missing.pem")
		code, _, errOut := login(r)
		refused(t, r, sts, code, errOut, "AWS_CA_BUNDLE", "missing.pem")
	})
	t.Run("a missing ca_bundle file is one line and nothing written", func(t *testing.T) {
		r, sts := newTLSRig(t)
		os.WriteFile(r.env["AWS_CONFIG_FILE"], []byte("[profile ci]\nca_bundle = /nonexistent/ca.pem\n"), 0o600)
		code, _, errOut := login(r)
		refused(t, r, sts, code, errOut, "ca_bundle", "/nonexistent/ca.pem")
	})
	t.Run("a bundle without a certificate is one line and nothing written", func(t *testing.T) {
		r, sts := newTLSRig(t)
		r.env["AWS_CA_BUNDLE"] = filepath.Join(t.TempDir(), "empty.pem")
		os.WriteFile(r.env["AWS_CA_BUNDLE"], []byte("not a certificate\n"), 0o600)
		code, _, errOut := login(r)
		refused(t, r, sts, code, errOut, "CA bundle")
	})
}
