package cliauth

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/text"
	"rolegate/idp/internal/token"
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

func (s *Handler) deviceRoutes(r *gin.Engine) {
	r.POST(cliDeviceCodePath, s.LimitAnonymous(s.tooManyOAuth), s.deviceCode)
	r.POST(cliDeviceTokenPath, s.LimitAnonymous(s.tooManyOAuth), s.deviceToken)
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

func userCodeHash(normal string) []byte { return token.Hash("rolegate-user-code:" + normal) }

// deviceCode is POST /cli/device/code: a new device authorization for the command line.
func (s *Handler) deviceCode(c *gin.Context) {
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
	device, err := token.New()
	if err != nil {
		s.Fail(c, err)
		return
	}
	now := s.Now()
	var user string
	for range 3 { // a user code already in use is drawn again
		if user, err = newUserCode(); err != nil {
			break
		}
		err = s.Store.CreateDeviceCode(c.Request.Context(), &store.DeviceCode{DeviceHash: token.Hash(device),
			UserHash: userCodeHash(normalUserCode(user)), ClientName: text.Bounded(host, 64), ClientAddr: c.ClientIP(), Account: account,
			Role: role, CreatedAt: now, ExpiresAt: now.Add(deviceCodeTTL), Interval: deviceInterval})
		if !store.IsCode(err, store.Conflict) {
			break
		}
	}
	if err != nil {
		s.Fail(c, err)
		return
	}
	s.AuditWith(c, "cli.device", "", "requested", map[string]string{"device_name": text.Bounded(host, 64), "account": text.Bounded(account, 64),
		"role": text.Bounded(role, 64)})
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
func (s *Handler) baseURL(c *gin.Context) string {
	if s.BaseURL != "" {
		return s.BaseURL
	}
	return s.Origin(c)
}

// deviceToken is POST /cli/device/token: one poll, answered as RFC 8628 §3.5 says.
func (s *Handler) deviceToken(c *gin.Context) {
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
	if !token.WellFormed(code) {
		s.oauthError(c, http.StatusBadRequest, "invalid_grant", "the device code is unknown or used: run rolegate login again")
		return
	}
	now := s.Now()
	d, err := s.Store.PollDeviceCode(c.Request.Context(), token.Hash(code), now)
	switch {
	case store.IsCode(err, store.NotFound):
		s.AuditWith(c, "cli.device", "", "refused: an unknown or used device code", nil)
		s.oauthError(c, http.StatusBadRequest, "invalid_grant", "the device code is unknown or used: run rolegate login again")
		return
	case err != nil:
		s.Fail(c, err)
		return
	case d.SlowDown:
		s.oauthError(c, http.StatusBadRequest, "slow_down", "polling faster than every "+d.Interval.String())
		return
	case d.Status == store.DevicePending && now.Before(d.ExpiresAt):
		s.oauthError(c, http.StatusBadRequest, "authorization_pending", "waiting for someone to approve the code")
		return
	case d.Status == store.DevicePending:
		s.AuditWith(c, "cli.device", "", "expired", map[string]string{"device_name": d.ClientName})
		s.oauthError(c, http.StatusBadRequest, "expired_token", "nobody approved the code within "+deviceCodeTTL.String())
		return
	}
	u, err := s.Store.GetUserByID(c.Request.Context(), d.UserID)
	if err != nil {
		s.Fail(c, err)
		return
	}
	details := map[string]string{"device_name": d.ClientName, "via": "cli-device"}
	switch {
	case d.Status == store.DeviceDenied:
		s.AuditWith(c, "cli.device", u.Name, "refused: denied", details)
		s.oauthError(c, http.StatusBadRequest, "access_denied", "the request was denied on the approval page")
		return
	case u.Disabled || u.MustChangePassword:
		s.AuditWith(c, "cli.device", u.Name, "refused: the user is disabled or must change a one-time password", details)
		s.oauthError(c, http.StatusBadRequest, "access_denied", "the approving user may no longer sign in")
		return
	}
	s.cliIssue(c, Issue{User: u, Methods: d.Methods, AuthnInstant: d.AuthnInstant, SessionIndex: d.SessionIndex,
		Account: d.Account, Role: d.Role, Details: details})
}

// devicePage is GET /cli/device: the form to type the code, filled in from verification_uri_complete.
// It looks nothing up: only the POST does, through the throttle.
func (s *Handler) devicePage(c *gin.Context) {
	u, _, ok := s.RequireLogin(c)
	if !ok || s.MustChange(c, u) {
		return
	}
	s.Page(c, http.StatusOK, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "UserCode": text.Bounded(c.Query("user_code"), 16)})
}

// deviceAnswer is POST /cli/device: step "show" looks the typed code up (throttled per user:
// a wrong code counts as a failed attempt) and shows the request; "approve" and "deny" decide it.
func (s *Handler) deviceAnswer(c *gin.Context) {
	if !s.CheckCSRF(c) {
		return
	}
	u, sess, ok := s.RequireLogin(c)
	if !ok || s.MustChange(c, u) {
		return
	}
	f := c.Request.PostForm
	typed := f.Get("user_code")
	again := func(status int, msg string) {
		s.Page(c, status, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "UserCode": text.Bounded(typed, 16), "Error": msg})
	}
	g, wait, err := s.EnterDevice(c, u.Name)
	if err != nil {
		s.FailPage(c, err)
		return
	} else if wait > 0 {
		again(http.StatusTooManyRequests, s.TryLater(c, wait))
		return
	}
	// Wrong codes are counted apart as well, and a right one clears nothing there: anyone may ask
	// for codes of their own and type one between guesses at another person's.
	wrong := s.WrongCodeKey(u.Name)
	if t, err := s.Store.GetThrottle(c.Request.Context(), wrong, s.Now()); err != nil {
		s.FailPage(c, err)
		return
	} else if t.Count >= deviceWrongLimit {
		again(http.StatusTooManyRequests, s.TryLater(c, max(t.ResetAt.Sub(s.Now()), time.Second)))
		return
	}
	normal := normalUserCode(typed)
	var d *store.DeviceCode
	if normal != "" {
		d, err = s.Store.GetDeviceCode(c.Request.Context(), userCodeHash(normal), s.Now())
		if err != nil && !store.IsCode(err, store.NotFound) {
			s.FailPage(c, err)
			return
		}
	}
	if d == nil {
		g.Failed(c)
		if t, err := s.Store.HitThrottle(c.Request.Context(), wrong, deviceWrongWindow, s.Now()); err != nil {
			s.Log.Error("counting a wrong user code", "request_id", s.RequestID(c), "err", err)
		} else if t.Count == deviceWrongLimit {
			g.Lock(c, "wrong user codes", t.ResetAt)
		}
		s.AuditWith(c, "cli.device", u.Name, "refused: a wrong user code", nil)
		again(http.StatusNotFound, "No sign-in waits for that code: check it on the terminal, or run rolegate login again if it expired.")
		return
	}
	g.Passed(c)
	r := &authorizeRequest{Account: d.Account, Role: d.Role}
	// With no role to offer, the page still lets the person deny, so the command line stops now.
	choices, err := s.cliChoices(c, u, r)
	noRole := ""
	if store.IsCode(err, store.Forbidden) {
		noRole = store.ErrorMessage(err)
	} else if err != nil {
		s.FailPage(c, err)
		return
	}
	show := func(msg string) {
		if msg == "" {
			msg = noRole
		}
		s.Page(c, http.StatusOK, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "UserCode": normal[:4] + "-" + normal[4:],
			"Device": d, "Asked": d.CreatedAt.UTC().Format("2006-01-02 15:04:05 MST"), "Choices": choices, "Error": msg})
	}
	details := map[string]string{"device_name": d.ClientName, "device_addr": d.ClientAddr}
	decision := &store.DeviceCode{UserID: u.ID, Methods: sess.AuthMethods, AuthnInstant: sess.AuthenticatedAt, SessionIndex: s.SessionIndex(sess)}
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
		if ch.Account.RequireMFA && !s.HasMFA(sess) {
			c.Redirect(http.StatusSeeOther, s.MFAURL(cliDevicePath+"?"+url.Values{"user_code": {typed}}.Encode()))
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
	if err := s.Store.DecideDeviceCode(c.Request.Context(), userCodeHash(normal), decision, s.Now()); store.IsCode(err, store.NotFound) {
		again(http.StatusConflict, "That code was answered already, or it expired.")
		return
	} else if err != nil {
		s.FailPage(c, err)
		return
	}
	s.AuditWith(c, "cli.device", u.Name, decision.Status, details)
	s.Page(c, http.StatusOK, "cli_device", gin.H{"Title": "Approve a command-line sign-in", "Done": decision.Status, "Device": d})
}
