// Package logintest holds stand-ins for the two servers `rolegate login` talks to, for tests: STS
// (AssumeRoleWithSAML over the Query API, answering XML as AWS does, errors included, after checking
// the Response as AWS would) and a minimal ECP responder that issues Responses built and signed by
// the assertions package.
package logintest

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/store"
)

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

// STS is an STS stand-in. It trusts the IdP whose metadata it was given, as an IAM SAML provider
// holding that metadata would.
type STS struct {
	*httptest.Server
	EntityID string
	Certs    []*x509.Certificate
	Now      func() time.Time

	// Trust maps a role ARN to the provider ARN its trust policy trusts; a role not in it trusts
	// the provider it is paired with. MaxDuration is a role's MaxSessionDuration (default 1 h, as IAM).
	Trust       map[string]string
	MaxDuration map[string]time.Duration
	// Refuse, when set, answers a request with an error code of its choosing before any check.
	Refuse func(roleARN string) (code, message string)

	mu     sync.Mutex
	issued []Issued
}

// Issued is one set of credentials the stand-in gave out.
type Issued struct {
	RoleARN, PrincipalARN, AccessKeyID, SecretAccessKey, SessionToken, SessionName string
	Duration                                                                       time.Duration
	Expiration                                                                     time.Time
}

// NewSTS starts an STS stand-in that trusts the IdP described by metadata.
func NewSTS(t testing.TB, metadata []byte) *STS {
	t.Helper()
	entityID, certs, err := assertions.ReadMetadata(metadata)
	if err != nil {
		t.Fatal(err)
	}
	s := &STS{EntityID: entityID, Certs: certs, Now: func() time.Time { return time.Now().UTC() },
		Trust: map[string]string{}, MaxDuration: map[string]time.Duration{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Issued lists the credentials given out so far.
func (s *STS) Issued() []Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Issued(nil), s.issued...)
}

type stsError struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	NS        string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

type stsResult struct {
	XMLName xml.Name `xml:"AssumeRoleWithSAMLResponse"`
	NS      string   `xml:"xmlns,attr"`
	Result  struct {
		Issuer        string `xml:"Issuer"`
		Audience      string `xml:"Audience"`
		AccessKeyID   string `xml:"Credentials>AccessKeyId"`
		Secret        string `xml:"Credentials>SecretAccessKey"`
		Token         string `xml:"Credentials>SessionToken"`
		Expiration    string `xml:"Credentials>Expiration"`
		AssumedRoleID string `xml:"AssumedRoleUser>AssumedRoleId"`
		AssumedARN    string `xml:"AssumedRoleUser>Arn"`
		Subject       string `xml:"Subject"`
		SubjectType   string `xml:"SubjectType"`
		NameQualifier string `xml:"NameQualifier"`
		Source        string `xml:"SourceIdentity,omitempty"`
		PackedPolicy  int    `xml:"PackedPolicySize"`
	} `xml:"AssumeRoleWithSAMLResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	reqID := randHex(16)
	fail := func(status int, code, msg string) {
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Amzn-RequestId", reqID)
		w.WriteHeader(status)
		xml.NewEncoder(w).Encode(stsError{NS: stsNS, Type: typ, Code: code, Message: msg, RequestID: reqID})
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		fail(400, "InvalidAction", "Could not find operation for this request")
		return
	}
	if r.PostForm.Get("Action") != "AssumeRoleWithSAML" || r.PostForm.Get("Version") != "2011-06-15" {
		fail(400, "InvalidAction", "Could not find operation "+r.PostForm.Get("Action")+" for version "+r.PostForm.Get("Version"))
		return
	}
	if r.Header.Get("Authorization") != "" {
		fail(400, "InvalidClientTokenId", "AssumeRoleWithSAML is unsigned; a signature names credentials STS does not expect here")
		return
	}
	roleARN, principal, assertion := r.PostForm.Get("RoleArn"), r.PostForm.Get("PrincipalArn"), r.PostForm.Get("SAMLAssertion")
	for name, v := range map[string]string{"roleArn": roleARN, "principalArn": principal} {
		if len(v) < 20 || len(v) > 2048 {
			fail(400, "ValidationError", fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length between 20 and 2048", name))
			return
		}
	}
	if len(assertion) < 4 || len(assertion) > assertions.MaxSAMLResponseLen {
		fail(400, "ValidationError", "1 validation error detected: Value at 'SAMLAssertion' failed to satisfy constraint: Member must have length less than or equal to 100000")
		return
	}
	duration := time.Hour
	if ds := r.PostForm.Get("DurationSeconds"); ds != "" {
		n, err := strconv.Atoi(ds)
		if err != nil || n < 900 || n > 43200 {
			fail(400, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
			return
		}
		duration = time.Duration(n) * time.Second
	}
	if s.Refuse != nil {
		if code, msg := s.Refuse(roleARN); code != "" {
			status := 400
			if code == "IDPRejectedClaim" || code == "AccessDenied" || code == "RegionDisabledException" {
				status = 403
			}
			fail(status, code, msg)
			return
		}
	}
	raw, err := base64.StdEncoding.DecodeString(assertion)
	if err != nil {
		fail(400, "InvalidIdentityToken", "Invalid base64 SAMLResponse")
		return
	}
	now := s.Now()
	dest := responseDestination(raw)
	acs, ok := signInEndpoint(store.Partition(strings.Split(roleARN+":", ":")[1]), dest)
	if !ok { // STS of one partition takes the sign-in endpoints of that partition only
		fail(400, "InvalidIdentityToken", "Invalid SAML Response Destination "+dest)
		return
	}
	v := assertions.InspectAWS(raw, assertions.Expect{EntityID: s.EntityID, ACS: acs, Certs: s.Certs, Now: now})
	if !v.Accepted {
		for _, p := range v.Problems {
			if strings.Contains(p, "expired") {
				fail(400, "ExpiredTokenException", "Token has expired: "+p)
				return
			}
		}
		fail(400, "InvalidIdentityToken", v.Problems[0])
		return
	}
	var pair *assertions.RolePair
	for i, rp := range v.Roles {
		if rp.RoleARN == roleARN && rp.ProviderARN == principal {
			pair = &v.Roles[i]
		}
	}
	if pair == nil {
		fail(400, "InvalidIdentityToken", "SAML Assertion doesn't contain the requested Role and Metadata in the attributes")
		return
	}
	if trusted, ok := s.Trust[roleARN]; ok && trusted != principal {
		fail(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
		return
	}
	limit, ok := s.MaxDuration[roleARN]
	if !ok {
		limit = time.Hour
	}
	if duration > limit {
		fail(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		return
	}
	f := strings.SplitN(roleARN, ":", 6) // arn:PARTITION:iam::ACCOUNT:role/PATH/NAME
	account, roleName := f[4], f[5][strings.LastIndex(f[5], "/")+1:]
	provider := principal[strings.LastIndex(principal, "/")+1:]
	iss := Issued{RoleARN: roleARN, PrincipalARN: principal, AccessKeyID: "ASIA" + strings.ToUpper(randHex(8)),
		SecretAccessKey: randHex(20), SessionToken: "FwoGZX" + randHex(60), SessionName: v.SessionName,
		Duration: duration, Expiration: now.Add(duration).Truncate(time.Second)}
	var out stsResult
	out.NS, out.RequestID = stsNS, reqID
	res := &out.Result
	res.Issuer, res.Audience = v.Issuer, acs
	res.AccessKeyID, res.Secret, res.Token = iss.AccessKeyID, iss.SecretAccessKey, iss.SessionToken
	res.Expiration = iss.Expiration.Format(time.RFC3339)
	res.AssumedRoleID = "AROA" + strings.ToUpper(randHex(8)) + ":" + v.SessionName
	res.AssumedARN = "arn:" + f[1] + ":sts::" + account + ":assumed-role/" + roleName + "/" + v.SessionName
	res.Subject, res.SubjectType = v.NameID, "persistent"
	sum := sha1.Sum([]byte(v.Issuer + account + "/" + provider))
	res.NameQualifier = base64.StdEncoding.EncodeToString(sum[:])
	res.Source = v.SourceIdentity
	s.mu.Lock()
	s.issued = append(s.issued, iss)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", reqID)
	xml.NewEncoder(w).Encode(out)
}

// responseDestination is the Response's Destination, unchecked: InspectAWS checks it after.
func responseDestination(raw []byte) string {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(raw) != nil || doc.Root() == nil {
		return ""
	}
	return doc.Root().SelectAttrValue("Destination", "")
}

// signInEndpoint accepts dest when it is a sign-in endpoint of partition p, regional or not: those
// are the ACS URLs AWS posts to STS from.
func signInEndpoint(p store.Partition, dest string) (string, bool) {
	for _, region := range append([]string{""}, store.Regions[p]...) {
		if acs, err := assertions.SignInURL(p, region); err == nil && acs == dest {
			return acs, true
		}
	}
	return "", false
}
