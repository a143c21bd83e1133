package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/awslogin"
	"rolegate/idp"
	"rolegate/internal/loadgen"
	"rolegate/store"
)

// What `rolegate bench` puts in the store, and takes out again.
const (
	benchUserPrefix = "bench-"
	benchGroup      = "bench"
	benchAccountID  = "000000000000" // no AWS account has it; nothing is ever sent to AWS
	benchAlias      = "bench"
	benchRole       = "bench"
)

var benchScenarios = []string{"sso", "login", "ecp", "metadata"}

type benchOpts struct {
	url, scenario, output     string
	concurrency, users, every int
	duration, warmup          time.Duration
	force, keep, waitRetry    bool
	xmlsec                    bool
}

func benchCmd(a *app) *cobra.Command {
	var o benchOpts
	c := &cobra.Command{
		Use:   "bench --url URL --scenario sso|login|ecp|metadata",
		Short: "Load a running server with one kind of request and report its rate, latencies and errors",
		Long: "bench signs bench users in to the server at --url and sends it requests from --concurrency workers, each the next as soon\n" +
			"as the last is answered, for --duration after --warmup. It prepares its users (bench-1...), group, account (" + benchAccountID + ", alias\n" +
			"bench) and grant in the store that --data-dir or --database-url names, which must be the one the server runs on, and removes\n" +
			"them afterwards. Every --verify-every'th Response is held to the server's metadata as AWS would hold it; one wrong answer\n" +
			"fails the run. Start the server with high --rate-burst and --rate-per-second, or its per-address limit throttles the bench.",
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.bench(cmd.Context(), o) },
	}
	f := c.Flags()
	f.StringVar(&o.url, "url", "", "base URL of the running server (required)")
	f.StringVar(&o.scenario, "scenario", "sso", "sso (GET /aws/signin, signed in), login (GET and POST /login), ecp (POST /saml/ecp) or metadata")
	f.IntVar(&o.concurrency, "concurrency", 4, "workers, each with one request in flight")
	f.IntVar(&o.users, "users", 0, "bench users the workers take turns with (0: one per worker)")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "measured time")
	f.DurationVar(&o.warmup, "warmup", 2*time.Second, "time run before the measured time and not counted")
	f.IntVar(&o.every, "verify-every", 50, "verify every Nth answer against the metadata (the first always)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	f.BoolVar(&o.force, "force", false, "run on a store that holds users other than admin, demo and bench-* (it writes bench users into it)")
	f.BoolVar(&o.xmlsec, "xmlsec1", false, "also verify each checked Response's signatures with xmlsec1 (on PATH), trusting only the metadata's\n"+
		"certificates; the checked requests then wait for it, so use a larger --verify-every for latency figures")
	f.BoolVar(&o.waitRetry, "wait-retry-after", true, "a worker whose sign-in the server shed (503 with Retry-After) waits that long before its next request,\n"+
		"as a person or saml2aws would (false: it asks again at once, and the run measures how cheaply the server refuses)")
	f.BoolVar(&o.keep, "keep", false, "leave the bench users, group, account and grant in the store afterwards")
	c.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(benchScenarios, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func (o *benchOpts) check() error {
	u, err := url.Parse(o.url)
	switch {
	case o.url == "":
		return store.Errorf(store.Invalid, "--url is required: the base URL of the running server")
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return store.Errorf(store.Invalid, "--url %q is not an http or https URL", o.url)
	case !slices.Contains(benchScenarios, o.scenario):
		return store.Errorf(store.Invalid, "--scenario %q: use one of %s", o.scenario, strings.Join(benchScenarios, ", "))
	case o.concurrency < 1 || o.concurrency > 10000:
		return store.Errorf(store.Invalid, "--concurrency must be 1 to 10000")
	case o.users < 0 || o.users > 10000:
		return store.Errorf(store.Invalid, "--users must be 0 to 10000")
	case o.duration <= 0 || o.warmup < 0:
		return store.Errorf(store.Invalid, "--duration must be positive and --warmup not negative")
	case o.every < 1:
		return store.Errorf(store.Invalid, "--verify-every must be 1 or more: an unverified run could count fast wrong answers")
	case o.output != "text" && o.output != "json":
		return store.Errorf(store.Invalid, "-o %q: use text or json", o.output)
	}
	if o.users == 0 {
		o.users = o.concurrency
	}
	return nil
}

func (a *app) bench(ctx context.Context, o benchOpts) error {
	if err := o.check(); err != nil {
		return err
	}
	t, err := loadgen.NewTarget(ctx, o.url, o.concurrency)
	if err != nil {
		return err
	}
	if o.xmlsec {
		if t.XMLSec, err = t.NewXMLSec("xmlsec1"); err != nil {
			return store.Errorf(store.Invalid, "--xmlsec1: %v", err)
		}
		defer t.XMLSec.Close()
	}
	var op loadgen.Op
	if o.scenario == "metadata" {
		op = t.Metadata() // needs nobody in the store
	} else {
		var pw string
		var users []string
		err := a.withStore(ctx, func(st store.Store) error {
			var err error
			pw, users, err = a.prepareBench(ctx, st, o.users, o.force)
			return err
		})
		if err != nil {
			return err
		}
		if !o.keep {
			defer func() {
				// The run's context may be over (an interrupt); the cleanup still runs.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := a.withStore(cctx, func(st store.Store) error { return a.removeBench(cctx, st, "bench.cleanup") }); err != nil {
					fmt.Fprintf(a.stderr, "rolegate: removing the bench data: %v\n", err)
				}
			}()
		}
		if op, err = a.benchOp(ctx, t, o.scenario, users, pw); err != nil {
			return err
		}
	}
	r, err := loadgen.Run(ctx, loadgen.Config{Concurrency: o.concurrency, Warmup: o.warmup, Duration: o.duration, VerifyEvery: o.every, WaitRetryAfter: o.waitRetry}, op)
	if err != nil {
		return err
	}
	if err := a.printBench(o, r); err != nil {
		return err
	}
	if n := r.Errors[loadgen.KindVerify]; n > 0 {
		return store.Errorf(store.Internal, "%d answer(s) were wrong, so the run does not count; the first: %s", n, r.First[loadgen.KindVerify])
	}
	if r.Requests == 0 {
		return store.Errorf(store.Unavailable, "no request was answered right in %s", o.duration)
	}
	return nil
}

// benchOp makes the scenario's operation. It first signs bench users in through the form (sso:
// every one, for their sessions; login and ecp: the first), so that a server on another store or
// with low rate limits is named before the run rather than as a run of errors.
func (a *app) benchOp(ctx context.Context, t *loadgen.Target, scenario string, users []string, pw string) (loadgen.Op, error) {
	if scenario == "ecp" {
		if _, err := awslogin.Endpoint(t.URL, benchAlias); err != nil {
			return nil, err // the ECP client sends passwords over TLS only, or to this machine
		}
	}
	clients := make([]*http.Client, len(users))
	for i, u := range users {
		if i > 0 && scenario != "sso" {
			break
		}
		c, err := t.SignIn(ctx, u, pw, true)
		if f := (*loadgen.Failure)(nil); errors.As(err, &f) && f.Kind == http429 {
			return nil, store.Errorf(store.Unavailable, "the server throttled the sign-in of %s (HTTP 429): for a bench, start it with high --rate-burst and --rate-per-second", u)
		} else if err != nil {
			return nil, store.Errorf(store.Unavailable, "cannot sign %s in at %s (%v): is the server running on the store of --data-dir or --database-url, "+
				"with rate limits high enough for a bench?", u, t.URL, err)
		}
		clients[i] = c
	}
	switch scenario {
	case "login":
		return t.Login(users, pw), nil
	case "ecp":
		return t.ECP(users, pw, benchAlias), nil
	}
	return t.SSO(clients, benchAlias, benchRole), nil
}

// prepareBench checks that the store is one for benchmarks, removes what an earlier run left, and
// creates n users with one random password (hashed once: the server verifies each sign-in alike),
// their group, the account and the grant. It returns the password and the user names.
func (a *app) prepareBench(ctx context.Context, st store.Store, n int, force bool) (string, []string, error) {
	all, err := st.ListUsers(ctx)
	if err != nil {
		return "", nil, err
	}
	var others []string
	for _, u := range all {
		if !strings.HasPrefix(u.Name, benchUserPrefix) && u.Name != idp.AdminName && u.Name != idp.DemoUser {
			others = append(others, u.Name)
		}
	}
	if len(others) > 0 && !force {
		sort.Strings(others)
		return "", nil, store.Errorf(store.Forbidden, "the store holds other users (%s%s): bench writes users, a group and an account into the store "+
			"and loads the server; run it on a store for benchmarks, or pass --force", others[0], map[bool]string{true: ", ...", false: ""}[len(others) > 1])
	}
	if err := a.removeBench(ctx, st, ""); err != nil {
		return "", nil, err
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	pw := hex.EncodeToString(raw[:])
	hash, err := newHasher().Hash(ctx, pw)
	if err != nil {
		return "", nil, err
	}
	if err := st.CreateGroup(ctx, &store.Group{Name: benchGroup}); err != nil {
		return "", nil, err
	}
	acct := &store.Account{ID: benchAccountID, Alias: benchAlias, ProviderName: "Rolegate", Partition: store.PartitionAWS, SessionNameSource: store.FromUsername}
	if err := st.CreateAccount(ctx, acct); err != nil {
		return "", nil, err
	}
	if err := st.CreateGrant(ctx, &store.Grant{Group: benchGroup, AccountID: benchAccountID, Role: benchRole}); err != nil {
		return "", nil, err
	}
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("%s%d", benchUserPrefix, i+1)
		if err := st.CreateUser(ctx, &store.User{Name: users[i], PasswordHash: hash}); err != nil {
			return "", nil, err
		}
		if err := st.AddGroupMember(ctx, benchGroup, users[i]); err != nil {
			return "", nil, err
		}
	}
	return pw, users, a.audit(ctx, st, "bench.prepare", "", map[string]string{"users": fmt.Sprint(n), "account": benchAccountID})
}

// removeBench deletes the bench users (their sessions and memberships go with them), group and
// account (its grant goes with it); it audits as event when one is named.
func (a *app) removeBench(ctx context.Context, st store.Store, event string) error {
	all, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, u := range all {
		if strings.HasPrefix(u.Name, benchUserPrefix) {
			if err := st.DeleteUser(ctx, u.Name); err != nil && !store.IsCode(err, store.NotFound) {
				return err
			}
			n++
		}
	}
	if err := st.DeleteGroup(ctx, benchGroup); err != nil && !store.IsCode(err, store.NotFound) {
		return err
	}
	if err := st.DeleteAccount(ctx, benchAccountID); err != nil && !store.IsCode(err, store.NotFound) {
		return err
	}
	if event == "" {
		return nil
	}
	return a.audit(ctx, st, event, "", map[string]string{"users": fmt.Sprint(n), "account": benchAccountID})
}

// benchJSON is the -o json form of a run.
type benchJSON struct {
	Scenario    string             `json:"scenario"`
	URL         string             `json:"url"`
	Concurrency int                `json:"concurrency"`
	Users       int                `json:"users"`
	Seconds     float64            `json:"duration_seconds"`
	Requests    int                `json:"requests"`
	PerSecond   float64            `json:"requests_per_second"`
	Latency     map[string]float64 `json:"latency_ms"`
	Errors      map[string]int     `json:"errors"`
	ErrorCount  int                `json:"error_count"`
	FirstErrors map[string]string  `json:"first_errors"`
	Verified    int64              `json:"verified"`
	VerifyEvery int                `json:"verify_every"`
	XMLSec      bool               `json:"xmlsec1"` // the verified answers were also checked by xmlsec1
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (a *app) printBench(o benchOpts, r *loadgen.Result) error {
	users := o.users
	if o.scenario == "metadata" {
		users = 0
	}
	p := map[string]time.Duration{"p50": r.Percentile(50), "p90": r.Percentile(90), "p99": r.Percentile(99), "max": r.Percentile(100)}
	if r.Errors[http429] > 0 {
		fmt.Fprintf(a.stderr, "rolegate: the server throttled %d requests (HTTP 429): for a bench, start it with high --rate-burst and --rate-per-second\n", r.Errors[http429])
	}
	if o.output == "json" {
		j := benchJSON{Scenario: o.scenario, URL: o.url, Concurrency: o.concurrency, Users: users, Seconds: o.duration.Seconds(), Requests: r.Requests,
			PerSecond: r.PerSecond(), Latency: map[string]float64{}, Errors: r.Errors, ErrorCount: r.ErrorCount(), FirstErrors: r.First, Verified: r.Verified, VerifyEvery: o.every, XMLSec: o.xmlsec}
		for k, d := range p {
			j.Latency[k] = ms(d)
		}
		return a.printJSON(j)
	}
	w := a.stdout
	fmt.Fprintf(w, "scenario   %s at %s: %d workers, %d users, %s measured after %s warmup\n", o.scenario, o.url, o.concurrency, users, o.duration, o.warmup)
	fmt.Fprintf(w, "requests   %d (%.1f/s)\n", r.Requests, r.PerSecond())
	fmt.Fprintf(w, "latency    p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", ms(p["p50"]), ms(p["p90"]), ms(p["p99"]), ms(p["max"]))
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, r.Errors[k]))
	}
	fmt.Fprintf(w, "errors     %d%s\n", r.ErrorCount(), map[bool]string{true: " (" + strings.Join(kinds, ", ") + ")", false: ""}[len(kinds) > 0])
	for _, k := range slices.Sorted(maps.Keys(r.First)) {
		fmt.Fprintf(w, "  first %s: %s\n", k, r.First[k])
	}
	verdict := "all right"
	if n := r.Errors[loadgen.KindVerify]; n > 0 {
		verdict = fmt.Sprintf("%d WRONG", n)
	}
	by := "as AWS would"
	if o.xmlsec {
		by += ", and by xmlsec1"
	}
	fmt.Fprintf(w, "verified   %d answers (every %dth, %s): %s\n", r.Verified, o.every, by, verdict)
	return nil
}

const http429 = "HTTP 429"
