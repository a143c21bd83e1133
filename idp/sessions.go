package idp

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// sessionsPath is where a signed-in user sees and ends their web and CLI sessions.
const sessionsPath = "/account/sessions"

// sessionRow is one session as the page shows it.
type sessionRow struct {
	ID, Agent, Host, Account, Addr, Created, Seen, Expires string
	Current                                                bool
}

// WebSessionID names a web session on the page and to rolegate session: a prefix of its token's hash, which is already
// one way, so the page shows nothing that signs anyone in.
func WebSessionID(ss *store.Session) string { return hex.EncodeToString(ss.TokenHash[:12]) }

func (s *Server) sessionsPage(c *gin.Context) {
	u, cur, ok := s.requireLogin(c)
	if !ok {
		return
	}
	ctx, now := c.Request.Context(), s.now()
	web, err := s.store.ListUserSessions(ctx, u.ID, now)
	if err != nil {
		s.failPage(c, err)
		return
	}
	cli, err := s.store.ListCLISessions(ctx, u.ID, now)
	if err != nil {
		s.failPage(c, err)
		return
	}
	when := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
	var webRows, cliRows []sessionRow
	for _, ss := range web {
		webRows = append(webRows, sessionRow{ID: WebSessionID(ss), Agent: dashed(ss.UserAgent), Addr: dashed(ss.ClientAddr), Created: when(ss.CreatedAt),
			Seen: when(ss.LastSeenAt), Expires: when(earliest(ss.IdleExpiresAt, ss.ExpiresAt)), Current: bytes.Equal(ss.TokenHash, cur.TokenHash)})
	}
	for _, cs := range cli {
		account := "every account"
		if cs.AccountID != "" {
			account = cs.AccountID
		}
		cliRows = append(cliRows, sessionRow{ID: cs.ID, Host: dashed(cs.HostName), Account: account, Addr: dashed(cs.ClientAddr),
			Created: when(cs.CreatedAt), Seen: when(cs.LastUsedAt), Expires: when(cs.ExpiresAt)})
	}
	s.page(c, http.StatusOK, "sessions", gin.H{"Title": "Your sessions", "Web": webRows, "CLI": cliRows})
}

func dashed(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

// revokeSession ends one of the user's own sessions (kind web or cli, by the page's ID); another
// user's ID is not found. Ending this browser's session signs it out.
func (s *Server) revokeSession(c *gin.Context) {
	u, cur, ok := s.requireLogin(c)
	if !ok || !s.checkCSRF(c) {
		return
	}
	ctx, form := c.Request.Context(), c.Request.PostForm
	id := form.Get("id")
	if id == "" || len(id) > 64 {
		s.failPage(c, store.Errorf(store.Invalid, "the form names no session"))
		return
	}
	switch form.Get("kind") {
	case "cli":
		if err := s.store.DeleteCLISession(ctx, id, u.ID); store.IsCode(err, store.NotFound) {
			s.failPage(c, store.Errorf(store.NotFound, "you have no such session"))
			return
		} else if err != nil {
			s.failPage(c, err)
			return
		}
	case "web":
		web, err := s.store.ListUserSessions(ctx, u.ID, s.now())
		if err != nil {
			s.failPage(c, err)
			return
		}
		i := slices.IndexFunc(web, func(ss *store.Session) bool { return WebSessionID(ss) == id })
		if i < 0 {
			s.failPage(c, store.Errorf(store.NotFound, "you have no such session"))
			return
		}
		if bytes.Equal(web[i].TokenHash, cur.TokenHash) {
			s.auditWith(c, "session.revoke", u.Name, "ok", map[string]string{"kind": "web", "id": id, "via": "web"})
			s.logout(c)
			return
		}
		if err := s.store.DeleteSession(ctx, web[i].TokenHash); err != nil {
			s.failPage(c, err)
			return
		}
	default:
		s.failPage(c, store.Errorf(store.Invalid, "the form names no kind of session"))
		return
	}
	s.auditWith(c, "session.revoke", u.Name, "ok", map[string]string{"kind": form.Get("kind"), "id": id, "via": "web"})
	c.Redirect(http.StatusSeeOther, sessionsPath)
}
