package awslogin_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/awslogin"
)

// FuzzParseEnvelope feeds the IdP's ECP reply to the reader `rolegate login --ecp` trusts with the
// roles it offers. A Response it takes grants at least one role, each a role and provider of one
// account in one partition as AWS accepts them, a SessionDuration of 0 or 900 to 43200 seconds;
// and the standalone copy it hands STS reads back as the same roles.
func FuzzParseEnvelope(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "golden", "*.xml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden Responses in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		resp := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), `<?xml version="1.0" encoding="UTF-8"?>`))
		f.Add([]byte(`<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Header>` +
			`<ecp:Response xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" soap11:mustUnderstand="1" soap11:actor="http://schemas.xmlsoap.org/soap/actor/next" AssertionConsumerServiceURL="https://signin.aws.amazon.com/saml"/>` +
			`</soap11:Header><soap11:Body>` + resp + `</soap11:Body></soap11:Envelope>`))
	}
	f.Add([]byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault><faultcode>S:Client</faultcode><faultstring>wrong password</faultstring></S:Fault></S:Body></S:Envelope>`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, fault, err := awslogin.ParseEnvelope(raw)
		if err != nil || r == nil {
			if r != nil || (err != nil && fault != "") {
				t.Fatalf("a reply read as both a Response and a fault or error: %v, %q, %v", r, fault, err)
			}
			if strings.ContainsFunc(fault, func(c rune) bool { return c < ' ' || c == 0x7f }) {
				t.Fatalf("the fault's words %q hold control characters", fault)
			}
			return
		}
		if len(r.Roles) == 0 {
			t.Fatal("a Response taken with no role")
		}
		for _, role := range r.Roles {
			pair := assertions.RolePair{RoleARN: role.RoleARN, ProviderARN: role.ProviderARN}
			if err := assertions.CheckRoles([]assertions.RolePair{pair}); err != nil || len(role.Account) != 12 {
				t.Fatalf("a role taken from the Response: %+v (%v)", role, err)
			}
		}
		if d := r.SessionDuration; d != 0 && (d < 900*time.Second || d > 43200*time.Second) {
			t.Fatalf("SessionDuration %s taken", d)
		}
		again, err := awslogin.ParseResponse(r.Raw)
		if err != nil || !reflect.DeepEqual(again.Roles, r.Roles) || again.SessionName != r.SessionName || again.SessionDuration != r.SessionDuration {
			t.Fatalf("the Response handed to STS reads otherwise: %v\n%s", err, r.Raw)
		}
	})
}
