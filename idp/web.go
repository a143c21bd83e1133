package idp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/text"
	"rolegate/store"
)

// Pages are templates/NAME.html: each file is the body of one page, shown inside layout.html; it
// may {{define "head"}} to add elements (such as a nonce'd script) to the document's head.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// asset is one embedded static file, read once at start.
type asset struct {
	body        []byte
	contentType string
	version     string // a short content hash: /assets/NAME?v=VERSION changes when the file does
}

var assets = loadAssets()

var pages = parsePages()

func loadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		typ := mime.TypeByExtension(path.Ext(p))
		if typ == "" {
			typ = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		out[strings.TrimPrefix(p, "assets/")] = asset{body: body, contentType: typ, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("idp: embedded assets: %v", err))
	}
	return out
}

// assetURL is the template function {{asset "style.css"}}: a URL that changes with the file, so
// it can be cached for a year.
func assetURL(name string) (string, error) {
	a, ok := assets[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return "/assets/" + name + "?v=" + a.version, nil
}

// wholeDuration is the template function {{duration .}}: d as people write it, in whole minutes
// from a minute up (1h, 4h30m, 15m; a check a moment after the sign-in sees 59m59.9s of an hour).
func wholeDuration(d time.Duration) string {
	if d >= time.Minute {
		d = d.Round(time.Minute)
	}
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(template.FuncMap{"asset": assetURL, "duration": wholeDuration}).
		ParseFS(templateFS, "templates/layout.html"))
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		text, err := templateFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		t := template.Must(layout.Clone())
		template.Must(t.New("content").Parse(string(text)))
		out[name] = t
	}
	return out
}

// webRoutes adds the browser pages: sign-in, sign-out, the portal, the password change, and assets.
func (s *Server) webRoutes(r *gin.Engine) {
	r.GET("/assets/*filepath", s.asset)
	r.HEAD("/assets/*filepath", s.asset)
	r.GET(faviconPath, s.favicon)
	r.HEAD(faviconPath, s.favicon)
	r.GET("/login", s.loginForm)
	r.POST("/login", s.limitAnonymous(s.tooManyPage), s.login)
	r.POST("/logout", s.logout)
	r.GET("/", s.portal)
	r.POST(favouritesPath, s.favourite)
	r.GET("/account/password", s.passwordForm)
	r.POST("/account/password", s.changePassword)
	r.GET(sessionsPath, s.sessionsPage)
	r.POST(sessionsPath+"/revoke", s.revokeSession)
}

