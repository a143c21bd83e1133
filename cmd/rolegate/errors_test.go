package main

import (
	"strings"
	"testing"
)

// Exit statuses of the error codes (exitCodes in main.go).
const (
	exitInvalid  = 2
	exitNotFound = 5
	exitConflict = 6
)

// seed gives a store user bob (with a password and an authenticator app), group devs holding bob,
// account 111122223333 alias prod, a grant of role Admin there to devs, and a current and a next
// signing key.
func seed(t *testing.T, c *cli) {
	t.Helper()
	c.ok(t, goodPassword+"\n", "user", "add", "bob", "--email", "bob@example.com", "--attr", "team=core", "--password-stdin", "--must-change=false")
	c.ok(t, "", "group", "add", "devs")
	c.ok(t, "", "group", "add-member", "devs", "bob")
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	c.ok(t, "", "grant", "add", "--group", "devs", "--account", "prod", "--role", "Admin")
	c.ok(t, "", "keys", "rotate") // on an empty store: creates the current key and stages a next one
	c.ok(t, "", "user", "mfa", "enroll", "bob", "--totp")
}

// snapshot is everything the list commands show, by command line.
func snapshot(t *testing.T, c *cli) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, args := range [][]string{
		{"user", "list", "--json"}, {"group", "list", "--json"}, {"account", "list", "--json"}, {"grant", "list", "--json"},
		{"keys", "list", "--json"}, {"user", "mfa", "list", "bob", "--json"},
	} {
		out[strings.Join(args, " ")] = c.ok(t, "", args...)
	}
	return out
}

