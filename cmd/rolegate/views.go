package main

import (
	"context"
	"time"

	"rolegate/idp/sso"
	"rolegate/store"
)

// The JSON forms of the objects: what a list prints with -o json or yaml, and what an add or
// set prints with --json. One form per object, so a script reads the same keys everywhere.

// accountJSON is an account as account list, add and set show it.
type accountJSON struct {
	ID              string      `json:"id"`
	Alias           string      `json:"alias"`
	ProviderName    string      `json:"provider_name"`
	Partition       string      `json:"partition"`
	Region          string      `json:"region,omitempty"`
	SessionDuration int64       `json:"session_duration_seconds,omitempty"`
	SessionNameSrc  string      `json:"session_name_source"`
	SourceIdentity  string      `json:"source_identity_source,omitempty"`
	RequireMFA      bool        `json:"require_mfa"`
	CLISession      int64       `json:"cli_session_seconds,omitempty"`
	AWS             awsLinkJSON `json:"aws"`
	Encrypt         string      `json:"encrypt"`
	Encryption      string      `json:"encryption"`
	SessionText     string      `json:"session_duration,omitempty"` // session_duration_seconds as "4h"
	CLISessionText  string      `json:"cli_session,omitempty"`      // cli_session_seconds as "8h"
	Sign            string      `json:"sign"`                       // what is signed: both, assertion or response
}

func accountJSONOf(ctx context.Context, st store.Store, ac *store.Account) (accountJSON, error) {
	et, err := encryptionText(ctx, st, ac)
	if err != nil {
		return accountJSON{}, err
	}
	return accountJSON{ac.ID, ac.Alias, ac.ProviderName, string(ac.Partition), ac.Region,
		int64(ac.SessionDuration.Seconds()), string(ac.SessionNameSource), string(ac.SourceIdentitySource), ac.RequireMFA,
		int64(ac.CLISessionMax.Seconds()), awsLinkOf(ac.AWS), encryptWord(ac.AWS.Encrypt), et,
		durWord(ac.SessionDuration), durWord(ac.CLISessionMax), ac.Sign.String()}, nil
}

// tagRuleJSON is a tag rule as tag list and tag add show it.
type tagRuleJSON struct {
	ID           int64   `json:"id"`
	AccountID    string  `json:"account_id"`
	AccountAlias string  `json:"account_alias"`
	Key          string  `json:"key"`
	FromAttr     *string `json:"from_attr,omitempty"`
	Value        *string `json:"value,omitempty"`
	Transitive   bool    `json:"transitive"`
}

func tagRuleJSONOf(r *store.TagRule) tagRuleJSON {
	j := tagRuleJSON{ID: r.ID, AccountID: r.AccountID, AccountAlias: r.AccountAlias, Key: r.Key, Transitive: r.Transitive}
	if r.FromAttr != "" {
		j.FromAttr = &r.FromAttr
	} else {
		j.Value = &r.Value // present even when empty: an empty literal is a value
	}
	return j
}

// userJSONOf is u, a member of groups, as user list and user add show it: never the password hash.
func userJSONOf(u *store.User, groups []string) userJSON {
	if groups == nil {
		groups = []string{}
	}
	j := userJSON{Name: u.Name, Email: u.Email, DisplayName: u.DisplayName, Attributes: nonNil(u.Attributes),
		Groups: groups, Disabled: u.Disabled, HasPassword: u.PasswordHash != "",
		MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt}
	if !u.PasswordExpiresAt.IsZero() {
		j.PasswordExpiresAt = &u.PasswordExpiresAt
	}
	return j
}

// spJSON is a service provider as sp list, add and set show it.
type spJSON struct {
	EntityID              string    `json:"entity_id"`
	ACSURLs               []string  `json:"acs_urls"`
	Release               []string  `json:"release"`
	Restricted            bool      `json:"restricted"`     // only allowed_groups' members may use it
	AllowedGroups         []string  `json:"allowed_groups"` // empty and restricted: no one may
	AddedAt               time.Time `json:"added_at"`
	Problem               string    `json:"problem,omitempty"` // why the stored metadata is no longer accepted
	RequireSignedRequests bool      `json:"require_signed_requests"`
	NameIDFormat          string    `json:"nameid_format"` // as --nameid-format takes it: unspecified when not fixed
}

func spJSONOf(sp *store.ServiceProvider) spJSON {
	j := spJSON{EntityID: sp.EntityID, ACSURLs: []string{}, Release: sp.Release, Restricted: sp.Restricted,
		AllowedGroups: sp.AllowedGroups, AddedAt: sp.CreatedAt.UTC(), RequireSignedRequests: sp.RequireSignedRequests,
		NameIDFormat: nameIDFormatName(sp)}
	if ed, err := sso.ParseSPMetadata(sp.Metadata); err != nil {
		j.Problem = store.ErrorMessage(err)
	} else {
		j.ACSURLs = sso.SPACSURLs(ed)
	}
	return j
}

// memberships are the groups user is a member of.
func memberships(ctx context.Context, st store.Store, user string) ([]string, error) {
	groups, err := st.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	in := []string{}
	for _, g := range groups {
		for _, m := range g.Members {
			if store.Key(m) == store.Key(user) {
				in = append(in, g.Name)
			}
		}
	}
	return in, nil
}
