package awslogin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"rolegate/store"
)

const (
	cliAuthorizePath = "/cli/authorize"
	cliTokenPath     = "/cli/token"
	cliClientID      = "rolegate-cli"
	// browserTimeout is how long the command line waits for the person in the browser.
	browserTimeout = 5 * time.Minute
)

// Browser gets a Response through the person's web browser (RFC 8252, native apps): it listens on
// a random port of 127.0.0.1 (or [::1]), opens the IdP's /cli/authorize there, where the person
// signs in (or is signed in already) and confirms a role, and the IdP sends the browser back to
// the listener with a one-time code. The code, with the verifier of the PKCE challenge the
// authorization carried, buys the Response at /cli/token. Someone who sees the code in the
// browser's history or a log gets nothing without the verifier, which never left this process.
type Browser struct {
	URL     string
	Role    string             // narrows the role picker in the browser; "" offers every role
	Open    func(string) error // opens a URL in a browser; nil: OpenBrowser(nil)
	Out     io.Writer          // where the URL is shown
	HTTP    *http.Client
	Timeout time.Duration // 0: five minutes
	// WantSession asks the IdP for a CLI session; Host names this machine in the user's list of
	// sessions. Session is the one the IdP issued.
	WantSession bool
	Host        string
	Session     *Session
}

// CLISession implements SessionSource.
func (b *Browser) CLISession() *Session { return b.Session }

// randomValue is 32 random bytes in base64url: a state or a PKCE verifier (43 characters).
func randomValue() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// callback is what arrived at the listener.
type callback struct {
	code string
	err  error
}

// SAMLResponse implements Source.
func (b *Browser) SAMLResponse(ctx context.Context, account string) (*Response, error) {
	authorize, err := idpURL(b.URL, cliAuthorizePath)
	if err != nil {
		return nil, err
	}
	state, err := randomValue()
	if err != nil {
		return nil, err
	}
	verifier, err := randomValue()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp", "[::1]:0"); err != nil {
			return nil, store.Errorf(store.Internal, "cannot listen on this machine's loopback address for the browser's answer: %v", err)
		}
	}
	redirect := "http://" + ln.Addr().String() + "/cb"
	got := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(state, got), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		// Let the browser's page finish loading before the listener goes.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {cliClientID}, "redirect_uri": {redirect}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if account != "" {
		q.Set("account", account)
	}
	if b.Role != "" {
		q.Set("role", b.Role)
	}
	authorize.RawQuery = q.Encode()
	out := b.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "Sign in and confirm in your browser. If it does not open, open this address on this machine:\n  %s\n", authorize)
	open := b.Open
	if open == nil {
		open = OpenBrowser(nil)
	}
	if err := open(authorize.String()); err != nil {
		fmt.Fprintf(out, "(no browser could be opened: %v; use --device-code to sign in on another device)\n", err)
	}
	timeout := b.Timeout
	if timeout == 0 {
		timeout = browserTimeout
	}
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	var cb callback
	select {
	case cb = <-got:
	case <-wait.C:
		return nil, store.Errorf(store.Unauthorized, "no answer from the browser within %s: run rolegate login again (or use --device-code)", timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if cb.err != nil {
		return nil, cb.err
	}
	token, err := idpURL(b.URL, cliTokenPath)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {cliClientID},
		"code": {cb.code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
	askSession(form, b.WantSession, b.Host)
	resp, sess, err := postToken(ctx, b.HTTP, token.String(), form)
	b.Session = sess
	return resp, err
}

// askSession adds to a token request the ask for a CLI session, and the machine's name.
func askSession(form url.Values, want bool, host string) {
	if want {
		form.Set("cli_session", "request")
		form.Set("host", host)
	}
}

// callbackHandler answers the browser at the listener. Only an answer that carries this login's
// state counts: anything else (another page's request to the port, a code meant for another
// login) is refused and the wait goes on.
func callbackHandler(state string, got chan<- callback) http.Handler {
	page := func(w http.ResponseWriter, status int, msg string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(status)
		io.WriteString(w, "Rolegate: "+msg+"\n")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/cb" {
			page(w, http.StatusNotFound, "nothing here")
			return
		}
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			page(w, http.StatusBadRequest, "this answer does not belong to the rolegate login waiting here; it was ignored")
			return
		}
		var cb callback
		switch {
		case q.Get("error") == "access_denied":
			cb.err = store.Errorf(store.Forbidden, "you cancelled the sign-in in the browser")
			page(w, http.StatusOK, "sign-in cancelled. You can close this tab.")
		case q.Get("error") != "":
			cb.err = store.Errorf(store.Unauthorized, "the IdP refused the sign-in (%s)", printable(q.Get("error")))
			page(w, http.StatusOK, "the sign-in failed. Return to your terminal.")
		case q.Get("code") == "":
			page(w, http.StatusBadRequest, "the answer carries no code")
			return
		default:
			cb.code = q.Get("code")
			page(w, http.StatusOK, "signed in. Return to your terminal; you can close this tab.")
		}
		select {
		case got <- cb:
		default: // an answer came already
		}
	})
}

