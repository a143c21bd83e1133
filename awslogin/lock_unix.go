//go:build unix

package awslogin

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile holds an exclusive lock on path+".lock" until the returned function runs, so that two
// logins at once (a script logging in to several profiles in parallel) do not lose each other's
// profile between read and rename. The lock file stays; it holds nothing.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}
