package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"rolegate/migrations"
	"rolegate/store"
)

// Store implements store.Store over a DB.
type Store struct {
	db    DB
	d     Dialect
	now   func() time.Time
	audit auditQueue // when d.GroupAudit
}

var _ store.Store = (*Store)(nil)

// New wraps db. It does not migrate; call Migrate.
func New(db DB, d Dialect) *Store {
	return &Store{db: db, d: d, now: func() time.Time { return time.Now().UTC() }}
}

// Migrate applies the dialect's pending migrations in one transaction, under the dialect's lock,
// so that replicas starting together migrate once. It returns the versions it applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) { return s.MigrateTo(ctx, 0) }

// MigrateTo applies the migrations not yet applied up to version upTo (0 for all of them), for
// tests of an upgrade from an older schema.
func (s *Store) MigrateTo(ctx context.Context, upTo int) ([]int, error) {
	ms, err := migrations.For(s.d.Name)
	if err != nil {
		return nil, err
	}
	var applied []int
	err = s.db.InTx(ctx, func(q Querier) error {
		applied = nil
		if s.d.MigrationLock != "" {
			if _, err := q.Exec(ctx, s.d.MigrationLock); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		var current int
		if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if current > len(ms) {
			return store.Errorf(store.Conflict, "the database schema is at version %d, newer than this binary knows (%d): upgrade rolegate", current, len(ms))
		}
		for _, m := range ms[current:] {
			if upTo > 0 && m.Version > upTo {
				break
			}
			if _, err := q.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			if fix := afterMigration[m.Version]; fix != nil {
				if err := fix(ctx, q); err != nil {
					return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
				}
			}
			if _, err := q.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, toDB(s.now())); err != nil {
				return err
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	return applied, err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// wrap turns a driver-level error into a coded one; what names the thing, for the message.
func wrap(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoRows):
		return &store.Error{Code: store.NotFound, Message: what + " not found", Err: err}
	case errors.Is(err, ErrUnique):
		return &store.Error{Code: store.Conflict, Message: what + " already exists", Err: err}
	case errors.Is(err, ErrForeignKey):
		return &store.Error{Code: store.Conflict, Message: what + " refers to something that does not exist", Err: err}
	}
	var se *store.Error
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

func notFound(format string, args ...any) error { return store.Errorf(store.NotFound, format, args...) }

// ---- users

const userCols = `id, name, subject, email, display_name, disabled, password_hash, must_change_password,
	password_expires_at, created_at, updated_at`

func scanUser(r Row) (*User, error) {
	var u User
	var expires, created, updated int64
	if err := r.Scan(&u.ID, &u.Name, &u.Subject, &u.Email, &u.DisplayName, &u.Disabled, &u.PasswordHash,
		&u.MustChangePassword, &expires, &created, &updated); err != nil {
		return nil, err
	}
	u.PasswordExpiresAt, u.CreatedAt, u.UpdatedAt = fromDB(expires), fromDB(created), fromDB(updated)
	u.Attributes = map[string]string{}
	return &u, nil
}

// User is store.User; the alias keeps signatures short.
type User = store.User

func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	now := s.now()
	if u.Subject == "" {
		u.Subject = "rg-" + strings.ToLower(rand.Text())
	}
	err := s.db.InTx(ctx, func(q Querier) error {
		if err := emailFree(ctx, q, u); err != nil {
			return err
		}
		err := q.QueryRow(ctx, `INSERT INTO users (name, name_key, subject, email, email_key, display_name, disabled, password_hash,
			must_change_password, password_expires_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
			u.Name, store.Key(u.Name), u.Subject, u.Email, emailKey(u.Email), u.DisplayName, u.Disabled, u.PasswordHash,
			u.MustChangePassword, toDB(u.PasswordExpiresAt), toDB(now)).Scan(&u.ID)
		if err != nil {
			return wrap(emailTaken(err, u), fmt.Sprintf("user %q", u.Name))
		}
		return putAttrs(ctx, q, u.ID, u.Attributes)
	})
	if err != nil {
		return err
	}
	u.CreatedAt, u.UpdatedAt = fromDB(toDB(now)), fromDB(toDB(now))
	return nil
}

func putAttrs(ctx context.Context, q Querier, id int64, attrs map[string]string) error {
	if _, err := q.Exec(ctx, `DELETE FROM user_attributes WHERE user_id = $1`, id); err != nil {
		return err
	}
	for k, v := range attrs {
		if _, err := q.Exec(ctx, `INSERT INTO user_attributes (user_id, key, value) VALUES ($1, $2, $3)`, id, k, v); err != nil {
			return err
		}
	}
	return nil
}

func loadAttrs(ctx context.Context, q Querier, u *User) error {
	rows, err := q.Query(ctx, `SELECT key, value FROM user_attributes WHERE user_id = $1`, u.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		u.Attributes[k] = v
	}
	return rows.Err()
}

func (s *Store) getUser(ctx context.Context, q Querier, where string, arg any, lock bool) (*User, error) {
	sql := `SELECT ` + userCols + ` FROM users WHERE ` + where
	if lock {
		sql += s.d.ForUpdate
	}
	u, err := scanUser(q.QueryRow(ctx, sql, arg))
	if err != nil {
		return nil, err
	}
	return u, loadAttrs(ctx, q, u)
}

func (s *Store) GetUser(ctx context.Context, name string) (*User, error) {
	u, err := s.getUser(ctx, s.db, `name_key = $1`, store.Key(name), false)
	return u, wrap(err, fmt.Sprintf("user %q", name))
}

func (s *Store) GetUserByID(ctx context.Context, id int64) (*User, error) {
	u, err := s.getUser(ctx, s.db, `id = $1`, id, false)
	return u, wrap(err, fmt.Sprintf("user #%d", id))
}

func (s *Store) ListUsers(ctx context.Context) ([]*User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY name_key`)
	if err != nil {
		return nil, err
	}
	var users []*User
	byID := map[int64]*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		users = append(users, u)
		byID[u.ID] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	arows, err := s.db.Query(ctx, `SELECT user_id, key, value FROM user_attributes`)
	if err != nil {
		return nil, err
	}
	defer arows.Close()
	for arows.Next() {
		var id int64
		var k, v string
		if err := arows.Scan(&id, &k, &v); err != nil {
			return nil, err
		}
		if u := byID[id]; u != nil {
			u.Attributes[k] = v
		}
	}
	return users, arows.Err()
}

func (s *Store) UpdateUser(ctx context.Context, name string, fn func(*User) error) (*User, error) {
	var out *User
	err := s.db.InTx(ctx, func(q Querier) error {
		u, err := s.getUser(ctx, q, `name_key = $1`, store.Key(name), true)
		if err != nil {
			return wrap(err, fmt.Sprintf("user %q", name))
		}
		id, subject, created := u.ID, u.Subject, u.CreatedAt
		if err := fn(u); err != nil {
			return err
		}
		u.ID, u.Subject, u.CreatedAt, u.UpdatedAt = id, subject, created, fromDB(toDB(s.now()))
		if err := u.Validate(); err != nil {
			return err
		}
		if err := emailFree(ctx, q, u); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE users SET name = $1, name_key = $2, email = $3, email_key = $4, display_name = $5,
			disabled = $6, password_hash = $7, must_change_password = $8, password_expires_at = $9, updated_at = $10 WHERE id = $11`,
			u.Name, store.Key(u.Name), u.Email, emailKey(u.Email), u.DisplayName, u.Disabled, u.PasswordHash, u.MustChangePassword,
			toDB(u.PasswordExpiresAt), toDB(u.UpdatedAt), u.ID); err != nil {
			return wrap(emailTaken(err, u), fmt.Sprintf("user %q", u.Name))
		}
		if err := putAttrs(ctx, q, u.ID, u.Attributes); err != nil {
			return err
		}
		if u.Disabled {
			// A disabled user loses every session at once.
			if err := endUserSessions(ctx, q, u.ID); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	return out, err
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM users WHERE name_key = $1`, store.Key(name))
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("user %q not found", name)
	}
	return nil
}

// ---- groups

func (s *Store) CreateGroup(ctx context.Context, g *store.Group) error {
	if err := g.Validate(); err != nil {
		return err
	}
	now := s.now()
	err := s.db.QueryRow(ctx, `INSERT INTO groups (name, name_key, created_at) VALUES ($1, $2, $3) RETURNING id`,
		g.Name, store.Key(g.Name), toDB(now)).Scan(&g.ID)
	if err != nil {
		return wrap(err, fmt.Sprintf("group %q", g.Name))
	}
	g.CreatedAt, g.Members = fromDB(toDB(now)), nil
	return nil
}

func (s *Store) GetGroup(ctx context.Context, name string) (*store.Group, error) {
	var g store.Group
	var created int64
	err := s.db.QueryRow(ctx, `SELECT id, name, created_at FROM groups WHERE name_key = $1`, store.Key(name)).
		Scan(&g.ID, &g.Name, &created)
	if err != nil {
		return nil, wrap(err, fmt.Sprintf("group %q", name))
	}
	g.CreatedAt = fromDB(created)
	rows, err := s.db.Query(ctx, `SELECT u.name FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = $1 ORDER BY u.name_key`, g.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		g.Members = append(g.Members, n)
	}
	return &g, rows.Err()
}

func (s *Store) ListGroups(ctx context.Context) ([]*store.Group, error) {
	rows, err := s.db.Query(ctx, `SELECT g.id, g.name, g.created_at, COALESCE(u.name, '')
		FROM groups g LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id
		ORDER BY g.name_key, u.name_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var groups []*store.Group
	for rows.Next() {
		var id, created int64
		var name, member string
		if err := rows.Scan(&id, &name, &created, &member); err != nil {
			return nil, err
		}
		if len(groups) == 0 || groups[len(groups)-1].ID != id {
			groups = append(groups, &store.Group{ID: id, Name: name, CreatedAt: fromDB(created)})
		}
		if member != "" {
			g := groups[len(groups)-1]
			g.Members = append(g.Members, member)
		}
	}
	return groups, rows.Err()
}

func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM groups WHERE name_key = $1`, store.Key(name))
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("group %q not found", name)
	}
	return nil
}

// ids looks up a group's and a user's IDs, saying which one is missing.
func ids(ctx context.Context, q Querier, group, user string) (gid, uid int64, err error) {
	if err := q.QueryRow(ctx, `SELECT id FROM groups WHERE name_key = $1`, store.Key(group)).Scan(&gid); err != nil {
		return 0, 0, wrap(err, fmt.Sprintf("group %q", group))
	}
	if err := q.QueryRow(ctx, `SELECT id FROM users WHERE name_key = $1`, store.Key(user)).Scan(&uid); err != nil {
		return 0, 0, wrap(err, fmt.Sprintf("user %q", user))
	}
	return gid, uid, nil
}

func (s *Store) AddGroupMember(ctx context.Context, group, user string) error {
	return s.db.InTx(ctx, func(q Querier) error {
		gid, uid, err := ids(ctx, q, group, user)
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)`, gid, uid)
		return wrap(err, fmt.Sprintf("membership of %q in %q", user, group))
	})
}

func (s *Store) RemoveGroupMember(ctx context.Context, group, user string) error {
	return s.db.InTx(ctx, func(q Querier) error {
		gid, uid, err := ids(ctx, q, group, user)
		if err != nil {
			return err
		}
		n, err := q.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, gid, uid)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("user %q is not a member of group %q", user, group)
		}
		return nil
	})
}

func (s *Store) UserGroups(ctx context.Context, user string) ([]string, error) {
	var uid int64
	if err := s.db.QueryRow(ctx, `SELECT id FROM users WHERE name_key = $1`, store.Key(user)).Scan(&uid); err != nil {
		return nil, wrap(err, fmt.Sprintf("user %q", user))
	}
	rows, err := s.db.Query(ctx, `SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = $1 ORDER BY g.name_key`, uid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// ---- accounts

const accountCols = `id, alias, provider_name, partition, region, session_duration, session_name_source,
	source_identity_source, require_mfa, created_at, cli_session_max, aws_admin_profile, aws_admin_role_arn,
	encrypt_mode, aws_idp_id, aws_provider_arn, aws_trusted_certs, aws_checked_at, label, sign_mode`

func scanAccount(r Row) (*store.Account, error) {
	var a store.Account
	var part, nameSrc, idSrc, enc, trusted, sign string
	var d, created, cliMax, checked int64
	if err := r.Scan(&a.ID, &a.Alias, &a.ProviderName, &part, &a.Region, &d, &nameSrc, &idSrc, &a.RequireMFA, &created, &cliMax,
		&a.AWS.AdminProfile, &a.AWS.AdminRoleARN, &enc, &a.AWS.IdPID, &a.AWS.ProviderARN, &trusted, &checked, &a.Label, &sign); err != nil {
		return nil, err
	}
	a.AWS.Encrypt, a.AWS.TrustedCerts, a.AWS.CheckedAt = store.EncryptMode(enc), strings.Fields(trusted), fromDB(checked)
	a.Partition, a.SessionDuration, a.CreatedAt, a.CLISessionMax = store.Partition(part), dur(d), fromDB(created), dur(cliMax)
	a.SessionNameSource, a.SourceIdentitySource, a.Sign = store.NameSource(nameSrc), store.NameSource(idSrc), store.SignMode(sign)
	return &a, nil
}

func (s *Store) CreateAccount(ctx context.Context, a *store.Account) error {
	if a.SessionNameSource == "" {
		a.SessionNameSource = store.FromUsername
	}
	if err := a.Validate(); err != nil {
		return err
	}
	now := s.now()
	_, err := s.db.Exec(ctx, `INSERT INTO accounts (`+accountCols+`, alias_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		a.ID, a.Alias, a.ProviderName, string(a.Partition), a.Region, secs(a.SessionDuration), string(a.SessionNameSource),
		string(a.SourceIdentitySource), a.RequireMFA, toDB(now), secs(a.CLISessionMax), a.AWS.AdminProfile, a.AWS.AdminRoleARN,
		string(a.AWS.Encrypt), a.AWS.IdPID, a.AWS.ProviderARN, strings.Join(a.AWS.TrustedCerts, " "), toDB(a.AWS.CheckedAt),
		a.Label, string(a.Sign), store.Key(a.Alias))
	if errors.Is(err, ErrUnique) {
		if existing, gerr := s.GetAccount(ctx, a.ID); gerr == nil {
			return store.Errorf(store.Conflict, "account %s already exists (alias %q)", existing.ID, existing.Alias)
		}
		return store.Errorf(store.Conflict, "alias %q is already in use", a.Alias)
	}
	if err != nil {
		return err
	}
	a.CreatedAt = fromDB(toDB(now))
	return nil
}

func (s *Store) GetAccount(ctx context.Context, aliasOrID string) (*store.Account, error) {
	a, err := scanAccount(s.db.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 OR alias_key = $2`,
		aliasOrID, store.Key(aliasOrID)))
	return a, wrap(err, fmt.Sprintf("account %q", aliasOrID))
}

func (s *Store) ListAccounts(ctx context.Context) ([]*store.Account, error) {
	rows, err := s.db.Query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY alias_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *Store) UpdateAccount(ctx context.Context, aliasOrID string, fn func(*store.Account) error) (*store.Account, error) {
	var out *store.Account
	err := s.db.InTx(ctx, func(q Querier) error {
		a, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 OR alias_key = $2`+s.d.ForUpdate,
			aliasOrID, store.Key(aliasOrID)))
		if err != nil {
			return wrap(err, fmt.Sprintf("account %q", aliasOrID))
		}
		id, created := a.ID, a.CreatedAt
		if err := fn(a); err != nil {
			return err
		}
		a.ID, a.CreatedAt = id, created
		if err := a.Validate(); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE accounts SET alias = $1, alias_key = $2, provider_name = $3, partition = $4, region = $5,
			session_duration = $6, session_name_source = $7, source_identity_source = $8, require_mfa = $9, cli_session_max = $10,
			aws_admin_profile = $11, aws_admin_role_arn = $12, encrypt_mode = $13, aws_idp_id = $14, aws_provider_arn = $15,
			aws_trusted_certs = $16, aws_checked_at = $17, label = $18, sign_mode = $19 WHERE id = $20`,
			a.Alias, store.Key(a.Alias), a.ProviderName, string(a.Partition), a.Region, secs(a.SessionDuration),
			string(a.SessionNameSource), string(a.SourceIdentitySource), a.RequireMFA, secs(a.CLISessionMax),
			a.AWS.AdminProfile, a.AWS.AdminRoleARN, string(a.AWS.Encrypt), a.AWS.IdPID, a.AWS.ProviderARN,
			strings.Join(a.AWS.TrustedCerts, " "), toDB(a.AWS.CheckedAt), a.Label, string(a.Sign), a.ID)
		if err != nil {
			return wrap(err, fmt.Sprintf("alias %q", a.Alias))
		}
		out = a
		return nil
	})
	return out, err
}

func (s *Store) DeleteAccount(ctx context.Context, aliasOrID string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM accounts WHERE id = $1 OR alias_key = $2`, aliasOrID, store.Key(aliasOrID))
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("account %q not found", aliasOrID)
	}
	return nil
}

// ---- grants

func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	if g.AccountID == "" {
		return store.Errorf(store.Invalid, "a grant names an account")
	}
	return s.db.InTx(ctx, func(q Querier) error {
		acct, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 OR alias_key = $2`,
			g.AccountID, store.Key(g.AccountID)))
		if err != nil {
			return wrap(err, fmt.Sprintf("account %q", g.AccountID))
		}
		g.AccountID, g.AccountAlias = acct.ID, acct.Alias
		if err := g.Validate(); err != nil {
			return err
		}
		var gid, uid any
		var who string
		if g.Group != "" {
			var id int64
			err = q.QueryRow(ctx, `SELECT id, name FROM groups WHERE name_key = $1`, store.Key(g.Group)).Scan(&id, &g.Group)
			gid, who = id, fmt.Sprintf("group %q", g.Group)
		} else {
			var id int64
			err = q.QueryRow(ctx, `SELECT id, name FROM users WHERE name_key = $1`, store.Key(g.User)).Scan(&id, &g.User)
			uid, who = id, fmt.Sprintf("user %q", g.User)
		}
		if err != nil {
			return wrap(err, who)
		}
		now := s.now()
		err = q.QueryRow(ctx, `INSERT INTO grants (group_id, user_id, account_id, role, session_duration, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, gid, uid, g.AccountID, g.Role, secs(g.SessionDuration), toDB(now)).Scan(&g.ID)
		if errors.Is(err, ErrUnique) {
			return store.Errorf(store.Conflict, "%s already has role %q in account %s", who, g.Role, acct.Alias)
		}
		g.CreatedAt = fromDB(toDB(now))
		return err
	})
}

func (s *Store) ListGrants(ctx context.Context, f store.GrantFilter) ([]*store.Grant, error) {
	sql := `SELECT gr.id, COALESCE(g.name, ''), COALESCE(u.name, ''), a.id, a.alias, gr.role, gr.session_duration, gr.created_at
		FROM grants gr JOIN accounts a ON a.id = gr.account_id
		LEFT JOIN groups g ON g.id = gr.group_id LEFT JOIN users u ON u.id = gr.user_id WHERE 1 = 1`
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Account != "" {
		sql += ` AND (a.id = ` + arg(f.Account) + ` OR a.alias_key = ` + arg(store.Key(f.Account)) + `)`
	}
	if f.Group != "" {
		sql += ` AND g.name_key = ` + arg(store.Key(f.Group))
	}
	if f.User != "" {
		p := arg(store.Key(f.User))
		if f.Effective {
			sql += ` AND (u.name_key = ` + p + ` OR gr.group_id IN (SELECT m.group_id FROM group_members m
				JOIN users mu ON mu.id = m.user_id WHERE mu.name_key = ` + p + `))`
		} else {
			sql += ` AND u.name_key = ` + p
		}
	}
	sql += ` ORDER BY a.alias_key, gr.role, gr.id`
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Grant
	for rows.Next() {
		var g store.Grant
		var d, created int64
		if err := rows.Scan(&g.ID, &g.Group, &g.User, &g.AccountID, &g.AccountAlias, &g.Role, &d, &created); err != nil {
			return nil, err
		}
		g.SessionDuration, g.CreatedAt = dur(d), fromDB(created)
		out = append(out, &g)
	}
	return out, rows.Err()
}

func (s *Store) DeleteGrant(ctx context.Context, id int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM grants WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("grant %d not found", id)
	}
	return nil
}

