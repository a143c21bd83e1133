package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/certs"
	"rolegate/store"
	"rolegate/store/sqlite"
	"rolegate/store/sqlstore"
)

func init() {
	examples["backup"] = `  rolegate backup --out /var/backups/rolegate-$(date +%F).db
  rolegate backup --out rolegate.db.bak --force`
	examples["restore"] = `  rolegate restore --from rolegate-2026-11-30.db --data-dir /srv/rolegate --kek-file /secure/rolegate-kek
  ROLEGATE_KEK_FILE=/run/secrets/kek rolegate restore --from rolegate.db.bak`
}

// storeFiles are the embedded store's files in the data dir: the database, its write-ahead log,
// its shared memory and a rollback journal.
var storeFiles = []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm", sqlite.FileName + "-journal"}

// notOnPostgres is the one line backup and restore say on PostgreSQL.
func notOnPostgres(what string) error {
	return store.Errorf(store.Invalid, "rolegate %s works on the embedded store; for PostgreSQL use pg_dump -Fc and pg_restore "+
		"(README: Backup and restore), and keep the key-encryption key apart from the dump", what)
}

func backupCmd(a *app) *cobra.Command {
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "backup --out FILE [--force]",
		Short: "Write a consistent copy of the embedded store, also while a server runs on it (the key-encryption key is not in it)",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.databaseURL != "" {
				return notOnPostgres("backup")
			}
			if out == "" {
				return store.Errorf(store.Invalid, "rolegate backup needs --out FILE")
			}
			return a.backup(cmd.Context(), out, force)
		},
	}
	c.Flags().StringVar(&out, "out", "", "the file to write the copy to (mode 0600); refused when it exists, unless --force")
	c.Flags().BoolVar(&force, "force", false, "replace --out when it exists")
	return c
}

func (a *app) backup(ctx context.Context, out string, force bool) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := a.notStoreFile(out); err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Dir(out)); err != nil || !fi.IsDir() {
		return store.Errorf(store.Invalid, "--out %s: no directory %s to write it in", out, filepath.Dir(out))
	}
	if fi, err := os.Lstat(out); err == nil {
		if !fi.Mode().IsRegular() {
			return store.Errorf(store.Invalid, "--out %s is not a regular file", out)
		}
		if !force {
			return store.Errorf(store.Conflict, "--out %s exists: choose another file, or add --force to replace it", out)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	st, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// The copy is made beside --out and renamed into place once checked: --out is never half-written.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp.Close()
	defer removeDB(tmp.Name())
	if err := st.CopyTo(ctx, tmp.Name()); err != nil {
		return fmt.Errorf("backup: copy the store: %w", err)
	}
	inv, err := checkCopy(ctx, tmp.Name())
	if err != nil {
		return fmt.Errorf("backup: the copy fails its check, nothing was written to %s: %w", out, err)
	}
	if err := syncFile(tmp.Name()); err != nil {
		return err
	}
	if force {
		err = os.Rename(tmp.Name(), out)
	} else if err = os.Link(tmp.Name(), out); errors.Is(err, os.ErrExist) { // no clobber of a file made meanwhile
		return store.Errorf(store.Conflict, "--out %s appeared while the copy was made: nothing was written to it", out)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	syncDir(filepath.Dir(out))
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	if err := a.audit(ctx, st, "store.backup", "", map[string]string{"out": out, "bytes": strconv.FormatInt(fi.Size(), 10),
		"schema": strconv.Itoa(inv.Schema), "kek_id": strings.Join(inv.KEKIDs, " ")}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "backed up the store in %s to %s (%d bytes, checked): %s\n", a.dataDir, out, fi.Size(), inventoryText(inv))
	a.warnKEK(inv)
	return nil
}

// notStoreFile refuses a path that is one of the data dir's store files or its KEK: a backup
// written there (with --force) would replace the live database.
func (a *app) notStoreFile(path string) error {
	// Directories compared as the links in their names lead: a journal that does not exist yet has no
	// file to compare, and a backup written there is taken for a hot journal, locking the live store.
	dir, data := resolved(filepath.Dir(path)), resolved(a.dataDir)
	for _, name := range append(slices.Clone(storeFiles), certs.KEKFileName) {
		p, err := filepath.Abs(filepath.Join(a.dataDir, name))
		if err != nil {
			return err
		}
		same := p == path || (dir == data && filepath.Base(path) == name)
		if fi, err := os.Stat(p); err == nil {
			if fo, err := os.Stat(path); err == nil {
				same = same || os.SameFile(fi, fo)
			}
		}
		if same {
			return store.Errorf(store.Invalid, "--out %s is the data dir's %s: write the backup elsewhere", path, name)
		}
	}
	return nil
}

// resolved is path made absolute with the symbolic links in it followed, or path itself when that fails.
func resolved(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			return r
		}
	}
	return path
}

