// Package iamtest is a stand-in for AWS IAM (and STS AssumeRole, so an admin role can be
// assumed), for tests of the code that registers Rolegate's metadata, reads back what IAM
// trusts and writes role policies. It speaks IAM's wire protocol as aws-sdk-go-v2 sends it:
// Query API form POSTs signed with SigV4 (the signature is verified with the secret of the
// access key, which also decides the account the call acts in), XML answers in IAM's namespace
// and IAM's error documents and status codes. It validates what IAM validates, so a test that
// passes here sends what IAM accepts.
package iamtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/beevik/etree"

	"rolegate/assertions"
)

// IAM's limits, as its API reference gives them.
const (
	minMetadata       = 1000
	maxMetadata       = 10_000_000
	maxPrivateKeys    = 2
	maxProviders      = 100
	maxRolePolicySize = 10_240 // characters of all of a role's inline policies, white space not counted
	maxPrivateKeyLen  = 16_384
)

// Provider is a SAML provider as the stand-in holds it.
type Provider struct {
	ARN            string
	Metadata       string
	UUID           string
	EncryptionMode string // "", "Allowed" or "Required"
	PrivateKeys    []PrivateKey
	Created        time.Time
}

// PrivateKey is an assertion decryption key uploaded to a provider.
type PrivateKey struct {
	ID    string
	PEM   string
	Added time.Time
}

// Call is one request as the stand-in saw it: its action, the account of its credentials
// ("" when they were refused) and its form parameters.
type Call struct {
	Action  string
	Account string
	Params  url.Values
}

type role struct {
	id       string
	created  time.Time
	policies map[string]string // name -> decoded JSON document
}

type account struct {
	partition string               // of the region the caller signed for: aws, aws-us-gov, aws-cn
	providers map[string]*Provider // by name
	roles     map[string]*role     // by name
}

type key struct {
	account, secret, token string
}

type failure struct {
	code   string
	status int
}

// IAM is a running stand-in.
type IAM struct {
	srv      *httptest.Server
	mu       sync.Mutex
	accounts map[string]*account
	keys     map[string]key // access key ID -> its account and secret
	calls    []Call
	fail     map[string]failure // action ("" for any) -> the error its next call gets
	now      func() time.Time
	quirks   Quirks
}

// Quirks make the stand-in answer as the emulators an admin may point Rolegate at (moto, and
// LocalStack, which serves IAM with moto) do where they differ from IAM.
type Quirks struct {
	// Account, when set, is the one account every credential acts in (moto's 123456789012); a
	// provider ARN naming another account is not found (moto looks it up by the whole ARN).
	Account string
	// NoEncryption: GetSAMLProvider answers without SAMLProviderUUID, AssertionEncryptionMode and
	// PrivateKeyList, and UpdateSAMLProvider ignores every field but SAMLMetadataDocument, which
	// it stores as sent, unchecked (an absent one as "").
	NoEncryption bool
	// PlainPolicies: GetRolePolicy answers the policy document as stored, not URL-encoded.
	PlainPolicies bool
	// ErrorList: errors come as <Response><Errors><Error>, where the SDK finds no error code.
	ErrorList bool
}

// Emulate makes the stand-in answer with q's quirks from now on.
func (s *IAM) Emulate(q Quirks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quirks = q
}

// New starts a stand-in that stops when t ends.
func New(t testing.TB) *IAM {
	t.Helper()
	s := &IAM{accounts: map[string]*account{}, keys: map[string]key{}, fail: map[string]failure{}, now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint for IAM (and STS) clients: BaseEndpoint, --endpoint-url.
func (s *IAM) URL() string { return s.srv.URL }

// Credentials hands out static credentials that act in account, new ones at each call.
func (s *IAM) Credentials(acct string) aws.Credentials {
	id, secret := "AKIA"+randID(16), randHex(20)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account(acct)
	s.keys[id] = key{account: acct, secret: secret}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, Source: "iamtest"}
}

// CreateRole seeds a role in account, with no inline policies.
func (s *IAM) CreateRole(acct, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(acct)
	if a.roles[name] == nil {
		a.roles[name] = &role{id: "AROA" + randID(17), created: s.now().UTC(), policies: map[string]string{}}
	}
}

// RolePolicy returns the inline policy of a role, as the JSON text IAM holds.
func (s *IAM) RolePolicy(acct, roleName, policyName string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.account(acct).roles[roleName]
	if r == nil {
		return "", false
	}
	doc, ok := r.policies[policyName]
	return doc, ok
}

// Provider returns a copy of a SAML provider.
func (s *IAM) Provider(acct, name string) (Provider, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.account(acct).providers[name]
	if p == nil {
		return Provider{}, false
	}
	c := *p
	c.PrivateKeys = slices.Clone(p.PrivateKeys)
	return c, true
}

// Calls returns the requests so far, in order.
func (s *IAM) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = Call{Action: c.Action, Account: c.Account, Params: maps.Clone(c.Params)}
	}
	return out
}

