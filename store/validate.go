package store

import (
	"io/fs"
	"net/mail"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits an AWS session duration must respect (STS AssumeRoleWithSAML, SessionDuration attribute).
const (
	MinSessionDuration = 900 * time.Second
	MaxSessionDuration = 43200 * time.Second
)

var (
	userNameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)
	groupNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)
	attrKeyRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:-]{0,63}$`)
	accountIDRE    = regexp.MustCompile(`^[0-9]{12}$`)
	aliasRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	providerNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	roleNameRE     = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,64}$`)
	rolePathPartRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]+$`)
)

// MaxAttrValueLen bounds a user attribute's value, in characters.
const MaxAttrValueLen = 1024

// Key folds a name for case-insensitive comparison and uniqueness.
func Key(name string) string { return strings.ToLower(name) }

// ValidateUserName checks a user name.
func ValidateUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return Errorf(Invalid, "invalid user name %q: use 1-64 characters from A-Z a-z 0-9 . _ @ + -, starting with a letter or digit", name)
	}
	return nil
}

// ValidateGroupName checks a group name.
func ValidateGroupName(name string) error {
	if !groupNameRE.MatchString(name) {
		return Errorf(Invalid, "invalid group name %q: use 1-128 characters from A-Z a-z 0-9 . _ @ + -, starting with a letter or digit", name)
	}
	return nil
}

// ValidateAttr checks one user attribute.
func ValidateAttr(key, value string) error {
	if !attrKeyRE.MatchString(key) {
		return Errorf(Invalid, "invalid attribute name %q: use 1-64 characters from A-Z a-z 0-9 _ . : -, starting with a letter", key)
	}
	if !utf8.ValidString(value) || strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return Errorf(Invalid, "invalid value for attribute %q: it must be UTF-8 text without control characters", key)
	}
	if utf8.RuneCountInString(value) > MaxAttrValueLen {
		return Errorf(Invalid, "value for attribute %q is longer than %d characters", key, MaxAttrValueLen)
	}
	return nil
}

// Validate checks every field an admin can set on a user.
func (u *User) Validate() error {
	if err := ValidateUserName(u.Name); err != nil {
		return err
	}
	if u.Email != "" {
		addr, err := mail.ParseAddress(u.Email)
		if err != nil || addr.Address != u.Email || addr.Name != "" {
			return Errorf(Invalid, "invalid email address %q", u.Email)
		}
	}
	if !utf8.ValidString(u.DisplayName) || strings.IndexFunc(u.DisplayName, unicode.IsControl) >= 0 || utf8.RuneCountInString(u.DisplayName) > 256 {
		return Errorf(Invalid, "invalid display name: at most 256 characters of text without control characters")
	}
	for k, v := range u.Attributes {
		if err := ValidateAttr(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks a group's name.
func (g *Group) Validate() error { return ValidateGroupName(g.Name) }

// ValidPartition reports whether p is a partition Rolegate knows.
func ValidPartition(p Partition) bool {
	return p == PartitionAWS || p == PartitionGovCloud || p == PartitionChina
}

// Regions are each partition's regions as of 2026, the one list that account regions, sign-in
// endpoints (https://REGION.signin...) and console hosts of a RelayState are checked against. A
// region AWS opens later is added here; until then its accounts use the partition's default endpoint.
var Regions = map[Partition][]string{
	PartitionAWS: {
		"us-east-1", "us-east-2", "us-west-1", "us-west-2",
		"af-south-1",
		"ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
		"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
		"ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ca-central-1", "ca-west-1",
		"eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1",
		"il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
	},
	PartitionGovCloud: {"us-gov-west-1", "us-gov-east-1"},
	PartitionChina:    {"cn-north-1", "cn-northwest-1"},
}

// DefaultRegions are each partition's home region: where its default sign-in endpoint
// (signin.aws.amazon.com and its peers) lives and IAM signs.
var DefaultRegions = map[Partition]string{
	PartitionAWS:      "us-east-1",
	PartitionGovCloud: "us-gov-west-1",
	PartitionChina:    "cn-north-1",
}

// KnownRegion reports whether region is one of partition p's Regions.
func KnownRegion(p Partition, region string) bool { return slices.Contains(Regions[p], region) }

// ValidateRegionShape checks that region is written as a region code of partition p: what a stored
// account must hold. A region AWS opens after this list was written passes it, so an account saved
// with one keeps working (it signs in at the partition's default endpoint until the list knows it).
func ValidateRegionShape(p Partition, region string) error {
	if !regionRE.MatchString(region) {
		return Errorf(Invalid, "invalid region %q: expected a region code such as us-east-2", region)
	}
	gov, cn := strings.HasPrefix(region, "us-gov-"), strings.HasPrefix(region, "cn-")
	if (p == PartitionGovCloud) != gov || (p == PartitionChina) != cn {
		return Errorf(Invalid, "region %q is not in partition %s", region, p)
	}
	return nil
}

// ValidateRegion checks that region is one of partition p's known Regions: what an admin may set
// and a sign-in link may ask for.
func ValidateRegion(p Partition, region string) error {
	if !regionRE.MatchString(region) {
		return Errorf(Invalid, "invalid region %q: expected a region code such as us-east-2", region)
	}
	if KnownRegion(p, region) {
		return nil
	}
	for q := range Regions {
		if KnownRegion(q, region) {
			return Errorf(Invalid, "region %q is not in partition %s but in %s", region, p, q)
		}
	}
	return Errorf(Invalid, "region %q is not in partition %s: it is none of the regions Rolegate knows there", region, p)
}

// ValidateSessionDuration checks a session duration; 0 means "not set".
func ValidateSessionDuration(d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d%time.Second != 0 || d < MinSessionDuration || d > MaxSessionDuration {
		return Errorf(Invalid, "invalid session duration %s: AWS accepts whole seconds from 900 (15m) to 43200 (12h)", d)
	}
	return nil
}

// MaxCLISession is the longest a CLI session may live: as long as a web session may.
const MaxCLISession = 12 * time.Hour

// ValidateCLISessionMax checks an account's CLI session lifetime: 0 (the default), or whole seconds
// from 15m to 12h.
func ValidateCLISessionMax(d time.Duration) error {
	if d != 0 && (d%time.Second != 0 || d < 15*time.Minute || d > MaxCLISession) {
		return Errorf(Invalid, "invalid CLI session lifetime %s: use whole seconds from 15m to 12h, or 0 for the default (12h)", d)
	}
	return nil
}

// ValidateAccountID checks a 12-digit AWS account ID.
func ValidateAccountID(id string) error {
	if !accountIDRE.MatchString(id) {
		return Errorf(Invalid, "invalid AWS account ID %q: it must be exactly 12 digits", id)
	}
	return nil
}

// Validate checks an account before it is stored.
func (a *Account) Validate() error {
	if err := ValidateAccountID(a.ID); err != nil {
		return err
	}
	if !aliasRE.MatchString(a.Alias) {
		return Errorf(Invalid, "invalid alias %q: use 1-63 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit", a.Alias)
	}
	if accountIDRE.MatchString(a.Alias) {
		return Errorf(Invalid, "invalid alias %q: an alias must not look like an account ID", a.Alias)
	}
	switch a.Sign {
	case SignBoth, SignAssertion, SignResponse:
	default:
		return Errorf(Invalid, "invalid signing mode %q: use assertion, response or both", a.Sign)
	}
	if !providerNameRE.MatchString(a.ProviderName) {
		return Errorf(Invalid, "invalid SAML provider name %q: IAM accepts 1-128 characters from A-Z a-z 0-9 . _ -", a.ProviderName)
	}
	if !ValidPartition(a.Partition) {
		return Errorf(Invalid, "invalid partition %q: use aws, aws-us-gov or aws-cn", a.Partition)
	}
	if a.Region != "" {
		if err := ValidateRegionShape(a.Partition, a.Region); err != nil {
			return err
		}
	}
	if err := ValidateSessionDuration(a.SessionDuration); err != nil {
		return err
	}
	if err := ValidateCLISessionMax(a.CLISessionMax); err != nil {
		return err
	}
	if err := ValidateLabel(a.Label); err != nil {
		return err
	}
	if a.SessionNameSource != FromUsername && a.SessionNameSource != FromEmail {
		return Errorf(Invalid, "invalid session name source %q: use username or email", a.SessionNameSource)
	}
	switch a.SourceIdentitySource {
	case FromNone, FromUsername, FromEmail:
	default:
		return Errorf(Invalid, "invalid source identity source %q: use none, username or email", a.SourceIdentitySource)
	}
	return a.AWS.Validate(a.Partition)
}

var (
	idpIDRE        = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	profileRE      = regexp.MustCompile(`^[A-Za-z0-9._@+=,-]{1,128}$`)
	fingerprintRE  = regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`)
	roleARNShapeRE = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
)

