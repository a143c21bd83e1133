package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"rolegate/store"
)

// ---- tag rules

func (s *Store) CreateTagRule(ctx context.Context, r *store.TagRule) error {
	return s.db.InTx(ctx, func(q Querier) error {
		acct, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 OR alias_key = $2`,
			r.AccountID, store.Key(r.AccountID)))
		if err != nil {
			return wrap(err, fmt.Sprintf("account %q", r.AccountID))
		}
		r.AccountID, r.AccountAlias = acct.ID, acct.Alias
		if err := r.Validate(); err != nil {
			return err
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM tag_rules WHERE account_id = $1`, r.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxTagRules {
			return store.Errorf(store.Conflict, "account %s has %d tag rules already: AWS accepts at most %d session tags", acct.Alias, n, store.MaxTagRules)
		}
		now := s.now()
		err = q.QueryRow(ctx, `INSERT INTO tag_rules (account_id, key, key_lower, from_attr, value, transitive, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, r.AccountID, r.Key, store.Key(r.Key), r.FromAttr, r.Value,
			r.Transitive, toDB(now)).Scan(&r.ID)
		if errors.Is(err, ErrUnique) {
			return store.Errorf(store.Conflict, "account %s already has a tag rule for key %q (AWS compares keys regardless of case)", acct.Alias, r.Key)
		}
		r.CreatedAt = fromDB(toDB(now))
		return err
	})
}

func (s *Store) ListTagRules(ctx context.Context, account string) ([]*store.TagRule, error) {
	where := ""
	var args []any
	if account != "" {
		where = ` WHERE a.id = $1 OR a.alias_key = $2`
		args = []any{account, store.Key(account)}
	}
	return s.tagRules(ctx, where+` ORDER BY a.alias_key, t.key_lower`, args...)
}

// tagRules lists the tag rules that tail (WHERE and ORDER BY of tag_rules t and accounts a) selects.
func (s *Store) tagRules(ctx context.Context, tail string, args ...any) ([]*store.TagRule, error) {
	rows, err := s.db.Query(ctx, `SELECT t.id, t.account_id, a.alias, t.key, t.from_attr, t.value, t.transitive, t.created_at
		FROM tag_rules t JOIN accounts a ON a.id = t.account_id`+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.TagRule
	for rows.Next() {
		var r store.TagRule
		var created int64
		if err := rows.Scan(&r.ID, &r.AccountID, &r.AccountAlias, &r.Key, &r.FromAttr, &r.Value, &r.Transitive, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = fromDB(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}

func (s *Store) DeleteTagRule(ctx context.Context, id int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM tag_rules WHERE id = $1`, id)
	if err == nil && n == 0 {
		return notFound("tag rule %d not found", id)
	}
	return err
}

// ---- service providers

func (s *Store) CreateServiceProvider(ctx context.Context, sp *store.ServiceProvider) error {
	if sp.EntityID == "" || len(sp.EntityID) > 1024 || len(sp.Metadata) == 0 {
		return store.Errorf(store.Invalid, "a service provider needs an entity ID (at most 1024 characters) and metadata")
	}
	now := s.now()
	err := s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO service_providers (entity_id, metadata, created_at, require_signed_requests) VALUES ($1, $2, $3, $4)`,
			sp.EntityID, string(sp.Metadata), toDB(now), sp.RequireSignedRequests); err != nil {
			return wrap(err, fmt.Sprintf("service provider %q", sp.EntityID))
		}
		return putSPPolicy(ctx, q, sp)
	})
	if err != nil {
		return err
	}
	sp.CreatedAt = fromDB(toDB(now))
	return nil
}

const spCols = `entity_id, metadata, release_attrs, restricted, created_at, require_signed_requests, nameid_format`

func scanSP(r Row) (*store.ServiceProvider, error) {
	var sp store.ServiceProvider
	var md, release string
	var created int64
	if err := r.Scan(&sp.EntityID, &md, &release, &sp.Restricted, &created, &sp.RequireSignedRequests, &sp.NameIDFormat); err != nil {
		return nil, err
	}
	sp.Metadata, sp.Release, sp.CreatedAt = []byte(md), splitRelease(release), fromDB(created)
	return &sp, nil
}

func (s *Store) GetServiceProvider(ctx context.Context, entityID string) (*store.ServiceProvider, error) {
	return getSP(ctx, s.db, entityID, "")
}

func (s *Store) ListServiceProviders(ctx context.Context) ([]*store.ServiceProvider, error) {
	rows, err := s.db.Query(ctx, `SELECT `+spCols+` FROM service_providers ORDER BY entity_id`)
	if err != nil {
		return nil, err
	}
	var out []*store.ServiceProvider
	byID := map[string]*store.ServiceProvider{}
	for rows.Next() {
		sp, err := scanSP(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, sp)
		byID[sp.EntityID] = sp
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, allowedGroups(ctx, s.db, "", byID)
}

func (s *Store) DeleteServiceProvider(ctx context.Context, entityID string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM service_providers WHERE entity_id = $1`, entityID)
	if err == nil && n == 0 {
		return notFound("service provider %q not found", entityID)
	}
	return err
}

// ---- pending AuthnRequests

// checkPendingRequest refuses a pending request that is incomplete or cannot be stored as it is.
func checkPendingRequest(r *store.PendingRequest) error {
	if len(r.HandleHash) < 16 || r.SPEntityID == "" || r.RequestID == "" || r.ACSURL == "" || !r.ExpiresAt.After(r.CreatedAt) {
		return store.Errorf(store.Invalid, "incomplete pending request")
	}
	if err := store.CheckNameIDFormat(r.NameIDFormat); err != nil {
		return err
	}
	for _, c := range r.AuthnContexts {
		if c == "" || strings.ContainsFunc(c, unicode.IsSpace) {
			return store.Errorf(store.Invalid, "authentication context class %q is empty or holds white space", c)
		}
	}
	return nil
}

// insertPendingRequest stores r; Conflict when its SP sent that request ID before.
func insertPendingRequest(ctx context.Context, q Querier, r *store.PendingRequest) error {
	_, err := q.Exec(ctx, `INSERT INTO saml_requests (handle_hash, sp_entity_id, request_id, acs_url, relay_state, created_at, expires_at,
		force_authn, authn_contexts, client_addr, nameid_format, nameid_no_create) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.HandleHash, r.SPEntityID, r.RequestID, r.ACSURL, r.RelayState, toDB(r.CreatedAt), toDB(r.ExpiresAt), r.ForceAuthn,
		strings.Join(r.AuthnContexts, " "), r.ClientAddr, r.NameIDFormat, r.NoNewNameID)
	if errors.Is(err, ErrUnique) {
		return store.Errorf(store.Conflict, "request %q from %q was seen before: a request is accepted once", r.RequestID, r.SPEntityID)
	}
	return err
}

func (s *Store) GetPendingRequest(ctx context.Context, handleHash []byte, now time.Time) (*store.PendingRequest, error) {
	var r store.PendingRequest
	var created, expires int64
	var contexts string
	err := s.db.QueryRow(ctx, `SELECT handle_hash, sp_entity_id, request_id, acs_url, relay_state, created_at, expires_at, force_authn, authn_contexts,
		nameid_format, nameid_no_create FROM saml_requests WHERE handle_hash = $1 AND consumed_at = 0 AND expires_at > $2`, handleHash, toDB(now)).
		Scan(&r.HandleHash, &r.SPEntityID, &r.RequestID, &r.ACSURL, &r.RelayState, &created, &expires, &r.ForceAuthn, &contexts, &r.NameIDFormat, &r.NoNewNameID)
	if err != nil {
		return nil, wrap(err, "sign-in request")
	}
	r.CreatedAt, r.ExpiresAt, r.AuthnContexts = fromDB(created), fromDB(expires), strings.Fields(contexts)
	return &r, nil
}

func (s *Store) ConsumePendingRequest(ctx context.Context, handleHash []byte, now time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE saml_requests SET consumed_at = $1 WHERE handle_hash = $2 AND consumed_at = 0 AND expires_at > $1`,
		toDB(now), handleHash)
	if err == nil && n == 0 {
		return notFound("sign-in request not found, expired or already used")
	}
	return err
}

func (s *Store) DeleteExpiredPendingRequests(ctx context.Context, now time.Time) (int64, error) {
	return s.db.Exec(ctx, `DELETE FROM saml_requests WHERE expires_at <= $1`, toDB(now))
}

// ---- second factors

func (s *Store) CreateMFAFactor(ctx context.Context, f *store.MFAFactor) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q Querier) error {
		if err := s.lockUser(ctx, q, f.UserID); err != nil {
			return err
		}
		return s.createFactor(ctx, q, f)
	})
}

