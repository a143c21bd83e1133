// Package store holds Rolegate's domain types, the Store interface that every backend implements,
// and the rules a value must meet before any backend writes it.
package store

import (
	"context"
	"strings"
	"time"
)

// User is a person who signs in to Rolegate.
type User struct {
	ID   int64
	Name string // unique, compared case-insensitively
	// Subject is the persistent SAML NameID: random and opaque, set by the store on create, never reused.
	Subject     string
	Email       string
	DisplayName string
	Attributes  map[string]string
	Disabled    bool
	// PasswordHash is an argon2id PHC string; empty means the user has no password.
	PasswordHash string
	// MustChangePassword marks a one-time password, such as the bootstrap admin's.
	MustChangePassword bool
	// PasswordExpiresAt, when set, is when a one-time password stops signing anyone in.
	PasswordExpiresAt time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Group collects users; grants to a group reach every member.
type Group struct {
	ID        int64
	Name      string   // unique, compared case-insensitively
	Members   []string // user names, sorted
	CreatedAt time.Time
}

// Partition is an AWS partition.
type Partition string

const (
	PartitionAWS      Partition = "aws"
	PartitionGovCloud Partition = "aws-us-gov"
	PartitionChina    Partition = "aws-cn"
)

// Account is an AWS account that trusts Rolegate through an IAM SAML provider.
type Account struct {
	ID              string // 12 digits
	Alias           string // unique, compared case-insensitively
	ProviderName    string // the IAM SAML provider's name in that account
	Partition       Partition
	Region          string        // default sign-in region; empty means the partition's default endpoint
	SessionDuration time.Duration // default session duration; 0 means AWS's default (1 h)
	// SessionNameSource picks RoleSessionName: the user's name (default) or email.
	SessionNameSource NameSource
	// SourceIdentitySource picks SourceIdentity: none (empty), the user's name, or email.
	SourceIdentitySource NameSource
	// RequireMFA refuses this account's roles to a session that did not use a second factor.
	RequireMFA bool
	// CLISessionMax caps the lifetime of CLI sessions for this account; 0 is the web session's
	// absolute limit. It is never longer than that.
	CLISessionMax time.Duration
	// Label groups the account on the portal (prod, staging, sandbox); "" is no group.
	Label string
	// Sign says what of a Response to AWS Rolegate signs: both the Response and the Assertion
	// (default), or only one, which halves the RSA work of a sign-in.
	Sign      SignMode
	CreatedAt time.Time
	// AWS is what Rolegate knows of the account's side of the trust: set by the admin
	// (rolegate account set) and by rolegate aws register|check.
	AWS AWSLink
}

// AWSLink is the IAM side of an account: how to reach its IAM, the SAML provider found there, and
// whether responses to it are encrypted.
type AWSLink struct {
	// AdminProfile and AdminRoleARN say which credentials rolegate aws register|check|revoke use
	// for this account: a shared-config profile, then a role assumed with it; empty means the
	// default chain.
	AdminProfile string
	AdminRoleARN string
	// Encrypt says whether responses to the account carry an EncryptedAssertion.
	Encrypt EncryptMode
	// IdPID is the unique ID AWS gave the account's SAML provider (SAMLProviderUUID); encrypted
	// responses go to https://REGION.signin.aws.amazon.com/saml/acs/IdPID.
	IdPID string
	// ProviderARN is the SAML provider's ARN as IAM last reported it.
	ProviderARN string
	// TrustedCerts are the SHA-256 fingerprints (certs.Fingerprint) of the signing certificates
	// IAM held at CheckedAt, as rolegate aws register or check last read them.
	TrustedCerts []string
	CheckedAt    time.Time
}

// EncryptMode says whether an account's responses carry an EncryptedAssertion.
type EncryptMode string

const (
	EncryptOff      EncryptMode = ""         // never
	EncryptAllowed  EncryptMode = "allowed"  // when the account's IAM holds the key; plain otherwise
	EncryptRequired EncryptMode = "required" // always; no sign-in without the key and IdP ID
)

// SignMode says which elements of a Response to AWS carry a signature.
type SignMode string

const (
	SignBoth      SignMode = ""          // the Response and the Assertion
	SignAssertion SignMode = "assertion" // the Assertion alone (inside the encryption, when encrypted)
	SignResponse  SignMode = "response"  // the Response alone, which covers the Assertion it holds
)

// String is the mode as rolegate account set --sign takes it.
func (m SignMode) String() string {
	if m == SignBoth {
		return "both"
	}
	return string(m)
}

// ParseSignMode reads --sign: assertion, response or both.
func ParseSignMode(s string) (SignMode, error) {
	switch m := SignMode(s); m {
	case SignAssertion, SignResponse:
		return m, nil
	case "both":
		return SignBoth, nil
	}
	return "", Errorf(Invalid, "invalid signing mode %q: use assertion, response or both", s)
}

// NameSource says which of a user's names goes into an AWS attribute.
type NameSource string

const (
	FromNone     NameSource = ""
	FromUsername NameSource = "username"
	FromEmail    NameSource = "email"
)

// TagRule makes one session tag (PrincipalTag) for every sign-in to an account: the value is a user
// attribute (FromAttr) or, when FromAttr is empty, the literal Value (which may be empty).
type TagRule struct {
	ID           int64
	AccountID    string
	AccountAlias string // filled in on reads
	Key          string // unique per account, compared case-insensitively as AWS does
	FromAttr     string
	Value        string
	Transitive   bool
	CreatedAt    time.Time
}

// MaxTagRules is AWS's limit on session tags in one assertion.
const MaxTagRules = 50

// ServiceProvider is a SAML SP registered from its metadata, for SP-initiated SSO.
type ServiceProvider struct {
	EntityID string
	Metadata []byte
	// Release lists the user attributes (ReleaseAttrs keys) the SP receives besides its pairwise
	// NameID; empty, the default, releases none. Stored in ReleaseAttrs order, without repeats.
	Release []string
	// AllowedGroups, when Restricted, are the groups whose members may use the SP (sorted names).
	AllowedGroups []string
	// Restricted admits only members of AllowedGroups. It stays set when those groups are deleted,
	// so that such an SP admits no one rather than everyone.
	Restricted bool
	// RequireSignedRequests refuses its unsigned AuthnRequests, whatever its metadata says.
	RequireSignedRequests bool
	// NameIDFormat, when set (a NameIDFormats value), is the only NameID format the SP gets; ""
	// honours its requests' NameIDPolicy.
	NameIDFormat string
	CreatedAt    time.Time
}

// PendingRequest is a validated AuthnRequest kept while its user signs in. The browser holds a handle;
// only its hash is stored. A request ID is accepted once per SP.
type PendingRequest struct {
	HandleHash []byte
	SPEntityID string
	RequestID  string
	ACSURL     string
	RelayState string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// ForceAuthn asks for an authentication after CreatedAt, whatever session the browser has.
	ForceAuthn bool
	// AuthnContexts are the classes Rolegate may assert for the request's RequestedAuthnContext,
	// weakest first; none when it asked for none.
	AuthnContexts []string
	ClientAddr    string // the client group (see idp) that sent it, for the cap per address
	// NameIDFormat is the NameIDFormats value the Response's NameID has; "" (a request kept before
	// formats were chosen) is persistent.
	NameIDFormat string
	// NoNewNameID is the request's AllowCreate="false": a persistent NameID must exist already.
	NoNewNameID bool
}

// Grant lets a group or a user assume a role in an account.
type Grant struct {
	ID              int64
	Group           string // exactly one of Group and User is set
	User            string
	AccountID       string
	AccountAlias    string        // filled in on reads
	Role            string        // role name, with an optional path: "path/name"
	SessionDuration time.Duration // 0 means the account's
	CreatedAt       time.Time
}

// GrantFilter narrows ListGrants. Zero fields match everything.
type GrantFilter struct {
	Group   string
	User    string // grants made to this user directly
	Account string // alias or ID
	// Effective, with User, lists the grants that reach the user directly and through groups.
	Effective bool
}

// KeyState is where a signing key stands in its rotation: next, current, previous, retired.
type KeyState string

const (
	KeyNext     KeyState = "next"     // published in metadata, not yet signing
	KeyCurrent  KeyState = "current"  // signing and published
	KeyPrevious KeyState = "previous" // signed until the last activation; still published, so IAM keeps trusting it
	KeyRetired  KeyState = "retired"  // neither
)

// SigningKey is a private key sealed under the key-encryption key, with its certificate.
type SigningKey struct {
	ID          string
	State       KeyState
	Certificate []byte // DER
	SealedKey   []byte // PKCS#8, sealed with AES-GCM under the KEK
	KEKID       string // identifies the key-encryption key that sealed it
	CreatedAt   time.Time
	ActivatedAt time.Time // zero while next
	RetiredAt   time.Time // when it left the metadata; zero unless retired
}

// EncryptionKey is an account's key pair for encrypted assertions: Rolegate encrypts to its
// certificate, and the account's IAM SAML provider holds its private key to decrypt. The private
// key is sealed under the key-encryption key, as signing keys are.
type EncryptionKey struct {
	ID        string
	AccountID string
	// State: KeyNext (made, not yet uploaded to IAM), KeyCurrent (encrypting), KeyRetired.
	State       KeyState
	Certificate []byte // DER
	SealedKey   []byte // PKCS#8, sealed with AES-GCM under the KEK
	KEKID       string
	AWSKeyID    string // the KeyId IAM assigned on upload; "" before
	CreatedAt   time.Time
	ActivatedAt time.Time // zero while next
	RetiredAt   time.Time // zero unless retired
}

// Session is a signed-in browser session. Only the hash of its token is stored.
type Session struct {
	TokenHash       []byte
	UserID          int64
	AuthMethods     string // e.g. "pwd" or "pwd,otp"
	AuthenticatedAt time.Time
	CreatedAt       time.Time
	LastSeenAt      time.Time
	IdleExpiresAt   time.Time
	ExpiresAt       time.Time // absolute
	ClientAddr      string
	UserAgent       string
}

// CLISession is a command-line session: rolegate credential-process trades its token for a fresh
// Response without a prompt until it expires. Only the hash of its token is stored; ID is public.
type CLISession struct {
	ID           string
	TokenHash    []byte
	UserID       int64
	UserName     string // filled in by reads
	AccountID    string // the account it was issued for; "" for every account of the user
	AuthMethods  string // how the user authenticated at login, as a Session's
	AuthnInstant time.Time
	Binding      []byte // a hash of the password and factors it was created with
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time
	ClientAddr   string // of the last use
	UserAgent    string
	HostName     string // the client's machine, as it says
}

// FactorKind is the kind of a second factor.
type FactorKind string

const (
	FactorTOTP     FactorKind = "totp"     // an authenticator app (RFC 6238)
	FactorWebAuthn FactorKind = "webauthn" // a security key or passkey
)

// MFAFactor is one of a user's second factors. A user has at most one TOTP factor and any number
// of WebAuthn credentials.
type MFAFactor struct {
	ID     int64
	UserID int64
	Kind   FactorKind
	Name   string // the user's label, unique per user (case-insensitively)
	// Secret is, for TOTP, the shared secret sealed under the key-encryption key; for WebAuthn, the
	// credential (public key, sign count, flags) as JSON. Both are opaque to the store.
	Secret []byte
	// CredentialID is a WebAuthn credential's ID, unique across all users; nil for TOTP.
	CredentialID []byte
	// Confirmed is false for a TOTP factor until its first code is accepted; only confirmed factors
	// sign anyone in.
	Confirmed bool
	// LastStep is the last TOTP time step accepted: codes of that step or earlier are refused.
	LastStep   int64
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used
}

// MaxMFAFactors bounds how many factors one user may register.
const MaxMFAFactors = 20

// AuditEvent records something that happened, for `rolegate audit`.
type AuditEvent struct {
	ID         int64
	Time       time.Time
	Type       string // e.g. "login", "assertion", "user.add"
	User       string
	Result     string // "ok" or the reason it failed
	ClientAddr string
	UserAgent  string
	Details    map[string]string
}

// AuditFilter narrows ListAudit. Zero fields match everything.
type AuditFilter struct {
	User  string
	Since time.Time
	Limit int
	Types []string  // any of these event types; empty means every type
	Until time.Time // only events before it; zero means no bound
	// Accounts: only events whose "account" or "account_id" detail names one of these (an alias or an
	// ID; a detail may hold several, space-separated); empty means every event.
	Accounts []string
}

// MatchesAccount reports whether e is about one of f.Accounts (true when f names none).
func (f AuditFilter) MatchesAccount(e *AuditEvent) bool {
	if len(f.Accounts) == 0 {
		return true
	}
	for _, k := range []string{"account", "account_id"} {
		for _, name := range strings.Fields(e.Details[k]) {
			for _, want := range f.Accounts {
				if strings.EqualFold(name, want) {
					return true
				}
			}
		}
	}
	return false
}

// Throttle is a counter that resets when its window ends.
type Throttle struct {
	Key     string
	Count   int
	ResetAt time.Time
	NextAt  time.Time // with a Backoff: no attempt before this
}

// Backoff lets Free attempts through, then makes each one after wait twice as long as the one
// before, from Base up to Max. A counter is forgotten Window after its last attempt, so Window
// should be longer than Max: otherwise the delays would never grow.
type Backoff struct {
	Free      int
	Base, Max time.Duration
	Window    time.Duration
}

// Delay is how long the attempt after n counted ones must wait.
func (b Backoff) Delay(n int) time.Duration {
	if n < b.Free {
		return 0
	}
	d := b.Base
	for i := b.Free; i < n && d > 0 && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Take is one counter that an attempt must pass, and how it backs off.
type Take struct {
	Key     string
	Backoff Backoff
}

// Store is everything Rolegate keeps. Every backend passes store/storetest unchanged.
//
// Errors carry codes: NotFound, Conflict (already exists, or still in use), Invalid.
type Store interface {
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, name string) (*User, error)
	GetUserByID(ctx context.Context, id int64) (*User, error)
	ListUsers(ctx context.Context) ([]*User, error)
	// UpdateUser applies fn to the stored user atomically: concurrent updates are serialised.
	UpdateUser(ctx context.Context, name string, fn func(*User) error) (*User, error)
	DeleteUser(ctx context.Context, name string) error

	CreateGroup(ctx context.Context, g *Group) error
	GetGroup(ctx context.Context, name string) (*Group, error)
	ListGroups(ctx context.Context) ([]*Group, error)
	// DeleteGroup removes the group, its memberships and its grants.
	DeleteGroup(ctx context.Context, name string) error
	AddGroupMember(ctx context.Context, group, user string) error
	RemoveGroupMember(ctx context.Context, group, user string) error
	UserGroups(ctx context.Context, user string) ([]string, error)

	CreateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, aliasOrID string) (*Account, error)
	ListAccounts(ctx context.Context) ([]*Account, error)
	// DeleteAccount removes the account, its grants and its tag rules.
	DeleteAccount(ctx context.Context, aliasOrID string) error
	// UpdateAccount applies fn to the stored account atomically. The ID cannot change.
	UpdateAccount(ctx context.Context, aliasOrID string, fn func(*Account) error) (*Account, error)

	// CreateTagRule adds a rule; Conflict when the account has the key already or MaxTagRules rules.
	CreateTagRule(ctx context.Context, r *TagRule) error
	// ListTagRules lists an account's rules ("" for every account's), by account then key.
	ListTagRules(ctx context.Context, account string) ([]*TagRule, error)
	DeleteTagRule(ctx context.Context, id int64) error

	CreateServiceProvider(ctx context.Context, sp *ServiceProvider) error
	GetServiceProvider(ctx context.Context, entityID string) (*ServiceProvider, error)
	ListServiceProviders(ctx context.Context) ([]*ServiceProvider, error)
	DeleteServiceProvider(ctx context.Context, entityID string) error

	// GetPendingRequest returns a live, unconsumed request; NotFound otherwise.
	GetPendingRequest(ctx context.Context, handleHash []byte, now time.Time) (*PendingRequest, error)
	// ConsumePendingRequest marks it used, atomically: of two concurrent calls, one gets NotFound.
	ConsumePendingRequest(ctx context.Context, handleHash []byte, now time.Time) error
	DeleteExpiredPendingRequests(ctx context.Context, now time.Time) (int64, error)

	CreateGrant(ctx context.Context, g *Grant) error
	ListGrants(ctx context.Context, f GrantFilter) ([]*Grant, error)
	DeleteGrant(ctx context.Context, id int64) error

	// CreateSigningKey stores a key; Conflict when one in the same state (current or next) exists.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	ListSigningKeys(ctx context.Context) ([]*SigningKey, error)
	// PromoteSigningKey makes the next key current and the current one previous, atomically;
	// Conflict when id is not the next key or a previous key still exists (retire it first).
	PromoteSigningKey(ctx context.Context, id string, now time.Time) error

	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns NotFound for an unknown, expired or revoked session.
	GetSession(ctx context.Context, tokenHash []byte, now time.Time) (*Session, error)
	TouchSession(ctx context.Context, tokenHash []byte, lastSeen, idleExpires time.Time) error
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// ReplaceSession swaps the session oldHash for s in one step (a new token when a session gains
	// a factor); NotFound when oldHash is gone, such as revoked meanwhile.
	ReplaceSession(ctx context.Context, oldHash []byte, s *Session) error
	// SetSessionChallenge keeps data (a WebAuthn challenge) with a session until expires,
	// replacing any earlier one.
	SetSessionChallenge(ctx context.Context, tokenHash, data []byte, expires time.Time) error
	// TakeSessionChallenge returns the session's live challenge and clears it, atomically: of two
	// concurrent calls one gets NotFound, as does a call when there is none or it has expired.
	TakeSessionChallenge(ctx context.Context, tokenHash []byte, now time.Time) ([]byte, error)

	// CreateMFAFactor adds a factor and sets f.ID and f.CreatedAt. Conflict when the user has a
	// factor of that name, a TOTP factor already (for TOTP), MaxMFAFactors factors, or when the
	// credential ID is registered to anyone. An unconfirmed TOTP factor of the user is replaced.
	CreateMFAFactor(ctx context.Context, f *MFAFactor) error
	// ListMFAFactors lists a user's factors, confirmed or not, oldest first.
	ListMFAFactors(ctx context.Context, userID int64) ([]*MFAFactor, error)
	// UseTOTPStep accepts TOTP time step for the factor: it confirms it, records the step and the
	// time, atomically. Conflict when step is not after LastStep (a replayed or older code);
	// NotFound when there is no such TOTP factor.
	UseTOTPStep(ctx context.Context, factorID, step int64, now time.Time) error
	// UpdateWebAuthnFactor stores a credential's new state after a sign-in and its time of use, if
	// its state is still prev: Conflict when another sign-in changed it first, NotFound when there
	// is no such security key.
	UpdateWebAuthnFactor(ctx context.Context, factorID int64, prev, secret []byte, now time.Time) error
	// DeleteMFAFactor removes one of the user's factors; NotFound when the user has no such factor.
	DeleteMFAFactor(ctx context.Context, userID, factorID int64) error
	// ResetMFA removes all of a user's factors and recovery codes, and returns how many factors.
	ResetMFA(ctx context.Context, userID int64) (int, error)

	// ReplaceRecoveryCodes sets the user's recovery codes (their hashes), dropping any earlier ones.
	ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, now time.Time) error
	// UseRecoveryCode spends one unused code atomically and returns how many are left; NotFound
	// when the user has no unused code with that hash.
	UseRecoveryCode(ctx context.Context, userID int64, hash []byte, now time.Time) (int, error)
	// CountRecoveryCodes returns how many unused codes the user has.
	CountRecoveryCodes(ctx context.Context, userID int64) (int, error)

	AppendAudit(ctx context.Context, e *AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)

	// HitThrottle counts one event under key and returns the counter after it. A counter whose
	// window has ended starts again at 1 with a new window.
	HitThrottle(ctx context.Context, key string, window time.Duration, now time.Time) (Throttle, error)
	// GetThrottle returns the live counter for key; a missing or ended one has Count 0.
	GetThrottle(ctx context.Context, key string, now time.Time) (Throttle, error)
	DeleteExpiredThrottles(ctx context.Context, now time.Time) (int64, error)

	Ping(ctx context.Context) error
	Close() error

	// ---- per-SP privacy and access

	// UpdateServiceProvider applies fn to the stored SP atomically (its release list, allowed groups,
	// restriction, metadata; the entity ID cannot change). NotFound for an unknown SP or allowed group.
	UpdateServiceProvider(ctx context.Context, entityID string, fn func(*ServiceProvider) error) (*ServiceProvider, error)
	// PairwiseNameID returns the user's persistent NameID for the SP, making a random one on first
	// use; of concurrent first calls all get the same value. It goes when the user does.
	PairwiseNameID(ctx context.Context, userID int64, spEntityID string) (string, error)
	// ---- first-factor enrolment

	// CreateEnrolInvite stores a user's invite, replacing any earlier one of theirs; NotFound for an
	// unknown user, Invalid without a code hash or a lifetime.
	CreateEnrolInvite(ctx context.Context, inv *EnrolInvite) error
	// CheckEnrolInvite returns the user's invite when codeHash is its code's hash and it is live at now,
	// without spending it; NotFound otherwise (unknown, another user's, used, replaced or expired).
	CheckEnrolInvite(ctx context.Context, userID int64, codeHash []byte, now time.Time) (*EnrolInvite, error)
	// AddFirstFactor adds f, confirmed, as the user's first factor under gate, in one step with
	// gate's checks (see FirstFactor); CreateMFAFactor's rules apply too.
	AddFirstFactor(ctx context.Context, f *MFAFactor, gate FirstFactor) error
	// ConfirmFirstTOTP is UseTOTPStep for a pending TOTP factor that becomes its user's first, in
	// one step with gate's checks.
	ConfirmFirstTOTP(ctx context.Context, factorID, step int64, gate FirstFactor) error
	// RemoveMFAFactor removes one of the user's confirmed factors unless fewer than keep would
	// remain (Conflict); with the last go the user's recovery codes and pending factors. It returns
	// how many confirmed factors are left. NotFound when the user has no such confirmed factor.
	RemoveMFAFactor(ctx context.Context, userID, factorID int64, keep int) (int, error)
	// SetEnrolWindow opens (or moves the end of) the global window (Account "") or an account's
	// (alias or ID; NotFound when unknown). It fills in AccountID and AccountAlias.
	SetEnrolWindow(ctx context.Context, w *EnrolWindow) error
	// CloseEnrolWindow removes the global window ("") or an account's; NotFound when there is none.
	CloseEnrolWindow(ctx context.Context, account string) error
	// ListEnrolWindows lists every window, ended ones too: the global one first, then by alias.
	ListEnrolWindows(ctx context.Context) ([]*EnrolWindow, error)
	// EnrolWindowFor returns the window live at now that applies to the user (the global one, or an
	// account's where the user holds a grant, directly or through a group) that ends last; NotFound
	// when none does.
	EnrolWindowFor(ctx context.Context, userID int64, now time.Time) (*EnrolWindow, error)

	// ---- throttling
	// TakeThrottles counts one attempt on every counter, atomically, when none of them makes it
	// wait now; otherwise it writes nothing and returns ok false. It returns the counters, in the
	// order given, as they stand after the call.
	TakeThrottles(ctx context.Context, now time.Time, takes ...Take) (ts []Throttle, ok bool, err error)
	// ListThrottles returns the live counters whose key starts with prefix ("" for all).
	ListThrottles(ctx context.Context, prefix string, now time.Time) ([]Throttle, error)
	// DeleteThrottles deletes the counters of keys and returns how many there were.
	DeleteThrottles(ctx context.Context, keys ...string) (int64, error)
	// ServerSecret returns the deployment's secret called name; the first call anywhere stores
	// fresh, so that every replica reads the same one.
	ServerSecret(ctx context.Context, name string, fresh []byte, now time.Time) ([]byte, error)
	// SavePendingRequestCapped stores a validated request (Conflict when the SP sent that request ID
	// before), except that it writes nothing and returns false when r.ClientAddr has max live, unused
	// requests already.
	SavePendingRequestCapped(ctx context.Context, r *PendingRequest, max int) (bool, error)
	// CreateSessionCapped creates s and ends the user's oldest sessions beyond max, atomically:
	// those of one method (a password alone) before those whose AuthMethods name more (a second
	// factor too). It returns how many it ended.
	CreateSessionCapped(ctx context.Context, s *Session, max int) (int, error)

	// ---- CLI flows (rolegate login's browser and device-code flows)
	// CreateCLIAuthCode stores a confirmed authorization code; Invalid for a short hash. It deletes
	// codes expired by c.CreatedAt on the way.
	CreateCLIAuthCode(ctx context.Context, c *CLIAuthCode) error
	// TakeCLIAuthCode returns a live code and deletes it, atomically: of two concurrent takes one
	// gets NotFound, as does an expired or unknown code.
	TakeCLIAuthCode(ctx context.Context, codeHash []byte, now time.Time) (*CLIAuthCode, error)
	// CreateDeviceCode stores a pending device authorization; Conflict when its user code's hash is
	// taken. It deletes codes expired by d.CreatedAt on the way.
	CreateDeviceCode(ctx context.Context, d *DeviceCode) error
	// GetDeviceCode returns the live, pending code of a user code; NotFound otherwise.
	GetDeviceCode(ctx context.Context, userHash []byte, now time.Time) (*DeviceCode, error)
	// DecideDeviceCode records d's Status (approved or denied), UserID, Account, Role, Methods,
	// AuthnInstant and SessionIndex on the live, pending code of userHash, atomically: NotFound
	// when there is none (decided already, expired, unknown).
	DecideDeviceCode(ctx context.Context, userHash []byte, d *DeviceCode, now time.Time) error
	// PollDeviceCode is one poll of the command line: NotFound for an unknown or used code. A poll
	// sooner than Interval after the last one sets SlowDown and adds 5 s to the interval (RFC 8628
	// §3.5). Otherwise a decided or expired code is returned and deleted, so it is used once.
	PollDeviceCode(ctx context.Context, deviceHash []byte, now time.Time) (*DeviceCode, error)

	// ---- CLI sessions

	// CreateCLISession stores s (ID, token hash, user and binding required; Invalid otherwise) and
	// ends the user's oldest CLI sessions beyond max, atomically. It returns how many it ended.
	CreateCLISession(ctx context.Context, s *CLISession, max int) (int, error)
	// GetCLISession returns the session whose token hashes to tokenHash, with UserName filled in;
	// NotFound when it is unknown, expired at now, revoked, or its user is disabled.
	GetCLISession(ctx context.Context, tokenHash []byte, now time.Time) (*CLISession, error)
	// TouchCLISession records a use of the session; NotFound when it is gone.
	TouchCLISession(ctx context.Context, id string, now time.Time, clientAddr string) error
	// ListCLISessions lists the live CLI sessions at now of one user (userID 0: of everyone),
	// newest first, with UserName filled in.
	ListCLISessions(ctx context.Context, userID int64, now time.Time) ([]*CLISession, error)
	// DeleteCLISession ends the session id; with userID other than 0 only if it is that user's.
	// NotFound otherwise. DeleteUserSessions ends a user's CLI sessions with their web sessions.
	DeleteCLISession(ctx context.Context, id string, userID int64) error
	// ListUserSessions lists the user's live web sessions at now, newest first.
	ListUserSessions(ctx context.Context, userID int64, now time.Time) ([]*Session, error)

	// ---- encryption keys

	// CreateEncryptionKey stores an account's next or current key; Conflict when the account has a
	// key in that state already, NotFound for an unknown account.
	CreateEncryptionKey(ctx context.Context, k *EncryptionKey) error
	// ListEncryptionKeys lists an account's keys (ID), newest first.
	ListEncryptionKeys(ctx context.Context, accountID string) ([]*EncryptionKey, error)
	// SetEncryptionKeyAWSID records the KeyId IAM gave the key on upload; NotFound for an unknown key.
	SetEncryptionKeyAWSID(ctx context.Context, id, awsKeyID string) error
	// PromoteEncryptionKey makes the next key current and retires its account's current one,
	// atomically; Conflict when the key is not next.
	PromoteEncryptionKey(ctx context.Context, id string, now time.Time) error
	// RetireEncryptionKey retires a next or current key; Conflict when it is retired already.
	RetireEncryptionKey(ctx context.Context, id string, now time.Time) error

	// ---- key rotation
	// RetireSigningKey takes the previous key out of the metadata (previous -> retired) at now;
	// NotFound for an unknown id, Conflict for a key that is not previous.
	RetireSigningKey(ctx context.Context, id string, now time.Time) error

	// ---- portal
	// AddFavourite stars f.Role in account f.AccountID (an ID) for user f.UserID; starring it again
	// changes nothing. NotFound for an unknown user or account, Invalid for a malformed role,
	// Conflict when the user has max favourites already.
	AddFavourite(ctx context.Context, f *Favourite, max int) error
	// RemoveFavourite takes the star off; NotFound when there was none.
	RemoveFavourite(ctx context.Context, userID int64, accountID, role string) error
	// ListFavourites lists the user's favourites, oldest first.
	ListFavourites(ctx context.Context, userID int64) ([]*Favourite, error)

	// ---- settings
	// Setting returns the value of the deployment setting name; NotFound when it has none.
	Setting(ctx context.Context, name string) (string, error)
	// InitSetting gives name value unless it has one already, atomically (of two concurrent first
	// calls one wins), and returns the value name holds after the call.
	InitSetting(ctx context.Context, name, value string) (string, error)
	// SetSetting gives name value, replacing any it had.
	SetSetting(ctx context.Context, name, value string) error

	// ---- audit export and retention
	// PageAudit lists the events that match f (its Limit aside) with an ID above after, in ID
	// order, reading at most n rows; next is the ID to pass as after for the next page, 0 when
	// there are no more rows. A page may hold fewer than n events (f.Accounts is matched after the
	// read), even none, while next is not 0.
	PageAudit(ctx context.Context, f AuditFilter, after int64, n int) (events []*AuditEvent, next int64, err error)
	// CountAuditBefore counts the events older than before.
	CountAuditBefore(ctx context.Context, before time.Time) (int64, error)
	// PruneAudit deletes at most n of the events older than before, oldest first, in one short
	// transaction, and returns how many it deleted: callers loop until it returns 0, so that
	// writers of new events wait at most one batch.
	PruneAudit(ctx context.Context, before time.Time, n int) (int64, error)

	// ---- spattrs
	// FindPairwiseNameID returns the user's pairwise NameID for the SP without making one; NotFound
	// when the user has none yet (a request with AllowCreate="false" is then refused).
	FindPairwiseNameID(ctx context.Context, userID int64, spEntityID string) (string, error)

	// ---- scale
	// ListAccountsByID returns the accounts among ids, by ID; an ID of no account is left out. One
	// call whatever the number: a sign-in to every account a user holds reads them at once.
	ListAccountsByID(ctx context.Context, ids []string) ([]*Account, error)
	// ListTagRulesOf lists the tag rules of the accounts among ids, by account ID then key.
	ListTagRulesOf(ctx context.Context, ids []string) ([]*TagRule, error)
}