// ValidIdPID reports whether id has the shape of AWS's ID for a SAML provider (SAMLProviderUUID),
// which goes into a URL path (https://REGION.signin.../saml/acs/IDP_ID).
func ValidIdPID(id string) bool { return idpIDRE.MatchString(id) }

// Validate checks the IAM side of an account in partition p.
func (l *AWSLink) Validate(p Partition) error {
	switch l.Encrypt {
	case EncryptOff, EncryptAllowed, EncryptRequired:
	default:
		return Errorf(Invalid, "invalid encryption mode %q: use required, allowed or off", l.Encrypt)
	}
	if l.IdPID != "" && !ValidIdPID(l.IdPID) {
		return Errorf(Invalid, "invalid IdP ID %q: AWS's SAML provider IDs are letters, digits and hyphens", l.IdPID)
	}
	if l.AdminProfile != "" && !profileRE.MatchString(l.AdminProfile) {
		return Errorf(Invalid, "invalid AWS profile name %q", l.AdminProfile)
	}
	if l.AdminRoleARN != "" {
		m := roleARNShapeRE.FindStringSubmatch(l.AdminRoleARN)
		if m == nil {
			return Errorf(Invalid, "invalid role ARN %q: want arn:PARTITION:iam::ACCOUNT:role/NAME", l.AdminRoleARN)
		}
		if Partition(m[1]) != p {
			return Errorf(Invalid, "role ARN %q is in partition %s, the account is in %s", l.AdminRoleARN, m[1], p)
		}
	}
	if l.ProviderARN != "" && !strings.HasPrefix(l.ProviderARN, "arn:"+string(p)+":iam::") {
		return Errorf(Invalid, "invalid SAML provider ARN %q for partition %s", l.ProviderARN, p)
	}
	for _, f := range l.TrustedCerts {
		if !fingerprintRE.MatchString(f) {
			return Errorf(Invalid, "invalid certificate fingerprint %q: want 32 upper-case hex pairs joined by colons", f)
		}
	}
	return nil
}

