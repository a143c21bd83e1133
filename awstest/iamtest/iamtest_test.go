package iamtest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"rolegate/assertions"
	"rolegate/awstest/iamtest"
)

const acct = "111122223333"

func client(s *iamtest.IAM, c aws.Credentials) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.StaticCredentialsProvider{Value: c}, RetryMaxAttempts: 1})
}

// cert is a self-signed certificate over key.
func cert(t *testing.T, key any, pub any) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iamtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// metadata is Rolegate's metadata for a fresh 2048-bit signing certificate.
func metadata(t *testing.T) string {
	t.Helper()
	k := rsaKey(t)
	md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: "https://idp.example.com", SigningCerts: []*x509.Certificate{cert(t, k, &k.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

func pkcs8(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// code is the AWS error code and HTTP status of err.
func code(err error) (string, int) {
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	c, status := "", 0
	if errors.As(err, &ae) {
		c = ae.ErrorCode()
	}
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return c, status
}

func want(t *testing.T, err error, wantCode string, wantStatus int) {
	t.Helper()
	if c, s := code(err); c != wantCode || s != wantStatus {
		t.Fatalf("error = %v (%s %d), want %s %d", err, c, s, wantCode, wantStatus)
	}
}

func TestSAMLProviderLifecycle(t *testing.T) {
	s := iamtest.New(t)
	c := client(s, s.Credentials(acct))
	ctx := context.Background()
	md := metadata(t)

	created, err := c.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: aws.String(md)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.SAMLProviderArn)
	if arn != "arn:aws:iam::"+acct+":saml-provider/Rolegate" {
		t.Fatalf("ARN = %q", arn)
	}
	_, err = c.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: aws.String(md)})
	var exists *types.EntityAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("creating it twice: %v, want EntityAlreadyExists", err)
	}
	want(t, err, "EntityAlreadyExists", 409)

	got, err := c.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Provider(acct, "Rolegate")
	if aws.ToString(got.SAMLMetadataDocument) != md || aws.ToString(got.SAMLProviderUUID) != p.UUID || p.UUID == "" ||
		got.CreateDate == nil || got.ValidUntil == nil || got.AssertionEncryptionMode != "" || len(got.PrivateKeyList) != 0 {
		t.Fatalf("GetSAMLProvider = %+v, stand-in holds %+v", got, p)
	}

	list, err := c.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
	if err != nil || len(list.SAMLProviderList) != 1 || aws.ToString(list.SAMLProviderList[0].Arn) != arn {
		t.Fatalf("ListSAMLProviders = %+v, %v", list, err)
	}

	// A new metadata document, then a private key with encryption required.
	md2 := metadata(t)
	if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, SAMLMetadataDocument: &md2}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, AssertionEncryptionMode: types.AssertionEncryptionModeTypeRequired})
	want(t, err, "InvalidInput", 400) // required without a key
	key1 := pkcs8(t)
	if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, AddPrivateKey: &key1, AssertionEncryptionMode: types.AssertionEncryptionModeTypeRequired}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.SAMLMetadataDocument) != md2 || got.AssertionEncryptionMode != types.AssertionEncryptionModeTypeRequired || len(got.PrivateKeyList) != 1 {
		t.Fatalf("after update: %+v", got)
	}
	id1 := aws.ToString(got.PrivateKeyList[0].KeyId)
	if p, _ := s.Provider(acct, "Rolegate"); p.PrivateKeys[0].ID != id1 || p.PrivateKeys[0].PEM != key1 || got.PrivateKeyList[0].Timestamp == nil {
		t.Fatalf("key %q; stand-in holds %+v", id1, p.PrivateKeys)
	}

	// Rotation: add the new key, then remove the old one in a separate request.
	key2 := pkcs8(t)
	_, err = c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, AddPrivateKey: &key2, RemovePrivateKey: &id1})
	want(t, err, "InvalidInput", 400)
	if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, AddPrivateKey: &key2}); err != nil {
		t.Fatal(err)
	}
	key3 := pkcs8(t)
	_, err = c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, AddPrivateKey: &key3})
	want(t, err, "LimitExceeded", 409)
	if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, RemovePrivateKey: &id1}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Provider(acct, "Rolegate"); len(p.PrivateKeys) != 1 || p.PrivateKeys[0].PEM != key2 {
		t.Fatalf("after rotation the provider holds %+v", p.PrivateKeys)
	}
	_, err = c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, RemovePrivateKey: &id1})
	want(t, err, "NoSuchEntity", 404)
	bad := "not-a-key-id"
	_, err = c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, RemovePrivateKey: &bad})
	want(t, err, "ValidationError", 400)

	if _, err := c.DeleteSAMLProvider(ctx, &iam.DeleteSAMLProviderInput{SAMLProviderArn: &arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: &arn})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Fatalf("get after delete: %v, want NoSuchEntity", err)
	}
	want(t, err, "NoSuchEntity", 404)
}

