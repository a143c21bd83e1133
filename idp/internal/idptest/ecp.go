package idptest

import (
	"context"
	"io"
	"net/http"
	"rolegate/store"
	"strings"
	"testing"
	"time"
)

// SAML2AWSBody is the SOAP request saml2aws's ShibbolethECP provider sends (its template,
// byte for byte): a bare UUID for the ID, the local time with its offset, a padded Issuer.
func SAML2AWSBody(id string, at time.Time, acs, issuer string) string {
	return `
<S:Envelope 
    xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"
    xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" 
    xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp">
    <S:Body> 
        <saml2p:AuthnRequest
		ID="` + id + `" 
		ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS"
		AssertionConsumerServiceURL="` + acs + `"
		IssueInstant="` + at.Format(time.RFC3339) + `"
		Version="2.0">
			<saml2:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">
				` + issuer + `
			</saml2:Issuer>
		</saml2p:AuthnRequest>       
     </S:Body> 
</S:Envelope>`
}

const SigninACS = "https://signin.aws.amazon.com/saml"

// ECPBody is saml2aws's request, issued now in UTC+10.
func (w *AWSWeb) ECPBody() string {
	return SAML2AWSBody("36eab3be-da04-41d0-90a4-cf710ba49564", w.Clock.Now().In(time.FixedZone("AEST", 10*3600)), SigninACS, "urn:amazon:webservices")
}

// ECPCall is one ECP request: Basic credentials (none when user is ""), a body sent chunked when
// chunked, and header pairs.
type ECPCall struct {
	Path, User, PW, Body string
	Chunked              bool
	Hdr                  []string
}

func (w *AWSWeb) ECP(t testing.TB, call ECPCall) (*http.Response, string) {
	t.Helper()
	var body io.Reader = strings.NewReader(call.Body)
	if call.Chunked {
		body = io.MultiReader(strings.NewReader(call.Body)) // no length: Transfer-Encoding chunked
	}
	path := call.Path
	if path == "" {
		path = "/saml/ecp"
	}
	req, err := http.NewRequest(http.MethodPost, w.Srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	if call.User != "" {
		req.SetBasicAuth(call.User, call.PW)
	}
	for i := 0; i+1 < len(call.Hdr); i += 2 {
		req.Header.Set(call.Hdr[i], call.Hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if call.Chunked && len(resp.Request.TransferEncoding) == 0 && req.ContentLength > 0 {
		t.Fatal("the request was not sent chunked")
	}
	return resp, string(b)
}

// Update changes a user in the store.
func (w *AWSWeb) Update(t testing.TB, name string, mod func(*store.User)) {
	t.Helper()
	if _, err := w.Store.UpdateUser(context.Background(), name, func(u *store.User) error { mod(u); return nil }); err != nil {
		t.Fatal(err)
	}
}

// CLILogin signs alice in over ECP asking for a CLI session (with the code when given) and
// returns the session's token.
func (w *AWSWeb) CLILogin(t testing.TB, path string, hdr ...string) string {
	t.Helper()
	resp, body := w.ECP(t, ECPCall{Path: path, User: "alice", PW: "correct horse battery", Body: w.ECPBody(),
		Hdr: append([]string{"X-Rolegate-CLI-Session", "request", "X-Rolegate-Host", "laptop\u0085"}, hdr...)})
	tok := resp.Header.Get("X-Rolegate-CLI-Session")
	if resp.StatusCode != 200 || len(tok) != 43 || resp.Header.Get("X-Rolegate-CLI-Session-ID") == "" {
		t.Fatalf("no CLI session: %d %q\n%s", resp.StatusCode, tok, body)
	}
	exp, err := time.Parse(time.RFC3339, resp.Header.Get("X-Rolegate-CLI-Session-Expires"))
	if err != nil || !exp.Equal(w.Clock.Now().Add(12*time.Hour)) {
		t.Fatalf("expiry %q, want the web session's 12 h", resp.Header.Get("X-Rolegate-CLI-Session-Expires"))
	}
	return tok
}

// Refresh is POST /cli/refresh with the token (none when "") and a query.
func (w *AWSWeb) Refresh(t testing.TB, tok, query string) (*http.Response, string) {
	t.Helper()
	hdr := []string{}
	if tok != "" {
		hdr = []string{"Authorization", "Bearer " + tok}
	}
	return w.ECP(t, ECPCall{Path: "/cli/refresh" + query, Hdr: hdr})
}
