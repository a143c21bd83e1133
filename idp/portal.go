package idp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/assertions"
	"rolegate/store"
)

// favouritesPath takes the portal's star buttons: add=ID ROLE or remove=ID ROLE.
const favouritesPath = "/portal/favourites"

// maxQuery bounds the portal's filter: longer than any alias, ID and role together.
const maxQuery = 200

// shownRecent is how many recently used roles the portal lists at the top.
const shownRecent = 5

// portalAccount is one AWS account on the portal, with the roles the user may take there.
type portalAccount struct {
	ID, Alias, Label string
	RequireMFA       bool   // signing in there takes a second factor
	AllURL           string // sign in with every role here, and pick on AWS's page
	AllDuration      string // the session "All my roles" gets: the shortest of the roles'
	Roles            []*portalRole
	Hidden           bool // no role here matches the filter
}

// portalRole is one role: a link that signs in with it, the session AWS gives it, and its star.
type portalRole struct {
	Name, URL string
	Account   *portalAccount
	Duration  string // as given: 1h, 90m shown as 1h30m
	Favourite bool
	Hidden    bool // it does not match the filter
}

// Star is the value of the role's star button: its account ID and name.
func (r *portalRole) Star() string { return r.Account.ID + " " + r.Name }

// portalGroup is the accounts under one admin-set label.
type portalGroup struct {
	Title    string
	Accounts []*portalAccount
	Hidden   bool
}

// portal lists the accounts and roles the signed-in user may use, each a link to /aws/signin: the
// user's favourites and recently used roles first, then the accounts by label. ?q= filters (the
// page's script does it as one types); ?relay_state= is carried into every link it suits.
func (s *Server) portal(c *gin.Context) {
	u, _, ok := s.requireLogin(c)
	if !ok {
		return
	}
	w, err := s.signedIn(c)
	if err != nil {
		s.failPage(c, err)
		return
	}
	ctx := c.Request.Context()
	q, relay := strings.TrimSpace(c.Query("q")), c.Query("relay_state")
	if len(q) > maxQuery {
		q = strings.ToValidUTF8(q[:maxQuery], "") // a filter that long matches nothing anyway; cut, never refuse
	}
	grants, err := s.store.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true})
	if err != nil {
		s.failPage(c, err)
		return
	}
	accounts, err := s.store.ListAccounts(ctx)
	if err != nil {
		s.failPage(c, err)
		return
	}
	favs, err := s.store.ListFavourites(ctx, u.ID)
	if err != nil {
		s.failPage(c, err)
		return
	}
	used, err := s.store.ListAudit(ctx, store.AuditFilter{User: u.Name, Types: []string{"assertion"}, Limit: 100})
	if err != nil {
		s.failPage(c, err)
		return
	}
	p := buildPortal(grants, accounts, w.token, relay)
	p.mark(favs)
	p.recent(used)
	p.filter(q)
	if p.RelayBad {
		relay = "" // not carried on by the filter or a star either
	}
	changes, err := s.factorChanges(c, u)
	if err != nil {
		s.failPage(c, err)
		return
	}
	s.page(c, http.StatusOK, "portal", gin.H{"Title": "Your AWS accounts", "Portal": p,
		"Query": q, "RelayState": relay, "Base": s.cfg.BaseURL, "FactorChanges": changes})
}

// portalView is what the portal shows, built from the user's grants.
type portalView struct {
	accounts   []*portalAccount // by alias
	Groups     []*portalGroup
	Favourites []*portalRole
	Recent     []*portalRole
	TopHidden  [2]bool // no favourite, no recent role matches the filter
	Shown      int     // roles that match the filter
	Total      int     // roles in all
	RelayBad   bool    // relay_state suits none of the accounts: the links leave it out
}

