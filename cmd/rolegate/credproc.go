package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"rolegate/awslogin"
	"rolegate/store"
)

// credential-process, exec and console: the client side after `rolegate login`, fed from the
// profile's cache and its CLI session. They open no store.

// exitStatus carries a child's exit status out of run unchanged, with nothing printed.
type exitStatus struct{ code int }

func (e *exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// process is the credential source of the profile flag's value ($AWS_PROFILE, else default).
func (a *app) process(profile string) *awslogin.Process {
	if profile == "" {
		profile = envOr(a.env, "AWS_PROFILE", "default")
	}
	// HTTP nil: a minute's timeout, and STS through the SDK's client, which takes AWS_CA_BUNDLE and ca_bundle.
	return &awslogin.Process{Profile: profile, Env: a.env}
}

func credentialProcessCmd(a *app) *cobra.Command {
	var profile string
	c := &cobra.Command{
		Use:   "credential-process --profile P",
		Short: "Print a profile's credentials as credential_process JSON, refreshed through its Rolegate session",
		Long: `Print the profile's temporary credentials as the AWS credential_process JSON. They come from a 0600
cache and are renewed through the profile's Rolegate session (made by rolegate login) when
fewer than 5 minutes remain, with no prompt. In ~/.aws/config:

  [profile work]
  credential_process = rolegate credential-process --profile work`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, _, err := a.process(profile).Credentials(cmd.Context())
			if err != nil {
				return err
			}
			out, err := awslogin.ProcessJSON(creds)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s\n", out)
			return nil
		},
	}
	c.Flags().StringVar(&profile, "profile", "", "the profile rolegate login wrote (default $AWS_PROFILE, else default)")
	return c
}

// credentialVars are the variables exec sets or clears: a child must not find a profile or
// other keys that would win over the ones it is given.
var credentialVars = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"}

func execCmd(a *app) *cobra.Command {
	var profile string
	c := &cobra.Command{
		Use:   "exec --profile P -- CMD [ARG...]",
		Short: "Run a command with the profile's credentials in AWS_* variables; its exit status is rolegate's",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || cmd.ArgsLenAtDash() != 0 {
				return store.Errorf(store.Invalid, "exec takes the command after --: rolegate exec --profile P -- CMD [ARG...]")
			}
			p := a.process(profile)
			creds, st, err := p.Credentials(cmd.Context())
			if err != nil {
				return err
			}
			var env []string
			for _, kv := range os.Environ() {
				k, _, _ := strings.Cut(kv, "=")
				if !contains(credentialVars, k) && (st.Region == "" || (k != "AWS_REGION" && k != "AWS_DEFAULT_REGION")) {
					env = append(env, kv)
				}
			}
			env = append(env, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
				"AWS_SESSION_TOKEN="+creds.SessionToken, "AWS_CREDENTIAL_EXPIRATION="+creds.Expiration.UTC().Format(time.RFC3339),
				"ROLEGATE_PROFILE="+p.Profile)
			if st.Region != "" {
				env = append(env, "AWS_REGION="+st.Region, "AWS_DEFAULT_REGION="+st.Region)
			}
			// The command is not killed when rolegate is told to stop: a SIGTERM or SIGHUP goes on to it,
			// and a Ctrl-C reaches it from the terminal already (sending it again would be a second
			// Ctrl-C, which terraform takes as "stop now"). It decides how to end, and rolegate waits.
			child := exec.Command(args[0], args[1:]...)
			child.Env, child.Stdin, child.Stdout, child.Stderr = env, a.stdin, a.stdout, a.stderr
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer signal.Stop(sigs)
			if err = child.Start(); err == nil {
				done := make(chan error, 1)
				go func() { done <- child.Wait() }()
			wait:
				for {
					select {
					case err = <-done:
						break wait
					case s := <-sigs:
						if s != os.Interrupt {
							child.Process.Signal(s)
						}
					}
				}
			}
			var exited *exec.ExitError
			switch {
			case errors.As(err, &exited) && exited.ExitCode() >= 0:
				return &exitStatus{code: exited.ExitCode()}
			case errors.As(err, &exited):
				// Killed by a signal: the status a shell gives, 128 and the signal's number.
				if ws, ok := exited.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return &exitStatus{code: 128 + int(ws.Signal())}
				}
				return store.Errorf(store.Internal, "exec %s: %v", args[0], err)
			case errors.Is(err, exec.ErrNotFound):
				return store.Errorf(store.NotFound, "exec: command %q not found", args[0])
			case err != nil:
				return store.Errorf(store.Internal, "exec %s: %v", args[0], err)
			}
			return nil
		},
	}
	c.Flags().StringVar(&profile, "profile", "", "the profile rolegate login wrote (default $AWS_PROFILE, else default)")
	return c
}

func consoleCmd(a *app) *cobra.Command {
	var profile, federation string
	var print bool
	c := &cobra.Command{
		Use:   "console --profile P [--print]",
		Short: "Open the AWS console as the profile's role (or print the sign-in URL)",
		Long: `Open the AWS console as the profile's role: its credentials (refreshed as credential-process does)
go to the partition's federation endpoint (signin.aws.amazon.com, signin.amazonaws-us-gov.com or
signin.amazonaws.cn) for a sign-in token, and the sign-in URL opens in $BROWSER (its first command, %s standing for the URL), else the system's opener.
--print, or no way to open a browser, prints the URL instead: it signs anyone in who has it, for
15 minutes.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := a.process(profile)
			creds, st, err := p.Credentials(cmd.Context())
			if err != nil {
				return err
			}
			part := strings.SplitN(st.RoleARN, ":", 3)
			if len(part) < 3 {
				return store.Errorf(store.Invalid, "the role of profile %s (%q) is not an ARN: run rolegate login again", p.Profile, st.RoleARN)
			}
			link, err := awslogin.ConsoleLogin(cmd.Context(), p.HTTP, store.Partition(part[1]), creds, st.URL, federation)
			if err != nil {
				return err
			}
			// The one way to open a browser, as login's: $BROWSER with %s, else the system's opener.
			if !print && awslogin.OpenBrowser(a.env)(link) == nil {
				fmt.Fprintf(a.stderr, "opened the AWS console for %s\n", st.RoleARN)
				return nil
			}
			fmt.Fprintln(a.stdout, link)
			return nil
		},
	}
	c.Flags().StringVar(&profile, "profile", "", "the profile rolegate login wrote (default $AWS_PROFILE, else default)")
	c.Flags().BoolVar(&print, "print", false, "print the sign-in URL instead of opening a browser")
	c.Flags().StringVar(&federation, "federation-endpoint", "", "the federation endpoint URL (default: the role's partition's)")
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
