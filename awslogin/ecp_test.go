package awslogin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"rolegate/awslogin"
	"rolegate/awslogin/logintest"
	"rolegate/store"
)

func TestEndpoint(t *testing.T) {
	cases := []struct {
		name, base, account, want string
	}{
		{"a server URL gets the ECP path", "https://idp.example.com", "", "https://idp.example.com/saml/ecp"},
		{"a trailing slash is not doubled", "https://idp.example.com/rolegate/", "", "https://idp.example.com/rolegate/saml/ecp"},
		{"the ECP URL itself is kept", "https://idp.example.com/saml/ecp", "", "https://idp.example.com/saml/ecp"},
		{"the account goes in the query", "https://idp.example.com", "prod & co", "https://idp.example.com/saml/ecp?account=prod+%26+co"},
		{"plain http to this machine is allowed", "http://127.0.0.1:18500", "", "http://127.0.0.1:18500/saml/ecp"},
		{"plain http to localhost is allowed", "http://localhost:18500", "", "http://localhost:18500/saml/ecp"},
		{"plain http across the network is refused: the password would travel in clear", "http://idp.example.com", "", ""},
		{"credentials in the URL are refused", "https://alice:pw@idp.example.com", "", ""},
		{"a URL without a host is refused", "idp.example.com", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := awslogin.Endpoint(c.base, c.account)
			if c.want == "" {
				wantErr(t, err, store.Invalid, "--url")
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func ecp(url string) *awslogin.ECP {
	return &awslogin.ECP{URL: url, Creds: awslogin.ECPCredentials{Username: "alice", Password: "pw"}}
}

func TestECPDoesNotFollowARedirectWithThePassword(t *testing.T) {
	var leaked []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	defer idp.Close()
	_, err := ecp(idp.URL).SAMLResponse(context.Background(), "")
	wantErr(t, err, store.Invalid, "redirected", "/collect", "--url")
	if len(leaked) != 0 {
		t.Fatalf("the redirect was followed: %q", leaked)
	}
}

func TestECPRefusalWordsCannotDriveTheTerminal(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"bad\u001b[2J\u001b]0;pwned\u0007 request, see https://idp.example.com\u202emoc.live"}`)
	}))
	defer idp.Close()
	_, err := ecp(idp.URL).SAMLResponse(context.Background(), "")
	wantErr(t, err, store.Invalid, "the IdP says: bad")
	if strings.ContainsAny(store.ErrorMessage(err), "\x1b\x07\u202e") {
		t.Fatalf("control or bidi characters reached the message: %q", store.ErrorMessage(err))
	}
}

func TestECPRefusesAnOversizedAnswer(t *testing.T) {
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("<a>"), 1<<19))
	}))
	defer idp.Close()
	_, err := ecp(idp.URL).SAMLResponse(context.Background(), "")
	wantErr(t, err, store.Internal, "larger than")
}

func TestECPAnswersThatAreNotAResponse(t *testing.T) {
	const soap = `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>%s</S:Body></S:Envelope>`
	const resp = `<p:Response xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion">%s</p:Response>`
	const success = `<p:Status><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></p:Status>`
	cases := []struct {
		name, body string
		code       store.Code
		words      []string
	}{
		{"an HTML page", "<html><body>Sign in</body></html>", store.Invalid, []string{"not a SOAP envelope"}},
		{"an empty SOAP body", fmt.Sprintf(soap, ""), store.Invalid, []string{"not a SOAP envelope"}},
		{"a failed SAML status", fmt.Sprintf(soap, fmt.Sprintf(resp, `<p:Status><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">`+
			`<p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></p:StatusCode><p:StatusMessage>bad`+"\u009b"+`31m</p:StatusMessage></p:Status>`)),
			store.Unauthorized, []string{"refused the sign-in", "AuthnFailed", "bad"}},
		{"an encrypted assertion", fmt.Sprintf(soap, fmt.Sprintf(resp, success+`<a:EncryptedAssertion/>`)),
			store.Invalid, []string{"encrypted", "--encrypt allowed"}},
		{"an assertion without roles", fmt.Sprintf(soap, fmt.Sprintf(resp, success+`<a:Assertion/>`)),
			store.Forbidden, []string{"no AWS role", "rolegate grant add"}},
		{"a SOAP fault", fmt.Sprintf(soap, `<S:Fault><faultcode>S:Server</faultcode><faultstring>The store is down.</faultstring></S:Fault>`),
			store.Invalid, []string{"The store is down."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, c.body) }))
			defer idp.Close()
			_, err := ecp(idp.URL).SAMLResponse(context.Background(), "")
			wantErr(t, err, c.code, c.words...)
			if strings.ContainsAny(store.ErrorMessage(err), "\x1b\u009b") {
				t.Fatalf("control characters reached the message: %q", store.ErrorMessage(err))
			}
		})
	}
}

