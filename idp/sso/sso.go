package sso

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/gin-gonic/gin"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/idp/internal/token"
	"rolegate/store"
)

// SP-initiated SSO for registered SAML service providers.
//
// GET|POST /saml/sso takes an AuthnRequest (HTTP-Redirect or HTTP-POST binding), has crewjam validate
// it against the SP's stored metadata, and keeps the validated request server-side under a random
// handle whose hash is the key; the browser gets the handle in the rg_sso cookie and goes on to
// /saml/sso/continue. That page signs the user in if needed (crewjam's 90 s limit on a request's age
// therefore never meets a slow login or MFA page), consumes the request once, and answers with a page
// whose form posts the signed Response to the ACS the request chose from the SP's metadata.
const (
	ssoPath         = "/saml/sso"
	ssoContinuePath = "/saml/sso/continue"
	// SSOCookie is the pending request's cookie; an instance sets it under idp.CookieName's scoped name.
	SSOCookie = "rg_sso"
	// ssoPendingFor is how long a validated request waits for its user to sign in.
	ssoPendingFor = 30 * time.Minute

	maxSSOQuery = 16 << 10 // bytes of query string on /saml/sso
	// maxSAMLRequest bounds the SAMLRequest value as sent and the AuthnRequest XML once decoded.
	maxSAMLRequest   = 64 << 10
	maxRelayState    = 2048
	maxSSOErrorRunes = 300

	msgSSOGone   = "the sign-in request expired or was already used; start again from the application"
	msgSSOReplay = "this sign-in request was already used"

	// auditSSORequest records requests refused, and those answered with a status and no assertion.
	auditSSORequest = "sso.request"
)

// Routes adds /saml/sso and /saml/sso/continue.
func (s *Handler) Routes(r *gin.Engine) {
	r.GET(ssoPath, s.LimitAnonymous(s.TooManyPage), s.ssoRequest)
	r.POST(ssoPath, s.LimitAnonymous(s.TooManyPage), s.ssoRequest)
	r.GET(ssoContinuePath, s.ssoContinue)
}

// ---- the IdP

// samlIdP is a crewjam IdentityProvider for one request: RSA-SHA256 with the current key, a
// logger (crewjam panics without one), and this server's entity ID and SSO URL.
func (s *Handler) samlIdP(ctx context.Context, spp saml.ServiceProviderProvider) (*saml.IdentityProvider, *certs.Key, error) {
	if s.CurrentKey == nil {
		return nil, nil, errors.New("idp: no keyring: SAML sign-in is not configured")
	}
	key, err := s.CurrentKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	md, err := url.Parse(assertions.EntityID(s.BaseURL))
	if err != nil || !md.IsAbs() {
		return nil, nil, fmt.Errorf("idp: base URL %q is not absolute", s.BaseURL)
	}
	sso, err := url.Parse(assertions.SSOURL(s.BaseURL))
	if err != nil {
		return nil, nil, err
	}
	return &saml.IdentityProvider{
		Signer:                  key.Signer,
		Certificate:             key.Cert,
		Logger:                  slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		MetadataURL:             *md,
		SSOURL:                  *sso,
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		ServiceProviderProvider: spp,
		RejectSHA1Signatures:    true, // an SP's AuthnRequest signed with SHA-1 is refused
	}, key, nil
}

// crewjamSafe runs fn, turning a panic in crewjam (it has a few) into an error.
func crewjamSafe(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("saml library panic: %v", v)
		}
	}()
	return fn()
}

// ---- GET|POST /saml/sso