// checkCopy opens the copy at path as a Rolegate store, runs SQLite's integrity check over it and
// counts what it holds; a copy at another schema version than this binary's is refused.
func checkCopy(ctx context.Context, path string) (sqlstore.Inventory, error) {
	c, err := sqlite.Open(path)
	if err != nil {
		return sqlstore.Inventory{}, err
	}
	defer c.Close()
	if err := c.CheckIntegrity(ctx); err != nil {
		return sqlstore.Inventory{}, err
	}
	inv, err := c.Inventory(ctx)
	if err == nil && inv.Schema != inv.Known {
		err = fmt.Errorf("schema version %d, want %d", inv.Schema, inv.Known)
	}
	return inv, err
}

// warnKEK says on stderr, loudly, that the backup holds the signing keys sealed and not the KEK
// that opens them, and where that KEK is.
func (a *app) warnKEK(inv sqlstore.Inventory) {
	where := "no key-encryption key is configured here"
	if k, source, err := certs.LoadKEK(a.env, a.dataDir, false); err == nil {
		where = "this server's KEK is id " + k.ID() + ", from " + source
		if !slices.Contains(inv.KEKIDs, k.ID()) && len(inv.KEKIDs) > 0 {
			where += " (NOT the one that sealed the keys)"
		}
	}
	sealed := "the store holds no signing key yet"
	if len(inv.KEKIDs) > 0 {
		sealed = "its signing keys are sealed with key-encryption key id " + strings.Join(inv.KEKIDs, " and ")
	}
	fmt.Fprintf(a.stderr, "WARNING: this backup does NOT contain the key-encryption key (KEK): %s; %s.\n"+
		"WARNING: without that KEK the signing keys in the backup cannot be opened and a restored Rolegate cannot sign. "+
		"Back the KEK up separately (a secrets manager, a sealed envelope) and keep it apart from this backup: "+
		"a copy beside the backup would protect nothing.\n", sealed, where)
}

// inventoryText is what a store holds, in one line.
func inventoryText(inv sqlstore.Inventory) string {
	return fmt.Sprintf("schema version %d, %s, %s, %s, %s, %s, %s, %s", inv.Schema,
		plural(int(inv.Users), "user"), plural(int(inv.Groups), "group"), plural(int(inv.Accounts), "account"),
		plural(int(inv.Grants), "grant"), plural(int(inv.Factors), "second factor"), plural(int(inv.SigningKeys), "signing key"),
		plural(int(inv.AuditEvents), "audit event"))
}

func restoreCmd(a *app) *cobra.Command {
	var from, kekFile string
	c := &cobra.Command{
		Use:   "restore --from FILE [--kek-file F]",
		Short: "Put a backup into an empty data dir, once the key-encryption key is shown to open its signing keys",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.databaseURL != "" {
				return notOnPostgres("restore")
			}
			if from == "" {
				return store.Errorf(store.Invalid, "rolegate restore needs --from FILE, a file rolegate backup wrote")
			}
			return a.restore(cmd.Context(), from, kekFile)
		},
	}
	c.Flags().StringVar(&from, "from", "", "the backup to restore, as rolegate backup wrote it")
	c.Flags().StringVar(&kekFile, "kek-file", "",
		"the key-encryption key the backed-up server used; copied to DATA_DIR/kek (default: "+certs.EnvKEK+", "+certs.EnvKEKFile+" or DATA_DIR/kek)")
	return c
}

