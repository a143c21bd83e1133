package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"rolegate/assertions"
	"rolegate/idp"
	"rolegate/internal/opensslsign"
	"rolegate/store"
)

func migrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (serve does this too)",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context()) // open migrates
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintln(a.stdout, "database schema is up to date")
			return nil
		},
	}
}

// serveOptions are serve's flags.
type serveOptions struct {
	addr, baseURL, proxies         string
	demo, requireMFA, insecureHTTP bool
	// changeEntityID lets --base-url replace the base URL the store pinned.
	changeEntityID bool
	// rateBurst and ratePerSecond shape each client address's token bucket on the anonymous routes.
	rateBurst     int
	ratePerSecond float64

	logLevel string // --log-level: debug, info, warn or error
	// keyRefresh bounds how long the signing keys read from the store are reused (see keyRefreshFlag).
	keyRefresh time.Duration
	metrics    metricsOptions
	// shutdownTimeout bounds how long a SIGTERM waits for in-flight requests.
	shutdownTimeout time.Duration
}

// Bounds of the anonymous rate limit: below them an office's people could not sign in together,
// above them the limit bounds nothing.
const (
	maxRateBurst     = 100000
	minRatePerSecond = 0.01
	maxRatePerSecond = 10000
)

// envFlags sets serve's flags that are not strings from the environment, unless given as flags:
// one way to read them all, through the flags' own parsers. (String flags take theirs as defaults.)
func envFlags(cmd *cobra.Command, a *app) error {
	for _, f := range []struct{ flag, env, hint string }{
		{"require-mfa", envRequireMFA, "use true or false"},
		{"insecure-http", envInsecureHTTP, "use true or false"},
		{"rate-burst", "ROLEGATE_RATE_BURST", "use a whole number"},
		{"rate-per-second", "ROLEGATE_RATE_PER_SECOND", "use a number such as 5 or 0.5"},
		{"shutdown-timeout", "ROLEGATE_SHUTDOWN_TIMEOUT", "use a duration such as 20s"},
		{"key-refresh", envKeyRefresh, "use a duration such as 10s or 2s"},
	} {
		if v := a.env(f.env); v != "" && !cmd.Flags().Changed(f.flag) {
			if err := cmd.Flags().Set(f.flag, v); err != nil {
				return store.Errorf(store.Invalid, "invalid %s %q: %s", f.env, v, f.hint)
			}
		}
	}
	return nil
}

// checkBounds refuses serve's numbers out of their bounds: a rate limit that limits nothing or
// lets no office in, a shutdown timeout that is not positive, a key refresh too long for a rotation.
func checkBounds(o serveOptions) error {
	if o.rateBurst < 1 || o.rateBurst > maxRateBurst {
		return store.Errorf(store.Invalid, "invalid rate burst %d: use 1 to %d", o.rateBurst, maxRateBurst)
	}
	if !(o.ratePerSecond >= minRatePerSecond && o.ratePerSecond <= maxRatePerSecond) {
		return store.Errorf(store.Invalid, "invalid rate per second %v: use %v to %v", o.ratePerSecond, minRatePerSecond, maxRatePerSecond)
	}
	if o.shutdownTimeout <= 0 {
		return store.Errorf(store.Invalid, "invalid shutdown timeout %v: use a positive duration such as 20s", o.shutdownTimeout)
	}
	return checkKeyRefresh(o.keyRefresh)
}

