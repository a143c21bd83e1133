package awslogin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"rolegate/store"
)

// Console sign-in from temporary credentials: the custom identity broker's flow. The partition's
// federation endpoint trades the credentials for a sign-in token (Action=getSigninToken), and a
// URL with that token (Action=login) opens the console. saml2aws hard-codes the commercial
// endpoint; here it follows the role's partition.
var (
	federationURL = map[store.Partition]string{
		store.PartitionAWS:      "https://signin.aws.amazon.com/federation",
		store.PartitionGovCloud: "https://signin.amazonaws-us-gov.com/federation",
		store.PartitionChina:    "https://signin.amazonaws.cn/federation",
	}
	consoleURL = map[store.Partition]string{
		store.PartitionAWS:      "https://console.aws.amazon.com/",
		store.PartitionGovCloud: "https://console.amazonaws-us-gov.com/",
		store.PartitionChina:    "https://console.amazonaws.cn/",
	}
)

// ConsoleLogin returns a console sign-in URL for creds of a role in partition p. issuer is the
// page the console sends the person to when the session ends (the IdP); federation overrides the
// partition's endpoint ("" for none).
func ConsoleLogin(ctx context.Context, hc *http.Client, p store.Partition, creds *Credentials, issuer, federation string) (string, error) {
	endpoint := federation
	if endpoint == "" {
		endpoint = federationURL[p]
	}
	if u, err := url.Parse(endpoint); endpoint == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return "", store.Errorf(store.Invalid, "the federation endpoint %q is not an https URL", endpoint)
	}
	sess, err := json.Marshal(map[string]string{"sessionId": creds.AccessKeyID, "sessionKey": creds.SecretAccessKey, "sessionToken": creds.SessionToken})
	if err != nil {
		return "", err
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(sess)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	res, err := httpClient(hc).Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err // its URL holds the keys in the query
	}
	if err != nil {
		return "", store.Errorf(store.Internal, "cannot reach the AWS federation endpoint %s: %v", endpoint, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return "", store.Errorf(store.Internal, "reading the federation endpoint's answer: %v", err)
	}
	var out struct{ SigninToken string }
	switch {
	case res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusForbidden:
		return "", store.Errorf(store.Forbidden, "AWS refused the credentials for a console sign-in (HTTP %d): they may have expired; run rolegate credential-process or login again", res.StatusCode)
	case res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.SigninToken == "":
		return "", store.Errorf(store.Internal, "the federation endpoint %s answered HTTP %d without a sign-in token", endpoint, res.StatusCode)
	}
	login := url.Values{"Action": {"login"}, "Issuer": {issuer}, "Destination": {consoleURL[p]}, "SigninToken": {out.SigninToken}}
	return strings.TrimSuffix(endpoint, "?") + "?" + login.Encode(), nil
}