func (s *Handler) ssoRequest(c *gin.Context) {
	var issuer, requestID string // once known, for the audit record of a refusal
	refuse := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.Log.Info("sso: request refused", "request_id", s.RequestID(c), "reason", msg, "client", c.ClientIP())
		s.AuditWith(c, auditSSORequest, "", "refused", map[string]string{"reason": text.Bounded(msg, maxSSOErrorRunes),
			"sp": text.Bounded(issuer, 256), "saml_request_id": text.Bounded(requestID, 64)})
		s.FailPage(c, &store.Error{Code: store.Invalid, Message: msg})
	}
	// Bound the input before crewjam sees it.
	if len(c.Request.URL.RawQuery) > maxSSOQuery {
		refuse("the sign-in request is too large: its query string is over %d KiB", maxSSOQuery>>10)
		return
	}
	var encoded, relay string
	redirect := c.Request.Method == http.MethodGet
	if redirect {
		q := c.Request.URL.Query()
		encoded, relay = q.Get("SAMLRequest"), q.Get("RelayState")
	} else {
		if err := c.Request.ParseForm(); err != nil {
			refuse("the sign-in request is too large or malformed")
			return
		}
		encoded, relay = c.Request.PostForm.Get("SAMLRequest"), c.Request.PostForm.Get("RelayState")
	}
	switch {
	case encoded == "":
		refuse("the sign-in request carries no SAMLRequest; start again from the application")
		return
	case len(encoded) > maxSAMLRequest:
		refuse("the sign-in request is too large: its SAMLRequest is over %d KiB", maxSAMLRequest>>10)
		return
	case len(relay) > maxRelayState:
		refuse("the sign-in request's RelayState is longer than %d bytes", maxRelayState)
		return
	}
	raw, err := decodeSAMLRequest(encoded, redirect)
	if err != nil {
		refuse("%s", err)
		return
	}
	var pre saml.AuthnRequest
	if err := xml.Unmarshal(raw, &pre); err != nil {
		refuse("the SAMLRequest is not a SAML 2.0 AuthnRequest")
		return
	}
	if pre.Issuer != nil {
		issuer = pre.Issuer.Value
	}
	requestID = pre.ID
	now := s.Now()
	if err := checkAuthnRequest(&pre, now); err != nil {
		refuse("%s", err)
		return
	}

	ctx := c.Request.Context()
	spp := &spProvider{s: s, ctx: ctx}
	idp, _, err := s.samlIdP(ctx, spp)
	if err != nil {
		s.FailPage(c, err)
		return
	}
	// An SP that must sign is named as such when it did not; crewjam then verifies any signature.
	reg, ed, err := spp.registration(issuer)
	if spp.err != nil {
		s.FailPage(c, spp.err)
		return
	}
	if err == nil {
		idp.WantAuthnRequestsSigned = reg.RequireSignedRequests
		if why := signingDemand(reg, ed); why != "" && !carriesSignature(c, &pre) {
			refuse("the application %q must sign its sign-in requests (%s), and this one is not signed", issuer, why)
			return
		}
	}
	var req *saml.IdpAuthnRequest
	err = crewjamSafe(func() error {
		var err error
		if req, err = saml.NewIdpAuthnRequest(idp, c.Request); err != nil {
			return err
		}
		req.Now = now // the server's one clock, not crewjam's global
		return req.Validate()
	})
	switch {
	case spp.err != nil:
		s.FailPage(c, spp.err)
		return
	case errors.Is(err, saml.ErrInvalidSignature):
		refuse("the sign-in request's signature was refused: %s", text.Bounded(err.Error(), maxSSOErrorRunes))
		return
	case errors.Is(err, saml.ErrUnknownAssertionConsumerService):
		// crewjam's own words end in "file does not exist"
		refuse("the sign-in request was refused: cannot find assertion consumer service (URL %q, index %q) in the metadata of %q",
			text.Bounded(pre.AssertionConsumerServiceURL, 512), text.Bounded(pre.AssertionConsumerServiceIndex, 16), text.Bounded(issuer, 256))
		return
	case err != nil:
		refuse("the sign-in request was refused: %s", text.Bounded(err.Error(), maxSSOErrorRunes))
		return
	}
	// Again on what a signature covers: crewjam reads a signed request anew from the signed element.
	if err := checkAuthnRequest(&req.Request, now); err != nil {
		refuse("%s", err)
		return
	}
	acs, err := chooseACS(req)
	if err != nil {
		refuse("%s", err)
		return
	}
	contexts, satisfiable, err := acceptableContexts(req.Request.RequestedAuthnContext)
	if err != nil {
		refuse("%s", err)
		return
	}
	reg, _, err = spp.registration(req.ServiceProviderMetadata.EntityID)
	if err != nil { // crewjam found it a moment ago
		refuse("%s", err)
		return
	}
	format, badPolicy := chooseNameIDFormat(req.Request.NameIDPolicy, reg)

	handle, err := token.New()
	if err != nil {
		s.FailPage(c, err)
		return
	}
	p := &store.PendingRequest{
		HandleHash:    token.Hash(handle),
		SPEntityID:    req.ServiceProviderMetadata.EntityID,
		RequestID:     req.Request.ID,
		ACSURL:        acs.Location,
		RelayState:    req.RelayState,
		CreatedAt:     now,
		ExpiresAt:     now.Add(ssoPendingFor),
		ForceAuthn:    isTrue(req.Request.ForceAuthn),
		AuthnContexts: contexts,
		ClientAddr:    s.ClientGroup(c),
		NameIDFormat:  format,
		NoNewNameID:   noNewNameID(req.Request.NameIDPolicy),
	}
	saved, err := s.Store.SavePendingRequestCapped(ctx, p, s.PendingPerAddress)
	if store.IsCode(err, store.Conflict) {
		refuse(msgSSOReplay)
		return
	} else if err != nil {
		s.FailPage(c, err)
		return
	} else if !saved {
		// One address cannot fill the table with requests that nobody finishes.
		c.Header("Retry-After", strconv.Itoa(int(ssoPendingFor/time.Second)))
		s.Page(c, http.StatusTooManyRequests, "error", gin.H{"Title": "Too many sign-ins waiting",
			"Message":   "Too many sign-ins from your address are waiting to be finished. Finish one, or try again later.",
			"RequestID": s.RequestID(c)})
		return
	}

	// Answered at once, without a page that asks anything: a Subject Rolegate would not hold the
	// sign-in to, a context Rolegate cannot reach, a NameIDPolicy it cannot honour, and IsPassive
	// (with the session the browser has, or NoPassive).
	var status *saml.StatusError
	switch {
	case req.Request.Subject != nil:
		status = subjectUnsupported
	case !satisfiable:
		status = noAuthnContext
	case badPolicy != nil:
		status = badPolicy
	}
	passive := isTrue(req.Request.IsPassive)
	if status != nil || passive {
		var w *webSession
		if status == nil {
			if w, status, err = s.passiveSession(c, p); err != nil {
				s.FailPage(c, err)
				return
			}
		}
		if err := s.Store.ConsumePendingRequest(ctx, p.HandleHash, now); err != nil {
			s.FailPage(c, err)
			return
		}
		s.ssoRespond(c, p, w, status, passive)
		return
	}
	s.setSSOCookie(c, handle, int(ssoPendingFor/time.Second))
	c.Redirect(http.StatusSeeOther, ssoContinuePath)
}

