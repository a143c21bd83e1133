package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
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
		ecp, browser, device  bool
		passwordStdin         bool
	)
	c := &cobra.Command{
		Use:   "login --url IDP_URL [--browser | --device-code | --ecp] [--profile P] [--account A] [--role R] [--duration D] [--region R] [--sts-endpoint URL]",
		Short: "Sign in at a Rolegate server and write temporary AWS credentials into a profile",
		Long: `Sign in at a Rolegate server and write temporary AWS credentials into a profile of the shared
credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).

--browser (the default where a browser can be opened) signs in through your web browser:
rolegate listens on a random port of 127.0.0.1 and opens the server's sign-in page ($BROWSER,
else the system's opener; it prints the address too); an existing browser session is reused,
passkeys and security keys work; you pick or confirm the role there, and the browser hands a
one-time code back to rolegate, on this machine only.

--device-code shows an address and a short code: sign in on any device (a phone, a laptop),
type the code, check the machine named there and approve; rolegate polls until then. It is the
default over SSH and wherever no display is found.

--ecp signs in with SAML ECP: username, password and one-time code from ROLEGATE_USERNAME,
ROLEGATE_PASSWORD and ROLEGATE_OTP, or from standard input with --password-stdin (password on the
first line, the code on the second), or from prompts on a terminal.

In every mode the IdP also issues a Rolegate CLI session (as long as a web session may last,
12 h by default, or less where an account sets it with rolegate account set --cli-session),
kept with the credentials cache in $XDG_CONFIG_HOME/rolegate/profiles/P.json (mode 0600), so that
rolegate credential-process, exec and console renew the credentials without asking again.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if idpURL == "" {
				return store.Errorf(store.Invalid, "login needs --url: the address of your Rolegate server")
			}
			mode, err := loginMode(ecp, browser, device, a.env, runtime.GOOS)
			if err != nil {
				return err
			}
			if mode != "ecp" && (username != "" || passwordStdin) {
				return store.Errorf(store.Invalid, "--username and --password-stdin go with --ecp")
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
			// A state directory that will be refused after the sign-in is refused before it, with nothing written.
			if err := awslogin.CheckStateDir(a.env, l.Profile); err != nil {
				return err
			}
			prompt := &awslogin.Terminal{In: a.stdin, Out: a.stderr}
			hc := &http.Client{Timeout: time.Minute}
			host, _ := os.Hostname()
			var src awslogin.SessionSource
			switch mode {
			case "ecp":
				creds, err := awslogin.ReadECPCredentials(a.env, username, a.stdin, passwordStdin, prompt)
				if err != nil {
					return err
				}
				src = &awslogin.ECP{URL: idpURL, Creds: creds, Prompt: prompt, HTTP: hc, WantSession: true, Host: host}
			case "device-code":
				src = &awslogin.Device{URL: idpURL, Role: l.Role, Out: a.stderr, HTTP: hc, WantSession: true, Host: host}
			default:
				src = &awslogin.Browser{URL: idpURL, Role: l.Role, Open: awslogin.OpenBrowser(a.env), Out: a.stderr, HTTP: hc, WantSession: true, Host: host}
			}
			l.Source = src
			// STS through the SDK's own client (nil), which takes AWS_CA_BUNDLE and ca_bundle.
			l.Prompt, l.Out, l.Env, l.Duration = prompt, a.stderr, a.env, d
			res, err := l.Run(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "profile %s in %s: %s, until %s\n", l.Profile, res.File, res.Role.Label(),
				res.Creds.Expiration.Local().Format(time.RFC3339))
			sess := src.CLISession()
			if sess == nil {
				fmt.Fprintf(a.stderr, "the IdP issued no Rolegate session: credential-process and exec will ask you to log in again when these expire\n")
				if _, err := awslogin.StatePath(a.env, l.Profile); err != nil {
					return nil // no place for state, so none of an earlier login either
				}
			}
			// The session and the credentials cache, for credential-process and exec; saved without a
			// session too, so that an earlier login's role and session do not outlive this one.
			return awslogin.SaveState(a.env, l.Profile, &awslogin.State{URL: idpURL, Session: sess, Account: res.Role.Account,
				RoleARN: res.Role.RoleARN, RoleName: res.Role.Name, Region: l.Region, STSEndpoint: l.STSEndpoint, Duration: d, Creds: res.Creds})
		},
	}
	f := c.Flags()
	f.StringVar(&idpURL, "url", a.env("ROLEGATE_URL"), "the Rolegate server, e.g. https://idp.example.com (env ROLEGATE_URL)")
	f.BoolVar(&browser, "browser", false, "sign in through your web browser (the default)")
	f.BoolVar(&device, "device-code", false, "sign in by approving a short code on any device (the default over SSH without a display)")
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

// loginMode is how `rolegate login` authenticates: the flag given, else the browser where one can
// be opened (a display: DISPLAY or WAYLAND_DISPLAY, or macOS and Windows outside SSH), else the
// device code (over SSH, or with no display at all).
func loginMode(ecp, browser, device bool, env func(string) string, goos string) (string, error) {
	switch n := btoi(ecp) + btoi(browser) + btoi(device); {
	case n > 1:
		return "", store.Errorf(store.Invalid, "choose one way to sign in: --browser, --device-code or --ecp")
	case ecp:
		return "ecp", nil
	case browser:
		return "browser", nil
	case device:
		return "device-code", nil
	}
	ssh := env("SSH_CONNECTION") != "" || env("SSH_TTY") != ""
	switch {
	case env("DISPLAY") != "" || env("WAYLAND_DISPLAY") != "":
		return "browser", nil
	case (goos == "darwin" || goos == "windows") && !ssh:
		return "browser", nil
	}
	return "device-code", nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
