package awsadmin_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"rolegate/assertions"
	"rolegate/awsadmin"
	"rolegate/awstest/iamtest"
	"rolegate/certs"
	"rolegate/store"
)

const base = "https://idp.example.com"

func newCert(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Rolegate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func metadata(t *testing.T, baseURL string, cs ...*x509.Certificate) []byte {
	t.Helper()
	md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: baseURL, SigningCerts: cs})
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func fps(cs ...*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, certs.Fingerprint(c))
	}
	return out
}

// setup is a stand-in, an account and an IAM client acting in it.
func setup(t *testing.T) (*iamtest.IAM, *store.Account, *iam.Client) {
	t.Helper()
	s := iamtest.New(t)
	acct := &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS}
	c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.StaticCredentialsProvider{Value: s.Credentials(acct.ID)}, RetryMaxAttempts: 1})
	return s, acct, c
}

// writes are the calls that change IAM.
func writes(s *iamtest.IAM) []string {
	var out []string
	for _, c := range s.Calls() {
		if !strings.HasPrefix(c.Action, "Get") && !strings.HasPrefix(c.Action, "List") {
			out = append(out, c.Action)
		}
	}
	return out
}

func TestRegisterCreatesThenUpdatesOnlyWhenTheMetadataDiffers(t *testing.T) {
	s, acct, c := setup(t)
	ctx := context.Background()
	cur, next := newCert(t), newCert(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	md := metadata(t, base, cur)

	// A dry run on an empty account: it would create, and writes nothing.
	r, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, DryRun: true, Now: now})
	if err != nil || r.Action != awsadmin.Created || !strings.Contains(r.Summary(), "would be created") || len(writes(s)) != 0 {
		t.Fatalf("dry run: %+v %q, %v; writes %v", r, r.Summary(), err, writes(s))
	}
	if _, ok := s.Provider(acct.ID, "Rolegate"); ok || !r.Link.CheckedAt.IsZero() {
		t.Fatal("a dry run created the provider or recorded a check")
	}

	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Provider(acct.ID, "Rolegate")
	if r.Summary() != "created" || r.ProviderARN != "arn:aws:iam::111122223333:saml-provider/Rolegate" || p.Metadata != string(md) {
		t.Fatalf("register: %+v", r)
	}
	if r.Link.ProviderARN != r.ProviderARN || r.Link.IdPID != p.UUID || !slices.Equal(r.Link.TrustedCerts, fps(cur)) || !r.Link.CheckedAt.Equal(now) {
		t.Fatalf("recorded link %+v; provider %+v", r.Link, p)
	}
	acct.AWS = r.Link

	// The same document again: nothing to do, no write.
	before := len(writes(s))
	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Now: now})
	if err != nil || r.Summary() != "unchanged" || len(writes(s)) != before {
		t.Fatalf("second run: %q, %v; writes %v", r.Summary(), err, writes(s))
	}

	// A staged key: a dry run says what it would add, then the run adds it.
	both := metadata(t, base, cur, next)
	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: both, DryRun: true, Now: now})
	want := "updated metadata (certificates added: " + certs.Fingerprint(next) + ", removed: none)"
	if err != nil || r.Summary() != "would be "+want+" (dry run: nothing changed)" || len(writes(s)) != before {
		t.Fatalf("dry run of the update: %q, %v; writes %v", r.Summary(), err, writes(s))
	}
	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: both, Now: now})
	if err != nil || r.Summary() != want || !slices.Equal(r.Link.TrustedCerts, fps(cur, next)) {
		t.Fatalf("update: %q, %+v, %v", r.Summary(), r.Link, err)
	}
	if p, _ := s.Provider(acct.ID, "Rolegate"); p.Metadata != string(both) {
		t.Fatal("IAM does not hold the new document")
	}
	// Retiring the old key removes it.
	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, next), Now: now})
	if err != nil || r.Summary() != "updated metadata (certificates added: none, removed: "+certs.Fingerprint(cur)+")" {
		t.Fatalf("retire: %q, %v", r.Summary(), err)
	}
}

func TestRegisterLowersRequiredEncryptionWhenItIsOff(t *testing.T) {
	s, acct, c := setup(t)
	ctx := context.Background()
	md := metadata(t, base, newCert(t))
	arn := awsadmin.ProviderARN(acct)
	if _, err := c.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: aws.String(string(md)),
		AssertionEncryptionMode: types.AssertionEncryptionModeTypeRequired, AddPrivateKey: aws.String(privateKeyPEM(t))}); err != nil {
		t.Fatal(err)
	}
	r, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Now: time.Now()})
	if err != nil || !strings.Contains(r.Summary(), "Required lowered to Allowed") || strings.Contains(r.Summary(), "updated metadata") {
		t.Fatalf("register: %q, %v", r.Summary(), err)
	}
	if p, _ := s.Provider(acct.ID, "Rolegate"); p.EncryptionMode != "Allowed" {
		t.Fatalf("mode = %q", p.EncryptionMode)
	}
	if calls := s.Calls(); calls[len(calls)-2].Params.Get("SAMLProviderArn") != arn ||
		calls[len(calls)-2].Params.Get("SAMLMetadataDocument") != string(md) { // unchanged, sent for emulators that need it
		t.Fatalf("the update sent %v", calls[len(calls)-2].Params)
	}
}

