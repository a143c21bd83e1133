package sso_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/internal/token"
	"rolegate/idp/sso"
	"rolegate/store"
)

const (
	fuzzIdP = "https://idp.example.test"
	fuzzSP  = "https://sp.example.com/saml/metadata"
)

// fuzzSPMetadata has three ACS: two HTTP-POST ones, and a Redirect one that must never be used.
const fuzzSPMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + fuzzSP + `">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.com/saml/acs" index="1" isDefault="true"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example.com/saml/redirect" index="2"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.com/saml/acs2" index="3"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>`

// FuzzParseSPMetadata feeds SP metadata (`rolegate sp add`, and every read of a registered SP) to
// the parser. A refusal is Invalid, never an internal error; an accepted document names an entity
// ID of at most 1024 characters and at least one https HTTP-POST ACS, and every ACS it lists for
// assertions is an https URL with a host and no user info.
func FuzzParseSPMetadata(f *testing.F) {
	f.Add([]byte(fuzzSPMetadata))
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` + fuzzSPMetadata + `</md:EntitiesDescriptor>`))
	f.Add([]byte(strings.Replace(fuzzSPMetadata, "https://sp.example.com/saml/acs2", "http://sp.example.com/saml/acs2", 1)))
	f.Add([]byte(strings.Replace(fuzzSPMetadata, "<md:NameIDFormat>", `<md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>`, 1)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ed, err := sso.ParseSPMetadata(raw)
		if err != nil {
			if !store.IsCode(err, store.Invalid) {
				t.Fatalf("ParseSPMetadata: %v, not Invalid", err)
			}
			return
		}
		if ed.EntityID == "" || len(ed.EntityID) > 1024 {
			t.Fatalf("accepted the entity ID %q", ed.EntityID)
		}
		acs := sso.SPACSURLs(ed)
		if len(acs) == 0 {
			t.Fatal("accepted metadata with no https HTTP-POST ACS")
		}
		for _, a := range acs {
			u, err := url.Parse(a)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
				t.Fatalf("an ACS for assertions is %q", a)
			}
		}
	})
}

// FuzzSSORequest sends AuthnRequests to /saml/sso as an SP's browser would: the fuzzer's bytes as
// the SAMLRequest value itself (GET or POST), base64 in a POST form, or DEFLATE and base64 in the
// query. No request gets a 5xx. A request taken (303 to /saml/sso/continue) is kept under the
// handle its cookie carries, for the registered SP, with an ACS that is one of its https HTTP-POST
// ones and the RelayState sent; a request answered at once (200) posts only to such an ACS.
func FuzzSSORequest(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	w := idptest.NewAWSWebWith(f, func(cfg *idp.Config) {
		cfg.BaseURL, cfg.Now = fuzzIdP, func() time.Time { return now }
		cfg.RateBurst, cfg.RateEvery, cfg.PendingPerAddress = 1<<30, time.Nanosecond, 1<<30
	})
	ctx := context.Background()
	if err := w.Store.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: fuzzSP, Metadata: []byte(fuzzSPMetadata), Release: store.ReleaseAttrs}); err != nil {
		f.Fatal(err)
	}
	ed, err := sso.ParseSPMetadata([]byte(fuzzSPMetadata))
	if err != nil {
		f.Fatal(err)
	}
	posts := sso.SPACSURLs(ed)
	cookie := idp.ScopedCookie(fuzzIdP, sso.SSOCookie)

	req := func(id, attrs, inner string) []byte {
		return []byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
			`" Version="2.0" IssueInstant="2030-01-02T03:04:00Z" Destination="` + fuzzIdP + `/saml/sso"` + attrs + `><saml:Issuer>` + fuzzSP + `</saml:Issuer>` + inner + `</samlp:AuthnRequest>`)
	}
	for mode := range 4 {
		f.Add(uint8(mode), req("_a1m"+strconv.Itoa(mode), ` AssertionConsumerServiceURL="https://sp.example.com/saml/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"`, ""), "https://sp.example.com/back")
		f.Add(uint8(mode), req("_a2m"+strconv.Itoa(mode), ` AssertionConsumerServiceIndex="2"`, `<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/>`), "")
		f.Add(uint8(mode), req("_a3m"+strconv.Itoa(mode), ` AssertionConsumerServiceIndex="3" IsPassive="true"`, ""), "")
		f.Add(uint8(mode), req("_a4m"+strconv.Itoa(mode), ` ForceAuthn="true"`, `<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`), "r")
		f.Add(uint8(mode), req("_a5m"+strconv.Itoa(mode), ` AssertionConsumerServiceURL="https://sp.example.com/saml/redirect"`, `<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject>`), "")
	}
	h := w.Srv.Config.Handler
	f.Fuzz(func(t *testing.T, mode uint8, xml []byte, relay string) {
		var value string
		switch mode % 4 {
		case 0, 1:
			value = string(xml)
		case 2:
			value = base64.StdEncoding.EncodeToString(xml)
		case 3:
			value = deflated(t, xml)
		}
		form := url.Values{"SAMLRequest": {value}, "RelayState": {relay}}
		var r *http.Request
		if mode%4 == 1 || mode%4 == 2 {
			r = httptest.NewRequest(http.MethodPost, fuzzIdP+"/saml/sso", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r = httptest.NewRequest(http.MethodGet, fuzzIdP+"/saml/sso?"+form.Encode(), nil)
		}
		r.RemoteAddr = "192.0.2.1:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		resp := rec.Result()
		body := rec.Body.String()
		switch resp.StatusCode {
		case http.StatusBadRequest:
		case http.StatusSeeOther:
			if loc := resp.Header.Get("Location"); loc != "/saml/sso/continue" {
				t.Fatalf("a request was sent on to %q", loc)
			}
			var handle string
			for _, c := range resp.Cookies() {
				if c.Name == cookie {
					handle = c.Value
				}
			}
			p, err := w.Store.GetPendingRequest(ctx, token.Hash(handle), now)
			if err != nil {
				t.Fatalf("the request taken is not pending under its cookie's handle: %v", err)
			}
			if p.SPEntityID != fuzzSP || !slices.Contains(posts, p.ACSURL) {
				t.Fatalf("a request taken for %q answers at %q; the SP's HTTP-POST ACS are %q", p.SPEntityID, p.ACSURL, posts)
			}
			if p.RelayState != relay {
				t.Fatalf("the RelayState kept is %q, not the %q sent", p.RelayState, relay)
			}
		case http.StatusOK:
			action := ssoActionRE.FindStringSubmatch(body)
			if action == nil || !slices.Contains(posts, html.UnescapeString(action[1])) {
				t.Fatalf("a request answered at once posts to %q; the SP's HTTP-POST ACS are %q", action, posts)
			}
		default:
			t.Fatalf("/saml/sso answered %d:\n%s", resp.StatusCode, body)
		}
	})
}

