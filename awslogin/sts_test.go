package awslogin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rolegate/awslogin"
	"rolegate/store"
)

func TestSTSEndpointPerPartition(t *testing.T) {
	cases := []struct {
		name      string
		partition store.Partition
		flag      string
		acs       string
		stsFlag   string
		env       map[string]string
		region    string
		endpoint  string
		code      store.Code
	}{
		{name: "aws defaults to us-east-1's regional endpoint", partition: "aws", region: "us-east-1", endpoint: "https://sts.us-east-1.amazonaws.com"},
		{name: "GovCloud defaults to us-gov-west-1", partition: "aws-us-gov", region: "us-gov-west-1", endpoint: "https://sts.us-gov-west-1.amazonaws.com"},
		{name: "China defaults to cn-north-1 under amazonaws.com.cn", partition: "aws-cn", region: "cn-north-1", endpoint: "https://sts.cn-north-1.amazonaws.com.cn"},
		{name: "China's other region", partition: "aws-cn", flag: "cn-northwest-1", region: "cn-northwest-1", endpoint: "https://sts.cn-northwest-1.amazonaws.com.cn"},
		{name: "--region picks the regional endpoint", partition: "aws", flag: "eu-west-1", region: "eu-west-1", endpoint: "https://sts.eu-west-1.amazonaws.com"},
		{name: "AWS_REGION of the partition is used", partition: "aws", env: map[string]string{"AWS_REGION": "ap-south-1"}, region: "ap-south-1", endpoint: "https://sts.ap-south-1.amazonaws.com"},
		{name: "AWS_DEFAULT_REGION is used after AWS_REGION", partition: "aws-us-gov", env: map[string]string{"AWS_DEFAULT_REGION": "us-gov-east-1"}, region: "us-gov-east-1", endpoint: "https://sts.us-gov-east-1.amazonaws.com"},
		{name: "AWS_REGION of another partition is passed over", partition: "aws-cn", env: map[string]string{"AWS_REGION": "eu-west-1"}, region: "cn-north-1", endpoint: "https://sts.cn-north-1.amazonaws.com.cn"},
		{name: "the account's regional sign-in endpoint picks the region", partition: "aws", acs: "https://eu-central-1.signin.aws.amazon.com/saml", region: "eu-central-1", endpoint: "https://sts.eu-central-1.amazonaws.com"},
		{name: "the account's GovCloud sign-in endpoint picks the region", partition: "aws-us-gov", acs: "https://us-gov-east-1.signin.amazonaws-us-gov.com/saml", region: "us-gov-east-1", endpoint: "https://sts.us-gov-east-1.amazonaws.com"},
		{name: "AWS_REGION beats the account's region", partition: "aws", acs: "https://eu-central-1.signin.aws.amazon.com/saml", env: map[string]string{"AWS_REGION": "us-west-2"}, region: "us-west-2", endpoint: "https://sts.us-west-2.amazonaws.com"},
		{name: "a sign-in endpoint of another partition picks nothing", partition: "aws-cn", acs: "https://eu-central-1.signin.aws.amazon.com/saml", region: "cn-north-1", endpoint: "https://sts.cn-north-1.amazonaws.com.cn"},
		{name: "the partition's default sign-in endpoint picks the default region", partition: "aws", acs: "https://signin.aws.amazon.com/saml", region: "us-east-1", endpoint: "https://sts.us-east-1.amazonaws.com"},
		{name: "--region of another partition is refused", partition: "aws-us-gov", flag: "us-east-1", code: store.Invalid},
		{name: "an unknown --region is refused", partition: "aws", flag: "xx-nowhere-9", code: store.Invalid},
		{name: "AWS_ENDPOINT_URL_STS overrides the endpoint", partition: "aws", env: map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:18501", "AWS_ENDPOINT_URL": "http://127.0.0.1:18502"}, region: "us-east-1", endpoint: "http://127.0.0.1:18501"},
		{name: "AWS_ENDPOINT_URL applies when no STS one is set", partition: "aws", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:18502"}, region: "us-east-1", endpoint: "http://127.0.0.1:18502"},
		{name: "--sts-endpoint overrides the environment", partition: "aws-cn", stsFlag: "https://sts.internal.example", env: map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:18501"}, region: "cn-north-1", endpoint: "https://sts.internal.example"},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns the environment's endpoints off", partition: "aws",
			env: map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:18501", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, region: "us-east-1", endpoint: "https://sts.us-east-1.amazonaws.com"},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS leaves the flag", partition: "aws", stsFlag: "http://127.0.0.1:18503",
			env: map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, region: "us-east-1", endpoint: "http://127.0.0.1:18503"},
		{name: "an endpoint that is no URL is refused", partition: "aws", stsFlag: "sts.example.com", code: store.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := func(k string) string { return c.env[k] }
			region, err := awslogin.STSRegion(c.partition, c.flag, c.acs, env)
			var endpoint string
			if err == nil {
				endpoint, err = awslogin.STSEndpoint(c.partition, region, c.stsFlag, env)
			}
			if c.code != "" {
				wantErr(t, err, c.code)
				return
			}
			if err != nil || region != c.region || endpoint != c.endpoint {
				t.Fatalf("got %q %q %v; want %q %q", region, endpoint, err, c.region, c.endpoint)
			}
		})
	}
}

// STS's error code, like its message, reaches the terminal without control characters (C1 ones:
// XML carries no C0 but U+009B, CSI, is allowed): an endpoint from AWS_ENDPOINT_URL need not be AWS.
func TestSTSErrorCodeIsShownWithoutControlCharacters(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
			`<Code>Bad&#x9b;2J&#x85;</Code><Message>no&#x9b;31m</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
	}))
	defer srv.Close()
	role := awslogin.Role{Partition: store.PartitionAWS, Account: "111122223333", Name: "admin",
		RoleARN: "arn:aws:iam::111122223333:role/admin", ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"}
	_, err := awslogin.AssumeRole(context.Background(), srv.Client(), func(string) string { return "" }, "default", srv.URL, "us-east-1", role,
		&awslogin.Response{Raw: []byte("<Response/>")}, time.Hour)
	if err == nil || strings.ContainsAny(err.Error(), "\u009b\u0085") || !strings.Contains(err.Error(), "Bad") {
		t.Fatalf("error %q", err)
	}
}
