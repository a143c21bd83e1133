//go:build linux

package awslogin_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"rolegate/awslogin"
)

// openPTY opens a pseudo-terminal: the person types into master, the program reads tty.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestTerminalDoesNotEchoThePassword types at a real pseudo-terminal: the username is echoed as
// typed, the password and the one-time code are not, and both reach the program.
func TestTerminalDoesNotEchoThePassword(t *testing.T) {
	master, tty := openPTY(t)
	prompts := &syncBuffer{}
	term := &awslogin.Terminal{In: tty, Out: prompts}
	if !term.Interactive() {
		t.Fatal("a pseudo-terminal is not taken for a terminal")
	}
	if (&awslogin.Terminal{In: strings.NewReader("x")}).Interactive() {
		t.Fatal("a string reader is taken for a terminal")
	}
	echoed := make(chan string)
	go func() { // everything the terminal shows, until it is closed
		var all bytes.Buffer
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				echoed <- all.String()
				return
			}
		}
	}()
	// Type a secret only once its prompt is out and the program has turned echo off: no race with
	// the prompt decides the outcome.
	typeAfter := func(prompt, text string) {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			if err == nil && tio.Lflag&unix.ECHO == 0 && prompts.contains(prompt) {
				break
			}
		}
		master.Write([]byte(text))
	}
	go func() {
		master.Write([]byte("alice\n"))
		typeAfter("Password for alice: ", "s3cret-Passw0rd\n")
		typeAfter("One-time code: ", "424242\n")
	}()
	creds, err := awslogin.ReadECPCredentials(func(string) string { return "" }, "", tty, false, term)
	if err != nil {
		t.Fatal(err)
	}
	otp, err := term.Secret("One-time code: ")
	if err != nil {
		t.Fatal(err)
	}
	if creds.Username != "alice" || creds.Password != "s3cret-Passw0rd" || otp != "424242" {
		t.Fatalf("read %+v and code %q", creds, otp)
	}
	tty.Close()
	master.SetReadDeadline(time.Now().Add(time.Second))
	shown := <-echoed
	if !strings.Contains(shown, "alice") {
		t.Fatalf("the username was not echoed, so this test cannot see echo: %q", shown)
	}
	if strings.Contains(shown, "s3cret") || strings.Contains(shown, "424242") {
		t.Fatalf("the terminal echoed a secret: %q", shown)
	}
	if p := prompts.string(); !strings.Contains(p, "Username: ") || !strings.Contains(p, "Password for alice: ") {
		t.Fatalf("prompts %q", p)
	}
}

// syncBuffer is a buffer that the test's typist may read while the prompter writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) string() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) contains(sub string) bool { return strings.Contains(s.string(), sub) }
