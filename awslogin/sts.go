package awslogin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"rolegate/assertions"
	"rolegate/store"
)

// STSRegion picks the region for role's partition: the flag (which must be in that partition),
// else AWS_REGION or AWS_DEFAULT_REGION when in that partition, else the region of the sign-in
// endpoint the IdP addressed the Response to (the account's region, set by its admin), else the
// partition's default. A region of another partition in the environment is passed over: it belongs
// to other work.
func STSRegion(p store.Partition, flag, acs string, env func(string) string) (string, error) {
	if flag != "" {
		if err := store.ValidateRegion(p, flag); err != nil {
			return "", err
		}
		return flag, nil
	}
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if r := env(k); r != "" && store.KnownRegion(p, r) {
			return r, nil
		}
	}
	for _, r := range store.Regions[p] {
		if u, err := assertions.SignInURL(p, r); err == nil && u == acs {
			return r, nil
		}
	}
	if r := store.DefaultRegions[p]; r != "" { // where its STS is sure to be enabled
		return r, nil
	}
	return "", store.Errorf(store.Invalid, "unknown partition %q", p)
}

// STSEndpoint is the regional STS endpoint of partition p: --sts-endpoint, else AWS_ENDPOINT_URL_STS,
// else AWS_ENDPOINT_URL (the SDKs' own order, and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns the
// two off), else https://sts.REGION.amazonaws.com(.cn).
func STSEndpoint(p store.Partition, region, flag string, env func(string) string) (string, error) {
	candidates := []string{flag, env("AWS_ENDPOINT_URL_STS"), env("AWS_ENDPOINT_URL")}
	if strings.EqualFold(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		candidates = candidates[:1] // as the SDKs do: the environment's endpoints are off, the flag is not
	}
	for _, u := range candidates {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http") || pu.User != nil {
			return "", store.Errorf(store.Invalid, "STS endpoint %q is not an http(s) URL", u)
		}
		return u, nil
	}
	switch p {
	case store.PartitionAWS, store.PartitionGovCloud:
		return "https://sts." + region + ".amazonaws.com", nil
	case store.PartitionChina:
		return "https://sts." + region + ".amazonaws.com.cn", nil
	}
	return "", store.Errorf(store.Invalid, "unknown partition %q", p)
}

// Credentials are temporary AWS credentials from STS.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
	AssumedRoleARN                             string
}

// stsClient is an STS client for endpoint and region, from the SDK's own configuration loading so
// that the CA bundle a TLS-intercepting proxy needs is honoured as by every AWS tool: AWS_CA_BUNDLE,
// else ca_bundle in profile's section of the shared config file. Credentials stay anonymous. A
// client hc (tests) keeps the roots it holds: the SDK can put a bundle only into a client it built.
func stsClient(ctx context.Context, hc *http.Client, env func(string) string, profile, endpoint, region string) (*sts.Client, error) {
	if hc != nil {
		return sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: aws.AnonymousCredentials{}, HTTPClient: hc}), nil
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}), config.WithSharedConfigProfile(profile),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(time.Minute))}
	if f, err := ConfigFile(env); err == nil {
		opts = append(opts, config.WithSharedConfigFiles([]string{f}))
	}
	if f, err := CredentialsFile(env); err == nil {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f}))
	}
	if f := env("AWS_CA_BUNDLE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, store.Errorf(store.Invalid, "cannot read the CA bundle AWS_CA_BUNDLE names: %v", err)
		}
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(b)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) { // a profile login is about to write need not be in the config file
		opts[2] = config.WithSharedConfigProfile("")
		cfg, err = config.LoadDefaultConfig(ctx, opts...)
	}
	if err != nil {
		return nil, store.Errorf(store.Invalid, "cannot load the AWS configuration for STS (CA bundle from AWS_CA_BUNDLE or ca_bundle of profile %s): %v", profile, err)
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// AssumeRole calls STS AssumeRoleWithSAML, unsigned as AWS documents it, at endpoint, with the
// configuration of profile (its ca_bundle). duration 0 leaves DurationSeconds to STS (one hour).
func AssumeRole(ctx context.Context, hc *http.Client, env func(string) string, profile, endpoint, region string, role Role, resp *Response, duration time.Duration) (*Credentials, error) {
	client, err := stsClient(ctx, hc, env, profile, endpoint, region)
	if err != nil {
		return nil, err
	}
	in := &sts.AssumeRoleWithSAMLInput{
		RoleArn:       aws.String(role.RoleARN),
		PrincipalArn:  aws.String(role.ProviderARN),
		SAMLAssertion: aws.String(base64.StdEncoding.EncodeToString(resp.Raw)),
	}
	if duration > 0 {
		in.DurationSeconds = aws.Int32(int32(duration / time.Second))
	}
	out, err := client.AssumeRoleWithSAML(ctx, in)
	if err != nil {
		return nil, stsError(err, role, duration, endpoint)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return nil, store.Errorf(store.Internal, "STS at %s answered without credentials", endpoint)
	}
	cr := &Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken, Expiration: c.Expiration.UTC()}
	if out.AssumedRoleUser != nil && out.AssumedRoleUser.Arn != nil {
		cr.AssumedRoleARN = *out.AssumedRoleUser.Arn
	}
	return cr, nil
}

