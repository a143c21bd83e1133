// Package e2e holds Rolegate's real-browser end-to-end tests. They drive Debian's Chromium
// (/usr/bin/chromium) over the DevTools protocol with chromedp: sign in, open the portal, take a role,
// and follow the auto-POST page to a local TLS server that stands in for AWS's sign-in endpoint
// (Chromium maps signin.aws.amazon.com to it with --host-resolver-rules), so the page, its CSP and its
// form are exactly what a user gets. The package has no code of its own; everything is in _test files.
//
// The portal test (portal_test.go) runs with 200 accounts at 1280, 390 and 320 px, by keyboard, and
// injects axe-core 4.14.1, vendored with its licence in testdata/axe-core (no network at test
// time), failing on any violation it reports.
//
// The first-hour test (firsthour_test.go) is the README's opening with real processes, on a fresh
// git clone of HEAD: the run command read from README.md, sign-in at the URL it prints, the demo
// checker's verdict, the build command, documented exit statuses, SIGTERM and a clean clone.
//
// The MFA tests set up an authenticator app by reading its secret off the page, and a security key
// from Chrome's DevTools virtual authenticator (the WebAuthn domain). Rolegate's base URL is
// therefore http://localhost:PORT: a WebAuthn RP ID cannot be an IP address, and Chromium counts
// http://localhost as a secure context.
//
// Without /usr/bin/chromium the tests fail under CI=true and skip loudly elsewhere. They never
// download a browser. Screenshots go to $ROLEGATE_SCREENSHOT_DIR, or by default to
// rolegate-e2e-screenshots in the system's temporary directory: a test run never rewrites tracked
// files. The README's pictures are refreshed with
// ROLEGATE_SCREENSHOT_DIR=$PWD/test-artifacts/screenshots go test ./e2e/.
package e2e