// lockUser locks the user's row: that serialises one user's factor changes, so checks made after
// it hold until the transaction ends.
func (s *Store) lockUser(ctx context.Context, q Querier, userID int64) error {
	var uid int64
	err := q.QueryRow(ctx, `SELECT id FROM users WHERE id = $1`+s.d.ForUpdate, userID).Scan(&uid)
	return wrap(err, fmt.Sprintf("user #%d", userID))
}

// createFactor is CreateMFAFactor within a transaction that has locked the user.
func (s *Store) createFactor(ctx context.Context, q Querier, f *store.MFAFactor) error {
	if f.Kind == store.FactorTOTP {
		// An app that never confirmed a code is an abandoned enrolment: a new one replaces it.
		if _, err := q.Exec(ctx, `DELETE FROM mfa_factors WHERE user_id = $1 AND kind = 'totp' AND NOT confirmed`, f.UserID); err != nil {
			return err
		}
	}
	var n, named, totp int
	if err := q.QueryRow(ctx, `SELECT COUNT(*), COUNT(CASE WHEN name_key = $2 THEN 1 END), COUNT(CASE WHEN kind = 'totp' THEN 1 END)
			FROM mfa_factors WHERE user_id = $1`, f.UserID, store.Key(f.Name)).Scan(&n, &named, &totp); err != nil {
		return err
	}
	switch {
	case n >= store.MaxMFAFactors:
		return store.Errorf(store.Conflict, "the user has %d second factors already: at most %d are allowed", n, store.MaxMFAFactors)
	case f.Kind == store.FactorTOTP && totp > 0:
		return store.Errorf(store.Conflict, "the user already has an authenticator app")
	case named > 0:
		return store.Errorf(store.Conflict, "a factor named %q exists", f.Name)
	}
	now := s.now()
	err := q.QueryRow(ctx, `INSERT INTO mfa_factors (user_id, kind, name, name_key, secret, credential_id, confirmed, last_step,
			created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`, f.UserID, string(f.Kind), f.Name,
		store.Key(f.Name), f.Secret, f.CredentialID, f.Confirmed, f.LastStep, toDB(now), toDB(f.LastUsedAt)).Scan(&f.ID)
	if errors.Is(err, ErrUnique) {
		// The user is locked, so only the credential ID, unique across users, can clash here.
		return &store.Error{Code: store.Conflict, Message: "this security key is already registered", Err: err}
	}
	if err != nil {
		return wrap(err, fmt.Sprintf("factor %q", f.Name))
	}
	f.CreatedAt = fromDB(toDB(now))
	return nil
}

