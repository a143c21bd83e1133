package awsadmin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"rolegate/assertions"
	"rolegate/store"
)

// AWS's side of the exchange: the SP metadata AWS publishes for its sign-in endpoints
// (https://[REGION.]signin.../static/saml-metadata.xml, and per SAML provider
// https://REGION.signin.../static/saml/IDP_ID/saml-metadata.xml, whose ACS carries the IdP ID that
// encrypted Responses are posted to), read and held against what Rolegate sends for an account.

const (
	// MaxSPMetadataBytes bounds an SP metadata document, read from a file or fetched: AWS's is
	// about 6 KB.
	MaxSPMetadataBytes = assertions.MaxMetadataBytes
	// SPMetadataTimeout bounds a whole fetch, redirects included.
	SPMetadataTimeout = 20 * time.Second
	maxRedirects      = 3
)

// SPEntityIDs are the entity IDs AWS's sign-in SP has in each partition.
var SPEntityIDs = map[store.Partition][]string{
	store.PartitionAWS:      {assertions.AudienceAWS},
	store.PartitionGovCloud: {"urn:amazon:webservices:govcloud"},
	store.PartitionChina:    {"urn:amazon:webservices:cn-north-1", "urn:amazon:webservices:cn-northwest-1"},
}

// signInHosts are the partitions' default sign-in hosts; a region's is REGION.host.
var signInHosts = map[store.Partition]string{
	store.PartitionAWS:      "signin.aws.amazon.com",
	store.PartitionGovCloud: "signin.amazonaws-us-gov.com",
	store.PartitionChina:    "signin.amazonaws.cn",
}

// metadataPathRE is the path of a document AWS publishes: the endpoint's, or a provider's.
var metadataPathRE = regexp.MustCompile(`^/static/(saml/([A-Za-z0-9-]{1,64})/)?saml-metadata\.xml$`)

// SPMetadata is what Rolegate reads from an AWS SP metadata document.
type SPMetadata struct {
	EntityID string
	// WantAssertionsSigned is nil when the document does not say.
	WantAssertionsSigned *bool
	// ACS are the Locations of the HTTP-POST assertion consumer services, in document order.
	ACS []string
	// EncryptionCerts are the certificates of KeyDescriptors with use="encryption".
	EncryptionCerts []*x509.Certificate
}

// ReadSPMetadata parses an SP metadata document: one md:EntityDescriptor with one SPSSODescriptor.
// It refuses a DTD outright (no entity of any kind is expanded) and anything over
// MaxSPMetadataBytes.
func ReadSPMetadata(raw []byte) (*SPMetadata, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, store.Errorf(store.Invalid, "the SP metadata is empty")
	}
	if len(raw) > MaxSPMetadataBytes {
		return nil, store.Errorf(store.Invalid, "the SP metadata is larger than %d bytes; AWS's is a few kilobytes", MaxSPMetadataBytes)
	}
	if err := noDTD(raw); err != nil {
		return nil, err
	}
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return nil, store.Errorf(store.Invalid, "the SP metadata is not well-formed XML: %s", short(err.Error()))
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(raw, &ed); err != nil {
		return nil, store.Errorf(store.Invalid, "the SP metadata is not one SAML md:EntityDescriptor: %s", short(err.Error()))
	}
	if len(ed.SPSSODescriptors) != 1 {
		return nil, store.Errorf(store.Invalid, "the SP metadata has %d SPSSODescriptor elements; AWS's has exactly one", len(ed.SPSSODescriptors))
	}
	d := ed.SPSSODescriptors[0]
	md := &SPMetadata{EntityID: ed.EntityID, WantAssertionsSigned: d.WantAssertionsSigned}
	for _, acs := range d.AssertionConsumerServices {
		if acs.Binding == saml.HTTPPostBinding {
			md.ACS = append(md.ACS, acs.Location)
		}
	}
	for _, k := range d.KeyDescriptors {
		if k.Use != "encryption" {
			continue
		}
		for _, c := range k.KeyInfo.X509Data.X509Certificates {
			cert, err := assertions.ParseMetadataCert(c.Data)
			if err != nil {
				return nil, store.Errorf(store.Invalid, "the SP metadata's encryption certificate is unreadable: %s", short(err.Error()))
			}
			if cert != nil {
				md.EncryptionCerts = append(md.EncryptionCerts, cert)
			}
		}
	}
	return md, nil
}