// TestECPResponseWithNamespacesOnTheEnvelope moves the Response's namespace declarations up to the
// SOAP envelope, as some IdPs write them: the copy sent to STS must still mean the same and verify.
func TestECPResponseWithNamespacesOnTheEnvelope(t *testing.T) {
	r := newRig(t, map[string]logintest.User{"alice": alice})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out, _ := http.NewRequest(req.Method, r.idp.URL+req.URL.RequestURI(), req.Body)
		out.Header = req.Header
		res, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Error(err)
			return
		}
		doc := etree.NewDocument()
		doc.ReadFrom(res.Body)
		res.Body.Close()
		env := doc.Root()
		resp := env.FindElement("./Body/Response")
		for _, a := range append([]etree.Attr(nil), resp.Attr...) {
			if a.Space == "xmlns" {
				env.CreateAttr("xmlns:"+a.Key, a.Value)
				resp.RemoveAttr("xmlns:" + a.Key)
			}
		}
		doc.WriteTo(w)
	}))
	defer proxy.Close()
	toProxy := func(l *awslogin.Login) { l.Source.(*awslogin.ECP).URL = proxy.URL }
	if _, err := r.login("alice", alice.Password, "", nil, toProxy); err != nil {
		t.Fatal(err)
	}
	if len(r.sts.Issued()) != 1 {
		t.Fatal("STS issued nothing")
	}
}

func TestReadECPCredentials(t *testing.T) {
	cases := []struct {
		name      string
		flag      string
		env       map[string]string
		stdin     string
		fromStdin bool
		prompt    *fakePrompt
		want      awslogin.ECPCredentials
		asked     int
		code      store.Code
	}{
		{name: "the environment serves scripts", env: map[string]string{"ROLEGATE_USERNAME": "alice", "ROLEGATE_PASSWORD": "pw", "ROLEGATE_OTP": " 123456 "},
			want: awslogin.ECPCredentials{Username: "alice", Password: "pw", OTP: "123456"}},
		{name: "the flag beats the environment for the username", flag: "bob", env: map[string]string{"ROLEGATE_USERNAME": "alice", "ROLEGATE_PASSWORD": "pw"},
			want: awslogin.ECPCredentials{Username: "bob", Password: "pw"}},
		{name: "standard input gives the password and the code", flag: "alice", fromStdin: true, stdin: "pa ss\r\n654321\n",
			env:  map[string]string{"ROLEGATE_PASSWORD": "not this"},
			want: awslogin.ECPCredentials{Username: "alice", Password: "pa ss", OTP: "654321"}},
		{name: "standard input may hold the password alone", flag: "alice", fromStdin: true, stdin: "pw",
			want: awslogin.ECPCredentials{Username: "alice", Password: "pw"}},
		{name: "--password-stdin at a terminal is refused: the password would be echoed", flag: "alice", fromStdin: true, stdin: "pw\n",
			prompt: &fakePrompt{interactive: true}, code: store.Invalid},
		{name: "empty standard input is refused", flag: "alice", fromStdin: true, stdin: "", code: store.Invalid},
		{name: "a terminal is asked for what is missing", prompt: &fakePrompt{interactive: true, answers: []string{"alice", "secret"}},
			want: awslogin.ECPCredentials{Username: "alice", Password: "secret"}, asked: 2},
		{name: "without a terminal a missing password is an error", flag: "alice", code: store.Invalid},
		{name: "without a terminal a missing username is an error", env: map[string]string{"ROLEGATE_PASSWORD": "pw"}, code: store.Invalid},
		{name: "a username with a colon would split Basic credentials wrongly", flag: "al:ice", env: map[string]string{"ROLEGATE_PASSWORD": "pw"}, code: store.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.prompt
			if p == nil {
				p = &fakePrompt{}
			}
			got, err := awslogin.ReadECPCredentials(func(k string) string { return c.env[k] }, c.flag, strings.NewReader(c.stdin), c.fromStdin, p)
			if c.code != "" {
				wantErr(t, err, c.code)
				return
			}
			if err != nil || got != c.want || len(p.asked) != c.asked {
				t.Fatalf("got %+v, %v, asked %q; want %+v", got, err, p.asked, c.want)
			}
		})
	}
}

