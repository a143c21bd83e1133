package assertions

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"rolegate/store"
)

// AWS attribute names (IAM User Guide, "Configuring SAML assertions for the authentication response").
const (
	AttrRole              = "https://aws.amazon.com/SAML/Attributes/Role"
	AttrRoleSessionName   = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
	AttrSessionDuration   = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
	AttrPrincipalTag      = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"
	AttrTransitiveTagKeys = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys"
	AttrSourceIdentity    = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"

	// AudienceAWS is the Audience AWS documents for every sign-in endpoint.
	AudienceAWS = "urn:amazon:webservices"
)

// AWS limits.
const (
	MaxTags             = 50
	MaxTagKeyLen        = 128
	MaxTagValueLen      = 256
	MaxSAMLResponseLen  = 100000 // base64 characters, STS SAMLAssertion
	AssertionLifetime   = 5 * time.Minute
	DefaultAWSDuration  = time.Hour
	minSessionNameLen   = 2
	maxSessionNameLen   = 64
	sessionNameAlphabet = "A-Za-z0-9_+=,.@-"
)

var (
	sessionNameRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{2,64}$`)
	tagKeyRE      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// SignInURL is the ACS of a partition and region: the URL the browser posts the Response to, and
// the Recipient and Destination in it. An empty region means the partition's default endpoint.
func SignInURL(p store.Partition, region string) (string, error) {
	if region != "" {
		if err := store.ValidateRegion(p, region); err != nil {
			return "", err
		}
	}
	host := map[store.Partition]string{
		store.PartitionAWS:      "signin.aws.amazon.com",
		store.PartitionGovCloud: "signin.amazonaws-us-gov.com",
		store.PartitionChina:    "signin.amazonaws.cn",
	}[p]
	if host == "" {
		return "", store.Errorf(store.Invalid, "unknown partition %q", p)
	}
	if region != "" {
		host = region + "." + host
	}
	return "https://" + host + "/saml", nil
}

// AccountSignInURL is the one endpoint Rolegate posts an account's plain Responses to, and so the
// one its roles' trust policies name in SAML:aud: the account's region's, else (no region, or one
// stored before Rolegate's list knew it) the partition's default.
func AccountSignInURL(a *store.Account) (string, error) {
	return SignInURL(a.Partition, AccountRegion(a))
}

// AccountRegion is the region an account signs in at: its own when Rolegate's list knows it, else
// "" (the partition's default endpoint).
func AccountRegion(a *store.Account) string {
	if store.KnownRegion(a.Partition, a.Region) {
		return a.Region
	}
	return ""
}

// EncryptedSignInURL is where an encrypted Response to an account goes: the regional sign-in
// endpoint (the partition's default region when region is empty) with /acs/ and the IdP ID AWS
// gave the account's SAML provider. It is the Recipient and Destination too.
func EncryptedSignInURL(p store.Partition, region, idpID string) (string, error) {
	if region == "" {
		region = store.DefaultRegions[p]
	}
	if idpID == "" {
		return "", store.Errorf(store.Invalid, "no IdP ID: AWS gives it when the account's SAML provider is registered")
	}
	if !store.ValidIdPID(idpID) {
		return "", store.Errorf(store.Invalid, "invalid IdP ID %q: AWS's SAML provider IDs are letters, digits and hyphens", idpID)
	}
	u, err := SignInURL(p, region)
	if err != nil {
		return "", err
	}
	return u + "/acs/" + idpID, nil
}

// AccountSignInURLs are every endpoint Rolegate may post an account's Responses to, the SAML:aud
// values its roles' trust policies must allow: AccountSignInURL, and EncryptedSignInURL when the
// account encrypts (allowed or required) and AWS's IdP ID for it is known.
func AccountSignInURLs(a *store.Account) ([]string, error) {
	plain, err := AccountSignInURL(a)
	if err != nil {
		return nil, err
	}
	urls := []string{plain}
	if a.AWS.Encrypt != store.EncryptOff && a.AWS.IdPID != "" {
		enc, err := EncryptedSignInURL(a.Partition, AccountRegion(a), a.AWS.IdPID)
		if err != nil {
			return nil, err
		}
		urls = append(urls, enc)
	}
	return urls, nil
}

// ConsoleHosts are the hosts a RelayState may point at, per partition: the console and its regional hosts.
var consoleHosts = map[store.Partition]string{
	store.PartitionAWS:      "console.aws.amazon.com",
	store.PartitionGovCloud: "console.amazonaws-us-gov.com",
	store.PartitionChina:    "console.amazonaws.cn",
}

// ARN builds an IAM ARN in partition p: "role/NAME" or "saml-provider/NAME".
func ARN(p store.Partition, account, resource string) string {
	return "arn:" + string(p) + ":iam::" + account + ":" + resource
}

// RolePair is one value of the Role attribute.
type RolePair struct {
	RoleARN, ProviderARN string
}

// RoleValue is the attribute value: provider first, which every CLI helper parses and AWS accepts.
func (r RolePair) RoleValue() string { return r.ProviderARN + "," + r.RoleARN }

// RoleFromValue splits a Role attribute value into its two ARNs. AWS takes either order, so the one
// naming a saml-provider is the provider; ok is false when the value is not two comma-separated parts.
// The ARNs themselves are left to CheckRoles.
func RoleFromValue(v string) (rp RolePair, ok bool) {
	parts := strings.Split(v, ",")
	if len(parts) != 2 {
		return RolePair{}, false
	}
	rp = RolePair{RoleARN: strings.TrimSpace(parts[0]), ProviderARN: strings.TrimSpace(parts[1])}
	if strings.Contains(rp.RoleARN, ":saml-provider/") {
		rp.RoleARN, rp.ProviderARN = rp.ProviderARN, rp.RoleARN
	}
	return rp, true
}

// Tag is one session tag.
type Tag struct {
	Key, Value string
	Transitive bool
}

// SessionName maps a user name or email into what AWS accepts as RoleSessionName or SourceIdentity:
// 2-64 characters of [A-Za-z0-9_+=,.@-]. A value that already fits is kept as it is. Otherwise other
// characters become '-', a one-character name gets a '_', a long one is cut, and a hash of the whole
// value is appended, so two different people never map to the same name.
func SessionName(raw string) (string, error) {
	if raw == "" {
		return "", store.Errorf(store.Invalid, "RoleSessionName: the source value is empty")
	}
	if sessionNameRE.MatchString(raw) {
		return raw, nil
	}
	var b strings.Builder
	for _, r := range raw {
		if r < utf8.RuneSelf && strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,.@-", r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := b.String()
	if len(s) < minSessionNameLen {
		s += strings.Repeat("_", minSessionNameLen-len(s))
	}
	sum := sha256.Sum256([]byte(raw))
	suffix := "-" + hex.EncodeToString(sum[:4])
	if len(s) > maxSessionNameLen-len(suffix) {
		s = s[:maxSessionNameLen-len(suffix)]
	}
	return s + suffix, nil
}

// CheckSessionName enforces AWS's RoleSessionName rule.
func CheckSessionName(s string) error {
	if !sessionNameRE.MatchString(s) {
		return store.Errorf(store.Invalid, "RoleSessionName %q breaks AWS's rule: 2-64 characters of [%s]", s, sessionNameAlphabet)
	}
	return nil
}

// CheckSourceIdentity enforces AWS's SourceIdentity rule.
func CheckSourceIdentity(s string) error {
	if !sessionNameRE.MatchString(s) || strings.HasPrefix(strings.ToLower(s), "aws:") {
		return store.Errorf(store.Invalid, "SourceIdentity %q breaks AWS's rule: 2-64 characters of [%s], not starting with \"aws:\"", s, sessionNameAlphabet)
	}
	return nil
}

// CheckTagKey enforces AWS's rules for a session tag key.
func CheckTagKey(k string) error {
	switch {
	case k == "" || utf8.RuneCountInString(k) > MaxTagKeyLen:
		return store.Errorf(store.Invalid, "session tag key %q breaks AWS's rule: 1-%d characters", k, MaxTagKeyLen)
	case !tagKeyRE.MatchString(k):
		return store.Errorf(store.Invalid, "session tag key %q breaks AWS's rule: only letters, digits, spaces and _ . : / = + - @", k)
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return store.Errorf(store.Invalid, "session tag key %q breaks AWS's rule: the prefix aws: is reserved", k)
	}
	return nil
}

// CheckTagValue enforces AWS's rules for a session tag value.
func CheckTagValue(k, v string) error {
	switch {
	case utf8.RuneCountInString(v) > MaxTagValueLen:
		return store.Errorf(store.Invalid, "value of session tag %q breaks AWS's rule: at most %d characters", k, MaxTagValueLen)
	case !tagValueRE.MatchString(v):
		return store.Errorf(store.Invalid, "value of session tag %q breaks AWS's rule: only letters, digits, spaces and _ . : / = + - @", k)
	}
	return nil
}

// CheckTags enforces the rules on a whole set of session tags.
func CheckTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return store.Errorf(store.Invalid, "%d session tags break AWS's rule: at most %d", len(tags), MaxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if err := CheckTagKey(t.Key); err != nil {
			return err
		}
		if err := CheckTagValue(t.Key, t.Value); err != nil {
			return err
		}
		// AWS compares tag keys regardless of case.
		if seen[strings.ToLower(t.Key)] {
			return store.Errorf(store.Invalid, "session tag key %q appears twice (AWS compares keys regardless of case)", t.Key)
		}
		seen[strings.ToLower(t.Key)] = true
	}
	return nil
}

// CheckDuration enforces the SessionDuration rule; 0 means the attribute is left out.
func CheckDuration(d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d%time.Second != 0 || d < store.MinSessionDuration || d > store.MaxSessionDuration {
		return store.Errorf(store.Invalid, "SessionDuration %s breaks AWS's rule: whole seconds from 900 to 43200", d)
	}
	return nil
}

var arnRE = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::([0-9]{12}):(role/[A-Za-z0-9_+=,.@/-]{1,512}|saml-provider/[A-Za-z0-9._-]{1,128})$`)

