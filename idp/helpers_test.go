package idp_test

import "rolegate/idp/password"

// newHasher is a fast hasher for tests; production parameters are tested in idp/password.
func newHasher() *password.Hasher {
	return password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
}
