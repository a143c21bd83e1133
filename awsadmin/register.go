package awsadmin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/store"
)

// What Register did (or, on a dry run, would do) to an account's SAML provider.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// ProviderARN is the ARN of the account's SAML provider (its ProviderName in its partition).
func ProviderARN(acct *store.Account) string {
	p := acct.Partition
	if p == "" {
		p = store.PartitionAWS
	}
	return "arn:" + string(p) + ":iam::" + acct.ID + ":saml-provider/" + acct.ProviderName
}

// provider reads the SAML provider at arn; nil without error when IAM has none.
func provider(ctx context.Context, c *iam.Client, arn string) (*iam.GetSAMLProviderOutput, error) {
	out, err := c.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: aws.String(arn)})
	var missing *types.NoSuchEntityException
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading SAML provider %s: %w", arn, err)
	}
	return out, nil
}

// trusted reads the entity ID and the signing certificates' fingerprints from metadata IAM holds.
func trusted(md string) (entityID string, fingerprints []string, err error) {
	entityID, list, err := assertions.ReadMetadata([]byte(md))
	if err != nil {
		return "", nil, err
	}
	for _, c := range list {
		fingerprints = append(fingerprints, certs.Fingerprint(c))
	}
	return entityID, fingerprints, nil
}

// Registration is what Register did, or would do on a dry run, to one account's provider.
type Registration struct {
	ProviderARN string
	Action      string   // Created, Updated or Unchanged
	Added       []string // fingerprints of signing certificates new to IAM
	Removed     []string // fingerprints IAM held and no longer does
	Changes     []string // other changes in words (the entity ID, the encryption mode, keys)
	DryRun      bool
	// Link is the account's IAM side as IAM holds it after the run (unchanged on a dry run).
	Link store.AWSLink
}

// Summary says in words what was done (or would be).
func (r *Registration) Summary() string {
	var parts []string
	switch r.Action {
	case Created:
		parts = append(parts, "created")
	case Updated:
		parts = append(parts, fmt.Sprintf("updated metadata (certificates added: %s, removed: %s)", listOrNone(r.Added), listOrNone(r.Removed)))
	}
	parts = append(parts, r.Changes...)
	if len(parts) == 0 {
		parts = append(parts, "unchanged")
	}
	s := strings.Join(parts, "; ")
	if r.DryRun && s != "unchanged" {
		s = "would be " + s + " (dry run: nothing changed)"
	}
	return s
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// RegisterInput is what Register uploads.
type RegisterInput struct {
	// Metadata is the document /saml/metadata serves.
	Metadata []byte
	// DryRun reads IAM and says what would change, and sends no write.
	DryRun bool
	Now    time.Time
}

// Register creates the account's SAML provider with the metadata, or updates it when the metadata
// IAM holds differs, and reads it back. A second run with the same metadata sends no write.
// With encryption off it lowers an AssertionEncryptionMode of Required to Allowed, since Rolegate
// sends that account plain assertions.
func Register(ctx context.Context, c *iam.Client, acct *store.Account, in RegisterInput) (*Registration, error) {
	arn := ProviderARN(acct)
	md := string(in.Metadata)
	_, want, err := trusted(md)
	if err != nil {
		return nil, fmt.Errorf("Rolegate's own metadata: %w", err)
	}
	r := &Registration{ProviderARN: arn, Action: Unchanged, DryRun: in.DryRun, Link: acct.AWS}
	got, err := provider(ctx, c, arn)
	if err != nil {
		return nil, err
	}
	if got == nil {
		r.Action, r.Added = Created, want
		if in.DryRun {
			return r, nil
		}
		out, err := c.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String(acct.ProviderName), SAMLMetadataDocument: aws.String(md)})
		if err != nil {
			return nil, fmt.Errorf("creating SAML provider %s: %w", acct.ProviderName, err)
		}
		r.ProviderARN = aws.ToString(out.SAMLProviderArn)
	} else {
		update := &iam.UpdateSAMLProviderInput{SAMLProviderArn: aws.String(arn)}
		// IAM keeps the document as sent: the same bytes (but for surrounding white space) are the same trust.
		if strings.TrimSpace(aws.ToString(got.SAMLMetadataDocument)) != strings.TrimSpace(md) {
			_, have, err := trusted(aws.ToString(got.SAMLMetadataDocument))
			if err != nil {
				have = nil // unreadable metadata trusts nothing; ours replaces it
			}
			r.Action, r.Added, r.Removed = Updated, diff(want, have), diff(have, want)
			update.SAMLMetadataDocument = aws.String(md)
		}
		if acct.AWS.Encrypt == store.EncryptOff && got.AssertionEncryptionMode == types.AssertionEncryptionModeTypeRequired {
			r.Changes = append(r.Changes, "encryption mode Required lowered to Allowed (encryption is off for this account)")
			update.AssertionEncryptionMode = types.AssertionEncryptionModeTypeAllowed
		}
		if !in.DryRun && (update.SAMLMetadataDocument != nil || update.AssertionEncryptionMode != "") {
			if _, err := c.UpdateSAMLProvider(ctx, update); err != nil {
				return nil, fmt.Errorf("updating SAML provider %s: %w", arn, err)
			}
		}
	}
	if in.DryRun {
		return r, nil
	}
	if err := readBack(ctx, c, r, in.Now); err != nil {
		return nil, err
	}
	return r, nil
}

// readBack records in r.Link what IAM now holds for the provider.
func readBack(ctx context.Context, c *iam.Client, r *Registration, now time.Time) error {
	got, err := provider(ctx, c, r.ProviderARN)
	if err != nil {
		return err
	}
	if got == nil {
		return fmt.Errorf("SAML provider %s is gone right after it was written", r.ProviderARN)
	}
	_, fps, err := trusted(aws.ToString(got.SAMLMetadataDocument))
	if err != nil {
		return fmt.Errorf("the metadata IAM holds for %s: %w", r.ProviderARN, err)
	}
	r.Link.ProviderARN, r.Link.TrustedCerts, r.Link.CheckedAt = r.ProviderARN, fps, now
	if id := aws.ToString(got.SAMLProviderUUID); id != "" {
		r.Link.IdPID = id
	}
	return nil
}

// diff is what a holds and b does not.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
