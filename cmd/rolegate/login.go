package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"rolegate/awslogin"
	"rolegate/store"
)

// loginCmd is `rolegate login`: the client side, run by engineers against a Rolegate server. It
// opens no store.
func loginCmd(a *app) *cobra.Command {
	var (
		l                     awslogin.Login
		idpURL, username, dur string
		ecp, passwordStdin    bool
	)
	c := &cobra.Command{
		Use:   "login --url IDP_URL --ecp [--profile P] [--account A] [--role R] [--duration D] [--region R] [--sts-endpoint URL]",
		Short: "Sign in at a Rolegate server and write temporary AWS credentials into a profile",
		Long: `Sign in at a Rolegate server and write temporary AWS credentials into a profile of the shared
credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).

--ecp signs in with SAML ECP: username, password and one-time code from ROLEGATE_USERNAME,
ROLEGATE_PASSWORD and ROLEGATE_OTP, or from standard input with --password-stdin (password on the
first line, the code on the second), or from prompts on a terminal.

The IdP also issues a Rolegate CLI session (as long as a web session may last, 12 h by default),
kept with the credentials cache in $XDG_CONFIG_HOME/rolegate/profiles/P.json (mode 0600), so that
rolegate credential-process, exec and console renew the credentials without asking again.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if idpURL == "" {
				return store.Errorf(store.Invalid, "login needs --url: the address of your Rolegate server")
			}
			if !ecp {
				return store.Errorf(store.Invalid, "login needs --ecp: sign in with username, password and one-time code")
			}
			d, err := parseDuration(dur)
			if err != nil {
				return err
			}
			if l.Profile == "" {
				l.Profile = envOr(a.env, "AWS_PROFILE", "default")
			}
			if err := awslogin.CheckProfile(l.Profile); err != nil {
				return err
			}
			prompt := &awslogin.Terminal{In: a.stdin, Out: a.stderr}
			creds, err := awslogin.ReadECPCredentials(a.env, username, a.stdin, passwordStdin, prompt)
			if err != nil {
				return err
			}
			hc := &http.Client{Timeout: time.Minute}
			host, _ := os.Hostname()
			src := &awslogin.ECP{URL: idpURL, Creds: creds, Prompt: prompt, HTTP: hc, WantSession: true, Host: host}
			l.Source = src
			l.Prompt, l.Out, l.Env, l.HTTP, l.Duration = prompt, a.stderr, a.env, hc, d
			res, err := l.Run(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "profile %s in %s: %s, until %s\n", l.Profile, res.File, res.Role.Label(),
				res.Creds.Expiration.Local().Format(time.RFC3339))
			if src.Session == nil {
				fmt.Fprintf(a.stderr, "the IdP issued no Rolegate session: credential-process and exec will ask you to log in again when these expire\n")
				return nil
			}
			// The session and the credentials cache, for credential-process and exec.
			return awslogin.SaveState(a.env, l.Profile, &awslogin.State{URL: idpURL, Session: src.Session, Account: res.Role.Account,
				RoleARN: res.Role.RoleARN, RoleName: res.Role.Name, Region: l.Region, STSEndpoint: l.STSEndpoint, Duration: d, Creds: res.Creds})
		},
	}
	f := c.Flags()
	f.StringVar(&idpURL, "url", a.env("ROLEGATE_URL"), "the Rolegate server, e.g. https://idp.example.com (env ROLEGATE_URL)")
	f.BoolVar(&ecp, "ecp", false, "sign in with SAML ECP: username, password and one-time code")
	f.StringVar(&username, "username", "", "your Rolegate user name (env ROLEGATE_USERNAME; asked when absent)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input and the one-time code from the second")
	f.StringVar(&l.Profile, "profile", "", "the profile to write (default $AWS_PROFILE, else default)")
	f.StringVar(&l.Account, "account", "", "the account's alias or ID; without it, roles of every account are offered")
	f.StringVar(&l.Role, "role", "", "the role's name or ARN; without it, a single role is taken and several are asked about")
	f.StringVar(&dur, "duration", "", "session length, e.g. 1h or 3600 (default: the session duration the IdP sets)")
	f.StringVar(&l.Region, "region", "", "the region of the STS endpoint, also written into the profile (default: AWS_REGION, else the account's region, else us-east-1, us-gov-west-1 or cn-north-1 by partition)")
	f.StringVar(&l.STSEndpoint, "sts-endpoint", "", "the STS endpoint URL (default: AWS_ENDPOINT_URL_STS, else the partition's regional endpoint)")
	return c
}
