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
// the browser.
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

func deviceMAC(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("rolegate device cookie\x00" + payload))
	return tokenEncoding.EncodeToString(m.Sum(nil))
}

// deviceCookieOf returns the user ID and device ID of the browser's device cookie, when it is one
// this deployment issued and it has not expired.
func (s *Server) deviceCookieOf(c *gin.Context) (uid int64, dev string, ok bool) {
	v, err := s.cookie(c, deviceCookie)
	if err != nil || len(v) > maxDeviceBytes {
		return 0, "", false
	}
	f := strings.Split(v, ".")
	if len(f) != 4 {
		return 0, "", false
	}
	key, err := s.deviceKey(c)
	if err != nil {
		s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
		return 0, "", false
	}
	payload := strings.Join(f[:3], ".")
	if !hmac.Equal([]byte(f[3]), []byte(deviceMAC(key, payload))) {
		return 0, "", false
	}
	uid, err1 := strconv.ParseInt(f[0], 10, 64)
	issued, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || !s.now().Before(time.Unix(issued, 0).Add(deviceTTL)) {
		return 0, "", false
	}
	return uid, f[2], true
}

// deviceOf returns the device ID of the browser's device cookie when it was issued to the user
// called name.
func (s *Server) deviceOf(c *gin.Context, name string) (string, bool) {
	uid, dev, ok := s.deviceCookieOf(c)
	if !ok {
		return "", false
	}
	if w, err := s.signedIn(c); err == nil {
		return dev, w.user.ID == uid && store.Key(w.user.Name) == store.Key(name)
	}
	u, err := s.store.GetUserByID(c.Request.Context(), uid)
	return dev, err == nil && store.Key(u.Name) == store.Key(name)
}

// trustDevice gives the browser, which has just completed a sign-in as u, u's device cookie: a new
// one, or its old one renewed.
func (s *Server) trustDevice(c *gin.Context, u *store.User) {
	uid, dev, ok := s.deviceCookieOf(c)
	if !ok || uid != u.ID {
		tok, err := newToken()
		if err != nil {
			s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
			return
		}
		dev = tok[:deviceIDLen]
	}
	key, err := s.deviceKey(c)
	if err != nil {
		s.log.Error("device cookie", "request_id", c.GetString(ctxRequestID), "err", err)
		return
	}
	payload := strconv.FormatInt(u.ID, 10) + "." + strconv.FormatInt(s.now().Unix(), 10) + "." + dev
	s.setCookie(c, deviceCookie, payload+"."+deviceMAC(key, payload), int(deviceTTL/time.Second))
}