func TestCreateSAMLProviderRefusesWhatIAMRefuses(t *testing.T) {
	s := iamtest.New(t)
	c := client(s, s.Credentials(acct))
	md := metadata(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecMD := strings.Replace(md, base64.StdEncoding.EncodeToString(mustFirstCert(t, md).Raw), base64.StdEncoding.EncodeToString(cert(t, ec, &ec.PublicKey).Raw), 1)
	noIDP := strings.ReplaceAll(md, "IDPSSODescriptor", "SPSSODescriptor")
	for _, tc := range []struct {
		name, provider, md, mode, key string
		code                          string
		status                        int
	}{
		{"metadata under 1000 characters", "P", md[:999], "", "", "ValidationError", 400},
		{"metadata that is not XML", "P", strings.Repeat("x", 1200), "", "", "InvalidInput", 400},
		{"metadata without an IDPSSODescriptor", "P", noIDP, "", "", "InvalidInput", 400},
		{"metadata with an EC signing key", "P", ecMD, "", "", "InvalidInput", 400},
		{"a provider name with a slash", "a/b", md, "", "", "ValidationError", 400},
		{"a provider name of 129 characters", strings.Repeat("a", 129), md, "", "", "ValidationError", 400},
		{"an unknown encryption mode", "P", md, "Sometimes", "", "ValidationError", 400},
		{"encryption required without a key", "P", md, "Required", "", "InvalidInput", 400},
		{"a private key that is not PEM", "P", md, "Allowed", "garbage", "InvalidInput", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &iam.CreateSAMLProviderInput{Name: &tc.provider, SAMLMetadataDocument: &tc.md, AssertionEncryptionMode: types.AssertionEncryptionModeType(tc.mode)}
			if tc.key != "" {
				in.AddPrivateKey = &tc.key
			}
			_, err := c.CreateSAMLProvider(context.Background(), in)
			want(t, err, tc.code, tc.status)
			if _, ok := s.Provider(acct, tc.provider); ok {
				t.Fatal("the provider was created")
			}
		})
	}
	// At the boundary: a name of 128 characters of every allowed kind, and a key with the mode.
	name, key := strings.Repeat("a", 125)+"_.-", pkcs8(t)
	if _, err := c.CreateSAMLProvider(context.Background(), &iam.CreateSAMLProviderInput{Name: &name, SAMLMetadataDocument: &md,
		AssertionEncryptionMode: types.AssertionEncryptionModeTypeAllowed, AddPrivateKey: &key}); err != nil {
		t.Fatal(err)
	}
	if p, ok := s.Provider(acct, name); !ok || p.EncryptionMode != "Allowed" || len(p.PrivateKeys) != 1 || len(p.PrivateKeys[0].ID) < 22 {
		t.Fatalf("provider = %+v", p)
	}
}