// FailNext makes the next authenticated call of action ("" for any action) fail with code and
// status, as IAM would send that error. It fails one request: a client that retries the error
// (aws-sdk-go-v2 retries 5xx and throttling) sees its retry succeed.
func (s *IAM) FailNext(action, code string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[action] = failure{code: code, status: status}
}

// account returns acct's state, made on first use; s.mu is held.
func (s *IAM) account(acct string) *account {
	a := s.accounts[acct]
	if a == nil {
		a = &account{providers: map[string]*Provider{}, roles: map[string]*role{}}
		s.accounts[acct] = a
	}
	return a
}

// apiError is an error answer: IAM's code, HTTP status and message.
type apiError struct {
	status      int
	code, msg   string
	stsProtocol bool
	list        bool // moto's <Response><Errors><Error> (Quirks.ErrorList)
}

func errorf(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func (s *IAM) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, errorf(400, "InvalidAction", "IAM takes POST"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 3*maxMetadata))
	if err != nil {
		writeError(w, errorf(413, "RequestEntityTooLarge", "the request body is too large"))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded;") {
		writeError(w, errorf(400, "MalformedInput", "the body is not a URL-encoded form"))
		return
	}
	action, version := form.Get("Action"), form.Get("Version")
	service := "iam"
	if version == "2011-06-15" {
		service = "sts"
	} else if version != "2010-05-08" {
		writeError(w, errorf(400, "InvalidParameterValue", "Version must be 2010-05-08"))
		return
	}
	acct, region, aerr := s.authenticate(r, body, service)
	s.mu.Lock()
	if s.quirks.Account != "" && aerr == nil {
		acct = s.quirks.Account
	}
	errorList := s.quirks.ErrorList
	s.calls = append(s.calls, Call{Action: action, Account: acct, Params: form})
	s.mu.Unlock()
	if aerr != nil {
		aerr.stsProtocol = service == "sts"
		writeError(w, aerr)
		return
	}
	s.mu.Lock()
	f, ok := s.fail[action]
	if ok {
		delete(s.fail, action)
	} else if f, ok = s.fail[""]; ok {
		delete(s.fail, "")
	}
	s.mu.Unlock()
	if ok {
		writeError(w, &apiError{status: f.status, code: f.code, msg: "injected by the test", stsProtocol: service == "sts"})
		return
	}
	if service == "sts" {
		if action != "AssumeRole" {
			writeError(w, &apiError{status: 400, code: "InvalidAction", msg: "Could not find operation " + action + " for version 2011-06-15", stsProtocol: true})
			return
		}
		out, err := s.assumeRole(acct, form)
		if err != nil {
			err.stsProtocol = true
			writeError(w, err)
			return
		}
		writeResult(w, "https://sts.amazonaws.com/doc/2011-06-15/", action, out)
		return
	}
	h := handlers[action]
	if h == nil {
		writeError(w, errorf(400, "InvalidAction", "Could not find operation "+action+" for version 2010-05-08"))
		return
	}
	s.mu.Lock()
	a := s.account(acct)
	a.partition = partitions[region]
	out, aerr := h(s, a, acct, form)
	s.mu.Unlock()
	if aerr != nil {
		aerr.list = errorList
		writeError(w, aerr)
		return
	}
	writeResult(w, "https://iam.amazonaws.com/doc/2010-05-08/", action, out)
}

