package awsadmin_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"rolegate/assertions"
	"rolegate/awsadmin"
	"rolegate/store"
)

func TestCheckSaysWhetherSignInWorksNowAndAfterTheNextStep(t *testing.T) {
	cur, next, other := newCert(t), newCert(t), newCert(t)
	keyPEM := privateKeyPEM(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		// what IAM holds: nil metadata means no provider
		md      []byte
		mode    types.AssertionEncryptionModeType
		withKey bool
		// Rolegate's side
		next    bool
		encrypt store.EncryptMode
		keyID   string // "iam" means the KeyId IAM gave the uploaded key
		nowOK   bool
		afterOK bool
		says    string
	}{
		{name: "in sync with no key staged", md: metadata(t, base, cur), nowOK: true, afterOK: true,
			says: "sign-in works now and will still work after the next rolegate keys rotate step"},
		{name: "in sync with the staged key uploaded", md: metadata(t, base, cur, next), next: true, nowOK: true, afterOK: true},
		{name: "IAM missing the staged key", md: metadata(t, base, cur), next: true, nowOK: true,
			says: "IAM does not trust the staged key"},
		{name: "IAM missing the current key", md: metadata(t, base, other), nowOK: false,
			says: `"Response signature invalid"`},
		{name: "IAM holding only the staged key", md: metadata(t, base, next), next: true, nowOK: false,
			says: `"Response signature invalid"`},
		{name: "no provider", md: nil, says: "not registered: IAM has no SAML provider arn:aws:iam::111122223333:saml-provider/Rolegate; run rolegate aws register --account prod"},
		{name: "another entity ID", md: metadata(t, "https://old.example.com", cur), says: `IAM's metadata names the issuer "https://old.example.com/saml/metadata"`},
		{name: "encryption off and IAM requiring it", md: metadata(t, base, cur), mode: "Required", withKey: true,
			says: "IAM requires encrypted assertions, and encryption is off"},
		{name: "encryption off and IAM allowing it", md: metadata(t, base, cur), mode: "Allowed", withKey: true, nowOK: true, afterOK: true},
		{name: "encryption required and IAM holding the key", md: metadata(t, base, cur), mode: "Required", withKey: true,
			encrypt: store.EncryptRequired, keyID: "iam", nowOK: true, afterOK: true},
		{name: "encryption required and IAM holding another key", md: metadata(t, base, cur), mode: "Required", withKey: true,
			encrypt: store.EncryptRequired, keyID: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", says: "IAM does not hold the encryption key Rolegate encrypts to (KeyId ABCDEFGHIJKLMNOPQRSTUVWXYZ)"},
		{name: "encryption required and no key uploaded", md: metadata(t, base, cur), encrypt: store.EncryptRequired,
			says: "no encryption key has been uploaded"},
		{name: "encryption required and IAM without a mode", md: metadata(t, base, cur), encrypt: store.EncryptRequired, keyID: "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
			says: "IAM does not accept encrypted assertions"},
		{name: "encryption allowed, no key yet, IAM allowing it", md: metadata(t, base, cur), encrypt: store.EncryptAllowed, nowOK: true, afterOK: true},
		{name: "encryption allowed, no key yet, IAM requiring it", md: metadata(t, base, cur), mode: "Required", withKey: true, encrypt: store.EncryptAllowed,
			says: "IAM requires encrypted assertions, and Rolegate has no uploaded encryption key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, acct, c := setup(t)
			ctx := context.Background()
			acct.AWS.Encrypt = tc.encrypt
			acct.AWS.TrustedCerts = []string{"stale"}
			if tc.md != nil {
				in := &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: aws.String(string(tc.md)), AssertionEncryptionMode: tc.mode}
				if tc.withKey {
					in.AddPrivateKey = aws.String(keyPEM)
				}
				if _, err := c.CreateSAMLProvider(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			exp := awsadmin.Expect{EntityID: base + "/saml/metadata", Current: cur, Now: now, EncryptionKeyID: tc.keyID}
			if tc.next {
				exp.Next = next
			}
			if tc.keyID == "iam" {
				p, _ := s.Provider(acct.ID, "Rolegate")
				exp.EncryptionKeyID = p.PrivateKeys[0].ID
				acct.AWS.IdPID = p.UUID
			}
			before := len(writes(s))
			v, err := awsadmin.Check(ctx, c, acct, exp)
			if err != nil {
				t.Fatal(err)
			}
			text := v.Summary() + "\n" + strings.Join(v.Lines, "\n")
			if v.WorksNow != tc.nowOK || v.WorksAfterRotate != tc.afterOK || !strings.Contains(text, tc.says) {
				t.Fatalf("now %v after %v, want %v %v; said:\n%s", v.WorksNow, v.WorksAfterRotate, tc.nowOK, tc.afterOK, text)
			}
			if (tc.nowOK && tc.afterOK) != (len(v.Lines) == 0) {
				t.Errorf("lines %q for a verdict of %v/%v", v.Lines, v.WorksNow, v.WorksAfterRotate)
			}
			// It records what IAM trusts now, and when it looked; it writes nothing to IAM.
			var want []string
			if tc.md != nil {
				_, held, _ := readMetadata(tc.md)
				want = held
			}
			if !slices.Equal(v.Link.TrustedCerts, want) || !v.Link.CheckedAt.Equal(now) || len(writes(s)) != before {
				t.Errorf("link %+v, want trusted %v at %v; writes %v", v.Link, want, now, writes(s))
			}
		})
	}
}

func TestCheckReportsAnIAMErrorAsAnError(t *testing.T) {
	s, acct, c := setup(t)
	s.FailNext("GetSAMLProvider", "AccessDenied", 403)
	v, err := awsadmin.Check(context.Background(), c, acct, awsadmin.Expect{EntityID: base + "/saml/metadata", Current: newCert(t)})
	if err == nil || v != nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("Check = %+v, %v; want the AccessDenied error and no verdict", v, err)
	}
}

func readMetadata(md []byte) (string, []string, error) {
	entity, cs, err := assertions.ReadMetadata(md)
	return entity, fps(cs...), err
}

func TestCheckWarnsOfACertificateIAMTrustsThatRolegateDoesNotPublish(t *testing.T) {
	_, acct, c := setup(t)
	ctx := context.Background()
	cur, stranger := newCert(t), newCert(t)
	if _, err := c.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String("Rolegate"), SAMLMetadataDocument: aws.String(string(metadata(t, base, cur, stranger)))}); err != nil {
		t.Fatal(err)
	}
	exp := awsadmin.Expect{EntityID: base + "/saml/metadata", Current: cur, Published: fps(cur), Now: time.Now()}
	v, err := awsadmin.Check(ctx, c, acct, exp)
	if err != nil || !v.WorksNow || !v.WorksAfterRotate || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], fps(stranger)[0]) || strings.Contains(v.Warnings[0], fps(cur)[0]) {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	exp.Published = fps(cur, stranger)
	if v, err := awsadmin.Check(ctx, c, acct, exp); err != nil || len(v.Warnings) != 0 {
		t.Fatalf("with both published: %+v, %v", v, err)
	}
}