func serveCmd(a *app) *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the identity provider",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envFlags(cmd, a); err != nil {
				return err
			}
			if err := checkBounds(o); err != nil {
				return err
			}
			if o.baseURL != "" { // refused before anything is created
				if err := checkBaseURL(o.baseURL, o.insecureHTTP); err != nil {
					return err
				}
			}
			if o.demo && a.databaseURL == "" && !cmd.Flags().Changed("data-dir") && a.env("ROLEGATE_DATA_DIR") == "" {
				a.dataDir = demoDataDir
			}
			return a.serve(cmd.Context(), o)
		},
	}
	c.Flags().StringVar(&o.addr, "addr", envOr(a.env, "ROLEGATE_ADDR", "127.0.0.1:8080"), "listen address (env ROLEGATE_ADDR)")
	c.Flags().StringVar(&o.proxies, "trusted-proxies", a.env("ROLEGATE_TRUSTED_PROXIES"),
		"comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed (env ROLEGATE_TRUSTED_PROXIES)")
	c.Flags().BoolVar(&o.demo, "demo", false,
		"seed a demo user, group and accounts 111122223333, 444455556666 (MFA) and 777788889999 (encrypted) whose sign-ins go to this server's checker at /debug/aws-signin; "+
			"the store is "+demoDataDir+" unless --data-dir or --database-url names one, which must hold no real data")
	c.Flags().BoolVar(&o.requireMFA, "require-mfa", false,
		"make a second factor part of every sign-in, not only for accounts set with --require-mfa (env "+envRequireMFA+"=true|false)")
	c.Flags().IntVar(&o.rateBurst, "rate-burst", idp.DefaultRateBurst,
		"requests one client address (an IPv6 /64) may send at once to the sign-in and SSO endpoints (env ROLEGATE_RATE_BURST)")
	c.Flags().Float64Var(&o.ratePerSecond, "rate-per-second", float64(time.Second)/float64(idp.DefaultRateEvery),
		"requests per second one client address earns back, up to --rate-burst (env ROLEGATE_RATE_PER_SECOND)")
	c.Flags().BoolVar(&o.insecureHTTP, "insecure-http", false,
		"allow an http:// base URL on a host other than localhost: passwords and session cookies then cross the network in clear (env "+envInsecureHTTP+"=true|false)")
	keyRefreshFlag(c, &o.keyRefresh)
	o.metrics.flags(c, a)
	c.Flags().DurationVar(&o.shutdownTimeout, "shutdown-timeout", 20*time.Second,
		"on SIGTERM or SIGINT, how long to let in-flight requests finish before exiting; new connections are refused at once (env ROLEGATE_SHUTDOWN_TIMEOUT)")
	c.Flags().StringVar(&o.logLevel, "log-level", envOr(a.env, envLogLevel, "info"), logLevelHelp)
	c.Flags().StringVar(&o.baseURL, "base-url", a.env("ROLEGATE_BASE_URL"),
		"public URL of this IdP; the entity ID is BASE_URL/saml/metadata, pinned in the store at first start (env ROLEGATE_BASE_URL; default: the pinned one, else http://ADDR)")
	c.Flags().BoolVar(&o.changeEntityID, "change-entity-id", false,
		"replace the pinned base URL with --base-url: every AWS account's SAML provider and every SP then needs Rolegate's new metadata before anyone can sign in")
	return c
}

// The environment's --require-mfa and --insecure-http.
const (
	envRequireMFA   = "ROLEGATE_REQUIRE_MFA"
	envInsecureHTTP = "ROLEGATE_INSECURE_HTTP"
)

// checkBaseURL refuses base URLs that would make a broken entity ID, and plain http to a host other
// than this machine unless insecure is set: passwords and cookies would cross the network in clear.
func checkBaseURL(base string, insecure bool) error {
	u, err := url.Parse(base)
	// An empty query or fragment ("?", "#") or white space would end up inside the entity ID.
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(base, "?# ") || u.User != nil {
		return store.Errorf(store.Invalid, "invalid base URL %q: use an absolute http(s) URL such as https://idp.example.com", base)
	}
	if strings.EqualFold(u.Scheme, "http") && !insecure && !idp.Loopback(u.Hostname()) {
		return store.Errorf(store.Invalid, "base URL %q is plain http on a host other than localhost: use https (behind a TLS proxy), "+
			"or pass --insecure-http (%s=true) to accept passwords and cookies in clear", base, envInsecureHTTP)
	}
	return nil
}

