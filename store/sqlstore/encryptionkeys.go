package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"rolegate/store"
)

// ---- encryption keys

// awsKeyIDRE is the form of the KeyId IAM gives an uploaded private key (UpdateSAMLProvider RemovePrivateKey).
var awsKeyIDRE = regexp.MustCompile(`^[A-Z0-9]{22,64}$`)

const encKeyCols = `id, account_id, state, certificate, sealed_key, kek_id, aws_key_id, created_at, activated_at, retired_at`

func (s *Store) CreateEncryptionKey(ctx context.Context, k *store.EncryptionKey) error {
	switch {
	case k.State != store.KeyNext && k.State != store.KeyCurrent:
		return store.Errorf(store.Invalid, "a new encryption key is next or current, not %q", k.State)
	case k.ID == "" || len(k.Certificate) == 0 || len(k.SealedKey) == 0:
		return store.Errorf(store.Invalid, "an encryption key needs an ID, a certificate and a sealed key")
	case k.AWSKeyID != "" && !awsKeyIDRE.MatchString(k.AWSKeyID):
		return store.Errorf(store.Invalid, "invalid AWS key ID %q: want 22-64 characters from A-Z 0-9", k.AWSKeyID)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO encryption_keys (`+encKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		k.ID, k.AccountID, string(k.State), k.Certificate, k.SealedKey, k.KEKID, k.AWSKeyID,
		toDB(k.CreatedAt), toDB(k.ActivatedAt), 0)
	switch {
	case errors.Is(err, ErrUnique):
		return store.Errorf(store.Conflict, "account %s already has a %s encryption key (or key %s exists)", k.AccountID, k.State, k.ID)
	case errors.Is(err, ErrForeignKey):
		return notFound("account %q not found", k.AccountID)
	}
	return err
}

func (s *Store) ListEncryptionKeys(ctx context.Context, accountID string) ([]*store.EncryptionKey, error) {
	rows, err := s.db.Query(ctx, `SELECT `+encKeyCols+` FROM encryption_keys WHERE account_id = $1
		ORDER BY created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EncryptionKey
	for rows.Next() {
		var k store.EncryptionKey
		var state string
		var created, activated, retired int64
		if err := rows.Scan(&k.ID, &k.AccountID, &state, &k.Certificate, &k.SealedKey, &k.KEKID, &k.AWSKeyID,
			&created, &activated, &retired); err != nil {
			return nil, err
		}
		k.State, k.CreatedAt, k.ActivatedAt, k.RetiredAt = store.KeyState(state), fromDB(created), fromDB(activated), fromDB(retired)
		out = append(out, &k)
	}
	return out, rows.Err()
}

func (s *Store) SetEncryptionKeyAWSID(ctx context.Context, id, awsKeyID string) error {
	if !awsKeyIDRE.MatchString(awsKeyID) {
		return store.Errorf(store.Invalid, "invalid AWS key ID %q: want 22-64 characters from A-Z 0-9", awsKeyID)
	}
	n, err := s.db.Exec(ctx, `UPDATE encryption_keys SET aws_key_id = $1 WHERE id = $2`, awsKeyID, id)
	if err == nil && n == 0 {
		return notFound("encryption key %q not found", id)
	}
	return err
}

func (s *Store) PromoteEncryptionKey(ctx context.Context, id string, now time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var acct, state string
		err := q.QueryRow(ctx, `SELECT account_id, state FROM encryption_keys WHERE id = $1`+s.d.ForUpdate, id).Scan(&acct, &state)
		if err != nil {
			return wrap(err, fmt.Sprintf("encryption key %q", id))
		}
		if store.KeyState(state) != store.KeyNext {
			return store.Errorf(store.Conflict, "encryption key %s is %s, not next: only the next key can be promoted", id, state)
		}
		if _, err := q.Exec(ctx, `UPDATE encryption_keys SET state = 'retired', retired_at = $1
			WHERE account_id = $2 AND state = 'current'`, toDB(now), acct); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE encryption_keys SET state = 'current', activated_at = $1 WHERE id = $2`, toDB(now), id)
		return err
	})
}

func (s *Store) RetireEncryptionKey(ctx context.Context, id string, now time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var state string
		err := q.QueryRow(ctx, `SELECT state FROM encryption_keys WHERE id = $1`+s.d.ForUpdate, id).Scan(&state)
		if err != nil {
			return wrap(err, fmt.Sprintf("encryption key %q", id))
		}
		if store.KeyState(state) == store.KeyRetired {
			return store.Errorf(store.Conflict, "encryption key %s is retired already", id)
		}
		_, err = q.Exec(ctx, `UPDATE encryption_keys SET state = 'retired', retired_at = $1 WHERE id = $2`, toDB(now), id)
		return err
	})
}