// noDTD refuses a document with a DTD or any other <!...> directive: SAML metadata has none, and
// an internal subset is how entity-expansion attacks begin.
func noDTD(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return store.Errorf(store.Invalid, "the SP metadata is not XML: %s", short(err.Error()))
		}
		if _, ok := tok.(xml.Directive); ok {
			return store.Errorf(store.Invalid, "the SP metadata has a DTD (<!DOCTYPE ...>); SAML metadata has none, and Rolegate reads none")
		}
	}
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// SPCheck is the verdict on an SP metadata document for one account.
type SPCheck struct {
	// IdPID is the IdP ID of the provider the document's ACS names (/saml/acs/IDP_ID); "" when the
	// document is an endpoint's, not a provider's.
	IdPID string
	// Problems are the mismatches, one sentence each; none means the document fits the account.
	Problems []string
	// Notes are worth telling but change nothing.
	Notes []string
}

// CheckSPMetadata holds md against what Rolegate sends account a: AWS's entity ID of a's partition,
// every HTTP-POST ACS an AWS sign-in endpoint of a's partition and region (AccountSignInURL: the
// region's, else the partition's default), at most one IdP ID, and that one the IdP ID IAM gave a's
// provider when Rolegate already knows it. WantAssertionsSigned missing or false is only a note:
// Rolegate signs every assertion (and the Response), so what the document asks for cannot make a
// sign-in fail.
func CheckSPMetadata(a *store.Account, md *SPMetadata) *SPCheck {
	c := &SPCheck{}
	bad := func(format string, args ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, args...)) }
	if want := SPEntityIDs[a.Partition]; !slices.Contains(want, md.EntityID) {
		bad("the entity ID is %q, but AWS's sign-in in partition %s is %s", short(md.EntityID), a.Partition, strings.Join(want, " or "))
	}
	plain, err := assertions.AccountSignInURL(a)
	if err != nil {
		bad("account %s: %s", a.Alias, store.ErrorMessage(err))
		return c
	}
	region := assertions.AccountRegion(a)
	if len(md.ACS) == 0 {
		bad("the document has no HTTP-POST AssertionConsumerService, the one binding AWS's sign-in takes")
	}
	for _, acs := range md.ACS {
		p, r, id, ok := parseSignInACS(acs)
		switch {
		case !ok:
			bad("the ACS %q is not an AWS sign-in endpoint (https://[REGION.]signin.../saml or .../saml/acs/IDP_ID)", short(acs))
		case p != a.Partition:
			bad("the ACS %s is in partition %s, but account %s is in partition %s", acs, p, a.Alias, a.Partition)
		case r != region && !(id != "" && region == "" && r == store.DefaultRegions[p]):
			// An encrypted Response to an account without a region goes to the default region's host.
			bad("the ACS %s is %s's, but Rolegate posts account %s's Responses to %s; use the document of that endpoint (%s)",
				acs, regionName(r), a.Alias, plain, metadataURL(a.Partition, region, id))
		case id != "" && c.IdPID != "" && id != c.IdPID:
			bad("the document names two SAML providers, %s and %s", c.IdPID, id)
		case id != "":
			c.IdPID = id
		}
	}
	if c.IdPID != "" && a.AWS.IdPID != "" && c.IdPID != a.AWS.IdPID {
		bad("the document is SAML provider %s's, but account %s's provider is %s (as IAM reported it); is the document another account's?", c.IdPID, a.Alias, a.AWS.IdPID)
	}
	switch {
	case md.WantAssertionsSigned == nil:
		c.Notes = append(c.Notes, "the document does not say WantAssertionsSigned (AWS's says true); Rolegate signs every assertion regardless")
	case !*md.WantAssertionsSigned:
		c.Notes = append(c.Notes, "the document says WantAssertionsSigned=false (AWS's says true); Rolegate signs every assertion regardless")
	}
	if c.IdPID != "" && a.AWS.Encrypt == store.EncryptOff {
		c.Notes = append(c.Notes, fmt.Sprintf("account %s does not encrypt assertions; its IdP ID is kept for when it does (rolegate account set %s --encrypt required)", a.Alias, a.Alias))
	}
	if len(md.EncryptionCerts) > 0 {
		c.Notes = append(c.Notes, "the document names an encryption certificate; Rolegate encrypts to the key pair whose private key it uploads to IAM (rolegate aws register), not to a certificate in AWS's document")
	}
	return c
}

func regionName(r string) string {
	if r == "" {
		return "the partition's default endpoint"
	}
	return "region " + r
}

// metadataURL is the address of AWS's document for an endpoint (id "") or a provider.
func metadataURL(p store.Partition, region, id string) string {
	host := signInHosts[p]
	if region != "" {
		host = region + "." + host
	}
	if id != "" {
		return "https://" + host + "/static/saml/" + id + "/saml-metadata.xml"
	}
	return "https://" + host + "/static/saml-metadata.xml"
}