func TestBadCLIInputGetsOneLineOnStderrANonZeroExitAndChangesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		frag  string // the message on stderr contains it
	}{
		{"an account ID of five digits is refused", "",
			[]string{"account", "add", "12345", "--alias", "short"}, exitInvalid, "12 digits"},
		{"an account ID of thirteen digits is refused", "",
			[]string{"account", "add", "1234567890123", "--alias", "long"}, exitInvalid, "12 digits"},
		{"an alias in use, in other case, is a conflict", "",
			[]string{"account", "add", "444455556666", "--alias", "PROD"}, exitConflict, `alias "PROD"`},
		{"an account ID in use is a conflict", "",
			[]string{"account", "add", "111122223333", "--alias", "other"}, exitConflict, "111122223333 already exists"},
		{"an unknown partition is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "iso", "--partition", "aws-iso"}, exitInvalid, "partition"},
		{"a region that AWS does not have is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "moon", "--region", "us-moon-1"}, exitInvalid, `region "us-moon-1" is not in partition aws`},
		{"a region of another partition is refused, naming its partition", "",
			[]string{"account", "add", "444455556666", "--alias", "cn", "--region", "cn-north-1"}, exitInvalid, "but in aws-cn"},
		{"a commercial region on a GovCloud account is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "gov", "--partition", "aws-us-gov", "--region", "us-east-1"}, exitInvalid, "but in aws"},
		{"an account's region cannot be set to one AWS does not have", "",
			[]string{"account", "set", "prod", "--region", "eu-west-9"}, exitInvalid, `region "eu-west-9" is not in partition aws`},
		{"a China region in partition aws is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "cn", "--partition", "aws", "--region", "cn-north-1"}, exitInvalid, "not in partition aws"},
		{"a GovCloud region without partition aws-us-gov is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "gov", "--region", "us-gov-west-1"}, exitInvalid, "not in partition aws"},
		{"an account session of 10 minutes is too short", "",
			[]string{"account", "add", "444455556666", "--alias", "brief", "--session-duration", "10m"}, exitInvalid, "session duration"},
		{"an account session of 13 hours is too long", "",
			[]string{"account", "add", "444455556666", "--alias", "long", "--session-duration", "13h"}, exitInvalid, "session duration"},
		{"an account session that is no duration is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "odd", "--session-duration", "soon"}, exitInvalid, "duration"},
		// 36028797018967568 = 3600 + 2^55: times 10^9 it wraps around int64 to exactly one hour.
		{"an account session of a huge number of seconds is refused, not wrapped around", "",
			[]string{"account", "add", "444455556666", "--alias", "huge", "--session-duration", "36028797018967568"}, exitInvalid, "duration"},
		{"an account requiring MFA maybe is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "new", "--require-mfa=maybe"}, exitInvalid, `"maybe"`},
		{"an account set to require MFA maybe is refused", "",
			[]string{"account", "set", "prod", "--require-mfa=maybe"}, exitInvalid, `"maybe"`},
		{"an unknown account cannot require MFA", "",
			[]string{"account", "set", "nope", "--require-mfa"}, exitNotFound, `"nope"`},
		{"an account without an alias is refused", "",
			[]string{"account", "add", "444455556666"}, exitInvalid, "--alias"},
		{"an alias that looks like an account ID is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "555566667777"}, exitInvalid, "alias"},
		{"a bad provider name is refused", "",
			[]string{"account", "add", "444455556666", "--alias", "new", "--provider-name", "no spaces"}, exitInvalid, "provider name"},

		{"a grant to an unknown group is not found", "",
			[]string{"grant", "add", "--group", "nope", "--account", "prod", "--role", "Admin"}, exitNotFound, `group "nope"`},
		{"a grant to an unknown user is not found", "",
			[]string{"grant", "add", "--user", "ghost", "--account", "prod", "--role", "Admin"}, exitNotFound, `user "ghost"`},
		{"a grant in an unknown account is not found", "",
			[]string{"grant", "add", "--group", "devs", "--account", "missing", "--role", "Admin"}, exitNotFound, `account "missing"`},
		{"a grant to both a group and a user is refused", "",
			[]string{"grant", "add", "--group", "devs", "--user", "bob", "--account", "prod", "--role", "Admin"}, exitInvalid, "--group"},
		{"a grant to neither a group nor a user is refused", "",
			[]string{"grant", "add", "--account", "prod", "--role", "Admin"}, exitInvalid, "--group"},
		{"a grant without a role is refused", "",
			[]string{"grant", "add", "--group", "devs", "--account", "prod"}, exitInvalid, "--role"},
		{"a role name with a space is refused", "",
			[]string{"grant", "add", "--group", "devs", "--account", "prod", "--role", "bad role"}, exitInvalid, "role name"},
		{"a grant session of 13 hours is refused", "",
			[]string{"grant", "add", "--group", "devs", "--account", "prod", "--role", "Other", "--session-duration", "13h"}, exitInvalid, "session duration"},
		{"a grant session of a huge number of seconds is refused, not wrapped around", "",
			[]string{"grant", "add", "--group", "devs", "--account", "prod", "--role", "Other", "--session-duration", "36028797018967568"}, exitInvalid, "duration"},
		{"the same grant again is a conflict", "",
			[]string{"grant", "add", "--group", "devs", "--account", "prod", "--role", "Admin"}, exitConflict, "already has role"},
		{"the same grant named by ID and in other case is a conflict", "",
			[]string{"grant", "add", "--group", "DEVS", "--account", "111122223333", "--role", "Admin"}, exitConflict, "already has role"},

		{"a user name in use is a conflict", goodPassword + "\n",
			[]string{"user", "add", "bob", "--password-stdin"}, exitConflict, `"bob" already exists`},
		{"a user name in use in other case is a conflict", goodPassword + "\n",
			[]string{"user", "add", "BOB", "--password-stdin"}, exitConflict, "already exists"},
		{"a user name with a space is refused", goodPassword + "\n",
			[]string{"user", "add", "bad name", "--password-stdin"}, exitInvalid, "invalid user name"},
		{"an attribute without = is refused", goodPassword + "\n",
			[]string{"user", "add", "x", "--attr", "noequals", "--password-stdin"}, exitInvalid, "KEY=VALUE"},
		{"an attribute with a bad name is refused", goodPassword + "\n",
			[]string{"user", "add", "x", "--attr", "1team=a", "--password-stdin"}, exitInvalid, "attribute name"},
		{"an email without @ is refused", goodPassword + "\n",
			[]string{"user", "add", "x", "--email", "nope", "--password-stdin"}, exitInvalid, "email"},
		{"another user's email in other case is a conflict (they would share a session name)", goodPassword + "\n",
			[]string{"user", "add", "mallory", "--email", "BOB@Example.com", "--password-stdin"}, exitConflict,
			`email address "BOB@Example.com" is already used by user "bob"`},
		{"a short password is refused", "short\n",
			[]string{"user", "add", "x", "--password-stdin"}, exitInvalid, "too short"},
		{"an empty standard input is a short password", "",
			[]string{"user", "add", "x", "--password-stdin"}, exitInvalid, "too short"},
		{"a new user without --password-stdin and no terminal is refused", goodPassword + "\n",
			[]string{"user", "add", "x"}, exitInvalid, "--password-stdin"},
		{"a user add without a name is refused", "",
			[]string{"user", "add"}, exitInvalid, "NAME"},

		{"a group name in use is a conflict", "",
			[]string{"group", "add", "devs"}, exitConflict, "already exists"},
		{"a group name in use in other case is a conflict", "",
			[]string{"group", "add", "DEVS"}, exitConflict, "already exists"},
		{"a group name with a space is refused", "",
			[]string{"group", "add", "two words"}, exitInvalid, "invalid group name"},
		{"an unknown user cannot join a group", "",
			[]string{"group", "add-member", "devs", "ghost"}, exitNotFound, `user "ghost"`},
		{"a user cannot join an unknown group", "",
			[]string{"group", "add-member", "nope", "bob"}, exitNotFound, `group "nope"`},
		{"a member cannot join the same group twice", "",
			[]string{"group", "add-member", "devs", "bob"}, exitConflict, "already exists"},
		{"an unknown user cannot leave a group", "",
			[]string{"group", "remove-member", "devs", "ghost"}, exitNotFound, `user "ghost"`},

		{"an unknown user's password cannot be set", goodPassword + "\n",
			[]string{"user", "passwd", "ghost", "--password-stdin"}, exitNotFound, `user "ghost"`},
		{"a short new password for bob is refused", "short\n",
			[]string{"user", "passwd", "bob", "--password-stdin"}, exitInvalid, "too short"},
		{"an unknown user cannot be disabled", "",
			[]string{"user", "disable", "ghost"}, exitNotFound, `user "ghost"`},
		{"an unknown user cannot be enabled", "",
			[]string{"user", "enable", "ghost"}, exitNotFound, `user "ghost"`},
		{"an unknown user has no attributes to set", "",
			[]string{"user", "set-attr", "ghost", "team=x"}, exitNotFound, `user "ghost"`},
		{"set-attr without = is refused", "",
			[]string{"user", "set-attr", "bob", "team"}, exitInvalid, "KEY=VALUE"},
		{"an unknown user cannot be removed", "",
			[]string{"user", "remove", "ghost"}, exitNotFound, `user "ghost"`},

		{"an enroll without --totp is refused, naming the kinds the command line enrolls", "",
			[]string{"user", "mfa", "enroll", "bob"}, exitInvalid, "--totp (security keys need a browser: the user registers them at /account/mfa)"},
		{"an unknown user cannot be enrolled", "",
			[]string{"user", "mfa", "enroll", "ghost", "--totp"}, exitNotFound, `user "ghost"`},
		{"an enroll of two users is refused", "",
			[]string{"user", "mfa", "enroll", "bob", "alice", "--totp"}, exitInvalid, "NAME"},
		{"an enroll without a user is refused", "",
			[]string{"user", "mfa", "enroll", "--totp"}, exitInvalid, "NAME"},
		{"a second authenticator app is a conflict that names the reset", "",
			[]string{"user", "mfa", "enroll", "BOB", "--totp"}, exitConflict, "run `rolegate user mfa reset bob` first"},
		{"an unknown user's factors cannot be reset", "",
			[]string{"user", "mfa", "reset", "ghost"}, exitNotFound, `user "ghost"`},
		{"a reset of two users is refused", "",
			[]string{"user", "mfa", "reset", "bob", "bob"}, exitInvalid, "NAME"},
		{"an unknown user has no factors to list", "",
			[]string{"user", "mfa", "list", "ghost"}, exitNotFound, `user "ghost"`},
		{"mfa alone is refused", "",
			[]string{"user", "mfa"}, exitInvalid, "subcommand"},

		{"an unknown subcommand is refused", "",
			[]string{"user", "frobnicate"}, exitInvalid, "frobnicate"},
		{"an unknown command is refused", "",
			[]string{"frobnicate"}, exitInvalid, "frobnicate"},
		{"a misspelt command is refused on one line", "",
			[]string{"usr", "list"}, exitInvalid, "usr"},
		{"an unknown flag is refused", goodPassword + "\n",
			[]string{"user", "add", "--bogus"}, exitInvalid, "bogus"},
		{"a command group alone is refused", "",
			[]string{"grant"}, exitInvalid, "subcommand"},

		{"an unknown grant ID is not found", "",
			[]string{"grant", "remove", "999"}, exitNotFound, "999"},
		{"a grant ID that is no number is refused", "",
			[]string{"grant", "remove", "abc"}, exitInvalid, "abc"},
		{"a grant ID of zero is refused", "",
			[]string{"grant", "remove", "0"}, exitInvalid, "positive"},
		{"a grant ID and flags together are refused", "",
			[]string{"grant", "remove", "1", "--group", "devs"}, exitInvalid, "not both"},
		{"a grant that is not there is not found by its flags", "",
			[]string{"grant", "remove", "--group", "devs", "--account", "prod", "--role", "ReadOnly"}, exitNotFound, "ReadOnly"},
		{"an unknown account cannot be removed", "",
			[]string{"account", "remove", "nope"}, exitNotFound, `"nope"`},
		{"an unknown group cannot be removed", "",
			[]string{"group", "remove", "nope"}, exitNotFound, `"nope"`},
	}

	forEachBackend(t, func(t *testing.T, c *cli) {
		seed(t, c)
		want := snapshot(t, c)
		st := c.openStore(t)
		audits := auditCount(t, st)

		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := c.run(tc.stdin, tc.args...)
				cmd := "rolegate " + strings.Join(tc.args, " ")
				if r.code != tc.code {
					t.Errorf("%s: exit %d, want %d (stderr %q)", cmd, r.code, tc.code, r.stderr)
				}
				if !strings.HasPrefix(r.stderr, "rolegate: ") || !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("%s: stderr %q, want exactly one line starting with \"rolegate: \"", cmd, r.stderr)
				}
				if !strings.Contains(r.stderr, tc.frag) {
					t.Errorf("%s: stderr %q does not mention %q", cmd, r.stderr, tc.frag)
				}
				if r.stdout != "" {
					t.Errorf("%s: a failed command printed %q on stdout", cmd, r.stdout)
				}
				got := snapshot(t, c)
				for what, w := range want {
					if got[what] != w {
						t.Errorf("%s changed `rolegate %s`:\nbefore: %s\nafter:  %s", cmd, what, w, got[what])
					}
				}
				want = got // so that one case's damage is not blamed on the cases after it
				if n := auditCount(t, st); n != audits {
					t.Errorf("%s: audit events %d -> %d: a failed command left a record", cmd, audits, n)
					audits = n
				}
			})
		}
	})
}
