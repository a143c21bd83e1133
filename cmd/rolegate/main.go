// Command rolegate is Rolegate's one binary: the server and the admin CLI. It only wires packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"rolegate/store"
)

// exitCodes gives each error code its one CLI exit status.
var exitCodes = map[store.Code]int{
	store.Internal:     1,
	store.Invalid:      2,
	store.Unauthorized: 3,
	store.Forbidden:    4,
	store.NotFound:     5,
	store.Conflict:     6,
	store.Unavailable:  7,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status; tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	root := newRoot(&app{stdin: stdin, stdout: stdout, stderr: stderr, env: env, now: clockOf(ctx)})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var child *exitStatus
	if err == nil {
		return 0
	} else if errors.As(err, &child) {
		return child.code // rolegate exec: the command's own status, which said its own words
	}
	msg := store.ErrorMessage(err)
	if c := store.ErrorCode(err); c == store.Internal || c == store.Unavailable {
		msg = err.Error() // the operator runs the CLI: the cause helps, and no one else sees it
	}
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintln(stderr, "rolegate: "+msg)
	return exitCodes[store.ErrorCode(err)]
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:              "rolegate",
		Short:            "Rolegate: a SAML 2.0 identity provider for AWS federation",
		SilenceUsage:     true,
		SilenceErrors:    true,
		Args:             noSubcommand,
		RunE:             needSubcommand,
		PersistentPreRun: a.command,
		Version:          versionText(),
	}
	root.SetVersionTemplate("rolegate {{.Version}}\n")
	root.PersistentFlags().StringVar(&a.dataDir, "data-dir", envOr(a.env, "ROLEGATE_DATA_DIR", defaultDataDir),
		"data directory: the embedded database and the key-encryption key (env ROLEGATE_DATA_DIR)")
	root.PersistentFlags().StringVar(&a.databaseURL, "database-url", a.env("ROLEGATE_DATABASE_URL"),
		"PostgreSQL URL; when empty, the embedded store in the data directory (env ROLEGATE_DATABASE_URL)")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(serveCmd(a), migrateCmd(a), userCmd(a), groupCmd(a), accountCmd(a), grantCmd(a), keysCmd(a), tagCmd(a), auditCmd(a), spCmd(a), mfaCmd(a), unlockCmd(a), loginCmd(a), sessionCmd(a),
		credentialProcessCmd(a), execCmd(a), consoleCmd(a), awsCmd(a), versionCmd(a), backupCmd(a), restoreCmd(a), benchCmd(a))
	finish(a, root)
	return root
}

func envOr(env func(string) string, key, def string) string {
	if v := env(key); v != "" {
		return v
	}
	return def
}

// nargs accepts exactly n positional arguments, naming them in the error.
func nargs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return store.Errorf(store.Invalid, "%s takes %d argument(s): %v (got %d)", cmd.CommandPath(), len(names), names, len(args))
		}
		return nil
	}
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: noSubcommand, RunE: needSubcommand}
	c.AddCommand(subs...)
	return c
}

// noSubcommand refuses an unknown subcommand with an "invalid" error, so it exits like other bad input.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return store.Errorf(store.Invalid, "unknown command %q for %q%s; see %s --help", args[0], cmd.CommandPath(), suggest(cmd, args[0]), cmd.CommandPath())
	}
	return nil
}

func needSubcommand(cmd *cobra.Command, _ []string) error {
	return store.Errorf(store.Invalid, "%s needs a subcommand; see %s --help", cmd.CommandPath(), cmd.CommandPath())
}
