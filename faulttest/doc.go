// Package faulttest holds Rolegate's fault tests: each starts real processes (the rolegate binary,
// built once per run, and a throwaway PostgreSQL that the test stops and starts again) and breaks
// something under load: a replica killed with SIGKILL, PostgreSQL restarted, a SIGTERM while
// sign-ins are in flight, a full or read-only disk under the embedded store. A load client counts
// every SAML Response it received and every failure with its status and page, and the tests match
// each Response against the audit log. The package has no code of its own; everything is in _test
// files.
//
// Without PostgreSQL's server binaries, or where mount(2) is not permitted (the disk tests use a
// tiny tmpfs and a read-only bind mount), the tests that need them skip loudly, and fail under
// CI=true (internal/testtools decides).
package faulttest
