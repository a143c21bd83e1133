//go:build linux

package awslogin_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
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
	prompts := make(promptFeed, 16)
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
	shownPrompts := make(chan string, 1)
	go func() {
		var seen strings.Builder
		typeAfter := func(prompt, text string) {
			for !strings.Contains(seen.String(), prompt) {
				seen.WriteString(<-prompts)
			}
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
				if tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS); err == nil && tio.Lflag&unix.ECHO == 0 {
					break
				}
			}
			master.Write([]byte(text))
		}
		master.Write([]byte("alice\n"))
		typeAfter("Password for alice: ", "s3cret-Passw0rd\n")
		typeAfter("One-time code: ", "424242\n")
		shownPrompts <- seen.String()
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
	if p := <-shownPrompts; !strings.Contains(p, "Username: ") || !strings.Contains(p, "Password for alice: ") {
		t.Fatalf("prompts %q", p)
	}
}

// promptFeed hands what the prompter writes to the test's typist.
type promptFeed chan string

func (p promptFeed) Write(b []byte) (int, error) {
	p <- string(b)
	return len(b), nil
}