func isTrue(b *bool) bool { return b != nil && *b }

// decodeSAMLRequest returns the AuthnRequest XML of a SAMLRequest value: base64, and for the
// Redirect binding DEFLATE, bounded at maxSAMLRequest bytes (crewjam itself allows 10 MiB).
func decodeSAMLRequest(encoded string, deflated bool) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, errors.New("the SAMLRequest is not base64")
	}
	if !deflated {
		return b, nil
	}
	fr := flate.NewReader(bytes.NewReader(b))
	defer fr.Close()
	out, err := io.ReadAll(io.LimitReader(fr, maxSAMLRequest+1))
	switch {
	case err != nil:
		return nil, errors.New("the SAMLRequest cannot be decompressed (HTTP-Redirect uses raw DEFLATE)")
	case len(out) > maxSAMLRequest:
		return nil, fmt.Errorf("the sign-in request is too large: its SAMLRequest decompresses to over %d KiB", maxSAMLRequest>>10)
	}
	return out, nil
}

// chooseACS checks the endpoint crewjam picked from the SP's metadata: it must take HTTP-POST and be
// https. When the request named the ACS by URL only, or not at all, and crewjam picked another
// binding's endpoint, a POST endpoint at the same URL (or the SP's default POST one) is used instead.
func chooseACS(req *saml.IdpAuthnRequest) (*saml.IndexedEndpoint, error) {
	acs := req.ACSEndpoint
	if acs == nil || req.SPSSODescriptor == nil {
		return nil, errors.New("the application's metadata names no assertion consumer service for this request")
	}
	if acs.Binding != saml.HTTPPostBinding && req.Request.AssertionConsumerServiceIndex == "" {
		want := req.Request.AssertionConsumerServiceURL
		var best *saml.IndexedEndpoint
		for i := range req.SPSSODescriptor.AssertionConsumerServices {
			e := &req.SPSSODescriptor.AssertionConsumerServices[i]
			if e.Binding != saml.HTTPPostBinding || (want != "" && e.Location != want) {
				continue
			}
			if best == nil || (e.IsDefault != nil && *e.IsDefault) {
				best = e
			}
		}
		if best != nil {
			acs = best
		}
	}
	if acs.Binding != saml.HTTPPostBinding {
		return nil, fmt.Errorf("the assertion consumer service %q takes the %s binding; Rolegate answers only with HTTP-POST",
			text.Bounded(acs.Location, 512), bindingName(acs.Binding))
	}
	if !httpsURL(acs.Location) {
		return nil, fmt.Errorf("the assertion consumer service %q is not an https URL", text.Bounded(acs.Location, 512))
	}
	e := *acs
	req.ACSEndpoint = &e
	return &e, nil
}