// asset serves an embedded file by exact name: there is nothing else to list or climb to.
func (s *Server) asset(c *gin.Context) {
	a, ok := assets[strings.TrimPrefix(c.Param("filepath"), "/")]
	if !ok {
		s.failFor(c, http.StatusNotFound, store.Errorf(store.NotFound, "no page at %s", c.Request.URL.Path))
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Data(http.StatusOK, a.contentType, a.body)
}

// faviconPath is where browsers look for an icon a page does not name (and bookmarks, feeds).
const faviconPath = "/favicon.ico"

// favicon sends whoever asks for /favicon.ico to the embedded icon, which every page names too.
func (s *Server) favicon(c *gin.Context) {
	u, err := assetURL("favicon.svg")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Redirect(http.StatusMovedPermanently, u)
}

// Context keys for what one request learns about its browser.
const (
	ctxWeb       = "rg.web"        // *webSession, or nil once known to be signed out
	ctxNonce     = "rg.nonce"      // the CSP nonce of this response
	ctxFormToken = "rg.form_token" // the pre-login CSRF token sent in this response's cookie
	ctxAction    = "form_action"   // extra form-action sources, set by a handler before page
	msgCSRF      = "the form expired or was not sent by Rolegate; reload and try again"
)

// page renders templates/NAME.html inside layout.html with status, under a strict CSP whose nonce
// is data["Nonce"]. data also gets CSRF (the token forms must send back), User (the signed-in
// *store.User or nil) and Title (default "Rolegate").
func (s *Server) page(c *gin.Context, status int, name string, data gin.H) {
	t, ok := pages[name]
	if !ok {
		s.fail(c, fmt.Errorf("idp: no page template %q", name))
		return
	}
	fr, err := s.frame(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := gin.H{"Title": "Rolegate"}
	for k, v := range data {
		d[k] = v
	}
	d["Nonce"], d["CSRF"], d["User"], d["SignedIn"] = fr.Nonce, fr.CSRF, fr.User, fr.SignedIn

	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		s.fail(c, fmt.Errorf("idp: rendering %s: %w", name, err))
		return
	}
	s.sendPage(c, status, fr.Nonce, buf.Bytes())
}

// frame is what layout.html shows around every page: the CSP nonce, the CSRF token its forms
// send back, and who is signed in.
type frame struct {
	Nonce, CSRF string
	User        *store.User // nil when nobody is
	SignedIn    bool        // every step of the sign-in is done (fullySignedIn)
}

func (s *Server) frame(c *gin.Context) (frame, error) {
	nonce, err := s.nonce(c)
	if err != nil {
		return frame{}, err
	}
	fr := frame{Nonce: nonce}
	if u, sess, err := s.currentSession(c); err == nil {
		fr.User = u
		fr.SignedIn = s.fullySignedIn(c, u, sess)
	} else if !store.IsCode(err, store.Unauthorized) {
		s.log.Error("page: reading the session", "request_id", c.GetString(ctxRequestID), "err", err)
	}
	if fr.CSRF, err = s.formToken(c); err != nil {
		return frame{}, err
	}
	return fr, nil
}

// sendPage answers with an HTML page under the CSP of nonce, whose forms may go to the sources a
// handler named (ctxAction).
func (s *Server) sendPage(c *gin.Context, status int, nonce string, body []byte) {
	c.Header("Content-Security-Policy", csp(nonce, c.GetStringSlice(ctxAction)))
	c.Data(status, "text/html; charset=utf-8", body)
	c.Abort()
}

// fullySignedIn reports whether the session has done every step of its sign-in: a password session
// that still owes its second factor or a one-time password's change is not signed in, and the
// page header must not say it is.
func (s *Server) fullySignedIn(c *gin.Context, u *store.User, sess *store.Session) bool {
	if u.MustChangePassword {
		return false
	}
	need, err := s.needsMFA(c, u, sess)
	if err != nil {
		s.log.Error("page: reading the second factors", "request_id", c.GetString(ctxRequestID), "err", err)
		return false
	}
	return !need
}

// csp is the policy of an HTML page: scripts only with the nonce, styles and fetches only to here, and forms
// only to here and to the sources a handler named.
func csp(nonce string, formAction []string) string {
	actions := []string{"'self'"}
	for _, a := range formAction {
		// A source is one token; anything that could end the directive is a programmer error, dropped.
		if a != "" && !strings.ContainsAny(a, ";,'\"") && !strings.ContainsFunc(a, text.IsSpaceOrControl) {
			actions = append(actions, a)
		}
	}
	return "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action " + strings.Join(actions, " ") + "; frame-ancestors 'none'; base-uri 'none'"
}

// nonce returns this response's CSP nonce: 16 random bytes in base64url: no "+" for html/template to escape.
func (s *Server) nonce(c *gin.Context) (string, error) {
	if n := c.GetString(ctxNonce); n != "" {
		return n, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("idp: nonce: %w", err)
	}
	n := base64.RawURLEncoding.EncodeToString(b[:])
	c.Set(ctxNonce, n)
	return n, nil
}

// failPage is fail for browsers: error.html with the error code's status and its user-facing
// message. Internal errors are logged and shown only as "internal error".
func (s *Server) failPage(c *gin.Context, err error) {
	s.errorPage(c, s.logFailure(c, err), err)
}

// errorPage renders error.html with status and err's user-facing message.
func (s *Server) errorPage(c *gin.Context, status int, err error) {
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	s.page(c, status, "error", gin.H{"Title": title, "Message": store.ErrorMessage(err),
		"RequestID": c.GetString(ctxRequestID)})
}
