package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"rolegate/internal/testtools"
)

// readmeCommand is one command line of the README: its environment assignments and its words.
type readmeCommand struct {
	line string
	env  []string // NAME=VALUE written before the command
	argv []string
}

// envWordRE is a shell assignment before a command: GOTOOLCHAIN=go1.27.3.
var envWordRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// readmeOpening returns the command lines of the ```sh blocks of README.md before its first
// "## " section: the ones a person runs first.
func readmeOpening(t *testing.T, readme string) []readmeCommand {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	opening, _, _ := strings.Cut(string(b), "\n## ")
	var cmds []readmeCommand
	for i, block := range strings.Split(opening, "```") {
		if i%2 == 0 || !strings.HasPrefix(block, "sh\n") {
			continue
		}
		for _, l := range strings.Split(block, "\n")[1:] {
			if j := strings.Index(l, " #"); j >= 0 {
				l = l[:j]
			}
			if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") { // a comment on its own line
				continue
			}
			c := readmeCommand{line: l}
			for _, w := range strings.Fields(l) {
				if len(c.argv) == 0 && envWordRE.MatchString(w) {
					c.env = append(c.env, w)
				} else {
					c.argv = append(c.argv, w)
				}
			}
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// find returns the first command whose words start with prefix, or fails the test.
func find(t *testing.T, cmds []readmeCommand, prefix ...string) readmeCommand {
	t.Helper()
	for _, c := range cmds {
		if len(c.argv) >= len(prefix) && slices.Equal(c.argv[:len(prefix)], prefix) {
			if strings.ContainsAny(c.line, `'"$\|;&<>`) && c.argv[0] != "export" {
				t.Fatalf("the README's %q needs a shell; this test runs plain words only", c.line)
			}
			return c
		}
	}
	t.Fatalf("the README's opening has no %q line", strings.Join(prefix, " "))
	return readmeCommand{}
}

// cleanEnv is this process's environment without ROLEGATE_* variables, which a person who just
// cloned the repository does not have, plus extra.
func cleanEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "ROLEGATE_") })
	return append(env, extra...)
}

// gitOut runs git in dir and returns its trimmed output, or fails the test.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// runURLRE and demoPasswordRE are what serve prints: the one URL, and, with stdout not a
// terminal, where the demo user's password went.
var (
	runURLRE       = regexp.MustCompile(`(?m)^Rolegate is running at (http://localhost:[0-9]+)$`)
	demoPasswordRE = regexp.MustCompile(`(?m)^Created demo user "demo"; standard output is not a terminal, so the password is in (\S+) \(mode 0600\)`)
)

