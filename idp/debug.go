package idp

import (
	"encoding/base64"
	"strings"

	"github.com/gin-gonic/gin"

	"rolegate/assertions"
)

// debugAWSSignIn is the demo's stand-in for AWS's sign-in endpoint: it checks the Response against
// the IdP's own metadata and AWS's rules, and says in plain words what AWS would do.
func (s *Server) debugAWSSignIn(c *gin.Context) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.PostForm("SAMLResponse")))
	data := gin.H{"Title": "What AWS would do", "RelayState": c.PostForm("RelayState")}
	if err != nil || len(raw) == 0 {
		data["Verdict"] = &assertions.Verdict{Problems: []string{"the form carried no base64 SAMLResponse"}}
		s.page(c, 400, "checker", data)
		return
	}
	keys, err := s.keys.Published(c.Request.Context())
	if err != nil {
		s.failPage(c, err)
		return
	}
	want := assertions.Expect{EntityID: assertions.EntityID(s.cfg.BaseURL),
		ACS: strings.TrimRight(s.cfg.BaseURL, "/") + demoACSPath, Now: s.now()}
	for _, k := range keys {
		want.Certs = append(want.Certs, k.Cert)
	}
	v := assertions.InspectAWS(raw, want)
	data["Verdict"] = v
	status := 200
	if !v.Accepted {
		status = 422
	}
	s.page(c, status, "checker", data)
}
