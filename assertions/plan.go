package assertions

import (
	"slices"
	"strings"
	"time"

	"rolegate/store"
)

// AWSSignIn is what a sign-in to one AWS account starts from: the user, what the store says about
// the account, and how the user authenticated.
type AWSSignIn struct {
	BaseURL  string
	User     *store.User
	Account  *store.Account
	Grants   []*store.Grant // the user's effective grants; those of other accounts are ignored
	TagRules []*store.TagRule
	Role     string // one role name, or "" for every role granted in the account
	Region   string // sign-in region a link or client asks for; "" means the account's own (AccountRegion)
	// ACS overrides the partition's sign-in URL (the demo checker); empty in production.
	ACS string
	// Encryption is the account's current encryption certificate with a random source; nil when
	// the account has none. The account's mode says whether the Response is encrypted (encryptFor).
	Encryption *Encryption
	// ClientReads says the Response goes to a program that reads the roles in it (ECP, rolegate
	// login), not through the browser to AWS: it is never encrypted.
	ClientReads bool

	AuthnInstant time.Time
	MFA          bool
	SessionIndex string
	Now          time.Time
	ResponseID   string
	AssertionID  string
}

// PlanAWS turns a sign-in into the Response to issue, applying every rule: the role must be granted,
// the session lasts the shortest duration the chosen grants set (else the account's), and the
// names and tags meet AWS's rules. Errors name the grant, tag or rule at fault.
func PlanAWS(in AWSSignIn) (*AWSResponse, error) {
	a, u := in.Account, in.User
	var grants []*store.Grant
	for _, g := range in.Grants {
		if g.AccountID == a.ID && (in.Role == "" || g.Role == in.Role) {
			grants = append(grants, g)
		}
	}
	if len(grants) == 0 {
		if in.Role != "" {
			return nil, store.Errorf(store.Forbidden, "you are not granted role %q in account %s (%s)", in.Role, a.Alias, a.ID)
		}
		return nil, store.Errorf(store.Forbidden, "you are not granted any role in account %s (%s)", a.Alias, a.ID)
	}
	// The account's own region, unless a link or client asks for another of its partition
	// (SignInURL checks it); the roles' trust policies must then name that region's endpoint too
	// (rolegate aws trust-policy --region).
	region := in.Region
	if region == "" {
		region = AccountRegion(a)
	}
	enc, err := encryptFor(in)
	if err != nil {
		return nil, err
	}
	acs := in.ACS
	switch {
	case enc != nil && acs != "":
		acs += "/acs/" + a.AWS.IdPID // the demo checker's stand-in for AWS's encrypted endpoint
	case enc != nil:
		acs, err = EncryptedSignInURL(a.Partition, region, a.AWS.IdPID)
	case acs == "":
		acs, err = SignInURL(a.Partition, region)
	}
	if err != nil {
		return nil, err
	}

	seen := map[string]bool{}
	var roles []RolePair
	duration := time.Duration(0)
	provider := ARN(a.Partition, a.ID, "saml-provider/"+a.ProviderName)
	for _, g := range grants {
		if !seen[g.Role] {
			seen[g.Role] = true
			roles = append(roles, RolePair{RoleARN: ARN(a.Partition, a.ID, "role/"+g.Role), ProviderARN: provider})
		}
		if g.SessionDuration != 0 && (duration == 0 || g.SessionDuration < duration) {
			duration = g.SessionDuration
		}
	}
	slices.SortFunc(roles, func(a, b RolePair) int { return strings.Compare(a.RoleARN, b.RoleARN) })
	if duration == 0 {
		duration = a.SessionDuration
	}

	name, err := nameFrom(u, a.SessionNameSource, "RoleSessionName")
	if err != nil {
		return nil, err
	}
	if name, err = SessionName(name); err != nil {
		return nil, err
	}
	sourceIdentity, err := SourceIdentity(u, a)
	if err != nil {
		return nil, err
	}

	var tags []Tag
	for _, r := range in.TagRules {
		if r.AccountID != a.ID {
			continue
		}
		v := r.Value
		if r.FromAttr != "" {
			var ok bool
			if v, ok = u.Attributes[r.FromAttr]; !ok {
				continue // no attribute, no tag: AWS would refuse none, and an empty tag would mislead policies
			}
		}
		if err := CheckTagValue(r.Key, v); err != nil {
			return nil, store.Errorf(store.Invalid, "tag rule %q of account %s: %v", r.Key, a.Alias, store.ErrorMessage(err))
		}
		tags = append(tags, Tag{Key: r.Key, Value: v, Transitive: r.Transitive})
	}

	ctx := ContextPassword
	if in.MFA {
		ctx = ContextMFA
	}
	return &AWSResponse{
		BaseURL:         in.BaseURL,
		ACS:             acs,
		NameID:          u.Subject,
		Roles:           roles,
		SessionName:     name,
		SessionDuration: duration,
		Tags:            tags,
		SourceIdentity:  sourceIdentity,
		AuthnInstant:    in.AuthnInstant,
		AuthnContext:    ctx,
		SessionIndex:    in.SessionIndex,
		Now:             in.Now,
		ResponseID:      in.ResponseID,
		AssertionID:     in.AssertionID,
		Sign:            a.Sign,
		Encrypt:         enc,
	}, nil
}

// SourceIdentity is the SourceIdentity a sign-in by u to account a carries; "" when the account
// sends none. Revocation (awsadmin) denies sessions by this value, so it has one definition.
func SourceIdentity(u *store.User, a *store.Account) (string, error) {
	if a.SourceIdentitySource == store.FromNone {
		return "", nil
	}
	raw, err := nameFrom(u, a.SourceIdentitySource, "SourceIdentity")
	if err != nil {
		return "", err
	}
	return SessionName(raw)
}

// encryptFor applies the account's encryption mode: off, never; required, always, refusing the
// sign-in when IAM cannot decrypt yet (no current key or no IdP ID) or when a command line would
// read the Response; allowed, when IAM can decrypt and the Response goes through the browser.
func encryptFor(in AWSSignIn) (*Encryption, error) {
	a := in.Account
	mode := a.AWS.Encrypt
	missing := ""
	switch {
	case in.Encryption == nil:
		missing = "it has no current encryption key in IAM"
	case a.AWS.IdPID == "":
		missing = "Rolegate does not know the IdP ID AWS gave its SAML provider"
	}
	switch {
	case mode == store.EncryptOff:
		return nil, nil
	case in.ClientReads && mode == store.EncryptRequired:
		return nil, store.Errorf(store.Forbidden, "account %s (%s) requires encrypted assertions, and the command line cannot read the roles in one: "+
			"sign in to it in the browser, or ask an admin to run `rolegate account set %s --encrypt allowed`", a.Alias, a.ID, a.Alias)
	case in.ClientReads:
		return nil, nil // allowed: AWS takes a plain Response too, and the command line can read it
	case missing == "":
		return in.Encryption, nil
	case mode == store.EncryptRequired:
		return nil, store.Errorf(store.Forbidden, "account %s (%s) requires encrypted assertions, but %s: an admin runs `rolegate aws register --account %s`",
			a.Alias, a.ID, missing, a.Alias)
	}
	return nil, nil // allowed: plain until IAM holds the key
}

func nameFrom(u *store.User, src store.NameSource, attr string) (string, error) {
	if src == store.FromEmail {
		if u.Email == "" {
			return "", store.Errorf(store.Invalid, "%s comes from the email address, and user %q has none", attr, u.Name)
		}
		return u.Email, nil
	}
	return u.Name, nil
}