func (a *app) restore(ctx context.Context, from, kekFile string) error {
	fi, err := os.Stat(from)
	if err != nil {
		return store.Errorf(store.Invalid, "--from %s: %v", from, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return store.Errorf(store.Invalid, "--from %s is not a regular file", from)
	}
	if _, err := os.Stat(resolved(from) + "-wal"); err == nil { // the log is beside the file a link names
		return store.Errorf(store.Invalid, "--from %s has a write-ahead log beside it: it is a live database, not a backup; make one with rolegate backup", from)
	}
	for _, name := range storeFiles {
		if _, err := os.Lstat(filepath.Join(a.dataDir, name)); !errors.Is(err, os.ErrNotExist) {
			return store.Errorf(store.Conflict, "%s holds a store already (%s): restore only into an empty data dir; nothing was written", a.dataDir, name)
		}
	}
	kek, source, kekText, err := a.restoreKEK(kekFile)
	if err != nil {
		return err
	}
	_, missing := os.Stat(a.dataDir)
	if err := a.checkDataDir(true); err != nil {
		return err
	}
	db := filepath.Join(a.dataDir, sqlite.FileName)
	tmp, err := copyTemp(from, a.dataDir)
	if err == nil {
		defer removeDB(tmp)
		var inv sqlstore.Inventory
		if inv, err = restoreCheck(ctx, a, tmp, from, kek); err == nil {
			return a.restoreInto(tmp, db, from, kekFile, kekText, source, kek, inv)
		}
	}
	if errors.Is(missing, os.ErrNotExist) {
		removeDB(tmp)
		os.Remove(a.dataDir) // the data dir this restore made, empty again
	}
	return err
}

// restoreInto puts the checked copy at tmp in place as db, with the KEK's text (when kekText is set).
func (a *app) restoreInto(tmp, db, from, kekFile, kekText, source string, kek *certs.KEK, inv sqlstore.Inventory) error {
	if err := syncFile(tmp); err != nil {
		return err
	}
	var installed string
	if kekText != "" {
		installed = filepath.Join(a.dataDir, certs.KEKFileName)
		if err := certs.WriteNewSecret(installed, kekText+"\n"); err != nil {
			return fmt.Errorf("restore: install the key-encryption key: %w", err)
		}
		source = "file " + installed + " (copied from " + kekFile + ")"
	}
	// A link, not a rename: a store made in the data dir meanwhile is never replaced.
	if err := os.Link(tmp, db); err != nil {
		if installed != "" {
			os.Remove(installed)
		}
		if errors.Is(err, os.ErrExist) {
			return store.Errorf(store.Conflict, "a store appeared in %s during the restore: nothing was restored", a.dataDir)
		}
		return fmt.Errorf("restore: %w", err)
	}
	syncDir(a.dataDir)
	keys := "the store holds no sealed key: serve makes a signing key and, with no KEK configured, a KEK"
	if kek != nil {
		keys = "its keys open with key-encryption key id " + kek.ID() + " from " + source
	}
	fmt.Fprintf(a.stdout, "restored %s into %s (checked): %s; %s\n", from, a.dataDir, inventoryText(inv), keys)
	return nil
}

// restoreKEK is the KEK a restore checks the backup's keys with, and serve will use after it: the
// --kek-file (its text returned, to install as DATA_DIR/kek), else the one serve finds. It never
// makes one: a new KEK opens nothing in a backup.
func (a *app) restoreKEK(kekFile string) (kek *certs.KEK, source, text string, err error) {
	if kekFile == "" {
		kek, source, err = certs.LoadKEK(a.env, a.dataDir, false)
		_, there := os.Lstat(filepath.Join(a.dataDir, certs.KEKFileName))
		if err != nil && (a.env(certs.EnvKEK) != "" || a.env(certs.EnvKEKFile) != "" || there == nil) {
			return nil, "", "", err // one there and unusable: said as it is
		}
		return kek, source, "", nil // none: restoreCheck refuses a backup with sealed keys
	}
	if a.env(certs.EnvKEK) != "" || a.env(certs.EnvKEKFile) != "" {
		return nil, "", "", store.Errorf(store.Invalid, "--kek-file and %s/%s both name a key-encryption key: serve will use the environment's, so restore checks that one; drop --kek-file",
			certs.EnvKEK, certs.EnvKEKFile)
	}
	only := func(k string) string { return map[string]string{certs.EnvKEKFile: kekFile}[k] }
	if kek, source, err = certs.LoadKEK(only, "", false); err != nil {
		return nil, "", "", store.Errorf(store.Invalid, "--kek-file: %v", err)
	}
	b, err := os.ReadFile(kekFile)
	if err != nil {
		return nil, "", "", err
	}
	// The text installed must be the key just checked, not what the file holds a moment later.
	if again, err := certs.ParseKEK(string(b)); err != nil || again.ID() != kek.ID() {
		return nil, "", "", store.Errorf(store.Conflict, "--kek-file %s changed while restore read it: nothing was written", kekFile)
	}
	if there, thereSource, err := certs.LoadKEK(a.env, a.dataDir, false); err == nil {
		if there.ID() != kek.ID() {
			return nil, "", "", store.Errorf(store.Conflict, "%s holds another key-encryption key (id %s) than --kek-file (id %s): remove one of them; nothing was written",
				filepath.Join(a.dataDir, certs.KEKFileName), there.ID(), kek.ID())
		}
		return there, thereSource, "", nil // the same key is in place already
	} else if _, missing := os.Lstat(filepath.Join(a.dataDir, certs.KEKFileName)); missing == nil {
		return nil, "", "", err // one there and unusable: said as it is
	}
	return kek, source, strings.TrimSpace(string(b)), nil
}

// restoreCheck opens the copy at tmp as a store, checks it, brings its schema up to this binary's,
// proves that kek opens every signing and encryption key still in use, and records the restore in
// its audit log. It returns what the copy holds.
func restoreCheck(ctx context.Context, a *app, tmp, from string, kek *certs.KEK) (sqlstore.Inventory, error) {
	var inv sqlstore.Inventory
	notBackup := func(err error) error {
		return store.Errorf(store.Invalid, "--from %s is not a Rolegate backup (%v): nothing was restored", from, err)
	}
	c, err := sqlite.Open(tmp)
	if err != nil {
		return inv, notBackup(err)
	}
	defer c.Close()
	if err := c.CheckIntegrity(ctx); err != nil {
		return inv, notBackup(err)
	}
	if has, err := c.HasSchema(ctx); err != nil || !has {
		return inv, notBackup(fmt.Errorf("no schema_migrations table"))
	}
	if _, err := c.Migrate(ctx); err != nil {
		return inv, fmt.Errorf("restore: %w", err)
	}
	if err := openAllKeys(ctx, c, kek); err != nil {
		give := fmt.Sprintf("nothing was restored: give the KEK the backed-up server used (--kek-file, %s or %s)", certs.EnvKEK, certs.EnvKEKFile)
		if kek == nil {
			return inv, store.Errorf(store.Invalid, "the backup's keys are sealed and no key-encryption key is configured here: %s", give)
		}
		return inv, store.Errorf(store.Invalid, "the backup's keys cannot be opened with this key-encryption key (id %s): %v; %s", kek.ID(), err, give)
	}
	if err := a.audit(ctx, c, "store.restore", "", map[string]string{"from": from, "kek_id": kekID(kek)}); err != nil {
		return inv, err
	}
	return c.Inventory(ctx)
}

// kekID is kek's ID, "" for none.
func kekID(kek *certs.KEK) string {
	if kek == nil {
		return ""
	}
	return kek.ID()
}

// errNoKEK stands for the missing KEK when a store holds something sealed.
var errNoKEK = errors.New("no key-encryption key")

// openAllKeys opens, with kek, every signing key and every account's encryption key that is not
// retired. A nil kek passes only a store with nothing sealed in it.
func openAllKeys(ctx context.Context, st store.Store, kek *certs.KEK) error {
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.State == store.KeyRetired {
			continue
		}
		if kek == nil {
			return errNoKEK
		}
		if _, err := certs.Open(kek, k); err != nil {
			return err
		}
	}
	accounts, err := st.ListAccounts(ctx)
	if err != nil {
		return err
	}
	for _, ac := range accounts {
		eks, err := st.ListEncryptionKeys(ctx, ac.ID)
		if err != nil {
			return err
		}
		for _, k := range eks {
			if k.State == store.KeyRetired {
				continue
			}
			if kek == nil {
				return errNoKEK
			}
			if _, _, err := certs.OpenEncryptionKey(kek, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyTemp copies the file at from to a new file in dir, mode 0600, and returns its path.
func copyTemp(from, dir string) (string, error) {
	src, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, ".restore-*.db")
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeDB(dst.Name())
		return "", fmt.Errorf("restore: copy %s: %w", from, err)
	}
	return dst.Name(), nil
}

// removeDB removes a database file that was not kept, with any journal SQLite left beside it.
func removeDB(path string) {
	if path == "" {
		return
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes new directory entries durable; best effort, as not every platform supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