func (s *Store) ListMFAFactors(ctx context.Context, userID int64) ([]*store.MFAFactor, error) {
	rows, err := s.db.Query(ctx, `SELECT id, user_id, kind, name, secret, credential_id, confirmed, last_step, created_at, last_used_at
		FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.MFAFactor
	for rows.Next() {
		var f store.MFAFactor
		var kind string
		var created, used int64
		if err := rows.Scan(&f.ID, &f.UserID, &kind, &f.Name, &f.Secret, &f.CredentialID, &f.Confirmed, &f.LastStep,
			&created, &used); err != nil {
			return nil, err
		}
		f.Kind, f.CreatedAt, f.LastUsedAt = store.FactorKind(kind), fromDB(created), fromDB(used)
		out = append(out, &f)
	}
	return out, rows.Err()
}

func (s *Store) UseTOTPStep(ctx context.Context, factorID, step int64, now time.Time) error {
	return useTOTPStep(ctx, s.db, factorID, step, now)
}

func useTOTPStep(ctx context.Context, q Querier, factorID, step int64, now time.Time) error {
	// One statement: of two requests with the same code, one updates and the other finds last_step moved.
	n, err := q.Exec(ctx, `UPDATE mfa_factors SET confirmed = $1, last_step = $2, last_used_at = $3
		WHERE id = $4 AND kind = 'totp' AND last_step < $2`, true, step, toDB(now), factorID)
	if err != nil || n > 0 {
		return err
	}
	var exists int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM mfa_factors WHERE id = $1 AND kind = 'totp'`, factorID).Scan(&exists); err != nil {
		return err
	}
	if exists == 0 {
		return notFound("authenticator app %d not found", factorID)
	}
	return store.Errorf(store.Conflict, "this code was used already: wait for the next one")
}