// buildPortal groups grants by account, sorted by alias, with each role once (a role granted
// both directly and through a group is one link), sorted by name, and the accounts by label.
// Each link carries the token of the session whose token is sessionToken, and relay when it
// is a console URL of the account's partition.
func buildPortal(grants []*store.Grant, accounts []*store.Account, sessionToken, relay string) *portalView {
	byID := map[string]*store.Account{}
	for _, a := range accounts {
		byID[a.ID] = a
	}
	p := &portalView{}
	views := map[string]*portalAccount{}
	durations := map[*portalRole]time.Duration{} // the shortest a grant of the role sets; 0 is the account's
	fits := 0
	for _, g := range grants {
		a := views[g.AccountID]
		acct := byID[g.AccountID]
		if acct == nil {
			continue // removed since the grants were read
		}
		if a == nil {
			a = &portalAccount{ID: g.AccountID, Alias: acct.Alias, Label: acct.Label, RequireMFA: acct.RequireMFA}
			views[g.AccountID] = a
			p.accounts = append(p.accounts, a)
		}
		i := slices.IndexFunc(a.Roles, func(r *portalRole) bool { return r.Name == g.Role })
		if i < 0 {
			a.Roles = append(a.Roles, &portalRole{Name: g.Role, Account: a})
			i = len(a.Roles) - 1
		}
		if r := a.Roles[i]; g.SessionDuration != 0 && (durations[r] == 0 || g.SessionDuration < durations[r]) {
			durations[r] = g.SessionDuration
		}
	}
	slices.SortFunc(p.accounts, func(a, b *portalAccount) int {
		return strings.Compare(store.Key(a.Alias)+"\x00"+a.ID, store.Key(b.Alias)+"\x00"+b.ID)
	})
	for _, a := range p.accounts {
		acct := byID[a.ID]
		r := relay
		if assertions.CheckRelayState(acct.Partition, relay) != nil {
			r = ""
		} else if relay != "" {
			fits++
		}
		// As assertions.PlanAWS: the shortest duration a grant sets, else the account's, else AWS's.
		all := time.Duration(0)
		slices.SortFunc(a.Roles, func(x, y *portalRole) int { return strings.Compare(x.Name, y.Name) })
		for _, role := range a.Roles {
			d := durations[role]
			if d != 0 && (all == 0 || d < all) {
				all = d
			}
			role.URL, role.Duration = signinURL(a.ID, role.Name, r, sessionToken), ShortDuration(sessionOf(d, acct))
		}
		a.AllURL, a.AllDuration = signinURL(a.ID, "", r, sessionToken), ShortDuration(sessionOf(all, acct))
		p.Total += len(a.Roles)
	}
	p.RelayBad = relay != "" && fits == 0
	p.group()
	return p
}

// sessionOf is the session AWS gives a role whose grants set d (0: none does) in acct.
func sessionOf(d time.Duration, acct *store.Account) time.Duration {
	switch {
	case d != 0:
		return d
	case acct.SessionDuration != 0:
		return acct.SessionDuration
	}
	return assertions.DefaultAWSDuration
}

// ShortDuration prints d as an admin gives it: 1h, 1h30m, 45m (the CLI's tables print it so too).
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// group puts the accounts under their labels, labels sorted, unlabelled accounts last.
func (p *portalView) group() {
	byLabel := map[string]*portalGroup{}
	var other *portalGroup
	for _, a := range p.accounts {
		if a.Label == "" {
			if other == nil {
				other = &portalGroup{}
			}
			other.Accounts = append(other.Accounts, a)
			continue
		}
		g := byLabel[store.Key(a.Label)]
		if g == nil {
			g = &portalGroup{Title: a.Label}
			byLabel[store.Key(a.Label)] = g
			p.Groups = append(p.Groups, g)
		}
		g.Accounts = append(g.Accounts, a)
	}
	slices.SortFunc(p.Groups, func(a, b *portalGroup) int { return strings.Compare(store.Key(a.Title), store.Key(b.Title)) })
	if other != nil {
		other.Title = "Other accounts"
		if len(p.Groups) == 0 {
			other.Title = "All accounts"
		}
		p.Groups = append(p.Groups, other)
	}
}

// role is the role name of the account ID on the portal, or nil when the user has no such role.
func (p *portalView) role(accountID, name string) *portalRole {
	for _, a := range p.accounts {
		if a.ID == accountID {
			for _, r := range a.Roles {
				if r.Name == name {
					return r
				}
			}
		}
	}
	return nil
}

// mark stars the favourites the user still holds, and lists them in the order they were starred.
func (p *portalView) mark(favs []*store.Favourite) {
	for _, f := range favs {
		if r := p.role(f.AccountID, f.Role); r != nil {
			r.Favourite = true
			p.Favourites = append(p.Favourites, r)
		}
	}
}

// recent lists the roles of the latest sign-ins with one role, newest first, that the user still
// holds. events are the user's assertion events, oldest first.
func (p *portalView) recent(events []*store.AuditEvent) {
	for i := len(events) - 1; i >= 0 && len(p.Recent) < shownRecent; i-- {
		e := events[i]
		arns := strings.Fields(e.Details["roles"])
		if e.Result != "ok" || len(arns) != 1 {
			continue
		}
		// arn:PARTITION:iam::ACCOUNT:role/PATH/NAME, as grants name the role: PATH/NAME.
		f := strings.SplitN(arns[0], ":", 6)
		if len(f) != 6 || !strings.HasPrefix(f[5], "role/") {
			continue
		}
		if r := p.role(f[4], strings.TrimPrefix(f[5], "role/")); r != nil && !slices.Contains(p.Recent, r) {
			p.Recent = append(p.Recent, r)
		}
	}
}

