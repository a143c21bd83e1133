package testtools

import (
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how Missing stopped the test.
type fakeTB struct {
	testing.TB
	how, msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.how, f.msg = "fatal", format
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.how = "skip"
	if len(args) > 0 {
		f.msg = args[0].(string) + " " + args[1].(string)
	}
	runtime.Goexit()
}

func TestMissingFailsOnlyInCI(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{{"true", "fatal"}, {"1", "fatal"}, {"", "skip"}, {"false", "skip"}} {
		t.Setenv("CI", tc.ci)
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Missing(f, "xmlsec1", "xmlsec1 not found") }()
		<-done
		if f.how != tc.want {
			t.Errorf("CI=%q: got %q, want %q", tc.ci, f.how, tc.want)
		}
	}
}

func TestRequireToolFindsACommandAndStopsOnAMissingOne(t *testing.T) {
	t.Setenv("CI", "")
	if p := RequireTool(t, "go", "golang"); !strings.HasSuffix(p, "go") {
		t.Fatalf("RequireTool(go) = %q", p)
	}
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); RequireTool(f, "rolegate-no-such-tool", "nothing") }()
	<-done
	if f.how != "skip" || f.msg != Marker+" rolegate-no-such-tool" {
		t.Fatalf("got %q %q", f.how, f.msg)
	}
}
