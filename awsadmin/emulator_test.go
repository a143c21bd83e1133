package awsadmin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"rolegate/awsadmin"
	"rolegate/awstest/iamtest"
	"rolegate/certs"
	"rolegate/store"
)

// Emulators (moto, and LocalStack's IAM, which is moto) answer differently from IAM; Rolegate
// must still do what it can and say the truth about the rest.

func TestRegisterAndCheckAgainstAnEmulatorWithoutEncryption(t *testing.T) {
	s, acct, c := setup(t)
	s.Emulate(iamtest.Quirks{NoEncryption: true, ErrorList: true})
	ctx := context.Background()
	cur, next := newCert(t), newCert(t)
	r, err := awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, cur), Now: time.Now()})
	if err != nil || r.Action != awsadmin.Created || r.Link.IdPID != "" {
		t.Fatalf("a provider behind an error IAM sends as a list: %+v, %v", r, err)
	}
	r, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, cur, next), Now: time.Now()})
	if err != nil || r.Action != awsadmin.Updated || len(r.Link.TrustedCerts) != 2 {
		t.Fatalf("update: %+v, %v", r, err)
	}
	v, err := awsadmin.Check(ctx, c, acct, awsadmin.Expect{EntityID: base + "/saml/metadata", Current: cur, Next: next, Now: time.Now()})
	if err != nil || !v.WorksNow || !v.WorksAfterRotate {
		t.Fatalf("check: %+v, %v", v, err)
	}

	// Encryption needs what such an emulator does not keep: register says so and records nothing.
	kek, _, _ := certs.GenerateKEK()
	k, _ := certs.NewEncryptionKey(kek, acct.ID, "Rolegate", time.Now(), nil)
	ks := &keyStore{keys: []*store.EncryptionKey{k}}
	acct.AWS.Encrypt = store.EncryptAllowed
	_, err = awsadmin.Register(ctx, c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, cur, next), Keys: ks, KEK: kek, Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "does not keep encryption keys") || !strings.Contains(err.Error(), "--encrypt off") {
		t.Fatalf("err = %v, want the emulator's missing support named", err)
	}
	if k := ks.keys[0]; k.State != store.KeyNext || k.AWSKeyID != "" {
		t.Fatalf("key recorded as %+v", k)
	}
	if p, _ := s.Provider(acct.ID, "Rolegate"); p.Metadata != string(metadata(t, base, cur, next)) {
		t.Fatalf("the emulator's metadata was lost:\n%s", p.Metadata)
	}
}

func TestRegisterSaysWhichAccountTheCredentialsActIn(t *testing.T) {
	s, acct, c := setup(t)
	s.Emulate(iamtest.Quirks{Account: "123456789012"})
	_, err := awsadmin.Register(context.Background(), c, acct, awsadmin.RegisterInput{Metadata: metadata(t, base, newCert(t)), Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "account 123456789012") || !strings.Contains(err.Error(), acct.ID) || !strings.Contains(err.Error(), "deleted it again") {
		t.Fatalf("err = %v, want both accounts named", err)
	}
	if p, ok := s.Provider("123456789012", "Rolegate"); ok {
		t.Fatalf("left behind in the other account: %+v", p)
	}
}

func TestReviseRoleReadsAPolicyDocumentThatIsNotURLEncoded(t *testing.T) {
	s, acct, c := setup(t)
	s.Emulate(iamtest.Quirks{PlainPolicies: true})
	ctx := context.Background()
	s.CreateRole(acct.ID, "Admin")
	foreign := `{"Version":"2012-10-17","Statement":[{"Sid":"Mine","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::b/100%25/a+b"}]}`
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Admin"), PolicyName: aws.String(awsadmin.RevokePolicyName), PolicyDocument: aws.String(foreign)}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rev := &awsadmin.Revocation{SourceIdentity: "a+b=c,d.e@f-g", Before: awsadmin.RevocationTime(now)}
	ch := awsadmin.ReviseRole(ctx, c, "arn:aws:iam::"+acct.ID+":role/Admin", rev, false, now.Add(-time.Hour), false)
	if ch.Outcome != awsadmin.RoleWritten {
		t.Fatalf("outcome %v: %v", ch.Outcome, ch.Err)
	}
	doc, _ := s.RolePolicy(acct.ID, "Admin", awsadmin.RevokePolicyName)
	if !strings.Contains(doc, `"arn:aws:s3:::b/100%25/a+b"`) || !strings.Contains(doc, `"a+b=c,d.e@f-g"`) {
		t.Fatalf("policy now\n%s", doc)
	}
}

func TestRegisterAndCheckNeverTouchAProviderOfTheAccountTheCredentialsActIn(t *testing.T) {
	s, prod, c := setup(t)
	s.Emulate(iamtest.Quirks{Account: prod.ID}) // every credential acts in prod, as moto's one account
	ctx := context.Background()
	md := metadata(t, base, newCert(t))
	if _, err := awsadmin.Register(ctx, c, prod, awsadmin.RegisterInput{Metadata: md, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	dev := &store.Account{ID: "444455556666", Alias: "dev", ProviderName: "Rolegate", Partition: store.PartitionAWS}
	before := len(writes(s))
	_, err := awsadmin.Register(ctx, c, dev, awsadmin.RegisterInput{Metadata: metadata(t, base, newCert(t)), Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "nothing written") || !strings.Contains(err.Error(), "act in account "+prod.ID) || len(writes(s)) != before {
		t.Fatalf("register dev with prod's credentials: %v; writes %v", err, writes(s)[before:])
	}
	if p, _ := s.Provider(prod.ID, "Rolegate"); p.Metadata != string(md) {
		t.Fatal("prod's provider was overwritten")
	}
	if v, err := awsadmin.Check(ctx, c, dev, awsadmin.Expect{EntityID: base + "/saml/metadata", Current: newCert(t), Now: time.Now()}); err == nil || !strings.Contains(err.Error(), "act in account "+prod.ID) {
		t.Fatalf("check dev with prod's credentials: %+v, %v", v, err)
	}
}