// ---- signing keys

func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	switch k.State {
	case store.KeyNext, store.KeyCurrent:
	default:
		return store.Errorf(store.Invalid, "a new signing key is next or current, not %q", k.State)
	}
	_, err := s.db.Exec(ctx, `INSERT INTO signing_keys (id, state, certificate, sealed_key, kek_id, created_at, activated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, string(k.State), k.Certificate, k.SealedKey, k.KEKID,
		toDB(k.CreatedAt), toDB(k.ActivatedAt))
	if errors.Is(err, ErrUnique) {
		return store.Errorf(store.Conflict, "a %s signing key already exists", k.State)
	}
	return err
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	rows, err := s.db.Query(ctx, `SELECT id, state, certificate, sealed_key, kek_id, created_at, activated_at, retired_at
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var state string
		var created, activated, retired int64
		if err := rows.Scan(&k.ID, &state, &k.Certificate, &k.SealedKey, &k.KEKID, &created, &activated, &retired); err != nil {
			return nil, err
		}
		k.State, k.CreatedAt, k.ActivatedAt, k.RetiredAt = store.KeyState(state), fromDB(created), fromDB(activated), fromDB(retired)
		out = append(out, &k)
	}
	return out, rows.Err()
}

// ---- sessions

const sessionCols = `token_hash, user_id, auth_methods, authenticated_at, created_at, last_seen_at, idle_expires_at,
	expires_at, client_addr, user_agent`

