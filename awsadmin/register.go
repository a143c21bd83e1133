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

// elsewhere returns a provider of the account's provider name in another account, when IAM lists
// one: then the credentials act in that account, not in acct. IAM refuses a read of another
// account's provider; emulators (moto, LocalStack) answer it NoSuchEntity, and the create that
// follows would overwrite the other account's provider. "" when there is none, or IAM does not
// let the credentials list providers.
func elsewhere(ctx context.Context, c *iam.Client, acct *store.Account) string {
	out, err := c.ListSAMLProviders(ctx, &iam.ListSAMLProvidersInput{})
	if err != nil {
		return ""
	}
	for _, p := range out.SAMLProviderList {
		if arn := aws.ToString(p.Arn); strings.HasSuffix(arn, ":saml-provider/"+acct.ProviderName) && arn != ProviderARN(acct) {
			return arn
		}
	}
	return ""
}

// otherAccount says that the credentials act in the account of arn, not in acct.
func otherAccount(acct *store.Account, arn string) string {
	return fmt.Sprintf("the credentials act in %s, not in %s: give account %s its own (rolegate account set %s --aws-profile P or --admin-role-arn ARN)",
		arnAccount(arn), acct.ID, acct.Alias, acct.Alias)
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
		if len(r.Added)+len(r.Removed) == 0 {
			// The certificates' order, or someone's edit of the document, differed.
			parts = append(parts, "updated metadata (the same certificates; the document differed)")
			break
		}
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
	// Keys and KEK give the account's encryption keys, for an account whose assertions are
	// encrypted; nil Keys leaves IAM's private keys alone.
	Keys KeyStore
	KEK  *certs.KEK
	// DryRun reads IAM and says what would change, and sends no write.
	DryRun bool
	Now    time.Time
}

// KeyStore is the part of store.Store that Register uses for an account's encryption keys.
type KeyStore interface {
	ListEncryptionKeys(ctx context.Context, accountID string) ([]*store.EncryptionKey, error)
	SetEncryptionKeyAWSID(ctx context.Context, id, awsKeyID string) error
	PromoteEncryptionKey(ctx context.Context, id string, now time.Time) error
}