// setSSOCookie sets (or, with a negative maxAge, deletes) the handle of the pending request; it is
// only sent back to /saml/sso and below.
func (s *Handler) setSSOCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: s.SSOCookie, Value: value, Path: ssoPath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode})
}

// ---- GET /saml/sso/continue

func (s *Handler) ssoContinue(c *gin.Context) {
	u, sess, ok := s.RequireLogin(c)
	if !ok {
		return
	}
	w := &webSession{user: u, sess: sess}
	ctx, now := c.Request.Context(), s.Now()
	gone := func() {
		s.setSSOCookie(c, "", -1)
		s.FailPage(c, store.Errorf(store.Invalid, msgSSOGone))
	}
	handle, err := c.Cookie(s.SSOCookie)
	if err != nil || !token.WellFormed(handle) {
		gone()
		return
	}
	hash := token.Hash(handle)
	p, err := s.Store.GetPendingRequest(ctx, hash, now)
	if store.IsCode(err, store.NotFound) {
		gone()
		return
	} else if err != nil {
		s.FailPage(c, err)
		return
	}
	// What the request asks of the sign-in, met before the request is used up.
	if forcedAgain(p, w.sess) {
		c.Redirect(http.StatusSeeOther, reauthURL)
		return
	}
	if _, stepUp := s.sessionContext(p.AuthnContexts, w.sess); stepUp {
		s.StepUp(c)
		return
	}
	if err := s.Store.ConsumePendingRequest(ctx, hash, now); store.IsCode(err, store.NotFound) {
		gone() // another tab or replica took it first
		return
	} else if err != nil {
		s.FailPage(c, err)
		return
	}
	s.setSSOCookie(c, "", -1)
	s.ssoRespond(c, p, w, nil, false)
}