func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	return insertSession(ctx, s.db, ss)
}

func insertSession(ctx context.Context, q Querier, ss *store.Session) error {
	if len(ss.TokenHash) < 16 {
		return store.Errorf(store.Invalid, "session token hash too short")
	}
	_, err := q.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ss.TokenHash, ss.UserID, ss.AuthMethods, toDB(ss.AuthenticatedAt), toDB(ss.CreatedAt), toDB(ss.LastSeenAt),
		toDB(ss.IdleExpiresAt), toDB(ss.ExpiresAt), ss.ClientAddr, ss.UserAgent)
	return wrap(err, "session")
}

func (s *Store) GetSession(ctx context.Context, tokenHash []byte, now time.Time) (*store.Session, error) {
	ss, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE token_hash = $1 AND idle_expires_at > $2
		AND expires_at > $2 AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id AND NOT u.disabled)`, tokenHash, toDB(now)))
	if err != nil {
		return nil, wrap(err, "session")
	}
	return ss, nil
}

// scanSession reads one row of sessionCols.
func scanSession(r interface{ Scan(...any) error }) (*store.Session, error) {
	var ss store.Session
	var authAt, created, seen, idle, exp int64
	if err := r.Scan(&ss.TokenHash, &ss.UserID, &ss.AuthMethods, &authAt, &created, &seen, &idle, &exp, &ss.ClientAddr, &ss.UserAgent); err != nil {
		return nil, err
	}
	ss.AuthenticatedAt, ss.CreatedAt, ss.LastSeenAt = fromDB(authAt), fromDB(created), fromDB(seen)
	ss.IdleExpiresAt, ss.ExpiresAt = fromDB(idle), fromDB(exp)
	return &ss, nil
}

func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, lastSeen, idleExpires time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE token_hash = $3`,
		toDB(lastSeen), toDB(idleExpires), tokenHash)
	if err == nil && n == 0 {
		return notFound("session not found")
	}
	return err
}

