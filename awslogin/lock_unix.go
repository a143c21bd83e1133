//go:build unix

package awslogin

import (
	"os"

	"golang.org/x/sys/unix"

	"rolegate/store"
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

// private refuses a directory another user could change: one not owned by this user, or writable
// by its group or others. Such a user could put their own state, with their own CLI session and
// credentials, where credential-process and exec would hand it to this user's programs.
func private(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return store.Errorf(store.Invalid, "cannot read %s: %v", dir, err)
	}
	st, ok := fi.Sys().(*unix.Stat_t)
	if fi.Mode().Perm()&0o022 != 0 || (ok && int(st.Uid) != os.Geteuid()) {
		return store.Errorf(store.Invalid, "%s is not private to you (owner or mode %v): another user could replace Rolegate's state in it; make it yours with chmod 700 %s",
			dir, fi.Mode().Perm(), dir)
	}
	return nil
}
