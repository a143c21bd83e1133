package awslogin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"rolegate/store"
)

// Prompter asks the person at the keyboard. Interactive is false when there is no terminal: then
// nothing may be asked, and every choice must come from flags or the environment.
type Prompter interface {
	Interactive() bool
	Line(prompt string) (string, error)
	Secret(prompt string) (string, error) // not echoed
}

// Terminal prompts on in when it is a terminal, writing prompts to out (standard error, so standard
// output stays clean for scripts).
type Terminal struct {
	In  io.Reader
	Out io.Writer
	br  *bufio.Reader
}

func (t *Terminal) fd() (int, bool) {
	f, ok := t.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// Interactive reports whether In is a terminal.
func (t *Terminal) Interactive() bool {
	_, ok := t.fd()
	return ok
}

func (t *Terminal) Line(prompt string) (string, error) {
	if !t.Interactive() {
		return "", noTerminal(prompt)
	}
	if t.br == nil {
		t.br = bufio.NewReader(t.In)
	}
	fmt.Fprint(t.Out, prompt)
	return readLine(t.br)
}

func (t *Terminal) Secret(prompt string) (string, error) {
	fd, ok := t.fd()
	if !ok {
		return "", noTerminal(prompt)
	}
	fmt.Fprint(t.Out, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(t.Out)
	return string(b), err
}

func noTerminal(prompt string) error {
	return store.Errorf(store.Invalid, "no terminal to ask %q", strings.TrimRight(prompt, ": "))
}

// readLine reads one line of at most 4 KiB without its line ending; EOF after text is a line.
func readLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for b.Len() <= 4096 {
		c, err := r.ReadByte()
		if err == io.EOF && b.Len() > 0 {
			break
		}
		if err != nil {
			return "", err
		}
		if c == '\n' {
			break
		}
		b.WriteByte(c)
	}
	if b.Len() > 4096 {
		return "", store.Errorf(store.Invalid, "an input line is longer than 4096 bytes")
	}
	return strings.TrimRight(b.String(), "\r"), nil
}
