package awslogin_test

import (
	"context"
	"html"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/awslogin"
	"rolegate/store"
)

var shownCodeRE = regexp.MustCompile(`\n    ([A-Z]{4}-[A-Z]{4})\n`)

// decide has the person type code on /cli/device and answer step (approve or deny) with the first role.
func (p *webPerson) decide(code, step string) string {
	p.t.Helper()
	form := p.form(p.get(p.idp + "/cli/device"))
	form.Set("user_code", code)
	res, err := p.c.PostForm(p.idp+"/cli/device", form)
	if err != nil {
		p.t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	form = p.form(string(page))
	if form.Get("user_code") == "" { // refused: no request to answer
		return string(page)
	}
	if m := choiceRE.FindStringSubmatch(string(page)); m != nil {
		form.Set("choice", html.UnescapeString(m[1]))
	}
	form.Set("step", step)
	res, err = p.c.PostForm(p.idp+"/cli/device", form)
	if err != nil {
		p.t.Fatal(err)
	}
	done, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return string(done)
}

// deviceRun is a device-code login whose waits move the server's clock instead of sleeping;
// before the poll after wait n, act(n, code) runs, and how long each wait was is kept.
type deviceRun struct {
	p     *realIdP
	out   strings.Builder
	mu    sync.Mutex
	waits []time.Duration
	act   func(n int, code string)
}

func (r *deviceRun) source() *awslogin.Device {
	return &awslogin.Device{URL: r.p.url, Host: "build-host", Out: &r.out, Sleep: func(_ context.Context, d time.Duration) error {
		r.mu.Lock()
		n := len(r.waits)
		r.waits = append(r.waits, d)
		r.mu.Unlock()
		m := shownCodeRE.FindStringSubmatch(r.out.String())
		if m == nil {
			return io.ErrUnexpectedEOF
		}
		r.act(n, m[1])
		return nil
	}}
}

func (r *deviceRun) advance(d time.Duration) { r.p.skew.Add(int64(d)) }

func TestDeviceLoginApprovedElsewhereWritesTheProfile(t *testing.T) {
	p := newRealIdP(t)
	sts, file, env := p.stsAndFile(t)
	person := signedIn(t, p.url, "alice")
	r := &deviceRun{p: p}
	var done string
	r.act = func(n int, code string) {
		switch n {
		case 0: // the first poll: nobody has answered yet
			r.advance(5 * time.Second)
		case 1: // polled after a second only: slow_down, and the client waits 5 s more from then on
			r.advance(time.Second)
		case 2:
			r.advance(10 * time.Second)
			done = person.decide(code, "approve")
		}
	}
	l := &awslogin.Login{Source: r.source(), Out: io.Discard, Env: func(k string) string { return env[k] }, Profile: "ssh", Account: "prod"}
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, r.out.String())
	}
	if got := r.waits; len(got) != 3 || got[0] != 5*time.Second || got[1] != 5*time.Second || got[2] != 10*time.Second {
		t.Fatalf("the client waited %v; want 5s, 5s, then 10s after slow_down", got)
	}
	if !strings.Contains(done, "build-host") || !strings.Contains(done, "Approved") {
		t.Fatalf("the approval page ended with:\n%s", done)
	}
	if !strings.Contains(r.out.String(), p.url+"/cli/device") {
		t.Errorf("the terminal does not show where to go:\n%s", r.out.String())
	}
	if iss := sts.Issued(); len(iss) != 1 || iss[0].RoleArn != res.Role.RoleARN || !strings.Contains(readFile(t, file), "[ssh]") {
		t.Fatalf("STS issued %+v", iss)
	}
}

func TestDeviceLoginStopsInPlainWords(t *testing.T) {
	p := newRealIdP(t)
	t.Run("denied on the approval page", func(t *testing.T) {
		person := signedIn(t, p.url, "alice")
		r := &deviceRun{p: p}
		r.act = func(n int, code string) {
			r.advance(5 * time.Second)
			if n == 0 {
				person.decide(code, "deny")
			}
		}
		_, err := r.source().SAMLResponse(context.Background(), "prod")
		wantErr(t, err, store.Forbidden, "not approved", "denied on the approval page")
	})
	t.Run("nobody approves within ten minutes", func(t *testing.T) {
		r := &deviceRun{p: p}
		r.act = func(int, string) { r.advance(4 * time.Minute) }
		_, err := r.source().SAMLResponse(context.Background(), "prod")
		wantErr(t, err, store.Unauthorized, "expired before anyone approved it", "run rolegate login again")
		if len(r.waits) != 3 {
			t.Errorf("%d polls; the third, at twelve minutes, must find the code expired", len(r.waits))
		}
	})
	t.Run("asked for an account where the approver holds no role", func(t *testing.T) {
		alice := signedIn(t, p.url, "alice")
		r := &deviceRun{p: p}
		var tried, denied string
		r.act = func(n int, code string) {
			r.advance(5 * time.Second)
			if n == 0 {
				// No role to approve: approving is refused, denying stops the command line.
				tried = alice.decide(code, "approve")
				denied = alice.decide(code, "deny")
			}
		}
		_, err := r.source().SAMLResponse(context.Background(), "staging")
		wantErr(t, err, store.Forbidden, "not approved")
		if !strings.Contains(tried, "hold no role") || strings.Contains(tried, "device-approve") || !strings.Contains(denied, "Denied") {
			t.Errorf("the approval pages:\n%s\n%s", tried, denied)
		}
	})
	t.Run("an IdP that is not Rolegate", func(t *testing.T) {
		_, err := (&awslogin.Device{URL: "http://idp.example.com", Out: io.Discard}).SAMLResponse(context.Background(), "")
		wantErr(t, err, store.Invalid, "plain http")
	})
}