// CheckRoles enforces the Role attribute's rules: at least one pair, each a role ARN and a SAML
// provider ARN of the same partition and account.
func CheckRoles(roles []RolePair) error {
	if len(roles) == 0 {
		return store.Errorf(store.Invalid, "Role breaks AWS's rule: at least one role and provider pair")
	}
	for _, r := range roles {
		rm, pm := arnRE.FindStringSubmatch(r.RoleARN), arnRE.FindStringSubmatch(r.ProviderARN)
		if rm == nil || !strings.HasPrefix(rm[3], "role/") {
			return store.Errorf(store.Invalid, "Role value %q is not an IAM role ARN", r.RoleARN)
		}
		if pm == nil || !strings.HasPrefix(pm[3], "saml-provider/") {
			return store.Errorf(store.Invalid, "Role value %q is not an IAM SAML provider ARN", r.ProviderARN)
		}
		if rm[1] != pm[1] || rm[2] != pm[2] {
			return store.Errorf(store.Invalid, "role %s and provider %s are in different accounts or partitions", r.RoleARN, r.ProviderARN)
		}
	}
	return nil
}

// CheckRelayState accepts a RelayState only when it is an https console URL of partition p.
func CheckRelayState(p store.Partition, relay string) error {
	if relay == "" {
		return nil
	}
	bad := store.Errorf(store.Invalid, "RelayState must be an https AWS console URL of partition %s (https://%s/...)", p, consoleHosts[p])
	// Control characters too: net/url lets them through in the fragment.
	if len(relay) > 2048 || strings.ContainsFunc(relay, func(r rune) bool { return r == ' ' || r == '\\' || unicode.IsControl(r) }) {
		return bad
	}
	u, err := parseURL(relay)
	// No port, not even an empty one ("host:"): the host is exactly the console's.
	if err != nil || u.Scheme != "https" || u.User != nil || strings.Contains(u.Host, ":") {
		return bad
	}
	host, want := strings.ToLower(u.Hostname()), consoleHosts[p]
	// The console itself, or one region's console, as in us-east-2.console.aws.amazon.com.
	if want == "" || (host != want && !(strings.HasSuffix(host, "."+want) && store.KnownRegion(p, strings.TrimSuffix(host, "."+want)))) {
		return bad
	}
	return nil
}

// SignInRegion returns the region of acs when it is exactly one of partition p's sign-in URLs
// (SignInURL(p, region); "" for the partition's default endpoint), as a client names the ACS in
// the AuthnRequest it makes on AWS's behalf. Anything else is an Invalid error.
func SignInRegion(p store.Partition, acs string) (string, error) {
	def, err := SignInURL(p, "")
	if err != nil {
		return "", err
	}
	if acs == def {
		return "", nil
	}
	rest, ok := strings.CutPrefix(acs, "https://")
	region, host, dot := strings.Cut(rest, ".")
	if ok && dot && "https://"+host == def && store.KnownRegion(p, region) {
		return region, nil
	}
	return "", store.Errorf(store.Invalid, "the AssertionConsumerServiceURL %q is not a sign-in endpoint of partition %s (%s)", acs, p, def)
}
