package main

import (
	"context"
	"net"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/assertions"
	"rolegate/idp"
	"rolegate/store"
)

// creators are the commands that may create a store where there is none: serve and migrate set one
// up, and the adds begin the README's setup on a fresh store. Every other command needs one there,
// so that a mistyped --data-dir is said rather than silently made.
var creators = map[string]bool{
	"rolegate serve": true, "rolegate migrate": true, "rolegate user add": true, "rolegate group add": true,
	"rolegate account add": true, "rolegate sp add": true,
}

// command records, before a command runs, whether it may create a store.
func (a *app) command(cmd *cobra.Command, _ []string) { a.creates = creators[cmd.CommandPath()] }

// defaultDataDir is the data dir when neither --data-dir nor ROLEGATE_DATA_DIR names one.
const defaultDataDir = "./rolegate-data"

// demoDataDir is where serve --demo keeps its store when no data dir or database is named: apart
// from ./rolegate-data, so that demo users and accounts never mix with real ones.
const demoDataDir = "./rolegate-demo-data"

// baseUse says what a command does with the base URL.
type baseUse int

const (
	baseOptional baseUse = iota // shown when known (an invite's link): none given and none pinned is fine
	baseRequired                // compared with what IAM holds (aws check)
	basePin                     // handed out (serve, aws metadata, aws register): pinned when the store has none yet
)

// baseURL is the base URL a command works with: given (--base-url or ROLEGATE_BASE_URL) when it
// names the entity ID the store pinned, else the pinned one. A given base URL that would change the
// entity ID is refused (see entityIDChange); with basePin the first one is pinned, and audited.
func (a *app) baseURL(ctx context.Context, st store.Store, given string, use baseUse) (string, error) {
	pinned, err := st.Setting(ctx, store.SettingBaseURL)
	if err != nil && !store.IsCode(err, store.NotFound) {
		return "", err
	}
	if given == "" {
		if pinned == "" && use != baseOptional {
			return "", store.Errorf(store.Invalid, "--base-url (or ROLEGATE_BASE_URL) is required: no server has started on this store yet to pin one; "+
				"it is the server's public URL, which names Rolegate's entity ID")
		}
		return pinned, nil
	}
	if err := checkBaseURL(given, true); err != nil { // serve decides whether plain http may be served
		return "", err
	}
	if pinned == "" && use == basePin {
		if pinned, err = st.InitSetting(ctx, store.SettingBaseURL, given); err != nil {
			return "", err
		}
		if pinned == given {
			return given, a.audit(ctx, st, "entity_id.pin", "", map[string]string{"entity_id": assertions.EntityID(given)})
		}
	}
	if pinned != "" && assertions.EntityID(pinned) != assertions.EntityID(given) {
		return "", entityIDChange(pinned, given)
	}
	return given, nil
}

// entityIDChange is the refusal of a base URL that would change the pinned entity ID, in words on
// what that breaks and how to do it on purpose.
func entityIDChange(pinned, given string) error {
	return store.Errorf(store.Conflict, "the entity ID is pinned to %s (base URL %s), and base URL %s would make it %s: "+
		"every AWS account's SAML provider and every SAML service provider pins the Issuer, so sign-in through Rolegate would stop "+
		"until each one is registered again. To change it on purpose: rolegate serve --base-url %s --change-entity-id, "+
		"then rolegate aws register --all and new metadata for every SP",
		assertions.EntityID(pinned), pinned, given, assertions.EntityID(given), given)
}