// tokenAnswer is a token endpoint's JSON: the Response, or an OAuth error (RFC 6749 §5.2).
type tokenAnswer struct {
	SAMLResponse string   `json:"saml_response"`
	ACS          string   `json:"acs"`
	Omitted      string   `json:"omitted"`
	Session      *Session `json:"cli_session"`
	Error        string   `json:"error"`
	Description  string   `json:"error_description"`
}

// errToken is a token endpoint's refusal; Code is its OAuth error code.
type errToken struct {
	Code   string
	Status int
	Err    error
}

func (e *errToken) Error() string { return e.Err.Error() }
func (e *errToken) Unwrap() error { return e.Err }

// postToken posts form to a token endpoint and reads the Response and the CLI session issued with
// it (nil when none was), or the refusal in plain words.
func postToken(ctx context.Context, hc *http.Client, endpoint string, form url.Values) (*Response, *Session, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, raw, err := send(hc, req)
	if err != nil {
		return nil, nil, err
	}
	var a tokenAnswer
	if json.Unmarshal(raw, &a) != nil {
		return nil, nil, store.Errorf(store.Internal, "the IdP at %s answered %d without JSON: is --url a Rolegate server?", endpoint, res.StatusCode)
	}
	if res.StatusCode != http.StatusOK {
		return nil, nil, tokenRefusal(res, a)
	}
	doc, err := base64.StdEncoding.DecodeString(a.SAMLResponse)
	if err != nil {
		return nil, nil, store.Errorf(store.Internal, "the IdP's answer holds no base64 SAML Response")
	}
	resp, err := ParseResponse(doc)
	if err != nil {
		return nil, nil, err
	}
	resp.ACS, resp.Omitted = a.ACS, printable(a.Omitted)
	if a.Session != nil && (a.Session.Token == "" || len(a.Session.Token) > 128 || a.Session.Expires.IsZero()) {
		a.Session = nil
	} else if a.Session != nil {
		a.Session.ID = printable(a.Session.ID)
	}
	return resp, a.Session, nil
}

// tokenRefusal puts a token endpoint's refusal in words, with the exit status of its kind.
func tokenRefusal(res *http.Response, a tokenAnswer) error {
	said := printable(a.Description)
	code := store.Unauthorized
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		wait := "a while"
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = (time.Duration(s) * time.Second).String()
		}
		said = "too many requests from this address: wait " + wait + " and try again"
	case res.StatusCode == http.StatusForbidden:
		code = store.Forbidden
	case res.StatusCode >= 500:
		code = store.Internal
	}
	if said == "" {
		said = "no reason given"
	}
	return &errToken{Code: printable(a.Error), Status: res.StatusCode, Err: store.Errorf(code, "the IdP refused: %s", said)}
}

// OpenBrowser returns a function that opens a URL in the person's browser: $BROWSER (the first
// of its colon-separated commands, "%s" standing for the URL), else open on macOS, the URL handler
// on Windows, xdg-open elsewhere. env nil reads nothing ($BROWSER unset).
func OpenBrowser(env func(string) string) func(string) error {
	return func(u string) error {
		var name string
		var args []string
		b := ""
		if env != nil {
			b, _, _ = strings.Cut(env("BROWSER"), ":")
		}
		switch f := strings.Fields(b); {
		case len(f) > 0:
			name = f[0]
			subst := false
			for _, a := range f[1:] {
				if strings.Contains(a, "%s") {
					a, subst = strings.ReplaceAll(a, "%s", u), true
				}
				args = append(args, a)
			}
			if !subst {
				args = append(args, u)
			}
		case runtime.GOOS == "darwin":
			name, args = "open", []string{u}
		case runtime.GOOS == "windows":
			name, args = "rundll32", []string{"url.dll,FileProtocolHandler", u}
		default:
			name, args = "xdg-open", []string{u}
		}
		cmd := exec.Command(name, args...)
		if err := cmd.Start(); err != nil {
			return err
		}
		go cmd.Wait()
		return nil
	}
}

// errorCode is the OAuth error code of a token endpoint's refusal, "" for other errors.
func errorCode(err error) string {
	var e *errToken
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