// TestECPRefusalsInPlainWords gives each refusal of Rolegate's /saml/ecp contract (a SOAP fault
// with the HTTP status of its kind, a Basic challenge on 401) and checks what the person is told.
func TestECPRefusalsInPlainWords(t *testing.T) {
	cases := []struct {
		name, otp string
		status    int
		header    [2]string
		fault     string
		code      store.Code
		words     []string
	}{
		{name: "a wrong password", status: 401, fault: "Wrong username or password.",
			code: store.Unauthorized, words: []string{`wrong username or password for "alice"`}},
		{name: "a missing code", status: 401, fault: "a one-time code is required: send your authenticator app's code in header X-Rolegate-OTP.",
			code: store.Unauthorized, words: []string{"needs a one-time code", "ROLEGATE_OTP", "--password-stdin"}},
		{name: "a wrong code", otp: "111111", status: 401, fault: "the one-time code is wrong (a recovery code is not accepted here).",
			code: store.Unauthorized, words: []string{"one-time code was refused", "fresh code"}},
		{name: "a code used twice", otp: "111111", status: 401, fault: "that code was used already: wait for your authenticator app to show the next one.",
			code: store.Unauthorized, words: []string{"one-time code was refused", "each code works once"}},
		{name: "throttled", status: 429, header: [2]string{"Retry-After", "300"}, fault: "Too many failed attempts. Try again in 5 minutes.",
			code: store.Unauthorized, words: []string{"wait 5m0s", "rolegate user unlock"}},
		{name: "a role not granted", status: 403, fault: "you may not sign in with that link; choose an account and role on your accounts page.",
			code: store.Forbidden, words: []string{"granted you no role", "--account", "rolegate grant add"}},
		{name: "a second factor the command line cannot use", status: 403, fault: "a second factor is needed and the command line takes only an authenticator app's code: add an authenticator app.",
			code: store.Forbidden, words: []string{"will not sign you in from the command line", "add an authenticator app"}},
		{name: "a bad request", status: 400, fault: "the ECP request was issued more than 5 minutes ago: check this machine's clock.",
			code: store.Invalid, words: []string{"refused the request (HTTP 400)", "clock"}},
		{name: "a server failure", status: 500, fault: "internal error.",
			code: store.Internal, words: []string{"failed (HTTP 500)", "try again later"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.status == 401 {
					w.Header().Set("WWW-Authenticate", `Basic realm="Rolegate"`)
				}
				if c.header[0] != "" {
					w.Header().Set(c.header[0], c.header[1])
				}
				w.WriteHeader(c.status)
				doc := etree.NewDocument()
				env := doc.CreateElement("soap11:Envelope")
				env.CreateAttr("xmlns:soap11", "http://schemas.xmlsoap.org/soap/envelope/")
				f := env.CreateElement("soap11:Body").CreateElement("soap11:Fault")
				f.CreateElement("faultcode").SetText("soap11:Client")
				f.CreateElement("faultstring").SetText(c.fault)
				doc.WriteTo(w)
			}))
			defer idp.Close()
			e := ecp(idp.URL)
			e.Creds.OTP = c.otp
			_, err := e.SAMLResponse(context.Background(), "")
			wantErr(t, err, c.code, append(c.words, "the IdP says: "+c.fault)...)
		})
	}
}