// changeEntityID pins base in place of the store's base URL, for serve --change-entity-id, audits
// it and returns the base URL it replaced ("" when it changed nothing).
func (a *app) changeEntityID(ctx context.Context, st store.Store, base string) (string, error) {
	if base == "" {
		return "", store.Errorf(store.Invalid, "--change-entity-id needs the new --base-url (or ROLEGATE_BASE_URL)")
	}
	if err := checkBaseURL(base, true); err != nil {
		return "", err
	}
	old, err := st.Setting(ctx, store.SettingBaseURL)
	if err != nil && !store.IsCode(err, store.NotFound) {
		return "", err
	}
	if old != "" && assertions.EntityID(old) == assertions.EntityID(base) {
		return "", nil
	}
	if err := st.SetSetting(ctx, store.SettingBaseURL, base); err != nil {
		return "", err
	}
	if old == "" {
		return "", a.audit(ctx, st, "entity_id.pin", "", map[string]string{"entity_id": assertions.EntityID(base)})
	}
	return old, a.audit(ctx, st, "entity_id.change", "", map[string]string{"from": assertions.EntityID(old), "to": assertions.EntityID(base)})
}

// checkDemoStore lets serve --demo seed only a store that holds demo data or nothing yet, and marks
// it as the demo's. Real data is anything the demo does not make: users other than the admin and
// the demo user, groups, accounts and SPs.
func checkDemoStore(ctx context.Context, st store.Store, where string) error {
	if v, err := st.Setting(ctx, store.SettingDemo); err == nil && v == "true" {
		return nil
	} else if err != nil && !store.IsCode(err, store.NotFound) {
		return err
	}
	var real []string
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if !strings.EqualFold(u.Name, idp.AdminName) && !strings.EqualFold(u.Name, idp.DemoUser) {
			real = append(real, "user "+u.Name)
		}
	}
	groups, err := st.ListGroups(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.Name != idp.DemoGroup {
			real = append(real, "group "+g.Name)
		}
	}
	accts, err := st.ListAccounts(ctx)
	if err != nil {
		return err
	}
	for _, ac := range accts {
		if !slices.Contains(idp.DemoAccounts, ac.ID) {
			real = append(real, "account "+ac.Alias)
		}
	}
	sps, err := st.ListServiceProviders(ctx)
	if err != nil {
		return err
	}
	for _, sp := range sps {
		real = append(real, "SP "+sp.EntityID)
	}
	if len(real) > 0 {
		if len(real) > 3 {
			real = append(real[:3], "...")
		}
		return store.Errorf(store.Conflict, "--demo seeds demo users and accounts, and %s holds real data (%s): "+
			"run the demo on its own store (without --data-dir and --database-url it uses %s)", where, strings.Join(real, ", "), demoDataDir)
	}
	return st.SetSetting(ctx, store.SettingDemo, "true")
}

// serveBaseURL is the base URL serve runs with: --base-url, else the pinned one, else the listen
// address's (with localhost for a loopback or unspecified address); the first start pins it. With
// --change-entity-id, --base-url replaces the pinned one, and old is the one it replaced.
func (a *app) serveBaseURL(ctx context.Context, st store.Store, o serveOptions, addr net.Addr) (base, old string, err error) {
	base = o.baseURL
	if base == "" && !o.changeEntityID {
		if base, err = a.baseURL(ctx, st, "", baseOptional); err != nil {
			return "", "", err
		}
	}
	if base == "" && !o.changeEntityID {
		host := addr.String()
		if h, p, _ := net.SplitHostPort(host); h == "127.0.0.1" || h == "::" || h == "0.0.0.0" || h == "" {
			host = net.JoinHostPort("localhost", p)
		}
		base = "http://" + host
	}
	if base != "" {
		if err := checkBaseURL(base, o.insecureHTTP); err != nil {
			return "", "", err
		}
	}
	if o.changeEntityID {
		old, err = a.changeEntityID(ctx, st, base)
		return base, old, err
	}
	base, err = a.baseURL(ctx, st, base, basePin)
	return base, "", err
}

// storeFlags are the flags that name the store a command works on, for a command line printed to
// be run next: none when it is the default one, or one the environment names.
func (a *app) storeFlags() string {
	if a.databaseURL != "" || a.dataDir == envOr(a.env, "ROLEGATE_DATA_DIR", defaultDataDir) {
		return ""
	}
	return "--data-dir " + a.dataDir + " "
}