// parseSignInACS splits an AWS sign-in ACS into its partition, region ("" for the partition's
// default host) and IdP ID ("" for the plain /saml); ok is false for anything else.
func parseSignInACS(acs string) (p store.Partition, region, id string, ok bool) {
	u, err := url.Parse(acs)
	if err != nil || u.Scheme != "https" || u.User != nil || strings.Contains(u.Host, ":") || u.RawQuery != "" || u.ForceQuery || strings.Contains(acs, "#") {
		return "", "", "", false
	}
	p, region, ok = signInHost(u.Hostname())
	if !ok {
		return "", "", "", false
	}
	if u.Path == "/saml" {
		return p, region, "", true
	}
	id, found := strings.CutPrefix(u.Path, "/saml/acs/")
	if !found || !store.ValidIdPID(id) {
		return "", "", "", false
	}
	return p, region, id, true
}

// signInHost reports the partition and region of an AWS sign-in host: the partition's default
// host, or REGION.host for a region Rolegate knows in that partition.
func signInHost(host string) (p store.Partition, region string, ok bool) {
	host = strings.ToLower(host)
	for p, h := range signInHosts {
		if host == h {
			return p, "", true
		}
		if r, found := strings.CutSuffix(host, "."+h); found && store.KnownRegion(p, r) {
			return p, r, true
		}
	}
	return "", "", false
}

// CheckSPMetadataURL accepts only the address of a document AWS publishes for partition p: https,
// a sign-in host of p, the path of an endpoint's or a provider's document, nothing else. An admin
// tool that fetched any URL would be a way to reach internal hosts, or to record a hostile IdP ID.
func CheckSPMetadataURL(p store.Partition, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" {
		return nil, store.Errorf(store.Invalid, "--sp-metadata %q: only an https URL of AWS's sign-in (https://[REGION.]%s/static/saml-metadata.xml) is fetched", short(raw), signInHosts[p])
	}
	hp, _, ok := signInHost(u.Hostname())
	// Written exactly: no empty port ("host:"), empty query ("?") or empty fragment ("#") either.
	if !ok || hp != p || u.User != nil || (strings.Contains(u.Host, ":") && u.Port() != "443") || u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#") {
		return nil, store.Errorf(store.Invalid, "--sp-metadata %q: Rolegate fetches SP metadata only from AWS's sign-in hosts of partition %s (%s or REGION.%s); save the document and pass the file instead",
			short(raw), p, signInHosts[p], signInHosts[p])
	}
	if !metadataPathRE.MatchString(u.Path) {
		return nil, store.Errorf(store.Invalid, "--sp-metadata %q: not the path of a document AWS publishes (/static/saml-metadata.xml or /static/saml/IDP_ID/saml-metadata.xml)", short(raw))
	}
	return u, nil
}

// FetchSPMetadata fetches AWS's SP metadata for partition p from raw (CheckSPMetadataURL), following
// redirects only to such URLs, within SPMetadataTimeout and MaxSPMetadataBytes. client carries the
// requests (tests reach a stand-in through its transport); nil means a plain one.
func FetchSPMetadata(ctx context.Context, p store.Partition, raw string, client *http.Client) ([]byte, error) {
	u, err := CheckSPMetadataURL(p, raw)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: SPMetadataTimeout}
	if client != nil {
		c.Transport = client.Transport
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return store.Errorf(store.Invalid, "--sp-metadata %s: more than %d redirects", u, maxRedirects)
		}
		if _, err := CheckSPMetadataURL(p, req.URL.String()); err != nil {
			return store.Errorf(store.Invalid, "--sp-metadata %s redirects to %s, which is not AWS's sign-in of partition %s: not followed", u, short(req.URL.String()), p)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, SPMetadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := c.Do(req)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			return nil, se
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, store.Errorf(store.Invalid, "--sp-metadata %s: no answer within %s", u, SPMetadataTimeout)
		}
		return nil, store.Errorf(store.Invalid, "--sp-metadata %s: %s", u, short(err.Error()))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, store.Errorf(store.Invalid, "--sp-metadata %s: AWS answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSPMetadataBytes+1))
	if err != nil {
		return nil, store.Errorf(store.Invalid, "--sp-metadata %s: reading the document: %s", u, short(err.Error()))
	}
	if len(body) > MaxSPMetadataBytes {
		return nil, store.Errorf(store.Invalid, "--sp-metadata %s: the document is larger than %d bytes; AWS's is a few kilobytes", u, MaxSPMetadataBytes)
	}
	return body, nil
}