// Device authorization states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceCode is a device authorization (RFC 8628): a command line somewhere waits, polling with
// the device code, for a signed-in person to approve its user code. Only hashes of both are kept.
type DeviceCode struct {
	DeviceHash, UserHash []byte
	ClientName           string // the host name the command line gave
	ClientAddr           string // the address it asked from
	Account, Role        string // what it asked for; once approved, what the person chose
	CreatedAt, ExpiresAt time.Time
	Interval             time.Duration // the least wait between polls
	LastPollAt           time.Time
	Status               string
	UserID               int64 // who decided
	Methods              string
	AuthnInstant         time.Time
	SessionIndex         string
	SlowDown             bool // set by PollDeviceCode
}

// CLIAuthCode is a /cli/authorize the signed-in person confirmed: the command line trades it once,
// with the verifier of Challenge and the same RedirectURI, for a Response planned from the rest.
type CLIAuthCode struct {
	CodeHash     []byte
	Challenge    string // base64url SHA-256 of the client's verifier (PKCE S256)
	RedirectURI  string
	UserID       int64
	Account      string // the account chosen, ID
	Role         string // the role chosen; "" for every role in the account
	Methods      string // the browser session's AuthMethods
	AuthnInstant time.Time
	SessionIndex string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// EnrolInvite lets one user add a first second factor after signing in with their password: an
// admin issues it, it is spent once, and it expires. Only its code's hash is stored.
type EnrolInvite struct {
	UserID    int64
	CodeHash  []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MaxInviteTTL bounds an invite's lifetime: a code that lies around for long is one more secret to leak.
const MaxInviteTTL = 7 * 24 * time.Hour

// EnrolWindow lets users without a factor add their first with the password alone until EndsAt:
// every user (AccountID "") or those with a grant in the account. Admins open one for a rollout.
type EnrolWindow struct {
	AccountID    string // "" for the global window
	AccountAlias string // filled in on reads
	OpenedAt     time.Time
	EndsAt       time.Time
}

// FirstFactor is what lets a session without a second factor add the user's first, checked by the
// store in the same step as the addition, so that of two racing first enrolments one fails:
// the user must have no confirmed factor (Forbidden otherwise); with InviteHash, the user's live
// invite of that hash is spent (NotFound when there is none); with Recent, nothing more is needed;
// without either, a window live at Now must apply to the user (Forbidden otherwise).
type FirstFactor struct {
	InviteHash []byte
	Now        time.Time
	// Recent says that the session used a second factor minutes ago, one its user has removed since
	// (a lost phone replaced after a recovery code): it could have added another before removing.
	Recent bool
}