func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return err
}

func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	return s.db.InTx(ctx, func(q Querier) error { return endUserSessions(ctx, q, userID) })
}

// endUserSessions ends every web and CLI session of the user.
func endUserSessions(ctx context.Context, q Querier, userID int64) error {
	for _, table := range []string{"sessions", "cli_sessions"} {
		if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, userID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return s.db.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1`, toDB(now))
}

func (s *Store) ReplaceSession(ctx context.Context, oldHash []byte, ss *store.Session) error {
	return s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, oldHash)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("session not found")
		}
		return insertSession(ctx, q, ss)
	})
}

func (s *Store) SetSessionChallenge(ctx context.Context, tokenHash, data []byte, expires time.Time) error {
	if len(data) == 0 {
		return store.Errorf(store.Invalid, "a session challenge needs data")
	}
	n, err := s.db.Exec(ctx, `UPDATE sessions SET challenge = $1, challenge_expires_at = $2 WHERE token_hash = $3`,
		data, toDB(expires), tokenHash)
	if err == nil && n == 0 {
		return notFound("session not found")
	}
	return err
}

func (s *Store) TakeSessionChallenge(ctx context.Context, tokenHash []byte, now time.Time) ([]byte, error) {
	var data []byte
	err := s.db.InTx(ctx, func(q Querier) error {
		err := q.QueryRow(ctx, `SELECT challenge FROM sessions WHERE token_hash = $1 AND challenge IS NOT NULL
			AND challenge_expires_at > $2`+s.d.ForUpdate, tokenHash, toDB(now)).Scan(&data)
		if errors.Is(err, ErrNoRows) {
			return notFound("no challenge pending, or it expired")
		}
		if err != nil {
			return err
		}
		// PostgreSQL holds the row lock, SQLite the write lock, until commit; the conditional update
		// keeps the take exactly-once even so.
		n, err := q.Exec(ctx, `UPDATE sessions SET challenge = NULL, challenge_expires_at = 0
			WHERE token_hash = $1 AND challenge IS NOT NULL`, tokenHash)
		if err == nil && n == 0 {
			return notFound("no challenge pending, or it expired")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// ---- audit

func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if e.Type == "" {
		return store.Errorf(store.Invalid, "an audit event has a type")
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	details, err := json.Marshal(e.Details)
	if err != nil {
		return err
	}
	r := &auditRow{e: e, args: []any{toDB(e.Time), e.Type, e.User, store.Key(e.User), e.Result, e.ClientAddr, e.UserAgent, string(details)}}
	if s.d.GroupAudit {
		return s.audit.append(ctx, s, r)
	}
	return insertAudit(ctx, s.db, r)
}

func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, error) {
	sql, args := auditWhere(f)
	sql += ` ORDER BY time DESC, id DESC`
	if f.Limit > 0 && len(f.Accounts) == 0 { // the account is matched below, before the limit
		args = append(args, f.Limit)
		sql += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		if !f.MatchesAccount(e) {
			continue
		}
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
		out = append(out, e)
	}
	// Oldest first reads naturally in a terminal; the query took the newest Limit.
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, rows.Err()
}

// ---- throttles

func (s *Store) HitThrottle(ctx context.Context, key string, window time.Duration, now time.Time) (store.Throttle, error) {
	if window <= 0 {
		return store.Throttle{}, store.Errorf(store.Invalid, "throttle window must be positive")
	}
	t := store.Throttle{Key: key}
	var reset int64
	// One statement, so concurrent hits from several replicas never lose a count.
	err := s.db.QueryRow(ctx, `INSERT INTO throttles (key, count, reset_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN throttles.reset_at <= $3 THEN 1 ELSE throttles.count + 1 END,
			reset_at = CASE WHEN throttles.reset_at <= $3 THEN $2 ELSE throttles.reset_at END
		RETURNING count, reset_at`, key, toDB(now.Add(window)), toDB(now)).Scan(&t.Count, &reset)
	t.ResetAt = fromDB(reset)
	return t, err
}

func (s *Store) GetThrottle(ctx context.Context, key string, now time.Time) (store.Throttle, error) {
	t := store.Throttle{Key: key}
	var reset int64
	err := s.db.QueryRow(ctx, `SELECT count, reset_at FROM throttles WHERE key = $1 AND reset_at > $2`, key, toDB(now)).
		Scan(&t.Count, &reset)
	if errors.Is(err, ErrNoRows) {
		return t, nil
	}
	t.ResetAt = fromDB(reset)
	return t, err
}

func (s *Store) DeleteExpiredThrottles(ctx context.Context, now time.Time) (int64, error) {
	return s.db.Exec(ctx, `DELETE FROM throttles WHERE reset_at <= $1`, toDB(now))
}
