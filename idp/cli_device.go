package idp

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// The device-code flow of `rolegate login` (RFC 8628), for a machine without a browser (over SSH):
// the command line asks for a device code and a short user code, shows the user code and
// /cli/device, and polls /cli/device/token; the person signs in on any device, types the code,
// sees which machine asks, picks a role and approves or denies.
const (
	cliDevicePath      = "/cli/device"
	cliDeviceCodePath  = "/cli/device/code"
	cliDeviceTokenPath = "/cli/device/token"
	deviceGrantType    = "urn:ietf:params:oauth:grant-type:device_code"
	deviceCodeTTL      = 10 * time.Minute
	deviceInterval     = 5 * time.Second
	// userCodeAlphabet has no vowels (no words) and nothing that reads as another character
	// (RFC 8628 §6.1): 20^8, about 2^34.6 codes, against a throttled guesser.
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
	// deviceWrongLimit wrong user codes a user may type in deviceWrongWindow, right ones between
	// them or not.
	deviceWrongLimit  = 10
	deviceWrongWindow = time.Hour
)

func (s *Server) deviceRoutes(r *gin.Engine) {
	r.POST(cliDeviceCodePath, s.limitAnonymous(s.tooManyOAuth), s.deviceCode)
	r.POST(cliDeviceTokenPath, s.limitAnonymous(s.tooManyOAuth), s.deviceToken)
	r.GET(cliDevicePath, s.devicePage)
	r.POST(cliDevicePath, s.deviceAnswer)
}

// newUserCode returns a user code, shown as XXXX-XXXX.
func newUserCode() (string, error) {
	b := make([]byte, userCodeLen)
	out := make([]byte, userCodeLen)
	for i := 0; i < userCodeLen; {
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		for _, c := range b {
			// 240 is the largest multiple of 20 below 256: no letter more likely than another.
			if c < 240 && i < userCodeLen {
				out[i] = userCodeAlphabet[int(c)%len(userCodeAlphabet)]
				i++
			}
		}
	}
	return string(out[:4]) + "-" + string(out[4:]), nil
}

// normalUserCode is a typed user code without dashes and spaces, in capitals; "" when it cannot be one.
func normalUserCode(typed string) string {
	if len(typed) > 32 {
		return ""
	}
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(typed))
	if len(c) != userCodeLen || strings.Trim(c, userCodeAlphabet) != "" {
		return ""
	}
	return c
}

func userCodeHash(normal string) []byte { return hashToken("rolegate-user-code:" + normal) }

// deviceCode is POST /cli/device/code: a new device authorization for the command line.
func (s *Server) deviceCode(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		s.oauthError(c, http.StatusBadRequest, "invalid_request", "the form is too large or malformed")
		return
	}
	f := c.Request.PostForm
	if f.Get("client_id") != cliClientID {
		s.oauthError(c, http.StatusBadRequest, "invalid_client", "client_id must be "+cliClientID)
		return
	}
	account, role, host := f.Get("account"), f.Get("role"), strings.TrimSpace(strings.Map(printableRune, f.Get("device_name")))
	if len(account) > 64 || len(role) > 576 || len(host) > 255 {
		s.oauthError(c, http.StatusBadRequest, "invalid_request", "the account, role or device name is too long")
		return
	}
	if host == "" {
		host = "(no name given)"
	}
	device, err := newToken()
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.now()
	var user string
	for range 3 { // a user code already in use is drawn again
		if user, err = newUserCode(); err != nil {
			break
		}
		err = s.store.CreateDeviceCode(c.Request.Context(), &store.DeviceCode{DeviceHash: hashToken(device),
			UserHash: userCodeHash(normalUserCode(user)), ClientName: bounded(host, 64), ClientAddr: c.ClientIP(), Account: account,
			Role: role, CreatedAt: now, ExpiresAt: now.Add(deviceCodeTTL), Interval: deviceInterval})
		if !store.IsCode(err, store.Conflict) {
			break
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.auditWith(c, "cli.device", "", "requested", map[string]string{"device_name": bounded(host, 64), "account": bounded(account, 64),
		"role": bounded(role, 64)})
	verify := strings.TrimRight(s.baseURL(c), "/") + cliDevicePath
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"device_code":               device,
		"user_code":                 user,
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?" + url.Values{"user_code": {user}}.Encode(),
		"expires_in":                int(deviceCodeTTL / time.Second),
		"interval":                  int(deviceInterval / time.Second),
	})
}

