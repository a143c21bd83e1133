package idp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// portalAccount is one AWS account on the portal, with the roles the user may take there.
type portalAccount struct {
	ID, Alias  string
	RequireMFA bool   // signing in there takes a second factor
	AllURL     string // sign in with every role here, and pick on AWS's page
	Roles      []portalRole
}

type portalRole struct {
	Name, URL string
}

// portal lists the accounts and roles the signed-in user may use, each a link to /aws/signin.
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
	grants, err := s.store.ListGrants(c.Request.Context(), store.GrantFilter{User: u.Name, Effective: true})
	if err != nil {
		s.failPage(c, err)
		return
	}
	accounts, err := s.store.ListAccounts(c.Request.Context())
	if err != nil {
		s.failPage(c, err)
		return
	}
	list := portalAccounts(grants, w.token)
	for _, a := range list {
		i := slices.IndexFunc(accounts, func(x *store.Account) bool { return x.ID == a.ID })
		a.RequireMFA = i >= 0 && accounts[i].RequireMFA
	}
	changes, err := s.factorChanges(c, u)
	if err != nil {
		s.failPage(c, err)
		return
	}
	s.page(c, http.StatusOK, "portal", gin.H{"Title": "Your AWS accounts", "Accounts": list, "FactorChanges": changes})
}

// portalAccounts groups grants by account, sorted by alias, with each role once (a role granted
// both directly and through a group is one link), sorted by name. Each link carries the token of
// the session whose token is sessionToken.
func portalAccounts(grants []*store.Grant, sessionToken string) []*portalAccount {
	byID := map[string]*portalAccount{}
	var out []*portalAccount
	for _, g := range grants {
		a := byID[g.AccountID]
		if a == nil {
			a = &portalAccount{ID: g.AccountID, Alias: g.AccountAlias, AllURL: signinURL(g.AccountID, "", sessionToken)}
			byID[g.AccountID] = a
			out = append(out, a)
		}
		if !slices.ContainsFunc(a.Roles, func(r portalRole) bool { return r.Name == g.Role }) {
			a.Roles = append(a.Roles, portalRole{Name: g.Role, URL: signinURL(g.AccountID, g.Role, sessionToken)})
		}
	}
	slices.SortFunc(out, func(a, b *portalAccount) int {
		return strings.Compare(store.Key(a.Alias)+"\x00"+a.ID, store.Key(b.Alias)+"\x00"+b.ID)
	})
	for _, a := range out {
		slices.SortFunc(a.Roles, func(x, y portalRole) int { return strings.Compare(x.Name, y.Name) })
	}
	return out
}

// signinURL is the IdP-initiated sign-in of an account, with one role or (role "") all of them,
// as a portal link of the session whose token is sessionToken.
func signinURL(account, role, sessionToken string) string {
	q := url.Values{"account": {account}}
	if role != "" {
		q.Set("role", role)
	}
	q.Set(portalParam, linkToken(sessionToken, q))
	return "/aws/signin?" + q.Encode()
}