func (a *app) serve(ctx context.Context, o serveOptions) error {
	level, err := parseLogLevel(o.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	var proxies []string
	for _, p := range strings.Split(o.proxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			proxies = append(proxies, p)
		}
	}
	if err := idp.CheckProxies(proxies); err != nil {
		return err
	}
	mln, metricsAllow, err := o.metrics.listen()
	if err != nil {
		return err
	}
	if mln != nil {
		defer mln.Close()
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return store.Errorf(store.Invalid, "cannot listen on %s: %v", o.addr, err)
	}
	defer ln.Close()
	if a.databaseURL != "" {
		if err := a.checkDataDir(true); err != nil { // for a first KEK and the admin's password file
			return err
		}
	}
	st, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	where := a.dataDir
	if a.databaseURL != "" {
		where = "the PostgreSQL database"
	}
	if o.demo {
		if err := checkDemoStore(ctx, st, where); err != nil {
			return err
		}
	}
	baseURL, oldBaseURL, err := a.serveBaseURL(ctx, st, o, ln.Addr())
	if err != nil {
		return err
	}
	if a.databaseURL != "" {
		keys, err := st.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		a.firstKEK = len(keys) == 0
	}
	ring, kek, kekSource, err := a.keyring(st)
	if err != nil {
		return err
	}
	ring.Refresh = o.keyRefresh
	if err := ring.Ensure(ctx); err != nil {
		return err
	}
	hasher := newHasher()
	adminPassword, err := idp.BootstrapAdmin(ctx, st, hasher, time.Now().UTC())
	if err != nil {
		return err
	}
	cfg := idp.Config{BaseURL: baseURL, TrustedProxies: proxies, Hasher: hasher, Secrets: kek, RequireMFA: o.requireMFA,
		RateBurst: o.rateBurst, RateEvery: time.Duration(float64(time.Second) / o.ratePerSecond),
		MetricsAllow: metricsAllow, SeparateMetrics: mln != nil}
	var demoPassword string
	if o.demo {
		if demoPassword, err = idp.SeedDemo(ctx, st, hasher, kek); err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
		cfg.DemoAccounts, cfg.DemoKEK = idp.DemoAccounts, kek
	}
	isrv := idp.New(cfg, st, ring, log)
	srv := &http.Server{
		Handler:           isrv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	backend := "embedded SQLite in " + a.dataDir
	if a.databaseURL != "" {
		backend = "PostgreSQL"
	}
	log.Info("starting", "addr", ln.Addr().String(), "base_url", baseURL, "entity_id", assertions.EntityID(baseURL), "store", backend,
		"kek", kekSource, "require_mfa", o.requireMFA, "signer", opensslsign.Name())
	// One URL, the one to open: requests for other names of this server are sent on to it.
	fmt.Fprintf(a.stdout, "Rolegate is running at %s\n", strings.TrimRight(baseURL, "/"))
	if oldBaseURL != "" {
		fmt.Fprintf(a.stdout, "The entity ID changed from %s to %s: sign-in fails until every AWS account has the new metadata "+
			"(rolegate aws register --all) and every SAML SP has it too\n", assertions.EntityID(oldBaseURL), assertions.EntityID(baseURL))
	}
	if mln != nil {
		defer serveMetrics(mln, isrv.MetricsHandler(), log, a.stdout)()
	}
	if adminPassword != "" {
		a.showSecret(fmt.Sprintf("Created user %q with a one-time password, valid for %d hours; change it at first sign-in",
			idp.AdminName, int(idp.OneTimePasswordTTL.Hours())), adminPasswordFile, adminPassword, idp.AdminName)
	}
	if o.demo {
		fmt.Fprintf(a.stdout, "Demo mode, on the store in %s: accounts %s sign in to this server's checker (/debug/aws-signin), not to AWS (%s requires MFA, %s encrypted assertions)\n",
			where, strings.Join(idp.DemoAccounts, ", "), idp.DemoMFAAccount, idp.DemoEncryptedAccount)
		if demoPassword != "" {
			a.showSecret(fmt.Sprintf("Created demo user %q", idp.DemoUser), demoPasswordFile, demoPassword, idp.DemoUser)
		} else {
			fmt.Fprintf(a.stdout, "Demo user %q exists; its password is unchanged (rolegate %suser passwd %s to set one)\n", idp.DemoUser, a.storeFlags(), idp.DemoUser)
		}
		// A password alone never adds a first factor: the demo user needs an invite too.
		fmt.Fprintf(a.stdout, "To add a second factor for %s: rolegate %suser mfa invite %s\n", idp.DemoMFAAccount, a.storeFlags(), idp.DemoUser)
	}
	go sweep(ctx, st, log)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", o.shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close() // cut the requests still running: the bound is the bound
		return fmt.Errorf("shutdown: requests still running after --shutdown-timeout %v: %w", o.shutdownTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// sweep deletes expired sessions and throttle counters now and then; any replica may do it.
func sweep(ctx context.Context, st store.Store, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UTC()
		if _, err := st.DeleteExpiredSessions(ctx, now); err != nil {
			log.Warn("sweeping sessions", "err", err)
		}
		if _, err := st.DeleteExpiredThrottles(ctx, now); err != nil {
			log.Warn("sweeping throttles", "err", err)
		}
		if _, err := st.DeleteExpiredPendingRequests(ctx, now); err != nil {
			log.Warn("sweeping sign-in requests", "err", err)
		}
	}
}

// Files in the data dir that hold a password created at start when stdout is not a terminal.
const (
	adminPasswordFile = "initial-admin-password"
	demoPasswordFile  = "demo-password"
)

// showSecret shows a password that serve created: on stdout when it is a terminal, and otherwise
// (where a log collector may keep stdout) in a new file in the data dir, mode 0600, whose path it
// prints. When neither works it says so and how user sets a password instead.
func (a *app) showSecret(intro, file, secret, user string) {
	if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.stdout, "%s: %s\nIt is shown only this once.\n", intro, secret)
		return
	}
	path := filepath.Join(a.dataDir, file)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // whoever reads the log may not know serve's working directory
	}
	if err := writeSecret(path, secret); err != nil {
		fmt.Fprintf(a.stdout, "%s, but standard output is not a terminal and writing the password to %s failed (%v): "+
			"set one with `rolegate user passwd %s`\n", intro, path, err, user)
		return
	}
	fmt.Fprintf(a.stdout, "%s; standard output is not a terminal, so the password is in %s (mode 0600): read it, then delete the file\n",
		intro, path)
}

// writeSecret writes secret to a new file at path, mode 0600. A file left there by an earlier
// start is removed first (never followed, if it is a link), and O_EXCL refuses one put back meanwhile.
func writeSecret(path, secret string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(secret + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