// handlers answer IAM's actions; s.mu is held.
var handlers = map[string]func(s *IAM, a *account, acct string, f url.Values) (any, *apiError){
	"CreateSAMLProvider": (*IAM).createProvider,
	"UpdateSAMLProvider": (*IAM).updateProvider,
	"GetSAMLProvider":    (*IAM).getProvider,
	"ListSAMLProviders":  (*IAM).listProviders,
	"DeleteSAMLProvider": (*IAM).deleteProvider,
	"GetRole":            (*IAM).getRole,
	"PutRolePolicy":      (*IAM).putRolePolicy,
	"GetRolePolicy":      (*IAM).getRolePolicy,
	"DeleteRolePolicy":   (*IAM).deleteRolePolicy,
	"ListRolePolicies":   (*IAM).listRolePolicies,
}

var (
	providerNameRE = regexp.MustCompile(`^[\w._-]{1,128}$`)
	keyIDRE        = regexp.MustCompile(`^[A-Z0-9]{22,64}$`)
	roleNameRE     = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	providerARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):saml-provider/([\w._-]{1,128})$`)
	roleARNRE      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})$`)
)

// validation is IAM's message for a parameter that breaks its model's constraints.
func validation(value, param, constraint string) *apiError {
	return errorf(400, "ValidationError", "1 validation error detected: Value '"+value+"' at '"+param+"' failed to satisfy constraint: "+constraint)
}

// checkMetadata refuses what IAM refuses in SAMLMetadataDocument.
func checkMetadata(md string) *apiError {
	if len(md) < minMetadata || len(md) > maxMetadata {
		return validation("...", "sAMLMetadataDocument", "Member must have length between 1000 and 10000000")
	}
	doc := etree.NewDocument()
	if doc.ReadFromString(md) != nil || doc.Root() == nil || doc.FindElement("//IDPSSODescriptor") == nil {
		return errorf(400, "InvalidInput", "Could not parse metadata")
	}
	_, certs, err := assertions.ReadMetadata([]byte(md))
	if err != nil {
		return errorf(400, "InvalidInput", "Could not parse metadata")
	}
	for _, c := range certs {
		if k, ok := c.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() < 1024 {
			return errorf(400, "InvalidInput", "Could not parse metadata: the signing key must be RSA of at least 1024 bits")
		}
	}
	return nil
}

// checkMode checks AssertionEncryptionMode.
func checkMode(m string) *apiError {
	if m != "" && m != "Allowed" && m != "Required" {
		return validation(m, "assertionEncryptionMode", "Member must satisfy enum value set: [Required, Allowed]")
	}
	return nil
}

// addKey adds a private key to p; s.mu is held.
func (s *IAM) addKey(p *Provider, pemText string) *apiError {
	if len(pemText) > maxPrivateKeyLen {
		return validation("***", "addPrivateKey", "Member must have length less than or equal to 16384")
	}
	blk, _ := pem.Decode([]byte(pemText))
	if blk == nil {
		return errorf(400, "InvalidInput", "The private key is not a PEM document")
	}
	if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if _, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return errorf(400, "InvalidInput", "The private key could not be parsed")
		}
	}
	if len(p.PrivateKeys) >= maxPrivateKeys {
		return errorf(409, "LimitExceeded", "Cannot exceed quota for PrivateKeysPerSamlProvider: 2")
	}
	p.PrivateKeys = append(p.PrivateKeys, PrivateKey{ID: randID(26), PEM: pemText, Added: s.now().UTC()})
	return nil
}

type arnResult struct {
	SAMLProviderArn string `xml:"SAMLProviderArn"`
}

func (s *IAM) createProvider(a *account, acct string, f url.Values) (any, *apiError) {
	name, md, mode := f.Get("Name"), f.Get("SAMLMetadataDocument"), f.Get("AssertionEncryptionMode")
	if !providerNameRE.MatchString(name) {
		return nil, validation(name, "name", `Member must satisfy regular expression pattern: [\w._-]+`)
	}
	if err := checkMetadata(md); err != nil {
		return nil, err
	}
	if err := checkMode(mode); err != nil {
		return nil, err
	}
	if a.providers[name] != nil {
		return nil, errorf(409, "EntityAlreadyExists", "SAMLProvider "+name+" already exists.")
	}
	if len(a.providers) >= maxProviders {
		return nil, errorf(409, "LimitExceeded", "Cannot exceed quota for SamlProvidersPerAccount: 100")
	}
	p := &Provider{ARN: "arn:" + a.partition + ":iam::" + acct + ":saml-provider/" + name, Metadata: md, UUID: randUUID(), EncryptionMode: mode, Created: s.now().UTC()}
	if k := f.Get("AddPrivateKey"); k != "" {
		if err := s.addKey(p, k); err != nil {
			return nil, err
		}
	}
	if mode == "Required" && len(p.PrivateKeys) == 0 {
		return nil, errorf(400, "InvalidInput", "AssertionEncryptionMode Required needs a private key")
	}
	a.providers[name] = p
	return arnResult{SAMLProviderArn: p.ARN}, nil
}