// baseURL is the configured base URL, or this request's origin.
func (s *Server) baseURL(c *gin.Context) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	return s.origin(c)
}

// deviceToken is POST /cli/device/token: one poll, answered as RFC 8628 §3.5 says.
func (s *Server) deviceToken(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		s.oauthError(c, http.StatusBadRequest, "invalid_request", "the form is too large or malformed")
		return
	}
	f := c.Request.PostForm
	if f.Get("grant_type") != deviceGrantType || f.Get("client_id") != cliClientID {
		s.oauthError(c, http.StatusBadRequest, "invalid_request", "grant_type must be "+deviceGrantType+" and client_id "+cliClientID)
		return
	}
	code := f.Get("device_code")
	if !wellFormed(code) {
		s.oauthError(c, http.StatusBadRequest, "invalid_grant", "the device code is unknown or used: run rolegate login again")
		return
	}
	now := s.now()
	d, err := s.store.PollDeviceCode(c.Request.Context(), hashToken(code), now)
	switch {
	case store.IsCode(err, store.NotFound):
		s.auditWith(c, "cli.device", "", "refused: an unknown or used device code", nil)
		s.oauthError(c, http.StatusBadRequest, "invalid_grant", "the device code is unknown or used: run rolegate login again")
		return
	case err != nil:
		s.fail(c, err)
		return
	case d.SlowDown:
		s.oauthError(c, http.StatusBadRequest, "slow_down", "polling faster than every "+d.Interval.String())
		return
	case d.Status == store.DevicePending && now.Before(d.ExpiresAt):
		s.oauthError(c, http.StatusBadRequest, "authorization_pending", "waiting for someone to approve the code")
		return
	case d.Status == store.DevicePending:
		s.auditWith(c, "cli.device", "", "expired", map[string]string{"device_name": d.ClientName})
		s.oauthError(c, http.StatusBadRequest, "expired_token", "nobody approved the code within "+deviceCodeTTL.String())
		return
	}
	u, err := s.store.GetUserByID(c.Request.Context(), d.UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	details := map[string]string{"device_name": d.ClientName, "via": "cli-device"}
	switch {
	case d.Status == store.DeviceDenied:
		s.auditWith(c, "cli.device", u.Name, "refused: denied", details)
		s.oauthError(c, http.StatusBadRequest, "access_denied", "the request was denied on the approval page")
		return
	case u.Disabled || u.MustChangePassword:
		s.auditWith(c, "cli.device", u.Name, "refused: the user is disabled or must change a one-time password", details)
		s.oauthError(c, http.StatusBadRequest, "access_denied", "the approving user may no longer sign in")
		return
	}
	s.cliIssue(c, awsIssue{User: u, Methods: d.Methods, AuthnInstant: d.AuthnInstant, SessionIndex: d.SessionIndex,
		Account: d.Account, Role: d.Role, Details: details})
}

// devicePage is GET /cli/device: the form to type the code, filled in from verification_uri_complete.
// It looks nothing up: only the POST does, through the throttle.
func (s *Server) devicePage(c *gin.Context) {
	u, _, ok := s.requireLogin(c)
	if !ok || s.mustChange(c, u) {
		return
	}
	s.page(c, http.StatusOK, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "UserCode": bounded(c.Query("user_code"), 16)})
}

