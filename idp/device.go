package idp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// A device cookie marks a browser that completed a sign-in (with its second factor, if any) for one
// user. Throttling trusts it: the user's counters across all clients and the address's do not stop
// it, so someone guessing elsewhere cannot keep the user out. It is
//
//	<user ID>.<issued, Unix seconds>.<device ID>.<HMAC-SHA256 of those under the deployment's key>
//
// The key lives in the store, so every replica checks what another issued; the user ID inside the
// MAC means a cookie cannot be moved to another user, and the expiry is checked here, not only by
// the browser. The MAC covers the user's password hash and oldest second factor too (deviceBinding).
const (
	deviceCookie   = "rg_device"
	deviceTTL      = 90 * 24 * time.Hour
	deviceIDLen    = 22 // base64url characters: 132 random bits
	deviceKeyName  = "device-cookie"
	maxDeviceBytes = 256
)

// deviceKeys caches the deployment's device-cookie key after its first read.
type deviceKeys struct {
	mu  sync.Mutex
	key []byte
}

func (s *Server) deviceKey(c *gin.Context) ([]byte, error) {
	s.devKeys.mu.Lock()
	defer s.devKeys.mu.Unlock()
	if s.devKeys.key != nil {
		return s.devKeys.key, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("idp: random device key: %w", err)
	}
	k, err := s.store.ServerSecret(c.Request.Context(), deviceKeyName, fresh, s.now())
	if err != nil {
		return nil, fmt.Errorf("idp: reading the device-cookie key: %w", err)
	}
	s.devKeys.key = k
	return k, nil
}

// deviceMAC is the MAC of a device cookie's payload and of what the cookie is bound to.
func deviceMAC(key []byte, payload, binding string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("rolegate device cookie\x00" + payload + "\x00" + binding))
	return tokenEncoding.EncodeToString(m.Sum(nil))
}

// deviceBinding reads the user with ID uid and what their device cookies are bound to besides the
// ID: the password's hash and the oldest second factor. A cookie that a password alone earned before
// the first factor was added (perhaps by someone who held the password then, in many browsers for
// many free guesses), or that outlived a password change or a factor reset, no longer counts.
func (s *Server) deviceBinding(c *gin.Context, uid int64) (*store.User, string, error) {
	ctx := c.Request.Context()
	u, err := s.store.GetUserByID(ctx, uid)
	if err != nil {
		return nil, "", err
	}
	fs, err := s.store.ListMFAFactors(ctx, uid)
	if err != nil {
		return nil, "", err
	}
	var oldest int64
	for _, f := range fs {
		if f.Confirmed && (oldest == 0 || f.ID < oldest) {
			oldest = f.ID
		}
	}
	return u, u.PasswordHash + "\x00" + strconv.FormatInt(oldest, 10), nil
}

// deviceCookieOf returns the user and device ID of the browser's device cookie, when it is one
// this deployment issued, it has not expired and the user's password and first factor are still
// those it was issued under.
func (s *Server) deviceCookieOf(c *gin.Context) (u *store.User, dev string, ok bool) {
	v, err := c.Cookie(deviceCookie)
	if err != nil || len(v) > maxDeviceBytes {
		return nil, "", false
	}
	f := strings.Split(v, ".")
	if len(f) != 4 {
		return nil, "", false
	}
	uid, err1 := strconv.ParseInt(f[0], 10, 64)
	issued, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || uid <= 0 || !s.now().Before(time.Unix(issued, 0).Add(deviceTTL)) {
		return nil, "", false
	}
	key, err := s.deviceKey(c)
	if err != nil {
		s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
		return nil, "", false
	}
	u, binding, err := s.deviceBinding(c, uid)
	if err != nil {
		if !store.IsCode(err, store.NotFound) {
			s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
		}
		return nil, "", false
	}
	if !hmac.Equal([]byte(f[3]), []byte(deviceMAC(key, strings.Join(f[:3], "."), binding))) {
		return nil, "", false
	}
	return u, f[2], true
}

// deviceOf returns the device ID of the browser's device cookie when it was issued to the user
// called name (and, in a session, to the session's user).
func (s *Server) deviceOf(c *gin.Context, name string) (string, bool) {
	u, dev, ok := s.deviceCookieOf(c)
	if !ok || store.Key(u.Name) != store.Key(name) {
		return "", false
	}
	if w, err := s.signedIn(c); err == nil && w.user.ID != u.ID {
		return "", false
	}
	return dev, true
}

// trustDevice gives the browser, which has just completed a sign-in as u, u's device cookie: a new
// one, or its old one renewed; either is bound to u's password and factors as they are now.
func (s *Server) trustDevice(c *gin.Context, u *store.User) {
	cu, dev, ok := s.deviceCookieOf(c)
	if !ok || cu.ID != u.ID {
		tok, err := newToken()
		if err != nil {
			s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
			return
		}
		dev = tok[:deviceIDLen]
	}
	key, err := s.deviceKey(c)
	var binding string
	if err == nil {
		_, binding, err = s.deviceBinding(c, u.ID)
	}
	if err != nil {
		s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
		return
	}
	payload := strconv.FormatInt(u.ID, 10) + "." + strconv.FormatInt(s.now().Unix(), 10) + "." + dev
	s.setCookie(c, deviceCookie, payload+"."+deviceMAC(key, payload, binding), int(deviceTTL/time.Second))
}