// stsError says what to fix for each refusal STS gives a SAML login, with the exit status of its kind.
func stsError(err error, role Role, duration time.Duration, endpoint string) error {
	var ae smithy.APIError
	var unknownCA x509.UnknownAuthorityError
	if errors.As(err, &unknownCA) {
		return store.Errorf(store.Internal, "cannot reach STS at %s: its certificate is not from a CA this computer trusts; behind a TLS-intercepting proxy, set AWS_CA_BUNDLE (or ca_bundle in the profile's section of ~/.aws/config) to the proxy's CA certificate: %v", endpoint, err)
	}
	if !errors.As(err, &ae) {
		return store.Errorf(store.Internal, "cannot reach STS at %s: %v", endpoint, err)
	}
	said := " (STS says: " + printable(ae.ErrorCode()) + ": " + printable(ae.ErrorMessage()) + ")"
	provider := role.ProviderARN[strings.LastIndex(role.ProviderARN, "/")+1:]
	switch ae.ErrorCode() {
	case "IDPRejectedClaim":
		return store.Errorf(store.Unauthorized, "AWS rejected the sign-in claim from Rolegate: ask an admin to check that IAM identity provider %s in account %s holds Rolegate's current metadata (from /saml/metadata)%s",
			provider, role.Account, said)
	case "InvalidIdentityToken":
		return store.Errorf(store.Unauthorized, "AWS could not validate the SAML Response: the IAM identity provider %s in account %s may hold stale metadata after a key rotation; ask an admin to upload Rolegate's current metadata (from /saml/metadata) to it%s",
			provider, role.Account, said)
	case "ExpiredTokenException", "ExpiredToken":
		return store.Errorf(store.Unauthorized, "the SAML Response expired before it reached STS: check this computer's clock, then run rolegate login again%s", said)
	case "AccessDenied":
		return store.Errorf(store.Forbidden, "AWS refused role %s: its trust policy does not trust the provider %s for sts:AssumeRoleWithSAML (or a condition in it failed); ask an admin to fix the role's trust policy%s",
			role.RoleARN, role.ProviderARN, said)
	case "RegionDisabledException":
		return store.Errorf(store.Forbidden, "STS is not enabled in this region for account %s: pass --region with a region the account has enabled%s", role.Account, said)
	case "ValidationError":
		if strings.Contains(strings.ToLower(ae.ErrorMessage()), "duration") {
			return store.Errorf(store.Invalid, "the session length %s is more than role %s allows: pass a shorter --duration, or ask an admin to raise the role's maximum session duration in IAM%s",
				duration, role.Name, said)
		}
		return store.Errorf(store.Invalid, "STS refused the request as invalid%s", said)
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return store.Errorf(store.Internal, "STS failed; try again later%s", said)
	}
	return store.Errorf(store.Invalid, "STS refused the request%s", said)
}