func mustFirstCert(t *testing.T, md string) *x509.Certificate {
	t.Helper()
	_, certs, err := assertions.ReadMetadata([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func TestAnAccountSeesOnlyItsOwnProviders(t *testing.T) {
	s := iamtest.New(t)
	ctx := context.Background()
	md := metadata(t)
	if _, err := client(s, s.Credentials(acct)).CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: &md}); err != nil {
		t.Fatal(err)
	}
	other := client(s, s.Credentials("444455556666"))
	arn := "arn:aws:iam::" + acct + ":saml-provider/Rolegate"
	_, err := other.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: &arn})
	want(t, err, "NoSuchEntity", 404)
	list, err := other.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
	if err != nil || len(list.SAMLProviderList) != 0 {
		t.Fatalf("the other account lists %+v, %v", list, err)
	}
	calls := s.Calls()
	if len(calls) != 3 || calls[0].Account != acct || calls[1].Account != "444455556666" || calls[1].Action != "GetSAMLProvider" ||
		calls[1].Params.Get("SAMLProviderArn") != arn || calls[1].Params.Get("Version") != "2010-05-08" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestRolePolicies(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole(acct, "Admin")
	c := client(s, s.Credentials(acct))
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":"alice+ops@example.com"}}}]}`

	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Admin")})
	if err != nil || aws.ToString(role.Role.Arn) != "arn:aws:iam::"+acct+":role/Admin" {
		t.Fatalf("GetRole = %+v, %v", role, err)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Nobody")})
	want(t, err, "NoSuchEntity", 404)

	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Admin"), PolicyName: aws.String("rolegate-revoke"), PolicyDocument: &doc}); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.RolePolicy(acct, "Admin", "rolegate-revoke"); !ok || got != doc {
		t.Fatalf("stand-in holds %q, %v", got, ok)
	}
	got, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("Admin"), PolicyName: aws.String("rolegate-revoke")})
	if err != nil {
		t.Fatal(err)
	}
	// IAM sends the document URL-encoded; the SDK hands it over as sent.
	raw := aws.ToString(got.PolicyDocument)
	if dec, err := url.QueryUnescape(raw); err != nil || dec != doc || raw == doc || strings.Contains(raw, "+") {
		t.Fatalf("PolicyDocument = %q (decoded %q, %v)", raw, dec, err)
	}
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("Admin")})
	if err != nil || len(names.PolicyNames) != 1 || names.PolicyNames[0] != "rolegate-revoke" {
		t.Fatalf("ListRolePolicies = %+v, %v", names, err)
	}

	for _, tc := range []struct {
		name, role, policy, doc, code string
		status                        int
	}{
		{"a document that is not JSON", "Admin", "p", `{"Statement":`, "MalformedPolicyDocument", 400},
		{"a document without statements", "Admin", "p", `{"Version":"2012-10-17"}`, "MalformedPolicyDocument", 400},
		{"a role that does not exist", "Nobody", "p", doc, "NoSuchEntity", 404},
		{"a policy name with a space", "Admin", "a b", doc, "ValidationError", 400},
		{"more than 10,240 characters on the role", "Admin", "big", `{"Statement":[],"Sid":"` + strings.Repeat("x", 10240-len(doc)-len(`{"Statement":[],"Sid":""}`)+1) + `"}`, "LimitExceeded", 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &tc.role, PolicyName: &tc.policy, PolicyDocument: &tc.doc})
			want(t, err, tc.code, tc.status)
		})
	}
	// Exactly at the limit (white space not counted) it fits.
	fits := `{"Statement": [], "Sid": "` + strings.Repeat("x", 10240-len(doc)-len(`{"Statement":[],"Sid":""}`)) + `"}`
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Admin"), PolicyName: aws.String("big"), PolicyDocument: &fits}); err != nil {
		t.Fatalf("a policy that brings the role to 10,240 characters: %v", err)
	}

	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Admin"), PolicyName: aws.String("rolegate-revoke")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.RolePolicy(acct, "Admin", "rolegate-revoke"); ok {
		t.Fatal("the policy is still there")
	}
	_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Admin"), PolicyName: aws.String("rolegate-revoke")})
	want(t, err, "NoSuchEntity", 404)
}

