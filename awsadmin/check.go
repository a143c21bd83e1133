package awsadmin

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"rolegate/certs"
	"rolegate/store"
)

// Expect is what Rolegate will send an account, for Check to hold IAM's side against.
type Expect struct {
	// EntityID is Rolegate's entity ID (the Issuer of its responses).
	EntityID string
	// Current is the certificate of the key that signs now.
	Current *x509.Certificate
	// Next is the certificate of the staged key that the next `keys rotate` step activates; nil
	// when none is staged (then that step does not change the signing key).
	Next *x509.Certificate
	// Published are the fingerprints of every certificate Rolegate's metadata lists (next,
	// current, previous); a certificate IAM trusts beyond them is someone else's way in. Nil
	// skips that finding.
	Published []string
	// EncryptionKeyID is the KeyId IAM gave the account's current encryption key; "" when it has none.
	EncryptionKeyID string
	Now             time.Time
}

// Verdict is what Check found for one account.
type Verdict struct {
	Registered  bool
	ProviderARN string
	// Link is the account's IAM side with what Check read recorded: TrustedCerts and CheckedAt.
	Link store.AWSLink
	// WorksNow says a sign-in works now; WorksAfterRotate that it still would after the next
	// `keys rotate` step.
	WorksNow, WorksAfterRotate bool
	// Lines say why, in words, one finding a line.
	Lines []string
	// Warnings are findings that do not stop sign-in: certificates IAM trusts that Rolegate does
	// not publish.
	Warnings []string
}

// Check reads the account's SAML provider back from IAM and says whether sign-in works now and
// after the next rotation step: IAM must trust the current signing certificate (and the staged
// one, for the step that activates it), name Rolegate's entity ID, and hold the encryption key
// Rolegate encrypts to. An error means IAM could not be asked; nothing was found then.
func Check(ctx context.Context, c *iam.Client, acct *store.Account, exp Expect) (*Verdict, error) {
	arn := ProviderARN(acct)
	v := &Verdict{ProviderARN: arn, Link: acct.AWS}
	got, err := provider(ctx, c, arn)
	if err != nil {
		return nil, err
	}
	v.Link.CheckedAt = exp.Now
	if got == nil {
		v.Link.TrustedCerts = nil
		if other := elsewhere(ctx, c, acct); other != "" {
			return nil, fmt.Errorf("IAM holds %s: %s", other, otherAccount(acct, other))
		}
		v.Lines = append(v.Lines, fmt.Sprintf("not registered: IAM has no SAML provider %s; run rolegate aws register --account %s", arn, acct.Alias))
		return v, nil
	}
	v.Registered = true
	entity, held, err := trusted(aws.ToString(got.SAMLMetadataDocument))
	if err != nil {
		v.Link.TrustedCerts = nil
		v.Lines = append(v.Lines, fmt.Sprintf("IAM's metadata for %s cannot be read (%v): AWS refuses every sign-in; run rolegate aws register --account %s", arn, err, acct.Alias))
		return v, nil
	}
	v.Link.TrustedCerts = held
	now := true
	fail := func(format string, args ...any) {
		now = false
		v.Lines = append(v.Lines, fmt.Sprintf(format, args...))
	}
	cur := certs.Fingerprint(exp.Current)
	if !slices.Contains(held, cur) {
		fail("IAM does not trust the key Rolegate signs with (SHA-256 %s): AWS refuses every sign-in with \"Response signature invalid\"; run rolegate aws register --account %s", cur, acct.Alias)
	}
	if entity != exp.EntityID {
		fail("IAM's metadata names the issuer %q, Rolegate signs as %q: AWS refuses every sign-in; run rolegate aws register --account %s (with the --base-url the server uses)", entity, exp.EntityID, acct.Alias)
	}
	for _, problem := range encryptionProblems(acct, got, exp.EncryptionKeyID) {
		fail("%s", problem)
	}
	v.WorksNow = now
	if exp.Published != nil {
		if extra := diff(held, exp.Published); len(extra) > 0 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("IAM also trusts certificates that Rolegate's metadata does not list (SHA-256 %s): a retired key of Rolegate's, or someone else's, with which sign-ins to this account as anyone can be signed; run rolegate aws register --account %s to leave only Rolegate's",
				strings.Join(extra, ", "), acct.Alias))
		}
	}
	after := now
	switch {
	case exp.Next == nil:
		// The next step stages a key (or retires an old one): the signing key stays.
	case !slices.Contains(held, certs.Fingerprint(exp.Next)):
		after = false
		v.Lines = append(v.Lines, fmt.Sprintf("IAM does not trust the staged key (SHA-256 %s): activating it with rolegate keys rotate would break sign-in; run rolegate aws register --account %s first",
			certs.Fingerprint(exp.Next), acct.Alias))
	}
	v.WorksAfterRotate = after
	return v, nil
}

