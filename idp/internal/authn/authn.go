// Package authn is the vocabulary of a sign-in that the idp package decides and its flows
// (idp/cliauth, idp/sso) read: how a user authenticated, what a check answered, and how much of a
// client's input is looked at.
package authn

import (
	"time"

	"rolegate/idp/password"
)

// Methods a session records in AuthMethods, in the order they were used.
const (
	MethodPassword = "pwd"
	MethodTOTP     = "otp"
	MethodWebAuthn = "webauthn"
	MethodRecovery = "recovery"
)

// Results of a check, as the audit log records them.
const (
	ResultOK       = "ok"
	ResultReplayed = "replayed"
	ResultRefused  = "refused"
)

// Results of a sign-in attempt, as rolegate_signins_total counts them. An unknown user, a
// disabled one and an expired one-time password count as bad_password, as they get its answer.
const (
	SignInOK          = "ok"
	SignInBadPassword = "bad_password"
	SignInThrottled   = "throttled"
	SignInMFARequired = "mfa_required" // the password passed; a second factor is due
	SignInMFAFailed   = "mfa_failed"
)

// MsgBadCredentials is the one message for an unknown user, a wrong password and a disabled user.
const MsgBadCredentials = "Wrong username or password."

// Bounds of what a client sends.
const (
	MaxUsernameBytes = 256
	MaxPasswordBytes = password.MaxLen
	MaxCodeBytes     = 64
	// MaxUserAgent bounds what a session and the audit log keep of a User-Agent header.
	MaxUserAgent = 256
	// MaxRequestID bounds the ID of a SAML request.
	MaxRequestID = 256
	// MaxRequestSkew is how far in the future a SAML request's IssueInstant may be: a client's
	// clock may run ahead by this much.
	MaxRequestSkew = 90 * time.Second
)
