package sso

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"rolegate/assertions"
	"rolegate/idp/internal/text"
	"rolegate/store"
)

// SP metadata: what `rolegate sp add` accepts, and how a request's SP is read from the store.

// MaxSPMetadataBytes is the largest SP metadata document Rolegate accepts.
const MaxSPMetadataBytes = assertions.MaxMetadataBytes

// ParseSPMetadata parses a SAML service provider's metadata, as `rolegate sp add` stores it: one
// md:EntityDescriptor, or an md:EntitiesDescriptor holding exactly one SP. It must describe an SP
// (an SPSSODescriptor) with at least one HTTP-POST AssertionConsumerService, and every ACS of a
// known binding must be an https URL.
func ParseSPMetadata(raw []byte) (*saml.EntityDescriptor, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, store.Errorf(store.Invalid, "the metadata is empty")
	}
	if len(raw) > MaxSPMetadataBytes {
		return nil, store.Errorf(store.Invalid, "the metadata is larger than 1 MiB")
	}
	root, err := rootElement(raw)
	if err != nil {
		return nil, err
	}
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return nil, store.Errorf(store.Invalid, "the metadata is not well-formed XML: %s", text.Bounded(err.Error(), maxSSOErrorRunes))
	}
	var ed *saml.EntityDescriptor
	switch root {
	case xml.Name{Space: assertions.NSMetadata, Local: "EntityDescriptor"}:
		ed = new(saml.EntityDescriptor)
		if err := xml.Unmarshal(raw, ed); err != nil {
			return nil, notMetadata(err)
		}
	case xml.Name{Space: assertions.NSMetadata, Local: "EntitiesDescriptor"}:
		var all saml.EntitiesDescriptor
		if err := xml.Unmarshal(raw, &all); err != nil {
			return nil, notMetadata(err)
		}
		sps := spEntities(&all, nil)
		if len(sps) != 1 {
			return nil, store.Errorf(store.Invalid, "the metadata is an EntitiesDescriptor holding %d service providers; register exactly one at a time", len(sps))
		}
		ed = sps[0]
	default:
		return nil, store.Errorf(store.Invalid, "the metadata's root element is <%s>, not a SAML md:EntityDescriptor or md:EntitiesDescriptor",
			text.Bounded(root.Local, 64))
	}
	if err := checkSPMetadata(ed); err != nil {
		return nil, err
	}
	return ed, nil
}

func notMetadata(err error) error {
	return store.Errorf(store.Invalid, "the metadata is not valid SAML metadata: %s", text.Bounded(err.Error(), maxSSOErrorRunes))
}

// rootElement returns the name of the document's first element.
func rootElement(raw []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.Name{}, store.Errorf(store.Invalid, "the metadata is not XML: no root element")
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}

// spEntities collects the entities of an EntitiesDescriptor, nested ones too, that describe an SP.
func spEntities(all *saml.EntitiesDescriptor, out []*saml.EntityDescriptor) []*saml.EntityDescriptor {
	for i := range all.EntityDescriptors {
		if len(all.EntityDescriptors[i].SPSSODescriptors) > 0 {
			out = append(out, &all.EntityDescriptors[i])
		}
	}
	for i := range all.EntitiesDescriptors {
		out = spEntities(&all.EntitiesDescriptors[i], out)
	}
	return out
}

func checkSPMetadata(ed *saml.EntityDescriptor) error {
	id := ed.EntityID
	if id == "" || len(id) > 1024 || id != text.Bounded(id, 1024) {
		return store.Errorf(store.Invalid, "the metadata's entityID is empty, longer than 1024 characters or holds control characters")
	}
	if len(ed.SPSSODescriptors) == 0 {
		return store.Errorf(store.Invalid, "the metadata of %q has no SPSSODescriptor: it does not describe a SAML service provider", id)
	}
	posts := 0
	for _, d := range ed.SPSSODescriptors {
		for _, acs := range d.AssertionConsumerServices {
			if acs.Location == "" {
				continue // a binding crewjam does not know (such as PAOS): it blanks the Location, and Rolegate never uses it
			}
			if !httpsURL(acs.Location) {
				return store.Errorf(store.Invalid, "the assertion consumer service %q (binding %s, index %d) of %q is not an https URL: Rolegate sends assertions only over https",
					text.Bounded(acs.Location, 512), bindingName(acs.Binding), acs.Index, id)
			}
			if acs.Binding == saml.HTTPPostBinding {
				posts++
			}
		}
	}
	if posts == 0 {
		return store.Errorf(store.Invalid, "the metadata of %q has no AssertionConsumerService with the HTTP-POST binding: Rolegate can only post assertions", id)
	}
	return checkSPKeys(ed)
}

// httpsURL reports whether s is an absolute https URL with a host and no user info.
func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}

func bindingName(b string) string {
	if i := strings.LastIndexByte(b, ':'); i >= 0 && i+1 < len(b) {
		return text.Bounded(b[i+1:], 64)
	}
	return text.Bounded(b, 64)
}

