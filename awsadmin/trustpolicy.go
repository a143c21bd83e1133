package awsadmin

import (
	"encoding/json"
	"fmt"
	"slices"

	"rolegate/assertions"
	"rolegate/store"
)

// Actions a trust policy allows: the sign-in itself, and what the Response's optional attributes need.
const (
	ActionAssumeRoleWithSAML = "sts:AssumeRoleWithSAML"
	ActionTagSession         = "sts:TagSession"        // PrincipalTag and TransitiveTagKeys attributes
	ActionSetSourceIdentity  = "sts:SetSourceIdentity" // the SourceIdentity attribute
)

// MaxTrustPolicyLen is IAM's default quota on a role's trust policy, white space not counted.
const MaxTrustPolicyLen = 2048

// TrustInput is what a role's trust policy depends on: the account, and whether it has session tag
// rules (rolegate tag add), whose tags need sts:TagSession.
type TrustInput struct {
	Account  *store.Account
	TagRules bool
	// Regions are other regions of the account's partition that sign-in links or clients ask for
	// (/aws/signin?region=R): their endpoints join SAML:aud.
	Regions []string
}

// Policy is an IAM policy document; its fields are in the order AWS's own examples use.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a trust policy.
type Statement struct {
	Effect    string                         `json:"Effect"`
	Principal map[string]string              `json:"Principal"`
	Action    []string                       `json:"Action"`
	Condition map[string]map[string][]string `json:"Condition"`
}

// TrustPolicy is the trust policy every role Rolegate signs in to in the account needs: the
// account's SAML provider as the federated principal; sts:AssumeRoleWithSAML, with sts:TagSession
// when the account's sign-ins carry session tags and sts:SetSourceIdentity when they carry a source
// identity (AWS refuses the whole sign-in without them); and SAML:aud (the Response's Recipient)
// limited to exactly the endpoints Rolegate posts the account's Responses to. notes say in words
// what an admin should know about it, such as encryption waiting for AWS's IdP ID.
func TrustPolicy(in TrustInput) (p *Policy, notes []string, err error) {
	a := in.Account
	if !store.ValidPartition(a.Partition) {
		return nil, nil, store.Errorf(store.Invalid, "account %s has no known partition (%q)", a.Alias, a.Partition)
	}
	aud, err := assertions.AccountSignInURLs(a)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range in.Regions {
		if err := store.ValidateRegion(a.Partition, r); err != nil {
			return nil, nil, err
		}
		u, err := assertions.SignInURL(a.Partition, r)
		if err != nil {
			return nil, nil, err
		}
		urls := []string{u}
		if a.AWS.Encrypt != store.EncryptOff && a.AWS.IdPID != "" { // browser sign-ins there are encrypted
			enc, err := assertions.EncryptedSignInURL(a.Partition, r, a.AWS.IdPID)
			if err != nil {
				return nil, nil, err
			}
			urls = append(urls, enc)
		}
		for _, u := range urls {
			if !slices.Contains(aud, u) {
				aud = append(aud, u)
			}
		}
	}
	if a.AWS.Encrypt != store.EncryptOff && a.AWS.IdPID == "" {
		notes = append(notes, fmt.Sprintf("account %s encrypts assertions (%s) but AWS's IdP ID for its SAML provider is not known yet, so SAML:aud lacks the encrypted endpoint https://REGION.signin.../saml/acs/IDP_ID: run rolegate aws register --account %s (or rolegate account set %s --sp-metadata URL), then print this policy again",
			a.Alias, a.AWS.Encrypt, a.Alias, a.Alias))
	}
	actions := []string{ActionAssumeRoleWithSAML}
	if in.TagRules {
		actions = append(actions, ActionTagSession)
	}
	if a.SourceIdentitySource != store.FromNone {
		actions = append(actions, ActionSetSourceIdentity)
	}
	return &Policy{
		Version: "2012-10-17",
		Statement: []Statement{{
			Effect:    "Allow",
			Principal: map[string]string{"Federated": assertions.ARN(a.Partition, a.ID, "saml-provider/"+a.ProviderName)},
			Action:    actions,
			Condition: map[string]map[string][]string{"StringEquals": {"SAML:aud": aud}},
		}},
	}, notes, nil
}

// JSON is the policy as an admin pastes it: indented, and at most MaxTrustPolicyLen characters
// once white space is left out, as IAM counts.
func (p *Policy) JSON() ([]byte, error) {
	compact, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if len(compact) > MaxTrustPolicyLen {
		return nil, store.Errorf(store.Invalid, "the trust policy is %d characters, more than IAM's default quota of %d", len(compact), MaxTrustPolicyLen)
	}
	return json.MarshalIndent(p, "", "  ")
}
