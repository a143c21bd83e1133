package idp

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"strings"

	"github.com/gin-gonic/gin"

	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/store"
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
	if id := c.Param("idp"); id != "" {
		want.ACS += "/acs/" + id
		if want.Decrypt, err = s.demoDecryptionKeys(c.Request.Context(), id); err != nil {
			s.failPage(c, err)
			return
		}
	}
	v := assertions.InspectAWS(raw, want)
	data["Verdict"] = v
	status := 200
	if !v.Accepted {
		status = 422
	}
	s.page(c, status, "checker", data)
}

// demoDecryptionKeys are the private keys the IAM of the demo account with IdP ID id would hold:
// its current encryption key. None when no demo account has that ID or there is no KEK.
func (s *Server) demoDecryptionKeys(ctx context.Context, id string) ([]*rsa.PrivateKey, error) {
	var out []*rsa.PrivateKey
	for _, acctID := range s.cfg.DemoAccounts {
		acct, err := s.store.GetAccount(ctx, acctID)
		if store.IsCode(err, store.NotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if acct.AWS.IdPID != id || s.cfg.DemoKEK == nil {
			continue
		}
		k, err := s.currentEncryptionKey(ctx, acct.ID)
		if err != nil {
			return nil, err
		} else if k == nil {
			continue
		}
		priv, _, err := certs.OpenEncryptionKey(s.cfg.DemoKEK, k)
		if err != nil {
			return nil, err
		}
		out = append(out, priv)
	}
	return out, nil
}