// checkSPKeys refuses certificates Rolegate could never use, rather than failing every sign-in to
// the SP once its user has signed in: each must be an X.509 certificate, and the one assertions are
// encrypted to must hold an RSA key.
func checkSPKeys(ed *saml.EntityDescriptor) error {
	for _, d := range ed.SPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				if _, err := assertions.ParseMetadataCert(c.Data); err != nil {
					return store.Errorf(store.Invalid, "the metadata of %q has a KeyDescriptor (use %q) whose certificate is not a valid X.509 certificate: %s",
						ed.EntityID, text.Bounded(k.Use, 32), text.Bounded(err.Error(), 200))
				}
			}
		}
		if cert, methods := encryptionKey(&d); cert != nil {
			pub, ok := cert.PublicKey.(*rsa.PublicKey)
			if !ok {
				return store.Errorf(store.Invalid, "the encryption certificate in the metadata of %q has a key of type %s; Rolegate encrypts assertions only to RSA keys (without that KeyDescriptor they are sent unencrypted)",
					ed.EntityID, cert.PublicKeyAlgorithm)
			}
			if bits := pub.N.BitLen(); bits < assertions.MinEncryptionBits {
				return store.Errorf(store.Invalid, "the encryption certificate in the metadata of %q holds a %d-bit RSA key; Rolegate encrypts only to keys of at least %d bits",
					ed.EntityID, bits, assertions.MinEncryptionBits)
			}
			if _, err := assertions.ChooseContentEncryption(methods); err != nil {
				return store.Errorf(store.Invalid, "Rolegate cannot encrypt to this metadata's key: %s", text.Bounded(store.ErrorMessage(err), maxSSOErrorRunes))
			}
		}
	}
	return nil
}

// encryptionKey is the certificate assertions are encrypted to, and the algorithms its
// EncryptionMethods list in order: the first certificate of a KeyDescriptor with use="encryption",
// else of one without a use (as crewjam reads them); nil when there is none.
func encryptionKey(d *saml.SPSSODescriptor) (*x509.Certificate, []string) {
	for _, use := range []string{"encryption", ""} {
		for _, k := range d.KeyDescriptors {
			if k.Use != use {
				continue
			}
			for _, c := range k.KeyInfo.X509Data.X509Certificates {
				if cert, _ := assertions.ParseMetadataCert(c.Data); cert != nil {
					var methods []string
					for _, m := range k.EncryptionMethods {
						methods = append(methods, strings.TrimSpace(m.Algorithm))
					}
					return cert, methods
				}
			}
		}
	}
	return nil, nil
}

// sealAssertion has crewjam sign req.Assertion into req.AssertionEl (enveloped, as it signs the
// Response), then, when the SP's metadata holds an encryption key, encrypts the signed Assertion
// with assertions.EncryptAssertion, the encrypter of AWS's encrypted assertions too, in the
// algorithm the SP's EncryptionMethods call for. It returns that algorithm; "" when unencrypted.
func sealAssertion(req *saml.IdpAuthnRequest) (string, error) {
	d := req.SPSSODescriptor
	cert, methods := encryptionKey(d)
	signOnly := *d
	signOnly.KeyDescriptors = nil // crewjam's own encryption is never used
	req.SPSSODescriptor = &signOnly
	err := req.MakeAssertionEl()
	req.SPSSODescriptor = d
	if err != nil || cert == nil {
		return "", err
	}
	alg, err := assertions.ChooseContentEncryption(methods)
	if err != nil {
		return "", err
	}
	ea, err := assertions.EncryptAssertion(req.AssertionEl, &assertions.Encryption{Cert: cert, Rand: rand.Reader, Content: alg})
	if err != nil {
		return "", err
	}
	req.AssertionEl = ea
	return alg, nil
}

// SPACSURLs lists the https HTTP-POST ACS locations of an SP: where Rolegate may post its assertions.
func SPACSURLs(ed *saml.EntityDescriptor) []string {
	var out []string
	for _, d := range ed.SPSSODescriptors {
		for _, acs := range d.AssertionConsumerServices {
			if acs.Binding == saml.HTTPPostBinding && httpsURL(acs.Location) {
				out = append(out, acs.Location)
			}
		}
	}
	return out
}

// spProvider is crewjam's ServiceProviderProvider over the store. An unknown SP is os.ErrNotExist
// (compared with ==, so never wrapped); a store failure is kept in err, so that the handler can
// answer it as the internal error it is rather than as a bad request.
type spProvider struct {
	s   *Handler
	ctx context.Context
	err error

	// The last lookup, kept: a request's SP is read once however often it is asked for.
	id   string
	reg  *store.ServiceProvider
	ed   *saml.EntityDescriptor
	lerr error
}

func (p *spProvider) GetServiceProvider(_ *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	ed, err := p.lookup(entityID)
	if store.IsCode(err, store.NotFound) {
		return nil, os.ErrNotExist
	}
	return ed, err
}

func (p *spProvider) lookup(entityID string) (*saml.EntityDescriptor, error) {
	_, ed, err := p.registration(entityID)
	return ed, err
}

// registration returns the SP's registration and its parsed metadata.
func (p *spProvider) registration(entityID string) (*store.ServiceProvider, *saml.EntityDescriptor, error) {
	if p.id != entityID || (p.reg == nil && p.lerr == nil) {
		p.id = entityID
		p.reg, p.ed, p.lerr = p.read(entityID)
	}
	return p.reg, p.ed, p.lerr
}

func (p *spProvider) read(entityID string) (*store.ServiceProvider, *saml.EntityDescriptor, error) {
	if entityID == "" {
		return nil, nil, store.Errorf(store.NotFound, "no service provider")
	}
	sp, err := p.s.Store.GetServiceProvider(p.ctx, entityID)
	if store.IsCode(err, store.NotFound) {
		return nil, nil, err
	} else if err != nil {
		p.err = err
		return nil, nil, errors.New("the service provider registry is unavailable")
	}
	ed, err := ParseSPMetadata(sp.Metadata)
	if err != nil {
		return nil, nil, fmt.Errorf("its registered metadata is no longer acceptable (%s)", store.ErrorMessage(err))
	}
	if ed.EntityID != entityID {
		return nil, nil, fmt.Errorf("its registered metadata names another entity, %q", ed.EntityID)
	}
	return sp, ed, nil
}