// deviceAnswer is POST /cli/device: step "show" looks the typed code up (throttled per user:
// a wrong code counts as a failed attempt) and shows the request; "approve" and "deny" decide it.
func (s *Server) deviceAnswer(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	u, sess, ok := s.requireLogin(c)
	if !ok || s.mustChange(c, u) {
		return
	}
	f := c.Request.PostForm
	typed := f.Get("user_code")
	again := func(status int, msg string) {
		s.page(c, status, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "UserCode": bounded(typed, 16), "Error": msg})
	}
	g, wait, err := s.enter(c, kindDevice, u.Name)
	if err != nil {
		s.failPage(c, err)
		return
	} else if wait > 0 {
		again(http.StatusTooManyRequests, tryLater(c, wait))
		return
	}
	// Wrong codes are counted apart as well, and a right one clears nothing there: anyone may ask
	// for codes of their own and type one between guesses at another person's.
	wrong := clientKey(kindDevice, u.Name, "wrong")
	if t, err := s.store.GetThrottle(c.Request.Context(), wrong, s.now()); err != nil {
		s.failPage(c, err)
		return
	} else if t.Count >= deviceWrongLimit {
		again(http.StatusTooManyRequests, tryLater(c, max(t.ResetAt.Sub(s.now()), time.Second)))
		return
	}
	normal := normalUserCode(typed)
	var d *store.DeviceCode
	if normal != "" {
		d, err = s.store.GetDeviceCode(c.Request.Context(), userCodeHash(normal), s.now())
		if err != nil && !store.IsCode(err, store.NotFound) {
			s.failPage(c, err)
			return
		}
	}
	if d == nil {
		s.failed(c, g)
		if t, err := s.store.HitThrottle(c.Request.Context(), wrong, deviceWrongWindow, s.now()); err != nil {
			s.log.Error("counting a wrong user code", "request_id", c.GetString(ctxRequestID), "err", err)
		} else if t.Count == deviceWrongLimit {
			s.lockEvent(c, g, "wrong user codes", t.ResetAt)
		}
		s.auditWith(c, "cli.device", u.Name, "refused: a wrong user code", nil)
		again(http.StatusNotFound, "No sign-in waits for that code: check it on the terminal, or run rolegate login again if it expired.")
		return
	}
	s.passed(c, g)
	r := &authorizeRequest{Account: d.Account, Role: d.Role}
	// With no role to offer, the page still lets the person deny, so the command line stops now.
	choices, err := s.cliChoices(c, u, r)
	noRole := ""
	if store.IsCode(err, store.Forbidden) {
		noRole = store.ErrorMessage(err)
	} else if err != nil {
		s.failPage(c, err)
		return
	}
	show := func(msg string) {
		if msg == "" {
			msg = noRole
		}
		s.page(c, http.StatusOK, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "UserCode": normal[:4] + "-" + normal[4:],
			"Device": d, "Asked": d.CreatedAt.UTC().Format("2006-01-02 15:04:05 MST"), "Choices": choices, "Error": msg})
	}
	details := map[string]string{"device_name": d.ClientName, "device_addr": d.ClientAddr}
	decision := &store.DeviceCode{UserID: u.ID, Methods: sess.AuthMethods, AuthnInstant: sess.AuthenticatedAt, SessionIndex: sessionIndex(sess)}
	switch f.Get("step") {
	case "approve":
		i := slices.IndexFunc(choices, func(ch cliChoice) bool { return ch.Value == f.Get("choice") })
		if i < 0 && noRole != "" {
			show("")
			return
		} else if i < 0 {
			show("Choose one of the roles offered.")
			return
		}
		ch := choices[i]
		if ch.Account.RequireMFA && !hasMFA(sess) {
			c.Redirect(http.StatusSeeOther, withNext(mfaPath, cliDevicePath+"?"+url.Values{"user_code": {typed}}.Encode()))
			c.Abort()
			return
		}
		decision.Status, decision.Account, decision.Role = store.DeviceApproved, ch.Account.ID, ch.Role
		details["account"], details["role"] = ch.Account.ID, ch.Role
	case "deny":
		decision.Status = store.DeviceDenied
	default:
		show("")
		return
	}
	if err := s.store.DecideDeviceCode(c.Request.Context(), userCodeHash(normal), decision, s.now()); store.IsCode(err, store.NotFound) {
		again(http.StatusConflict, "That code was answered already, or it expired.")
		return
	} else if err != nil {
		s.failPage(c, err)
		return
	}
	s.auditWith(c, "cli.device", u.Name, decision.Status, details)
	s.page(c, http.StatusOK, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "Done": decision.Status, "Device": d})
}
