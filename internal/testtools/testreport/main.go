// Command testreport runs go test with its arguments (make test: ./...) and prints what plain
// go test prints, then one line for each tool whose tests were skipped because it is missing.
// Plain go test cannot say it: it throws away all output of a passing package unless -v is given,
// skip messages included. testreport reads go test -json instead and exits with go test's status.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"rolegate/internal/testtools"
)

// event is the part of a go test -json (test2json) event that testreport reads.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// missingLine finds testtools.Missing's skip message: the tool's group and why it is missing.
var missingLine = regexp.MustCompile(regexp.QuoteMeta(testtools.Marker) + ` \[([^\]]+)\]: (.*)`)

// group counts the tests skipped for one missing tool.
type group struct {
	name, why string
	tests     int
	pkgs      []string
}

// report turns the event stream into plain go test output on w and collects the skipped groups.
type report struct {
	w         io.Writer
	events    map[string][]event  // a package's events, until it ends
	failed    map[string]bool     // package + "\x00" + test
	seen      map[string][]string // package + "\x00" + test: the skip message's group and why
	groups    []*group
	verbose   bool // -v: every line as it comes, as go test -v prints it
	anyFailed bool // a final FAIL line, as go test prints it
}

func main() {
	cmd := exec.Command("go", append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	cmd.Env = append(os.Environ(), testtools.QuietEnv+"=1") // the report says it; the tests need not tell the terminal
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout)
	r.verbose = slices.Contains(os.Args[1:], "-v") || slices.Contains(os.Args[1:], "-v=true")
	r.read(out)
	r.summary()
	if err := cmd.Wait(); err != nil {
		if x, ok := err.(*exec.ExitError); ok {
			os.Exit(x.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
}

func newReport(w io.Writer) *report {
	return &report{w: w, events: map[string][]event{}, failed: map[string]bool{}, seen: map[string][]string{}}
}

// read consumes go test -json output; a line that is not an event is passed through.
func (r *report) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			fmt.Fprintln(r.w, sc.Text())
			continue
		}
		r.add(e)
	}
}

func (r *report) add(e event) {
	key := e.Package + "\x00" + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Action == "output":
		if r.verbose {
			fmt.Fprint(r.w, e.Output)
		}
		if e.Test != "" {
			if m := missingLine.FindStringSubmatch(e.Output); m != nil {
				r.seen[key] = m[1:]
			}
		}
		r.events[e.Package] = append(r.events[e.Package], e)
	case e.Test != "" && e.Action == "fail":
		r.failed[key] = true
	case e.Test != "" && e.Action == "skip":
		if m, ok := r.seen[key]; ok {
			r.count(e.Package, m[0], m[1])
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		r.flush(e.Package, e.Action == "fail")
	}
}

// flush prints a package as plain go test would: its summary line, and when it failed, the output
// of the package and of its failed tests.
func (r *report) flush(pkg string, failed bool) {
	r.anyFailed = r.anyFailed || failed
	defer delete(r.events, pkg)
	if r.verbose { // already printed
		return
	}
	for _, e := range r.events[pkg] {
		show := strings.HasPrefix(e.Output, "ok  \t") || strings.HasPrefix(e.Output, "?   \t")
		if failed {
			show = (e.Test == "" || r.failed[pkg+"\x00"+e.Test]) && !strings.HasPrefix(e.Output, "=== ")
		}
		if show {
			fmt.Fprint(r.w, e.Output)
		}
	}
}

func (r *report) count(pkg, name, why string) {
	i := slices.IndexFunc(r.groups, func(g *group) bool { return g.name == name })
	if i < 0 {
		r.groups = append(r.groups, &group{name: name, why: why})
		i = len(r.groups) - 1
	}
	g := r.groups[i]
	g.tests++
	if !slices.Contains(g.pkgs, pkg) {
		g.pkgs = append(g.pkgs, pkg)
	}
}

// summary prints one line per missing tool, after every package's result.
func (r *report) summary() {
	if r.anyFailed {
		fmt.Fprintln(r.w, "FAIL")
	}
	for _, g := range r.groups {
		fmt.Fprintf(r.w, "SKIPPED %d tests that need %s (%s): %s; with CI=true they fail\n",
			g.tests, g.name, strings.Join(g.pkgs, ", "), g.why)
	}
}