// provider finds the provider a SAMLProviderArn names in the caller's account.
func (s *IAM) provider(a *account, acct, arn string) (*Provider, *apiError) {
	m := providerARNRE.FindStringSubmatch(arn)
	if m == nil {
		return nil, validation(arn, "sAMLProviderArn", "Member must be an ARN of a SAML provider")
	}
	if m[1] != acct && s.quirks.Account != "" {
		return nil, errorf(404, "NoSuchEntity", "SamlProvider "+arn+" not found")
	}
	if m[1] != acct {
		// IAM authorizes before it looks: another account's provider is not the caller's to read.
		return nil, errorf(403, "AccessDenied", "User: arn:aws:iam::"+acct+":user/admin is not authorized to perform: iam:*SAMLProvider on resource: "+arn)
	}
	p := a.providers[m[2]]
	if p == nil {
		return nil, errorf(404, "NoSuchEntity", "Manifest not found for arn "+arn)
	}
	return p, nil
}

func (s *IAM) updateProvider(a *account, acct string, f url.Values) (any, *apiError) {
	p, err := s.provider(a, acct, f.Get("SAMLProviderArn"))
	if err != nil {
		return nil, err
	}
	md, mode, add, remove := f.Get("SAMLMetadataDocument"), f.Get("AssertionEncryptionMode"), f.Get("AddPrivateKey"), f.Get("RemovePrivateKey")
	if s.quirks.NoEncryption {
		p.Metadata = md
		return arnResult{SAMLProviderArn: p.ARN}, nil
	}
	if md != "" {
		if err := checkMetadata(md); err != nil {
			return nil, err
		}
	}
	if err := checkMode(mode); err != nil {
		return nil, err
	}
	if add != "" && remove != "" {
		return nil, errorf(400, "InvalidInput", "Cannot add and remove private keys in the same request: add the new key, then remove the old one in a separate request")
	}
	if md == "" && mode == "" && add == "" && remove == "" {
		return nil, errorf(400, "InvalidInput", "Nothing to update")
	}
	c := *p // the update applies whole or not at all
	c.PrivateKeys = slices.Clone(p.PrivateKeys)
	if md != "" {
		c.Metadata = md
	}
	if mode != "" {
		c.EncryptionMode = mode
	}
	if add != "" {
		if err := s.addKey(&c, add); err != nil {
			return nil, err
		}
	}
	if remove != "" {
		if !keyIDRE.MatchString(remove) {
			return nil, validation(remove, "removePrivateKey", "Member must satisfy regular expression pattern: [A-Z0-9]+")
		}
		i := slices.IndexFunc(c.PrivateKeys, func(k PrivateKey) bool { return k.ID == remove })
		if i < 0 {
			return nil, errorf(404, "NoSuchEntity", "Private key "+remove+" not found")
		}
		c.PrivateKeys = slices.Delete(c.PrivateKeys, i, i+1)
	}
	if c.EncryptionMode == "Required" && len(c.PrivateKeys) == 0 {
		return nil, errorf(400, "InvalidInput", "AssertionEncryptionMode Required needs a private key")
	}
	*p = c
	return arnResult{SAMLProviderArn: p.ARN}, nil
}

type privateKeyEntry struct {
	KeyID     string `xml:"KeyId"`
	Timestamp string `xml:"Timestamp"`
}

func (s *IAM) getProvider(a *account, acct string, f url.Values) (any, *apiError) {
	p, err := s.provider(a, acct, f.Get("SAMLProviderArn"))
	if err != nil {
		return nil, err
	}
	var out struct {
		AssertionEncryptionMode string            `xml:"AssertionEncryptionMode,omitempty"`
		CreateDate              string            `xml:"CreateDate"`
		PrivateKeyList          []privateKeyEntry `xml:"PrivateKeyList>member"`
		SAMLMetadataDocument    string            `xml:"SAMLMetadataDocument"`
		SAMLProviderUUID        string            `xml:"SAMLProviderUUID,omitempty"`
		ValidUntil              string            `xml:"ValidUntil"`
	}
	out.AssertionEncryptionMode, out.SAMLMetadataDocument, out.SAMLProviderUUID = p.EncryptionMode, p.Metadata, p.UUID
	out.CreateDate, out.ValidUntil = stamp(p.Created), stamp(p.Created.AddDate(100, 0, 0))
	for _, k := range p.PrivateKeys {
		out.PrivateKeyList = append(out.PrivateKeyList, privateKeyEntry{KeyID: k.ID, Timestamp: stamp(k.Added)})
	}
	if s.quirks.NoEncryption {
		out.AssertionEncryptionMode, out.SAMLProviderUUID, out.PrivateKeyList = "", "", nil
	}
	return out, nil
}