// TestTheREADMEsFirstHourFromAFreshClone does what the README's opening says, with real processes,
// on a fresh clone of the committed tree (HEAD; uncommitted changes are not in it): the run
// command, read from README.md and run as written (plus --addr 127.0.0.1:0, so that a busy port
// 8080 does not fail it); the demo user's password from the file serve names; a sign-in through
// the form in Chromium at the printed URL; the demo account's role into the checker, which must say
// AWS would accept it; the README's build command and the documented exit statuses of the built
// binary on a fresh store; SIGTERM, after which serve must finish and exit; and a clone that git
// still calls clean, because .gitignore covers everything the first hour made.
func TestTheREADMEsFirstHourFromAFreshClone(t *testing.T) {
	start := time.Now()
	testtools.RequireTool(t, "git", "git")
	requireChromium(t)
	wd, _ := os.Getwd()
	root := gitOut(t, wd, "rev-parse", "--show-toplevel")
	head := gitOut(t, root, "rev-parse", "HEAD")
	if dirty := gitOut(t, root, "status", "--porcelain", "--untracked-files=no"); dirty != "" {
		t.Logf("the clone tests commit %.12s; the changes not committed in %s are not in it:\n%s", head, root, dirty)
	}
	clone := filepath.Join(t.TempDir(), "rolegate")
	gitOut(t, wd, "clone", "--quiet", root, clone)
	if got := gitOut(t, clone, "rev-parse", "HEAD"); got != head {
		t.Fatalf("the clone is at %s; want HEAD %s", got, head)
	}

	cmds := readmeOpening(t, filepath.Join(clone, "README.md"))
	runCmd := find(t, cmds, "go", "run", "./cmd/rolegate", "serve", "--demo")
	buildCmd := find(t, cmds, "go", "build")
	if !slices.ContainsFunc(runCmd.env, func(kv string) bool { return strings.HasPrefix(kv, "GOTOOLCHAIN=go") }) {
		t.Fatalf("the README's run command %q does not name the toolchain", runCmd.line)
	}
	goBin := testtools.RequireTool(t, "go", "golang-go")

	// The run command, in the clone, with the default build and module caches (so that go run reuses
	// them) and the environment the line sets. Its standard output is a file, not a terminal.
	args := append(slices.Clone(runCmd.argv[1:]), "--addr", "127.0.0.1:0") // any free port, not 8080
	srv := exec.Command(goBin, args...)
	srv.Dir, srv.Env = clone, cleanEnv(runCmd.env...)
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run starts rolegate as its child: signal both
	// Files, not pipes: rolegate, go run's child, holds them too, and Wait should wait for go alone.
	logs := t.TempDir()
	stdoutF, stdoutErr := os.Create(filepath.Join(logs, "stdout"))
	stderrF, stderrErr := os.Create(filepath.Join(logs, "stderr"))
	if err := errors.Join(stdoutErr, stderrErr); err != nil {
		t.Fatal(err)
	}
	defer stdoutF.Close()
	defer stderrF.Close()
	stdout := func() string { b, _ := os.ReadFile(stdoutF.Name()); return string(b) }
	stderr := func() string { b, _ := os.ReadFile(stderrF.Name()); return string(b) }
	srv.Stdout, srv.Stderr = stdoutF, stderrF
	if err := srv.Start(); err != nil {
		t.Fatalf("%s: %v", runCmd.line, err)
	}
	exited := make(chan struct{}) // closed when the go command has exited
	var exitErr error
	go func() { exitErr = srv.Wait(); close(exited) }()
	t.Cleanup(func() { // after a failure: nothing of the clone's may go on running
		syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	// The printed URL, then the line that names the demo password's file (printed after it).
	var base, pwFile string
	for deadline := time.Now().Add(5 * time.Minute); pwFile == ""; time.Sleep(50 * time.Millisecond) {
		out := stdout()
		if m := demoPasswordRE.FindStringSubmatch(out); m != nil {
			pwFile = m[1]
			if m := runURLRE.FindStringSubmatch(out); m != nil {
				base = m[1]
			}
			break
		}
		select {
		case <-exited:
			t.Fatalf("%s ended (%v) before printing the demo password's file:\n%s%s", runCmd.line, exitErr, out, stderr())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s printed no demo password's file in 5 minutes:\n%s%s", runCmd.line, out, stderr())
		}
	}
	out := stdout()
	t.Logf("%s (%s into the test) printed:\n%s", runCmd.line, time.Since(start).Round(time.Second), out)
	if base == "" || !strings.HasPrefix(out, "Rolegate is running at "+base+"\n") || strings.Count(out, "http") != 1 {
		t.Fatalf("serve printed\n%s\nwant one URL, first", out)
	}
	demoDir := filepath.Join(clone, "rolegate-demo-data")
	if filepath.Dir(pwFile) != demoDir {
		t.Errorf("the demo password is in %s; want it in the demo's own store %s", pwFile, demoDir)
	}
	if fi, err := os.Stat(pwFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the demo password's file %s: %v %v", pwFile, fi, err)
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(pwFile); err != nil { // as serve says: read it, then delete the file
		t.Fatal(err)
	}

	// The README's build command, meanwhile: go run compiled the packages, so this mostly links.
	built := make(chan struct{}) // closed when go build has ended
	var buildErr error
	go func() {
		defer close(built)
		c := exec.Command(goBin, buildCmd.argv[1:]...)
		c.Dir, c.Env = clone, cleanEnv(buildCmd.env...)
		if out, err := c.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	}()
	t.Cleanup(func() { <-built }) // before the clone is removed

	// A person: opens the printed URL, is sent to the sign-in form, signs in as demo, takes the demo
	// account's role from the portal and reads the checker's verdict.
	f := &fixture{t: t, base: base, sawCSP: make(chan struct{})}
	f.startBrowser()
	f.do("open the printed URL", chromedp.Navigate(base), chromedp.WaitVisible(signInPage))
	if loc := run(f, "location", chromedp.Location()); !strings.HasPrefix(loc, base+"/login") {
		t.Errorf("the printed URL led to %s; want the sign-in page", loc)
	}
	f.do("type the demo user's password",
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "demo"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), strings.TrimSpace(string(pw))),
	)
	f.clickThrough("sign in as demo", chromedp.CSS(`form[action="/login"] button[type=submit]`), portalPage)
	if a := f.alert(); a != "" {
		t.Fatalf("signing in as demo with the password from %s: the page says %q", pwFile, a)
	}
	f.clickThrough("take the demo account's DemoAdmin role",
		chromedp.CSS(`ul.accounts a.role[href*="account=111122223333&"][href$="&role=DemoAdmin"]`), chromedp.CSS(`section.checker h2`))
	if loc := run(f, "location", chromedp.Location()); loc != base+"/debug/aws-signin" {
		t.Errorf("the role led to %s; want the demo checker %s/debug/aws-signin", loc, base)
	}
	verdict := run(f, "the checker's verdict", chromedp.Text(chromedp.CSS(`section.checker h2`)))
	role := run(f, "the checker's role", chromedp.Evaluate[string](
		`(document.querySelector("section.checker h2 + p code") || {textContent: ""}).textContent`))
	if verdict != "AWS would sign you in" || role != "arn:aws:iam::111122223333:role/DemoAdmin" {
		t.Errorf("the checker says %q, as role %q; want AWS would sign you in as arn:aws:iam::111122223333:role/DemoAdmin\n%s",
			verdict, role, run(f, "the checker", chromedp.Text(chromedp.CSS(`section.checker`))))
	}
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(v, "\n"))
	}

	// The built binary, on a fresh store (the README's ./rolegate-data, in the clone), exits as the
	// README's opening documents.
	if <-built; buildErr != nil {
		t.Fatalf("%s: %v", buildCmd.line, buildErr)
	}
	o := slices.Index(buildCmd.argv, "-o")
	if o < 0 || o+1 == len(buildCmd.argv) {
		t.Fatalf("the README's build command %q names no -o output", buildCmd.line)
	}
	binary := filepath.Join(clone, buildCmd.argv[o+1])
	pathLine := `export PATH="$PWD/` + filepath.Dir(buildCmd.argv[o+1]) + `:$PATH"`
	if !slices.ContainsFunc(cmds, func(c readmeCommand) bool { return c.line == pathLine }) {
		t.Errorf("the README does not put the built binary first on PATH with %s", pathLine)
	}
	type exit struct {
		args           []string
		code           int
		stdout, stderr string
	}
	for _, e := range []exit{
		{[]string{"--version"}, 0, "rolegate ", ""},
		{[]string{"--data-dir", "./rolegat-data", "account", "list"}, 5, "", "rolegate: no Rolegate store in ./rolegat-data"},
		{[]string{"account", "add", "111122223333", "--session-duration", "forever"}, 2, "", `rolegate: invalid duration "forever"`},
		{[]string{"account", "add", "111122223333", "--alias", "prod"}, 0, "added account 111122223333 (prod)\n", ""},
		{[]string{"account", "add", "111122223333", "--alias", "prod"}, 6, "", "rolegate: account 111122223333 already exists"},
	} {
		c := exec.Command(binary, e.args...)
		c.Dir, c.Env = clone, cleanEnv("PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
		var so, se bytes.Buffer
		c.Stdout, c.Stderr = &so, &se
		err := c.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		line := "rolegate " + strings.Join(e.args, " ")
		if code != e.code || !strings.HasPrefix(so.String(), e.stdout) || !strings.HasPrefix(se.String(), e.stderr) ||
			(e.code == 0 && se.Len() != 0) || (e.code != 0 && (so.Len() != 0 || strings.Count(se.String(), "\n") != 1)) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q…, stderr %q… (one line when refused, none otherwise)",
				line, code, so.String(), se.String(), e.code, e.stdout, e.stderr)
		}
		if e.code == 0 && e.args[0] == "--version" {
			t.Logf("%s: %s", line, strings.TrimSpace(so.String()))
			if v := so.String(); strings.Contains(v, "commit ") && !strings.Contains(v, "commit "+head[:12]+",") {
				t.Errorf("%s says %q; want commit %.12s, unmodified", line, v, head) // when the build stamps VCS details
			}
		}
		if _, err := os.Stat(filepath.Join(clone, "rolegat-data")); err == nil {
			t.Fatalf("%s made the mistyped data dir", line)
		}
		if _, err := os.Stat(filepath.Join(clone, "rolegate-data")); e.code == 2 && err == nil {
			t.Fatalf("%s, refused as bad input, made the store", line)
		}
	}

	// SIGTERM, to go run and rolegate alike: rolegate finishes its requests, says so and exits.
	if err := syscall.Kill(-srv.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := false
	for deadline := time.Now().Add(30 * time.Second); !stopped && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		stopped = strings.Contains(stderr(), `"msg":"stopped"`)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("go run did not exit after SIGTERM")
	}
	if !stopped {
		t.Errorf("serve did not say it stopped within 30 s of SIGTERM:\n%s", stderr())
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after SIGTERM", base)
	}

	// The clone is as clean as git sees it: what the first hour made is ignored, nothing else is new.
	if st := gitOut(t, clone, "status", "--porcelain"); st != "" {
		t.Errorf("after the first hour git status in the clone says\n%s\nwant nothing: .gitignore must cover what Rolegate makes", st)
	}
	ignored := gitOut(t, clone, "status", "--porcelain", "--ignored")
	if want := "!! bin/\n!! rolegate-data/\n!! rolegate-demo-data/"; ignored != want {
		t.Errorf("git status --ignored in the clone says\n%s\nwant\n%s", ignored, want)
	}
	t.Logf("the first hour took %s", time.Since(start).Round(time.Second))
}

// The parser the first-hour test trusts with what to run: only ```sh blocks, only before the first
// "## " section, comments dropped (at the end of a line or on their own), assignments kept apart.
func TestTheREADMEsOpeningIsReadAsWritten(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	text := "# Rolegate\n\n```sh\n# set up first\nGOTOOLCHAIN=go1.27.3 go run ./cmd/rolegate serve --demo   # the demo\n\n" +
		"  # indented comment\nexport PATH=\"$PWD/bin:$PATH\"\n```\n\n```\nRolegate is running at http://localhost:8080\n```\n\n" +
		"```text\ngo build -o evil\n```\n\n## Later\n\n```sh\ngo build -o bin/rolegate ./cmd/rolegate\n```\n"
	if err := os.WriteFile(readme, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range readmeOpening(t, readme) {
		got = append(got, fmt.Sprintf("%q %q", c.env, c.argv))
	}
	want := []string{
		`["GOTOOLCHAIN=go1.27.3"] ["go" "run" "./cmd/rolegate" "serve" "--demo"]`,
		`[] ["export" "PATH=\"$PWD/bin:$PATH\""]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