// Validate checks a tag rule's shape: without FromAttr, Value is a literal and may be empty; AWS's character rules are applied by the caller (assertions).
func (r *TagRule) Validate() error {
	if r.Key == "" || utf8.RuneCountInString(r.Key) > 128 {
		return Errorf(Invalid, "invalid tag key %q: 1-128 characters", r.Key)
	}
	if r.FromAttr != "" && r.Value != "" {
		return Errorf(Invalid, "a tag rule takes its value from an attribute (--from-attr) or a literal (--value), not both")
	}
	if r.FromAttr != "" && !attrKeyRE.MatchString(r.FromAttr) {
		return Errorf(Invalid, "invalid attribute name %q", r.FromAttr)
	}
	return ValidateAccountID(r.AccountID)
}

// ValidateRoleName checks an IAM role name with an optional path ("path/to/name").
func ValidateRoleName(role string) error {
	parts := strings.Split(role, "/")
	name := parts[len(parts)-1]
	if !roleNameRE.MatchString(name) {
		return Errorf(Invalid, "invalid role name %q: IAM role names are 1-64 characters from A-Z a-z 0-9 _ + = , . @ -", role)
	}
	if len(role) > 512 {
		return Errorf(Invalid, "invalid role %q: the path is longer than 512 characters", role)
	}
	for _, p := range parts[:len(parts)-1] {
		if !rolePathPartRE.MatchString(p) {
			return Errorf(Invalid, "invalid role path in %q: path segments use A-Z a-z 0-9 _ + = , . @ - and are not empty", role)
		}
	}
	return nil
}

// Validate checks a grant before it is stored.
func (g *Grant) Validate() error {
	if (g.Group == "") == (g.User == "") {
		return Errorf(Invalid, "a grant names exactly one group or one user")
	}
	if err := ValidateAccountID(g.AccountID); err != nil {
		return err
	}
	if err := ValidateRoleName(g.Role); err != nil {
		return err
	}
	return ValidateSessionDuration(g.SessionDuration)
}

// MaxCredentialIDLen bounds a WebAuthn credential ID, in bytes (WebAuthn Level 3 allows at most 1023).
const MaxCredentialIDLen = 1023

// Validate checks a second factor before it is stored.
// CheckFactorName checks a second factor's name: 1-64 characters of text, with no control or
// format characters (a right-to-left override could make one key's name read as another's).
func CheckFactorName(name string) error {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 ||
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return Errorf(Invalid, "invalid factor name %q: use 1-64 characters of text, without control or formatting characters", name)
	}
	return nil
}

func (f *MFAFactor) Validate() error {
	if err := CheckFactorName(f.Name); err != nil {
		return err
	}
	switch f.Kind {
	case FactorTOTP:
		if f.CredentialID != nil {
			return Errorf(Invalid, "an authenticator app has no credential ID")
		}
	case FactorWebAuthn:
		if len(f.CredentialID) == 0 || len(f.CredentialID) > MaxCredentialIDLen {
			return Errorf(Invalid, "a security key needs a credential ID of 1-%d bytes", MaxCredentialIDLen)
		}
	default:
		return Errorf(Invalid, "invalid factor kind %q: use totp or webauthn", f.Kind)
	}
	if len(f.Secret) == 0 {
		return Errorf(Invalid, "a second factor needs its secret")
	}
	return nil
}

// CheckNotWritableByOthers refuses a file or directory that group or others may write: whoever can
// write Rolegate's data dir, database or key-encryption key can make themselves admin or read every
// secret. what names the thing in the message, which says the chmod to run.
func CheckNotWritableByOthers(what, path string, mode fs.FileMode) error {
	// Windows has no Unix permission bits to check.
	if runtime.GOOS == "windows" || mode.Perm()&0o022 == 0 {
		return nil
	}
	return Errorf(Invalid, "%s %s has mode %04o, writable by group or others: run `chmod go-w %s`", what, path, mode.Perm(), path)
}
