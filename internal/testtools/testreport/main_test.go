package main

import (
	"strings"
	"testing"
)

// stream is go test -json output: rolegate/a passes with two tests skipped for xmlsec1 and one
// skipped for another reason, rolegate/b fails, rolegate/c has no tests.
const stream = `{"Action":"start","Package":"rolegate/a"}
{"Action":"run","Package":"rolegate/a","Test":"TestSign"}
{"Action":"output","Package":"rolegate/a","Test":"TestSign","Output":"=== RUN   TestSign\n"}
{"Action":"output","Package":"rolegate/a","Test":"TestSign","Output":"    x_test.go:9: SKIPPED for a missing tool [xmlsec1]: xmlsec1 not found (apt-get install xmlsec1)\n"}
{"Action":"output","Package":"rolegate/a","Test":"TestSign","Output":"--- SKIP: TestSign (0.00s)\n"}
{"Action":"skip","Package":"rolegate/a","Test":"TestSign"}
{"Action":"output","Package":"rolegate/a","Test":"TestVerify/one","Output":"    x_test.go:9: SKIPPED for a missing tool [xmlsec1]: xmlsec1 not found (apt-get install xmlsec1)\n"}
{"Action":"skip","Package":"rolegate/a","Test":"TestVerify/one"}
{"Action":"output","Package":"rolegate/a","Test":"TestPty","Output":"    y_test.go:3: no pseudo-terminals here\n"}
{"Action":"skip","Package":"rolegate/a","Test":"TestPty"}
{"Action":"output","Package":"rolegate/a","Test":"TestOK","Output":"    z_test.go:1: chatter of a passing test\n"}
{"Action":"pass","Package":"rolegate/a","Test":"TestOK"}
{"Action":"output","Package":"rolegate/a","Output":"PASS\n"}
{"Action":"output","Package":"rolegate/a","Output":"ok  \trolegate/a\t0.1s\n"}
{"Action":"pass","Package":"rolegate/a"}
{"Action":"output","Package":"rolegate/b","Test":"TestGood","Output":"    g_test.go:1: fine\n"}
{"Action":"pass","Package":"rolegate/b","Test":"TestGood"}
{"Action":"output","Package":"rolegate/b","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"output","Package":"rolegate/b","Test":"TestBad","Output":"    b_test.go:7: got 1, want 2\n"}
{"Action":"output","Package":"rolegate/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"rolegate/b","Test":"TestBad"}
{"Action":"output","Package":"rolegate/b","Output":"FAIL\n"}
{"Action":"output","Package":"rolegate/b","Output":"FAIL\trolegate/b\t0.2s\n"}
{"Action":"fail","Package":"rolegate/b"}
{"Action":"output","Package":"rolegate/c","Output":"?   \trolegate/c\t[no test files]\n"}
{"Action":"skip","Package":"rolegate/c"}
not json: passed through
`

func TestReportPrintsPlainGoTestOutputAndOneLinePerMissingTool(t *testing.T) {
	var b strings.Builder
	r := newReport(&b)
	r.read(strings.NewReader(stream))
	r.summary()
	want := "ok  \trolegate/a\t0.1s\n" +
		"    b_test.go:7: got 1, want 2\n--- FAIL: TestBad (0.00s)\nFAIL\nFAIL\trolegate/b\t0.2s\n" +
		"?   \trolegate/c\t[no test files]\n" +
		"not json: passed through\n" +
		"FAIL\n" +
		"SKIPPED 2 tests that need xmlsec1 (rolegate/a): xmlsec1 not found (apt-get install xmlsec1); with CI=true they fail\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
