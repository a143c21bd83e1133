//go:build unix

package awslogin_test

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"rolegate/awslogin"
)

// A login's SaveState waits for the lock credential-process holds while it refreshes: the
// refresh writes the state it read, and would otherwise put the old login's back over the new.
func TestSaveStateWaitsForARefreshInProgress(t *testing.T) {
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	path, err := awslogin.StatePath(getenv, "work")
	if err != nil {
		t.Fatal(err)
	}
	st := &awslogin.State{URL: "https://idp.example", RoleARN: "arn:aws:iam::111122223333:role/admin"}
	if err := awslogin.SaveState(getenv, "work", st); err != nil {
		t.Fatal(err)
	}
	// What Process.Credentials holds during a refresh.
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- awslogin.SaveState(getenv, "work", st) }()
	select {
	case err := <-done:
		t.Fatalf("SaveState did not wait for the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	f.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
