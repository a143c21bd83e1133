package iamtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// partitions are the regions IAM's endpoints are signed for, one per partition; STS takes any region.
var partitions = map[string]string{"us-east-1": "aws", "us-gov-west-1": "aws-us-gov", "cn-north-1": "aws-cn"}

// maxSkew is how far X-Amz-Date may be from the stand-in's clock, as AWS allows.
const maxSkew = 15 * time.Minute

const badSignature = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// authenticate verifies the request's SigV4 Authorization header and returns the account of
// its access key and the region it was signed for.
func (s *IAM) authenticate(r *http.Request, body []byte, service string) (acct, region string, _ *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", "", errorf(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	alg, rest, _ := strings.Cut(auth, " ")
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if ok {
			fields[k] = v
		}
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	scope := strings.Split(cred, "/")
	if alg != "AWS4-HMAC-SHA256" || len(scope) != 5 || signed == "" || sig == "" {
		return "", "", errorf(400, "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters with AWS4-HMAC-SHA256. Authorization="+auth)
	}
	akid, date, svc, term := scope[0], scope[1], scope[3], scope[4]
	region = scope[2]
	s.mu.Lock()
	k, known := s.keys[akid]
	now := s.now()
	s.mu.Unlock()
	if !known {
		return "", "", errorf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if k.token != "" && r.Header.Get("X-Amz-Security-Token") != k.token {
		return "", "", errorf(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if svc != service || term != "aws4_request" {
		return "", "", errorf(403, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '"+service+"'. ")
	}
	if _, ok := partitions[region]; service == "iam" && !ok {
		return "", "", errorf(403, "SignatureDoesNotMatch", "Credential should be scoped to a valid region. ")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, date) {
		return "", "", errorf(400, "IncompleteSignature", "X-Amz-Date must be a basic ISO 8601 time of the credential scope's date")
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return "", "", errorf(403, "SignatureDoesNotMatch", "Signature expired: "+amzDate+" is now earlier or later than "+now.UTC().Format("20060102T150405Z")+" by more than 15 min.")
	}
	headers := strings.Split(signed, ";")
	if !slices.Contains(headers, "host") || !slices.IsSorted(headers) {
		return "", "", errorf(403, "SignatureDoesNotMatch", badSignature)
	}
	payload := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(payload[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return "", "", errorf(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon.WriteString(path + "\n")
	canon.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range headers {
		canon.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	canon.WriteString("\n" + signed + "\n" + payloadHash)
	creq := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(creq[:])
	key := []byte("AWS4" + k.secret)
	for _, part := range []string{date, region, svc, term} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return "", "", errorf(403, "SignatureDoesNotMatch", badSignature)
	}
	return k.account, region, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// headerValue is a header's canonical value: its values trimmed, inner runs of spaces made one,
// joined by commas. Go keeps Host and Content-Length apart from the header map.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		return strconv.FormatInt(r.ContentLength, 10)
	}
	var vals []string
	for _, v := range r.Header.Values(name) {
		vals = append(vals, strings.Join(strings.Fields(v), " "))
	}
	return strings.Join(vals, ",")
}

// canonicalQuery sorts the query by name, then value, each RFC 3986-encoded.
func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

func uriEncode(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), "%7E", "~")
}