// ssoRespond answers the request p with a page whose form posts the signed Response to its ACS:
// with an assertion for w's user, or, when status is set, with that status alone (w, if any, only
// names the user in the audit record). A passive request's user who may not use the SP is answered
// with RequestDenied rather than a page.
func (s *Handler) ssoRespond(c *gin.Context, p *store.PendingRequest, w *webSession, status *saml.StatusError, passive bool) {
	ctx, now := c.Request.Context(), s.Now()
	details := map[string]string{"sp": p.SPEntityID, "request_id": p.RequestID, "acs": p.ACSURL}
	var user string
	if w != nil {
		user = w.user.Name
	}
	audit := s.AssertionEvent(c, user, details)
	deny := func(err error) { s.RefuseAssertion(c, audit, err) }
	answer := func(st *saml.StatusError) {
		status = st
		audit.Type, audit.Result = auditSSORequest, "answered "+strings.TrimPrefix(st.SecondLevel, "urn:oasis:names:tc:SAML:2.0:status:")
	}
	if status != nil {
		answer(status)
	}

	spp := &spProvider{s: s, ctx: ctx}
	idp, key, err := s.samlIdP(ctx, spp)
	if err != nil {
		s.FailPage(c, err)
		return
	}
	sp, ed, err := spp.registration(p.SPEntityID)
	switch {
	case spp.err != nil:
		s.FailPage(c, spp.err)
		return
	case store.IsCode(err, store.NotFound):
		deny(store.Errorf(store.Invalid, "the application %q is no longer registered with Rolegate", p.SPEntityID))
		return
	case err != nil:
		deny(store.Errorf(store.Invalid, "the application %q cannot be signed in to: %s", p.SPEntityID, err))
		return
	}
	spsso, acs := findPostACS(ed, p.ACSURL)
	if acs == nil {
		deny(store.Errorf(store.Invalid, "the assertion consumer service %q is no longer in the metadata of %q; start again from the application",
			p.ACSURL, p.SPEntityID))
		return
	}
	req := &saml.IdpAuthnRequest{
		IDP:                     idp,
		HTTPRequest:             c.Request,
		RelayState:              p.RelayState,
		Now:                     now,
		ServiceProviderMetadata: ed,
		SPSSODescriptor:         spsso,
		ACSEndpoint:             acs,
		Request:                 saml.AuthnRequest{ID: p.RequestID},
	}
	var maker *ssoAssertionMaker
	var groups []string
	if status == nil {
		if groups, err = s.Store.UserGroups(ctx, w.user.Name); err != nil {
			s.FailPage(c, err)
			return
		}
		if !sp.Admits(groups) {
			msg := fmt.Sprintf("you may not sign in to %q: it is open only to members of certain groups; ask an administrator", p.SPEntityID)
			if !passive {
				deny(store.Errorf(store.Forbidden, "%s", msg))
				return
			}
			answer(requestDenied)
			audit.Details["reason"] = msg
		}
	}
	format := p.NameIDFormat
	if format == "" {
		format = store.NameIDPersistent
	}
	audit.Details["name_id_format"] = format
	// The admin may have changed the SP while the user signed in.
	if status == nil && ((sp.NameIDFormat != "" && sp.NameIDFormat != format) || (format == store.NameIDEmail && !mayGetEmail(sp))) {
		answer(invalidNameIDPolicy(saml.StatusResponder, "this application's NameID format or release list changed while the user signed in; start again from the application"))
	}
	if status == nil {
		nameID, st, err := s.subjectNameID(ctx, w, format, p.NoNewNameID, idp.MetadataURL.String(), ed.EntityID)
		if err != nil {
			s.FailPage(c, err)
			return
		}
		if st != nil {
			answer(st)
		} else {
			class, _ := s.sessionContext(p.AuthnContexts, w.sess)
			maker = &ssoAssertionMaker{user: w.user, sess: w.sess, groups: groups, nameID: nameID, release: sp.Release, assertionID: s.NewXMLID(),
				sessionIndex: s.SessionIndex(w.sess), context: class}
			idp.AssertionMaker = maker
		}
	}
	var encryption string
	var form saml.IdpAuthnRequestForm
	err = crewjamSafe(func() error {
		if status != nil {
			if err := req.MakeErrorResponse(status.TopLevel, status.SecondLevel, status.Message); err != nil {
				return err
			}
		} else if err := maker.MakeAssertion(req, nil); err != nil {
			return err
		} else if encryption, err = sealAssertion(req); err != nil {
			return err
		} else if err := req.MakeResponse(); err != nil {
			return err
		}
		var err error
		form, err = req.PostBinding()
		return err
	})
	if err != nil {
		deny(fmt.Errorf("idp: building the response for %q: %w", p.SPEntityID, err))
		return
	}

	audit.Details["signing_key"] = key.ID
	if maker != nil {
		audit.Details["assertion_id"] = maker.assertionID
		if maker.nameID.Format != assertions.NameIDTransient { // a transient NameID is kept nowhere
			audit.Details["name_id"] = maker.nameID.Value
		}
		audit.Details["released"] = strings.Join(maker.release, ",")
		audit.Details["authn_context"] = maker.context
		audit.Details["auth_methods"] = w.sess.AuthMethods
		audit.Details["encrypted"] = fmt.Sprint(encryption != "")
		if encryption != "" {
			audit.Details["encryption"] = encryption
		}
	}
	s.PostAssertion(c, audit, &authn.PostForm{Page: authn.PageSSOPost, Title: "Signing in", ACS: form.URL,
		SAMLResponse: form.SAMLResponse, RelayState: form.RelayState, SP: ed.EntityID})
}

