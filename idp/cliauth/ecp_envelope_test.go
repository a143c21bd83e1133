package cliauth_test

import (
	"encoding/xml"
	"io"
	"rolegate/idp/internal/idptest"
	"strings"
	"testing"
)

// TestECPAnswerIsOneEnvelopeWithTheResponseInItsBody reads the answer with encoding/xml, which
// takes one root element and nothing after it: a Response written after the envelope, or a
// replacement character left in the Body, is caught here (etree's // searches would still find it).
func TestECPAnswerIsOneEnvelopeWithTheResponseInItsBody(t *testing.T) {
	w := newAWSWeb(t)
	resp, body := w.ECP(t, idptest.ECPCall{Path: "/saml/ecp?account=prod", User: "alice", PW: "correct horse battery", Body: w.ECPBody()})
	if resp.StatusCode != 200 {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	dec := xml.NewDecoder(strings.NewReader(body))
	var env struct {
		XMLName xml.Name
		Body    struct {
			Chars string `xml:",chardata"`
			Inner []struct {
				XMLName xml.Name
			} `xml:",any"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	if err := dec.Decode(&env); err != nil {
		t.Fatal(err)
	}
	if env.XMLName.Local != "Envelope" || len(env.Body.Inner) != 1 || env.Body.Inner[0].XMLName.Local != "Response" ||
		env.Body.Inner[0].XMLName.Space != "urn:oasis:names:tc:SAML:2.0:protocol" || strings.TrimSpace(env.Body.Chars) != "" {
		t.Fatalf("the Body holds %+v and text %q, not the Response alone:\n%s", env.Body.Inner, env.Body.Chars, body)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
			t.Fatalf("something after the envelope: %#v\n%s", tok, body)
		}
	}
}