func (s *Store) UpdateWebAuthnFactor(ctx context.Context, factorID int64, prev, secret []byte, now time.Time) error {
	if len(secret) == 0 {
		return store.Errorf(store.Invalid, "a security key's state cannot be empty")
	}
	n, err := s.db.Exec(ctx, `UPDATE mfa_factors SET secret = $1, last_used_at = $2 WHERE id = $3 AND kind = 'webauthn' AND secret = $4`,
		secret, toDB(now), factorID, prev)
	if err != nil || n > 0 {
		return err
	}
	var one int
	err = s.db.QueryRow(ctx, `SELECT 1 FROM mfa_factors WHERE id = $1 AND kind = 'webauthn'`, factorID).Scan(&one)
	if errors.Is(err, ErrNoRows) {
		return notFound("security key %d not found", factorID)
	} else if err != nil {
		return err
	}
	return store.Errorf(store.Conflict, "security key %d was used by another sign-in meanwhile", factorID)
}

func (s *Store) DeleteMFAFactor(ctx context.Context, userID, factorID int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2`, factorID, userID)
	if err == nil && n == 0 {
		return notFound("second factor %d not found", factorID)
	}
	return err
}

func (s *Store) ResetMFA(ctx context.Context, userID int64) (int, error) {
	var n int64
	err := s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		var err error
		n, err = q.Exec(ctx, `DELETE FROM mfa_factors WHERE user_id = $1`, userID)
		return err
	})
	return int(n), err
}

// ---- recovery codes

func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, now time.Time) error {
	if len(hashes) == 0 {
		return store.Errorf(store.Invalid, "a new set of recovery codes cannot be empty")
	}
	seen := map[string]bool{}
	for _, h := range hashes {
		if len(h) == 0 || seen[string(h)] {
			return store.Errorf(store.Invalid, "recovery code hashes must be non-empty and distinct")
		}
		seen[string(h)] = true
	}
	return s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			_, err := q.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)`, userID, h, toDB(now))
			if errors.Is(err, ErrForeignKey) {
				return notFound("user #%d not found", userID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash []byte, now time.Time) (int, error) {
	if now.IsZero() {
		// used_at 0 means unused: a zero time would leave the code spendable again.
		return 0, store.Errorf(store.Invalid, "a recovery code is spent at a time")
	}
	var left int
	err := s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at = 0`,
			toDB(now), userID, hash)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("that recovery code is unknown or used")
		}
		left, err = countRecoveryCodes(ctx, q, userID)
		return err
	})
	return left, err
}

func (s *Store) CountRecoveryCodes(ctx context.Context, userID int64) (int, error) {
	return countRecoveryCodes(ctx, s.db, userID)
}

func countRecoveryCodes(ctx context.Context, q Querier, userID int64) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at = 0`, userID).Scan(&n)
	return n, err
}
