// Package awsadmin is Rolegate's side of the exchange with IAM in the accounts it serves: it
// registers the metadata, reads back what IAM trusts, and writes revocation policies, with the
// admin's AWS credentials. It is a client of AWS; the idp package never imports it.
package awsadmin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"rolegate/store"
)

// Options are a run's choices that override an account's settings.
type Options struct {
	// Profile is the shared-config profile to use; empty means the account's AdminProfile, then
	// the default chain.
	Profile string
	// EndpointURL sends IAM (and STS, for an assumed admin role) calls to an emulator.
	EndpointURL string
	// HTTPClient, when set, carries every call (tests with a TLS stand-in).
	HTTPClient *http.Client
}

// IAM returns an IAM client for the account: the credentials of opts.Profile or the account's
// AdminProfile (else the default chain), then the account's AdminRoleARN assumed with them when set.
func IAM(ctx context.Context, acct *store.Account, opts Options) (*iam.Client, error) {
	cfg, err := Config(ctx, acct, opts)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg, func(o *iam.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
	}), nil
}

// Config loads the AWS configuration for work in the account (see IAM).
func Config(ctx context.Context, acct *store.Account, opts Options) (aws.Config, error) {
	// IAM's global endpoint is signed for the partition's default region.
	load := []func(*config.LoadOptions) error{config.WithRegion(store.DefaultRegions[acct.Partition])}
	profile := opts.Profile
	if profile == "" {
		profile = acct.AWS.AdminProfile
	}
	if profile != "" {
		load = append(load, config.WithSharedConfigProfile(profile))
	}
	if opts.HTTPClient != nil {
		load = append(load, config.WithHTTPClient(opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("account %s: AWS configuration: %w", acct.Alias, err)
	}
	// Credentials are resolved now (they are cached), so that missing or refused ones are said
	// once, in words, rather than inside the error of the first IAM call.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if profile != "" {
			return aws.Config{}, fmt.Errorf("account %s: profile %s gives no AWS credentials: %w", acct.Alias, profile, err)
		}
		return aws.Config{}, fmt.Errorf("account %s: no AWS credentials: none in the environment, the shared credentials and config files, SSO or an instance role; set rolegate account set %s --aws-profile P, or pass --profile P",
			acct.Alias, acct.Alias)
	}
	if acct.AWS.AdminRoleARN != "" {
		client := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if opts.EndpointURL != "" {
				o.BaseEndpoint = aws.String(opts.EndpointURL)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(client, acct.AWS.AdminRoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "rolegate-admin" }))
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return aws.Config{}, fmt.Errorf("account %s: assuming the admin role %s: %w", acct.Alias, acct.AWS.AdminRoleARN, err)
		}
	}
	return cfg, nil
}
