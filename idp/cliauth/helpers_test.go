package cliauth_test

import (
	"testing"

	"rolegate/idp"
	"rolegate/idp/internal/idptest"
)

// awsWeb is idptest's AWS fixture with the command line's calls.
type awsWeb struct{ *idptest.AWSWeb }

func newAWSWeb(t *testing.T, demo ...string) *awsWeb {
	t.Helper()
	return &awsWeb{idptest.NewAWSWeb(t, demo...)}
}

func newAWSWebWith(t *testing.T, mod func(*idp.Config)) *awsWeb {
	t.Helper()
	return &awsWeb{idptest.NewAWSWebWith(t, mod)}
}