func TestRegisterReportsIAMErrors(t *testing.T) {
	s, acct, c := setup(t)
	s.FailNext("CreateSAMLProvider", "AccessDenied", 403)
	_, err := awsadmin.Register(context.Background(), c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, newCert(t)), Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("err = %v, want AccessDenied", err)
	}
}

func privateKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// keyStore is an account's encryption keys in memory, with the store's promotion rule.
type keyStore struct{ keys []*store.EncryptionKey }

func (s *keyStore) ListEncryptionKeys(_ context.Context, _ string) ([]*store.EncryptionKey, error) {
	var out []*store.EncryptionKey
	for _, k := range s.keys {
		c := *k
		out = append(out, &c)
	}
	return out, nil
}

func (s *keyStore) find(id string) *store.EncryptionKey {
	for _, k := range s.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func (s *keyStore) SetEncryptionKeyAWSID(_ context.Context, id, awsID string) error {
	s.find(id).AWSKeyID = awsID
	return nil
}

func (s *keyStore) PromoteEncryptionKey(_ context.Context, id string, now time.Time) error {
	for _, k := range s.keys {
		if k.State == store.KeyCurrent {
			k.State, k.RetiredAt = store.KeyRetired, now
		}
	}
	k := s.find(id)
	k.State, k.ActivatedAt = store.KeyCurrent, now
	return nil
}

func TestRegisterFreesIAMsKeySlotsBeforeAddingTheNextKey(t *testing.T) {
	s, acct, c := setup(t)
	ctx := context.Background()
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	newKey := func() *store.EncryptionKey {
		k, err := certs.NewEncryptionKey(kek, acct.ID, "Rolegate", time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	md := metadata(t, base, newCert(t))
	acct.AWS.Encrypt = store.EncryptAllowed
	ks := &keyStore{keys: []*store.EncryptionKey{newKey()}}
	in := awsadmin.RegisterInput{Metadata: md, Keys: ks, KEK: kek, Now: time.Now()}
	if _, err := awsadmin.Register(ctx, c, acct, in); err != nil {
		t.Fatal(err)
	}
	// A second key, uploaded by hand as a run that stopped before removing the old one would leave
	// it: IAM holds two keys, the old one retired in Rolegate.
	old := ks.keys[0]
	ks.keys = append(ks.keys, newKey())
	if _, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	pemText, _ := certs.EncryptionKeyPEM(kek, ks.keys[1])
	arn := awsadmin.ProviderARN(acct)
	if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, AddPrivateKey: &pemText}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Provider(acct.ID, "Rolegate")
	if len(p.PrivateKeys) != 2 {
		t.Fatalf("IAM holds %d keys", len(p.PrivateKeys))
	}
	ks.SetEncryptionKeyAWSID(ctx, ks.keys[1].ID, p.PrivateKeys[1].ID)
	ks.PromoteEncryptionKey(ctx, ks.keys[1].ID, time.Now())
	third := newKey()
	ks.keys = append(ks.keys, third)

	r, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Keys: ks, KEK: kek, Now: time.Now()})
	if err != nil {
		t.Fatalf("register with IAM's two key slots full: %v", err)
	}
	p, _ = s.Provider(acct.ID, "Rolegate")
	if len(p.PrivateKeys) != 1 || p.PrivateKeys[0].ID != ks.find(third.ID).AWSKeyID || ks.find(third.ID).State != store.KeyCurrent || ks.find(old.ID).State != store.KeyRetired {
		t.Fatalf("IAM holds %+v; keys %+v; said %q", p.PrivateKeys, ks.keys, r.Summary())
	}
	if !strings.Contains(r.Summary(), "retired encryption key "+old.ID+" removed") || !strings.Contains(r.Summary(), "encryption key "+third.ID+" uploaded (mode Allowed)") {
		t.Fatalf("said %q", r.Summary())
	}
}

func TestRegisterSaysWhatItReplacedBesidesCertificates(t *testing.T) {
	s, acct, c := setup(t)
	ctx := context.Background()
	cur := newCert(t)
	md := metadata(t, base, cur)
	if _, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, "https://old.example.com", cur), Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Now: time.Now()})
	if err != nil || !strings.Contains(r.Summary(), `entity ID "https://old.example.com/saml/metadata" replaced by "`+base+`/saml/metadata"`) {
		t.Fatalf("register over another entity ID said %q, %v", r.Summary(), err)
	}
	// An emulator stores whatever it is sent; Rolegate replaces what it cannot read, and says so.
	s.Emulate(iamtest.Quirks{NoEncryption: true})
	arn := awsadmin.ProviderARN(acct)
	if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: &arn, SAMLMetadataDocument: aws.String("not metadata")}); err != nil {
		t.Fatal(err)
	}
	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: md, Now: time.Now()})
	if err != nil || !strings.Contains(r.Summary(), "replaced metadata IAM could not use") || !slices.Equal(r.Added, fps(cur)) {
		t.Fatalf("register over unreadable metadata said %q, %v", r.Summary(), err)
	}
}

func TestRegisterSaysWhenOnlyTheDocumentDiffered(t *testing.T) {
	_, acct, c := setup(t)
	ctx := context.Background()
	cur, prev := newCert(t), newCert(t)
	if _, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, prev, cur), Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// An activation lists the same two certificates in another order.
	r, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, cur, prev), Now: time.Now()})
	if err != nil || r.Action != awsadmin.Updated || r.Summary() != "updated metadata (the same certificates; the document differed)" {
		t.Fatalf("said %q, %v", r.Summary(), err)
	}
}