// FuzzDecodeSAMLRequest feeds SAMLRequest values to the decoder of both bindings. The fuzzer's
// bytes are sent as they are (mode 0), base64 (1), or DEFLATE then base64 (2). Nothing inflated is
// ever over the bound; HTTP-POST gives back exactly the base64 content; HTTP-Redirect accepts
// exactly what inflates completely within the bound, to the same bytes.
func FuzzDecodeSAMLRequest(f *testing.F) {
	max := sso.MaxSAMLRequest
	req := []byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" IssueInstant="2030-01-02T03:04:05Z"/>`)
	for mode := range 3 {
		f.Add(uint8(mode), req)
	}
	f.Add(uint8(2), bytes.Repeat([]byte("A"), max))
	f.Add(uint8(2), bytes.Repeat([]byte("A"), max+1))
	f.Add(uint8(0), []byte("not base64!"))
	f.Fuzz(func(t *testing.T, mode uint8, b []byte) {
		encoded := string(b)
		switch mode % 3 {
		case 1:
			encoded = base64.StdEncoding.EncodeToString(b)
		case 2:
			encoded = deflated(t, b)
		}
		raw, b64err := base64.StdEncoding.DecodeString(encoded)
		out, err := sso.DecodeSAMLRequest(encoded, false)
		if (err == nil) != (b64err == nil) || err == nil && !bytes.Equal(out, raw) {
			t.Fatalf("HTTP-POST: decoded %q (%v); base64 says %q (%v)", out, err, raw, b64err)
		}
		out, err = sso.DecodeSAMLRequest(encoded, true)
		if len(out) > max {
			t.Fatalf("HTTP-Redirect: inflated %d bytes, over the bound of %d", len(out), max)
		}
		// What inflating with no bound gives, read up to twice the bound.
		full, ferr := raw, b64err
		if b64err == nil {
			full, ferr = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 2*int64(max)))
		}
		fits := ferr == nil && len(full) <= max
		if (err == nil) != fits || fits && !bytes.Equal(out, full) {
			t.Fatalf("HTTP-Redirect: inflated %d bytes (%v); inflating with no bound gives %d bytes (%v)", len(out), err, len(full), ferr)
		}
		if mode%3 == 2 && len(b) <= max && err != nil {
			t.Fatalf("HTTP-Redirect refused %d bytes deflated: %v", len(b), err)
		}
	})
}
