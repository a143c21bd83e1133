package cliauth

import "time"

// The readers of outside input, for the fuzz targets in package cliauth_test.

// ParseECP returns the request's ID and ACS.
func ParseECP(body []byte, now time.Time) (id, acs string, err error) {
	r, err := parseECP(body, now)
	if err != nil {
		return "", "", err
	}
	return r.ID, r.ACS, nil
}

// ReadAuthorize returns the redirect URI's origin.
func ReadAuthorize(get func(string) string) (string, error) {
	r, err := readAuthorize(get)
	if err != nil {
		return "", err
	}
	return r.origin, nil
}

var NormalUserCode = normalUserCode

const (
	UserCodeAlphabet = userCodeAlphabet
	UserCodeLen      = userCodeLen
)