// filter hides what q does not match: a role matches when every word of q is in its account's
// alias, ID or label, or in its name, ignoring case. assets/portal.js does the same as one types.
func (p *portalView) filter(q string) {
	words := strings.Fields(strings.ToLower(q))
	for _, g := range p.Groups {
		g.Hidden = true
		for _, a := range g.Accounts {
			a.Hidden = true
			for _, r := range a.Roles {
				text := strings.ToLower(a.Alias + " " + a.ID + " " + a.Label + " " + r.Name)
				r.Hidden = slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(text, w) })
				if !r.Hidden {
					a.Hidden, g.Hidden = false, false
					p.Shown++
				}
			}
		}
	}
	for i, list := range [][]*portalRole{p.Favourites, p.Recent} {
		p.TopHidden[i] = !slices.ContainsFunc(list, func(r *portalRole) bool { return !r.Hidden })
	}
}

// signinURL is the IdP-initiated sign-in of an account, with one role or (role "") all of them,
// and relay as the console page to open ("": its home), as a portal link of the session whose
// token is sessionToken.
func signinURL(account, role, relay, sessionToken string) string {
	q := url.Values{"account": {account}}
	if role != "" {
		q.Set("role", role)
	}
	if relay != "" {
		q.Set("relay_state", relay)
	}
	q.Set(portalParam, linkToken(sessionToken, q))
	return "/aws/signin?" + q.Encode()
}

// favourite stars (add=ID ROLE) or unstars (remove=ID ROLE) one of the user's roles, then goes
// back to the portal as it was (filter and relay_state kept), at the role's account.
func (s *Server) favourite(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	u, _, ok := s.requireLogin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	form := c.Request.PostForm
	add, remove := form.Get("add"), form.Get("remove")
	v := add + remove
	accountID, role, cut := strings.Cut(v, " ")
	if (add == "") == (remove == "") || !cut || store.ValidateAccountID(accountID) != nil || store.ValidateRoleName(role) != nil {
		s.failPage(c, store.Errorf(store.Invalid, "the star button sent no account and role"))
		return
	}
	var err error
	if add != "" {
		err = s.addFavourite(c, u, accountID, role)
	} else {
		err = s.store.RemoveFavourite(ctx, u.ID, accountID, role)
		if store.IsCode(err, store.NotFound) {
			err = nil // unstarred already, in another tab: the page shows it so
		}
	}
	if err != nil {
		s.failPage(c, err)
		return
	}
	back := url.Values{}
	for _, k := range []string{"q", "relay_state"} {
		if v := form.Get(k); v != "" {
			back.Set(k, v)
		}
	}
	to := "/"
	if len(back) > 0 {
		to += "?" + back.Encode()
	}
	c.Redirect(http.StatusSeeOther, to+"#a-"+accountID)
}

// addFavourite stars a role the user holds now. At the cap, the stars of roles no longer granted
// make room first: the portal no longer shows them, so they could not be taken off there.
func (s *Server) addFavourite(c *gin.Context, u *store.User, accountID, role string) error {
	ctx := c.Request.Context()
	grants, err := s.store.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true})
	if err != nil {
		return err
	}
	held := func(accountID, role string) bool {
		return slices.ContainsFunc(grants, func(g *store.Grant) bool { return g.AccountID == accountID && g.Role == role })
	}
	if !held(accountID, role) {
		return errNotGranted
	}
	f := &store.Favourite{UserID: u.ID, AccountID: accountID, Role: role, CreatedAt: s.now()}
	err = s.store.AddFavourite(ctx, f, store.MaxFavourites)
	if !store.IsCode(err, store.Conflict) {
		return err
	}
	favs, lerr := s.store.ListFavourites(ctx, u.ID)
	if lerr != nil {
		return lerr
	}
	pruned := false
	for _, old := range favs {
		if !held(old.AccountID, old.Role) {
			if rerr := s.store.RemoveFavourite(ctx, u.ID, old.AccountID, old.Role); rerr != nil && !store.IsCode(rerr, store.NotFound) {
				return rerr
			}
			pruned = true
		}
	}
	if !pruned {
		return err
	}
	return s.store.AddFavourite(ctx, f, store.MaxFavourites)
}