// Register creates the account's SAML provider with the metadata, or updates it when the metadata
// IAM holds differs, and reads it back. A second run with the same metadata sends no write.
// With encryption off it lowers an AssertionEncryptionMode of Required to Allowed, since Rolegate
// sends that account plain assertions.
func Register(ctx context.Context, c *iam.Client, acct *store.Account, in RegisterInput) (*Registration, error) {
	arn := ProviderARN(acct)
	md := string(in.Metadata)
	entity, want, err := trusted(md)
	if err != nil {
		return nil, fmt.Errorf("Rolegate's own metadata: %w", err)
	}
	r := &Registration{ProviderARN: arn, Action: Unchanged, DryRun: in.DryRun, Link: acct.AWS}
	got, err := provider(ctx, c, arn)
	if err != nil {
		return nil, err
	}
	if got == nil {
		if other := elsewhere(ctx, c, acct); other != "" {
			return nil, fmt.Errorf("nothing written: IAM holds %s: %s", other, otherAccount(acct, other))
		}
		r.Action, r.Added = Created, want
		if in.DryRun {
			return r, nil
		}
		out, err := c.CreateSAMLProvider(ctx, &iam.CreateSAMLProviderInput{Name: aws.String(acct.ProviderName), SAMLMetadataDocument: aws.String(md)})
		if err != nil {
			return nil, fmt.Errorf("creating SAML provider %s: %w", acct.ProviderName, err)
		}
		if made := aws.ToString(out.SAMLProviderArn); made != arn {
			// It did not exist before (elsewhere found none): taking it back leaves nothing behind.
			undo := "deleted it again"
			if _, err := c.DeleteSAMLProvider(ctx, &iam.DeleteSAMLProviderInput{SAMLProviderArn: aws.String(made)}); err != nil {
				undo = fmt.Sprintf("could not delete it again (%v): delete it by hand", err)
			}
			return nil, fmt.Errorf("IAM made SAML provider %s, not %s, and Rolegate %s: %s", made, arn, undo, otherAccount(acct, made))
		}
	} else {
		update := &iam.UpdateSAMLProviderInput{SAMLProviderArn: aws.String(arn)}
		// IAM keeps the document as sent: the same bytes (but for surrounding white space) are the same trust.
		if strings.TrimSpace(aws.ToString(got.SAMLMetadataDocument)) != strings.TrimSpace(md) {
			was, have, err := trusted(aws.ToString(got.SAMLMetadataDocument))
			switch {
			case err != nil:
				have = nil // unreadable metadata trusts nothing; ours replaces it
				r.Changes = append(r.Changes, fmt.Sprintf("replaced metadata IAM could not use (%v)", err))
			case was != entity:
				r.Changes = append(r.Changes, fmt.Sprintf("entity ID %q replaced by %q", was, entity))
			}
			r.Action, r.Added, r.Removed = Updated, diff(want, have), diff(have, want)
			update.SAMLMetadataDocument = aws.String(md)
		}
		if acct.AWS.Encrypt == store.EncryptOff && got.AssertionEncryptionMode == types.AssertionEncryptionModeTypeRequired {
			// Rolegate sends this account plain assertions, which Required would refuse.
			r.Changes = append(r.Changes, "encryption mode Required lowered to Allowed (encryption is off for this account)")
			update.AssertionEncryptionMode = types.AssertionEncryptionModeTypeAllowed
		}
		if !in.DryRun && (update.SAMLMetadataDocument != nil || update.AssertionEncryptionMode != "") {
			update.SAMLMetadataDocument = aws.String(md) // always: see encryptionKeys
			if _, err := c.UpdateSAMLProvider(ctx, update); err != nil {
				return nil, fmt.Errorf("updating SAML provider %s: %w", arn, err)
			}
		}
	}
	if acct.AWS.Encrypt != store.EncryptOff && in.Keys != nil {
		if err := encryptionKeys(ctx, c, acct, in, r, got); err != nil {
			return nil, err
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

// encryptionKeys rotates the account's encryption keys in IAM as AWS documents it: the next key
// is added (with the account's AssertionEncryptionMode), its KeyId read back and recorded, and it
// is promoted, so Rolegate encrypts to it from then on; then each retired key IAM still holds is
// removed, one separate request each. got is the provider as Register found it (nil when it
// created it).
func encryptionKeys(ctx context.Context, c *iam.Client, acct *store.Account, in RegisterInput, r *Registration, got *iam.GetSAMLProviderOutput) error {
	mode := types.AssertionEncryptionModeTypeAllowed
	if acct.AWS.Encrypt == store.EncryptRequired {
		mode = types.AssertionEncryptionModeTypeRequired
	}
	keys, err := in.Keys.ListEncryptionKeys(ctx, acct.ID)
	if err != nil {
		return err
	}
	var held []string // the KeyIds IAM holds
	haveMode := types.AssertionEncryptionModeType("")
	if got != nil {
		for _, k := range got.PrivateKeyList {
			held = append(held, aws.ToString(k.KeyId))
		}
		haveMode = got.AssertionEncryptionMode
	}
	arn := aws.String(r.ProviderARN)
	// Every update carries the metadata, unchanged: IAM takes it as optional, but emulators that
	// predate encryption (moto, LocalStack) store whatever the request holds, an absent document too.
	md := aws.String(string(in.Metadata))
	// remove takes a retired key out of IAM, in a request of its own.
	remove := func(k *store.EncryptionKey) error {
		if k.AWSKeyID == "" || !slices.Contains(held, k.AWSKeyID) {
			return nil
		}
		r.Changes = append(r.Changes, fmt.Sprintf("retired encryption key %s removed (KeyId %s)", k.ID, k.AWSKeyID))
		held = slices.DeleteFunc(held, func(id string) bool { return id == k.AWSKeyID })
		if in.DryRun {
			return nil
		}
		if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: arn, SAMLMetadataDocument: md, RemovePrivateKey: aws.String(k.AWSKeyID)}); err != nil {
			return fmt.Errorf("removing retired encryption key %s (KeyId %s): %w", k.ID, k.AWSKeyID, err)
		}
		return nil
	}
	// Keys retired before this run encrypt nothing: they go first, freeing IAM's two key slots.
	for _, k := range keys {
		if k.State == store.KeyRetired {
			if err := remove(k); err != nil {
				return err
			}
		}
	}
	var next, cur *store.EncryptionKey
	for _, k := range keys {
		switch k.State {
		case store.KeyNext:
			next = k
		case store.KeyCurrent:
			cur = k
		}
	}
	switch {
	case next != nil && next.AWSKeyID != "" && slices.Contains(held, next.AWSKeyID):
		// Uploaded by a run that stopped before promoting it.
	case next != nil:
		r.Changes = append(r.Changes, fmt.Sprintf("encryption key %s uploaded (mode %s)", next.ID, mode))
		if in.DryRun {
			break
		}
		pemText, err := certs.EncryptionKeyPEM(in.KEK, next)
		if err != nil {
			return err
		}
		if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: arn, SAMLMetadataDocument: md, AddPrivateKey: aws.String(pemText), AssertionEncryptionMode: mode}); err != nil {
			return fmt.Errorf("uploading encryption key %s: %w", next.ID, err)
		}
		after, err := provider(ctx, c, r.ProviderARN)
		if err != nil || after == nil {
			return fmt.Errorf("reading back the uploaded encryption key %s: %v", next.ID, err)
		}
		var added []string
		for _, k := range after.PrivateKeyList {
			if id := aws.ToString(k.KeyId); !slices.Contains(held, id) {
				added = append(added, id)
			}
		}
		if len(after.PrivateKeyList) == 0 && after.AssertionEncryptionMode == "" {
			// moto and LocalStack take the request and keep neither the key nor the mode.
			return fmt.Errorf("IAM took encryption key %s but does not keep encryption keys (GetSAMLProvider lists no private key and no encryption mode; an emulator that predates encrypted assertions?): nothing recorded; turn encryption off with rolegate account set %s --encrypt off",
				next.ID, acct.Alias)
		}
		if len(added) != 1 {
			return fmt.Errorf("IAM shows %d new private keys after uploading encryption key %s, want 1: nothing recorded", len(added), next.ID)
		}
		if err := in.Keys.SetEncryptionKeyAWSID(ctx, next.ID, added[0]); err != nil {
			return err
		}
		held, haveMode = append(held, added[0]), mode
		next.AWSKeyID = added[0]
	case cur != nil && haveMode != mode:
		r.Changes = append(r.Changes, fmt.Sprintf("encryption mode set to %s", mode))
		if !in.DryRun {
			if _, err := c.UpdateSAMLProvider(ctx, &iam.UpdateSAMLProviderInput{SAMLProviderArn: arn, SAMLMetadataDocument: md, AssertionEncryptionMode: mode}); err != nil {
				return fmt.Errorf("setting the encryption mode: %w", err)
			}
		}
	case cur == nil:
		r.Changes = append(r.Changes, "no encryption key to upload: make one with rolegate account set "+acct.Alias+" --rotate-encryption-key")
	}
	if next == nil {
		return nil
	}
	if !in.DryRun {
		if err := in.Keys.PromoteEncryptionKey(ctx, next.ID, in.Now); err != nil {
			return err
		}
	}
	// The promotion retired the old current key: once the new one is in IAM and encrypting, it goes.
	if cur != nil {
		return remove(cur)
	}
	return nil
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

// arnAccount names the account of an ARN in words ("account 123456789012"); the ARN itself when
// it names none.
func arnAccount(arn string) string {
	if f := strings.Split(arn, ":"); len(f) > 4 && f[4] != "" {
		return "account " + f[4]
	}
	return arn
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