// findPostACS finds the https HTTP-POST ACS at location in the SP's metadata, as it is now.
func findPostACS(ed *saml.EntityDescriptor, location string) (*saml.SPSSODescriptor, *saml.IndexedEndpoint) {
	for i := range ed.SPSSODescriptors {
		d := &ed.SPSSODescriptors[i]
		for j := range d.AssertionConsumerServices {
			e := d.AssertionConsumerServices[j]
			if e.Binding == saml.HTTPPostBinding && e.Location == location && httpsURL(e.Location) {
				return d, &e
			}
		}
	}
	return nil, nil
}

// ssoAssertionMaker is crewjam's AssertionMaker for a generic SP: the user's NameID for that SP in
// the format chosen (persistent ones pairwise, never the Subject AWS sees), the attributes the
// SP's release list names, an MFA-aware AuthnContext, and a lifetime of assertions.AssertionLifetime set here rather than
// through crewjam's globals.
type ssoAssertionMaker struct {
	user         *store.User
	sess         *store.Session
	groups       []string
	nameID       *saml.NameID // see subjectNameID
	release      []string     // store.ServiceProvider.Release
	assertionID  string
	sessionIndex string // of sess, as the core names it
	context      string // the AuthnContextClassRef: what the session did, as the request asked for it
}

// MakeAssertion sets req.Assertion; the crewjam Session is not used (the user and their session
// are the maker's own).
func (m *ssoAssertionMaker) MakeAssertion(req *saml.IdpAuthnRequest, _ *saml.Session) error {
	if m.nameID == nil || m.nameID.Value == "" {
		return errors.New("the user has no NameID for this service provider")
	}
	now := req.Now.UTC()
	expires := now.Add(assertions.AssertionLifetime)
	idpID, spID := req.IDP.MetadataURL.String(), req.ServiceProviderMetadata.EntityID

	var attrs []saml.Attribute
	for _, r := range assertions.ReleasedAttributes(m.release, m.user, m.groups) {
		a := saml.Attribute{Name: r.Name, FriendlyName: r.FriendlyName, NameFormat: r.NameFormat()}
		for _, v := range r.Values {
			a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		attrs = append(attrs, a)
	}

	sessionEnds := m.sess.ExpiresAt.UTC()
	req.Assertion = &saml.Assertion{
		ID:           m.assertionID,
		IssueInstant: now,
		Version:      "2.0",
		Issuer:       saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: idpID},
		Subject: &saml.Subject{
			NameID: m.nameID,
			SubjectConfirmations: []saml.SubjectConfirmation{{
				Method: assertions.MethodBearer,
				SubjectConfirmationData: &saml.SubjectConfirmationData{
					InResponseTo: req.Request.ID,
					NotOnOrAfter: expires,
					Recipient:    req.ACSEndpoint.Location,
				},
			}},
		},
		Conditions: &saml.Conditions{
			NotBefore:            now.Add(-time.Minute), // room for SPs whose clocks run behind
			NotOnOrAfter:         expires,
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: spID}}},
		},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant:        m.sess.AuthenticatedAt.UTC(),
			SessionIndex:        m.sessionIndex,
			SessionNotOnOrAfter: &sessionEnds,
			AuthnContext:        saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{Value: m.context}},
		}},
	}
	if len(attrs) > 0 {
		req.Assertion.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	}
	return nil
}
