// Package sptest signs users in through Rolegate's /saml/sso at two independent SAML SPs that are
// neither Go nor Rolegate's, as Debian packages them: the Shibboleth SP 3 (C++, mod_shib in Apache
// and shibd; Debian libapache2-mod-shib) and SimpleSAMLphp 1.19 (PHP, in Apache with mod_php;
// Debian simplesamlphp). Each test builds and starts the rolegate binary, generates the SP's whole
// configuration in a temporary folder (Apache on a free port with TLS, the SP's key and
// certificate, Rolegate's metadata as fetched from /saml/metadata), registers the SP with
// `rolegate sp add`, and drives the bindings with an HTTP client that keeps cookies and submits
// the auto-POST forms as a browser does. The SP's own protected page then prints what the SP
// decoded: the NameID and its format, uid, mail, displayName and isMemberOf.
//
// Variants: unsigned and signed AuthnRequests (the SP registered with --require-signed-requests),
// assertions in clear and encrypted (the SP's metadata with an encryption key), every NameID
// format the SP asks for; and refusals: a Response posted to the SP again, or changed by one
// character, is refused by the SP.
//
// Without apache2, shibd or simplesamlphp the tests skip loudly, and fail under CI=true
// (internal/testtools decides). The package has no code of its own; everything is in _test files.
package sptest