func TestSignaturesAreVerified(t *testing.T) {
	s := iamtest.New(t)
	good := s.Credentials(acct)
	ctx := context.Background()
	list := func(c *iam.Client) error {
		_, err := c.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
		return err
	}
	if err := list(client(s, good)); err != nil {
		t.Fatal(err)
	}
	wrongSecret := good
	wrongSecret.SecretAccessKey = "x" + good.SecretAccessKey[1:]
	want(t, list(client(s, wrongSecret)), "SignatureDoesNotMatch", 403)
	unknown := good
	unknown.AccessKeyID = "AKIAUNKNOWNUNKNOWN00"
	want(t, list(client(s, unknown)), "InvalidClientTokenId", 403)
	otherRegion := iam.New(iam.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s.URL()), Credentials: credentials.StaticCredentialsProvider{Value: good}, RetryMaxAttempts: 1})
	want(t, list(otherRegion), "SignatureDoesNotMatch", 403)
	anonymous := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL()), Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	want(t, list(anonymous), "MissingAuthenticationToken", 403)

	// A body changed after signing, a request signed for another service, and one signed too long ago.
	send := func(body, service string, at time.Time, change string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sum := sha256hex(body)
		if err := v4.NewSigner().SignHTTP(ctx, good, req, sum, service, "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		if change != "" {
			req.Body = io.NopCloser(strings.NewReader(change))
			req.ContentLength = int64(len(change))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	form := "Action=ListSAMLProviders&Version=2010-05-08"
	if r := send(form, "iam", time.Now(), ""); r.StatusCode != 200 {
		t.Fatalf("a well-signed raw request: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		name, service, change string
		at                    time.Time
	}{
		{"a body changed after signing", "iam", "Action=ListSAMLProviders&Version=2010-05-08&X=1", time.Now()},
		{"a request signed for STS", "sts", "", time.Now()},
		{"a request signed 20 minutes ago", "iam", "", time.Now().Add(-20 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := send(form, tc.service, tc.at, tc.change); r.StatusCode != 403 {
				t.Fatalf("status = %d, want 403", r.StatusCode)
			}
		})
	}
	// Only the two well-signed calls acted in the account.
	credited := 0
	for _, c := range s.Calls() {
		if c.Account != "" {
			credited++
		}
	}
	if credited != 2 {
		t.Fatalf("%d calls were credited to an account, want 2: %+v", credited, s.Calls())
	}
}

func TestFailNextInjectsOneError(t *testing.T) {
	s := iamtest.New(t)
	c := client(s, s.Credentials(acct))
	ctx := context.Background()
	s.FailNext("ListSAMLProviders", "ServiceFailure", 500)
	_, err := c.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
	want(t, err, "ServiceFailure", 500)
	if _, err := c.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{}); err != nil {
		t.Fatalf("the second call: %v", err)
	}
	s.FailNext("", "AccessDenied", 403)
	arn := "arn:aws:iam::" + acct + ":saml-provider/X"
	_, err = c.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: &arn})
	want(t, err, "AccessDenied", 403)
}

func TestAssumeRoleActsInTheRolesAccount(t *testing.T) {
	s := iamtest.New(t)
	s.CreateRole("444455556666", "RolegateAdmin")
	base := s.Credentials(acct)
	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL()), Credentials: credentials.StaticCredentialsProvider{Value: base}, RetryMaxAttempts: 1})
	ctx := context.Background()
	out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::444455556666:role/RolegateAdmin"), RoleSessionName: aws.String("rolegate")})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	assumed := aws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}
	md := metadata(t)
	if _, err := client(s, assumed).CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: &md}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Provider("444455556666", "Rolegate"); !ok {
		t.Fatal("the provider is not in the role's account")
	}
	noToken := assumed
	noToken.SessionToken = ""
	_, err = client(s, noToken).ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
	want(t, err, "InvalidClientTokenId", 403)
	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::444455556666:role/Missing"), RoleSessionName: aws.String("rolegate")})
	want(t, err, "AccessDenied", 403)
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