func (s *IAM) listProviders(a *account, acct string, f url.Values) (any, *apiError) {
	type entry struct{ Arn, CreateDate, ValidUntil string }
	var out struct {
		List []entry `xml:"SAMLProviderList>member"`
	}
	for _, name := range slices.Sorted(maps.Keys(a.providers)) {
		p := a.providers[name]
		out.List = append(out.List, entry{Arn: p.ARN, CreateDate: stamp(p.Created), ValidUntil: stamp(p.Created.AddDate(100, 0, 0))})
	}
	return out, nil
}

func (s *IAM) deleteProvider(a *account, acct string, f url.Values) (any, *apiError) {
	p, err := s.provider(a, acct, f.Get("SAMLProviderArn"))
	if err != nil {
		return nil, err
	}
	for name, q := range a.providers {
		if q == p {
			delete(a.providers, name)
		}
	}
	return nil, nil
}

// role finds a role by name in the caller's account.
func (s *IAM) role(a *account, name string) (*role, *apiError) {
	if !roleNameRE.MatchString(name) {
		return nil, validation(name, "roleName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	r := a.roles[name]
	if r == nil {
		return nil, errorf(404, "NoSuchEntity", "The role with name "+name+" cannot be found.")
	}
	return r, nil
}

func (s *IAM) getRole(a *account, acct string, f url.Values) (any, *apiError) {
	name := f.Get("RoleName")
	r, err := s.role(a, name)
	if err != nil {
		return nil, err
	}
	type roleOut struct {
		Path, RoleName, RoleId, Arn, CreateDate string
		MaxSessionDuration                      int
	}
	var out struct {
		Role roleOut `xml:"Role"`
	}
	out.Role = roleOut{Path: "/", RoleName: name, RoleId: r.id, Arn: "arn:" + a.partition + ":iam::" + acct + ":role/" + name, CreateDate: stamp(r.created), MaxSessionDuration: 3600}
	return out, nil
}

// policySize is a policy's size as IAM counts it: characters other than white space.
func policySize(doc string) int {
	n := 0
	for _, c := range doc {
		if !unicode.IsSpace(c) {
			n++
		}
	}
	return n
}

func (s *IAM) putRolePolicy(a *account, acct string, f url.Values) (any, *apiError) {
	r, err := s.role(a, f.Get("RoleName"))
	if err != nil {
		return nil, err
	}
	name, doc := f.Get("PolicyName"), f.Get("PolicyDocument")
	if !policyNameRE.MatchString(name) {
		return nil, validation(name, "policyName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	if doc == "" {
		return nil, validation("", "policyDocument", "Member must have length greater than or equal to 1")
	}
	var v map[string]any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return nil, errorf(400, "MalformedPolicyDocument", "Syntax errors in policy.")
	}
	if st, ok := v["Statement"]; !ok || st == nil {
		return nil, errorf(400, "MalformedPolicyDocument", "Policy document must contain a Statement")
	}
	total := policySize(doc)
	for n, d := range r.policies {
		if n != name {
			total += policySize(d)
		}
	}
	if total > maxRolePolicySize {
		return nil, errorf(409, "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role "+f.Get("RoleName"))
	}
	r.policies[name] = doc
	return nil, nil
}

func (s *IAM) getRolePolicy(a *account, acct string, f url.Values) (any, *apiError) {
	roleName, name := f.Get("RoleName"), f.Get("PolicyName")
	r, err := s.role(a, roleName)
	if err != nil {
		return nil, err
	}
	doc, ok := r.policies[name]
	if !ok {
		return nil, errorf(404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
	}
	var out struct{ RoleName, PolicyName, PolicyDocument string }
	// IAM returns the document URL-encoded (RFC 3986), as its API reference says.
	out.RoleName, out.PolicyName, out.PolicyDocument = roleName, name, strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
	if s.quirks.PlainPolicies {
		out.PolicyDocument = doc
	}
	return out, nil
}

func (s *IAM) deleteRolePolicy(a *account, acct string, f url.Values) (any, *apiError) {
	r, err := s.role(a, f.Get("RoleName"))
	if err != nil {
		return nil, err
	}
	name := f.Get("PolicyName")
	if _, ok := r.policies[name]; !ok {
		return nil, errorf(404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
	}
	delete(r.policies, name)
	return nil, nil
}

func (s *IAM) listRolePolicies(a *account, acct string, f url.Values) (any, *apiError) {
	r, err := s.role(a, f.Get("RoleName"))
	if err != nil {
		return nil, err
	}
	var out struct {
		PolicyNames []string `xml:"PolicyNames>member"`
		IsTruncated bool
	}
	out.PolicyNames = slices.Sorted(maps.Keys(r.policies))
	return out, nil
}

// assumeRole answers STS AssumeRole for a role seeded with CreateRole: temporary credentials
// that act in the role's account.
func (s *IAM) assumeRole(caller string, f url.Values) (any, *apiError) {
	arn, session := f.Get("RoleArn"), f.Get("RoleSessionName")
	if arn == "" || session == "" {
		return nil, errorf(400, "ValidationError", "RoleArn and RoleSessionName are required")
	}
	m := roleARNRE.FindStringSubmatch(arn)
	if m == nil {
		return nil, errorf(400, "ValidationError", "RoleArn "+arn+" is not a role ARN")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[m[1]]; a == nil || a.roles[m[2]] == nil {
		return nil, errorf(403, "AccessDenied", "User: arn:aws:iam::"+caller+":user/admin is not authorized to perform: sts:AssumeRole on resource: "+arn)
	}
	id, secret, token := "ASIA"+randID(16), randHex(20), randHex(48)
	s.keys[id] = key{account: m[1], secret: secret, token: token}
	var out struct {
		Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
		AssumedRoleUser struct{ Arn, AssumedRoleId string }
	}
	out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey, out.Credentials.SessionToken = id, secret, token
	out.Credentials.Expiration = stamp(s.now().Add(time.Hour))
	out.AssumedRoleUser.Arn = "arn:aws:sts::" + m[1] + ":assumed-role/" + m[2] + "/" + session
	out.AssumedRoleUser.AssumedRoleId = s.accounts[m[1]].roles[m[2]].id + ":" + session
	return out, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// writeResult writes <ActionResponse><ActionResult>out</ActionResult><ResponseMetadata>.
func writeResult(w http.ResponseWriter, ns, action string, out any) {
	var b bytes.Buffer
	b.WriteString(xml.Header + "<" + action + `Response xmlns="` + ns + `">`)
	if out != nil {
		enc := xml.NewEncoder(&b)
		if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	b.WriteString("<ResponseMetadata><RequestId>" + randUUID() + "</RequestId></ResponseMetadata></" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", randUUID())
	w.Write(b.Bytes())
}

// writeError writes IAM's (or STS's) ErrorResponse.
func writeError(w http.ResponseWriter, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	ns := "https://iam.amazonaws.com/doc/2010-05-08/"
	if e.stsProtocol {
		ns = "https://sts.amazonaws.com/doc/2011-06-15/"
	}
	var out struct {
		XMLName   xml.Name
		Error     struct{ Type, Code, Message string }
		RequestID string `xml:"RequestId"`
	}
	out.XMLName = xml.Name{Space: ns, Local: "ErrorResponse"}
	out.Error.Type, out.Error.Code, out.Error.Message, out.RequestID = typ, e.code, e.msg, randUUID()
	b, _ := xml.Marshal(out)
	if e.list {
		var list struct {
			XMLName xml.Name `xml:"Response"`
			Errors  struct {
				Error struct{ Code, Message string }
			}
			RequestID string
		}
		list.Errors.Error.Code, list.Errors.Error.Message, list.RequestID = e.code, e.msg, out.RequestID
		b, _ = xml.Marshal(list)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", out.RequestID)
	w.WriteHeader(e.status)
	w.Write(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// randID is n characters of [A-Z0-9], the alphabet of IAM's IDs.
func randID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randUUID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
