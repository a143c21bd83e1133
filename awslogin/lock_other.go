//go:build !unix

package awslogin

// lockFile does nothing where flock does not exist: the rename alone keeps the file whole.
func lockFile(string) (func(), error) { return func() {}, nil }

// private checks nothing where owners and modes are not Unix's.
func private(string) error { return nil }
