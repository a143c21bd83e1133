package cliauth_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/idp/cliauth"
	"rolegate/idp/internal/idptest"
	"rolegate/internal/fuzzcheck"
	"rolegate/store"
)

// ecpRead is the request as encoding/xml, a second XML reader, sees it: the ID and ACS attributes
// (in no namespace) of the AuthnRequest in the SOAP Body, and the text of its Issuers.
func ecpRead(body []byte) (id, acs string, issuers []string, err error) {
	const soap, samlp, saml = "http://schemas.xmlsoap.org/soap/envelope/", "urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:2.0:assertion"
	d := xml.NewDecoder(bytes.NewReader(body))
	var path []xml.Name
	var text *strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return id, acs, issuers, nil
		} else if err != nil {
			return "", "", nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			path = append(path, tok.Name)
			if len(path) == 3 && path[0] == (xml.Name{Space: soap, Local: "Envelope"}) && path[1] == (xml.Name{Space: soap, Local: "Body"}) &&
				tok.Name == (xml.Name{Space: samlp, Local: "AuthnRequest"}) {
				for _, a := range tok.Attr {
					switch {
					case a.Name.Space != "":
					case a.Name.Local == "ID" && id == "":
						id = a.Value
					case a.Name.Local == "AssertionConsumerServiceURL" && acs == "":
						acs = a.Value
					}
				}
			}
			if len(path) == 4 && path[2].Local == "AuthnRequest" && tok.Name == (xml.Name{Space: saml, Local: "Issuer"}) {
				text = new(strings.Builder)
			}
		case xml.CharData:
			if text != nil {
				text.Write(tok)
			}
		case xml.EndElement:
			if len(path) == 4 && text != nil {
				issuers, text = append(issuers, text.String()), nil
			}
			path = path[:len(path)-1]
		}
	}
}

// FuzzParseECP feeds SOAP bodies to the reader of POST /saml/ecp. A refusal is Invalid (a SOAP
// fault with a 4xx), never an internal error. An accepted request has an ID of at most 256
// characters without white space or control characters, and encoding/xml reads the same ID, ACS and
// an AWS Issuer from it: the two XML readers never disagree about what was asked.
func FuzzParseECP(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Add([]byte(idptest.SAML2AWSBody("36eab3be-da04-41d0-90a4-cf710ba49564", now.In(time.FixedZone("AEST", 10*3600)), idptest.SigninACS, "urn:amazon:webservices")))
	f.Add([]byte(idptest.SAML2AWSBody("_x", now.Add(-time.Minute), "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml", "urn:amazon:webservices:govcloud")))
	f.Add([]byte(idptest.SAML2AWSBody("id", now, "", "urn:amazon:webservices:cn-north-1")))
	f.Add([]byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" samlp:ID="_0" samlp:AssertionConsumerServiceURL="https://evil.example/" ID="_1" Version="2.0" IssueInstant="2030-01-02T03:04:05Z" AssertionConsumerServiceURL="https://signin.aws.amazon.com/saml"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">urn:amazon:webservices</saml:Issuer></samlp:AuthnRequest></S:Body></S:Envelope>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, acs, err := cliauth.ParseECP(body, now)
		if err != nil {
			if !store.IsCode(err, store.Invalid) {
				t.Fatalf("ParseECP: %v, not Invalid", err)
			}
			return
		}
		if id == "" || len(id) > 256 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(acs) > 256 {
			t.Fatalf("accepted the ID %q and ACS %q", id, acs)
		}
		rid, racs, issuers, err := ecpRead(body)
		if err != nil {
			t.Fatalf("accepted a body encoding/xml cannot read: %v", err)
		}
		if rid != id || racs != acs {
			t.Fatalf("ParseECP read ID %q and ACS %q; encoding/xml reads %q and %q", id, acs, rid, racs)
		}
		aws := []string{"urn:amazon:webservices", "urn:amazon:webservices:govcloud", "urn:amazon:webservices:cn-north-1", "urn:amazon:webservices:cn-northwest-1"}
		if !slices.ContainsFunc(issuers, func(s string) bool { return slices.Contains(aws, strings.TrimSpace(s)) }) {
			t.Fatalf("accepted a request whose Issuers read %q to encoding/xml", issuers)
		}
	})
}

// FuzzReadAuthorize feeds the parameters of /cli/authorize (`rolegate login --browser`). A refusal
// is Invalid; an accepted redirect URI is plain http to 127.0.0.1 or [::1] on a port, as written
// and as net/url reads it, with no user info, query or fragment, and its origin is that authority.
func FuzzReadAuthorize(f *testing.F) {
	state, challenge := "abcdefghijklmnop", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	for _, r := range []string{"http://127.0.0.1:49152/callback", "http://[::1]:8080/", "http://localhost:80/",
		"http://127.0.0.1:0/", "http://127.0.0.1:080/", "http://127.0.0.1@evil:80/", "https://127.0.0.1:443/", "http://127.0.0.1:1/?x#y"} {
		f.Add(r, state, challenge, "S256", "prod", "Admin")
	}
	f.Fuzz(func(t *testing.T, redirect, state, challenge, method, account, role string) {
		q := url.Values{"client_id": {"rolegate-cli"}, "redirect_uri": {redirect}, "state": {state}, "code_challenge": {challenge},
			"code_challenge_method": {method}, "account": {account}, "role": {role}}
		origin, err := cliauth.ReadAuthorize(q.Get)
		if err != nil {
			if !store.IsCode(err, store.Invalid) {
				t.Fatalf("ReadAuthorize: %v, not Invalid", err)
			}
			return
		}
		ok := fuzzcheck.HasScheme(redirect, "http")
		authority := fuzzcheck.Authority(redirect)
		host, port := authority, ""
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port = authority[:i], authority[i+1:]
		}
		if !ok || (host != "127.0.0.1" && host != "[::1]") || port == "" || strings.Trim(port, "0123456789") != "" || strings.ContainsAny(redirect, "?#\\") {
			t.Fatalf("accepted the redirect URI %q", redirect)
		}
		if u, err := url.Parse(redirect); err != nil || u.Host != authority || origin != "http://"+authority {
			t.Fatalf("accepted %q: net/url reads host %q, origin %q", redirect, u.Host, origin)
		}
		if len(state) < 16 || len(challenge) != 43 || method != "S256" {
			t.Fatalf("accepted state %q, challenge %q, method %q", state, challenge, method)
		}
	})
}

// FuzzNormalUserCode feeds typed user codes (the device page's form). A code it keeps is eight
// characters of the code alphabet, is its own normal form, and is what was typed without dashes
// and spaces, in capitals.
func FuzzNormalUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDFGHJ", "AEIO-UBCD", "bcdf-ghjk-", "ſCDF-GHJK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		c := cliauth.NormalUserCode(typed)
		if c == "" {
			return
		}
		if len(c) != cliauth.UserCodeLen || strings.Trim(c, cliauth.UserCodeAlphabet) != "" || cliauth.NormalUserCode(c) != c {
			t.Fatalf("%q normalises to %q", typed, c)
		}
		if got := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(typed)); got != c {
			t.Fatalf("%q normalises to %q, not %q", typed, c, got)
		}
	})
}
