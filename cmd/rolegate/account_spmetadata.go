package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"rolegate/awsadmin"
	"rolegate/store"
)

// spMetadataUsage describes --sp-metadata of account set.
const spMetadataUsage = "AWS's SP metadata for the account, a file (- for standard input) or an https URL of AWS's sign-in " +
	"(https://[REGION.]signin.aws.amazon.com/static/saml-metadata.xml, or .../static/saml/IDP_ID/saml-metadata.xml): " +
	"checked against what Rolegate sends the account; a provider's document records its IdP ID"

// awsSPMetadata is --sp-metadata of account set: the document, read before the store is changed, and
// the verdict on it once held against the account as the rest of the command leaves it.
type awsSPMetadata struct {
	source string
	md     *awsadmin.SPMetadata
	check  *awsadmin.SPCheck
}

// loadSPMetadata reads the document: fetched from AWS (only from the sign-in hosts of the
// account's partition), or from a file or standard input, bounded alike.
func (a *app) loadSPMetadata(ctx context.Context, st store.Store, account, source string) (*awsSPMetadata, error) {
	acct, err := st.GetAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	var raw []byte
	switch {
	case strings.Contains(source, "://"):
		raw, err = awsadmin.FetchSPMetadata(ctx, acct.Partition, source, nil)
	case source == "-":
		raw, err = readBounded(a.stdin, "standard input")
	case source == "":
		return nil, store.Errorf(store.Invalid, "--sp-metadata needs a file or an https URL of AWS's sign-in")
	default:
		var f *os.File
		if f, err = os.Open(source); err != nil {
			return nil, store.Errorf(store.Invalid, "--sp-metadata: %v", err)
		}
		defer f.Close()
		raw, err = readBounded(f, source)
	}
	if err != nil {
		return nil, err
	}
	md, err := awsadmin.ReadSPMetadata(raw)
	if err != nil {
		return nil, err
	}
	return &awsSPMetadata{source: source, md: md}, nil
}

func readBounded(r io.Reader, name string) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, awsadmin.MaxSPMetadataBytes+1))
	if err != nil {
		return nil, store.Errorf(store.Invalid, "--sp-metadata: reading %s: %v", name, err)
	}
	if len(raw) > awsadmin.MaxSPMetadataBytes {
		return nil, store.Errorf(store.Invalid, "--sp-metadata: %s is larger than %d bytes; AWS's SP metadata is a few kilobytes", name, awsadmin.MaxSPMetadataBytes)
	}
	return raw, nil
}

// apply holds the document against ac; when it fits, a provider's IdP ID is recorded in ac.
// A mismatch is an error, so that nothing of the command is written.
func (s *awsSPMetadata) apply(ac *store.Account) error {
	s.check = awsadmin.CheckSPMetadata(ac, s.md)
	if n := len(s.check.Problems); n > 0 {
		return store.Errorf(store.Invalid, "the SP metadata %s does not fit account %s (%d mismatch(es) above); nothing was changed", s.source, ac.Alias, n)
	}
	if s.check.IdPID != "" {
		ac.AWS.IdPID = s.check.IdPID
	}
	return nil
}

// report tells the verdict: each mismatch on a line of its own on stderr; on success the notes
// there too, and what was found on stdout.
func (s *awsSPMetadata) report(a *app, ok bool) {
	if s == nil || s.check == nil {
		return
	}
	for _, p := range s.check.Problems {
		fmt.Fprintln(a.stderr, "rolegate: sp-metadata: "+p)
	}
	if !ok {
		return
	}
	for _, n := range s.check.Notes {
		fmt.Fprintln(a.stderr, "rolegate: note: "+n)
	}
	fmt.Fprintf(a.stdout, "SP metadata fits: entity ID %s, ACS %s\n", s.md.EntityID, strings.Join(s.md.ACS, " "))
	if s.check.IdPID != "" {
		fmt.Fprintf(a.stdout, "recorded IdP ID %s\n", s.check.IdPID)
	}
}
