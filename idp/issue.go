package idp

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// assertionEvent starts the audit record of one assertion, issued or refused.
func (s *Server) assertionEvent(c *gin.Context, user string, details map[string]string) *store.AuditEvent {
	return &store.AuditEvent{Time: s.now(), Type: "assertion", User: user, ClientAddr: c.ClientIP(),
		UserAgent: bounded(c.Request.UserAgent(), maxUserAgent), Details: details}
}

// refuseAssertion records a refused assertion and shows the person why.
func (s *Server) refuseAssertion(c *gin.Context, e *store.AuditEvent, err error) {
	e.Result = "refused: " + store.ErrorMessage(err)
	if aerr := s.store.AppendAudit(c.Request.Context(), e); aerr != nil {
		s.log.Error("audit", "request_id", c.GetString(ctxRequestID), "err", aerr)
	}
	s.failPage(c, err)
}

// postAssertion records an issued assertion (result "ok" unless e has one), then renders page,
// whose form posts it to acs; the page's CSP lets forms go to acs's origin. No audit record, no
// assertion.
func (s *Server) postAssertion(c *gin.Context, e *store.AuditEvent, page, acs string, data gin.H) {
	if e.Result == "" {
		e.Result = "ok"
	}
	if err := s.store.AppendAudit(c.Request.Context(), e); err != nil {
		s.failPage(c, err)
		return
	}
	if u, err := url.Parse(acs); err == nil {
		c.Set(ctxAction, []string{u.Scheme + "://" + u.Host})
	}
	data["ACS"] = acs
	s.page(c, http.StatusOK, page, data)
}