// encryptionProblems says what keeps IAM from accepting what Rolegate sends the account: an
// encrypted assertion to a key IAM lacks, or a plain one where IAM requires encryption.
func encryptionProblems(acct *store.Account, got *iam.GetSAMLProviderOutput, keyID string) []string {
	mode := got.AssertionEncryptionMode
	switch acct.AWS.Encrypt {
	case store.EncryptOff:
		if mode == types.AssertionEncryptionModeTypeRequired {
			return []string{fmt.Sprintf("IAM requires encrypted assertions, and encryption is off for this account: AWS refuses every sign-in; run rolegate aws register --account %s (it lowers the mode to Allowed) or rolegate account set %s --encrypt required", acct.Alias, acct.Alias)}
		}
		return nil
	case store.EncryptAllowed:
		if keyID == "" {
			if mode == types.AssertionEncryptionModeTypeRequired {
				return []string{fmt.Sprintf("IAM requires encrypted assertions, and Rolegate has no uploaded encryption key for this account, so it sends them plain: AWS refuses every sign-in; run rolegate aws register --account %s", acct.Alias)}
			}
			return nil // Rolegate sends plain assertions, which IAM accepts
		}
	case store.EncryptRequired:
		if keyID == "" {
			return []string{fmt.Sprintf("encryption is required for this account and no encryption key has been uploaded to IAM: Rolegate refuses every sign-in; run rolegate aws register --account %s", acct.Alias)}
		}
	}
	var out []string
	if mode == "" {
		out = append(out, fmt.Sprintf("IAM does not accept encrypted assertions (no AssertionEncryptionMode), and Rolegate encrypts them for this account: AWS refuses every sign-in; run rolegate aws register --account %s", acct.Alias))
	}
	if !slices.ContainsFunc(got.PrivateKeyList, func(k types.SAMLPrivateKey) bool { return aws.ToString(k.KeyId) == keyID }) {
		out = append(out, fmt.Sprintf("IAM does not hold the encryption key Rolegate encrypts to (KeyId %s): AWS cannot decrypt the assertions; run rolegate aws register --account %s", keyID, acct.Alias))
	}
	if id := aws.ToString(got.SAMLProviderUUID); id != "" && acct.AWS.IdPID != "" && id != acct.AWS.IdPID {
		out = append(out, fmt.Sprintf("the provider's IdP ID is %s, Rolegate posts encrypted responses to the sign-in endpoint of %s: run rolegate aws register --account %s", id, acct.AWS.IdPID, acct.Alias))
	}
	return out
}

// Summary says the verdict in one line.
func (v *Verdict) Summary() string {
	switch {
	case !v.Registered:
		return "sign-in does not work: the account has no SAML provider"
	case v.WorksNow && v.WorksAfterRotate:
		return "sign-in works now and will still work after the next rolegate keys rotate step"
	case v.WorksNow:
		return "sign-in works now, but would break after the next rolegate keys rotate step"
	default:
		return "sign-in does not work now"
	}
}
