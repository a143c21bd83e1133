package fuzzcheck

import "testing"

func TestAuthorityIsTheHostAsWrittenAndHasSchemeIgnoresCase(t *testing.T) {
	for _, tc := range []struct{ url, authority string }{
		{"https://Console.AWS.amazon.com/s3?x#y", "console.aws.amazon.com"},
		{"HTTPS://signin.aws.amazon.com:443", "signin.aws.amazon.com:443"},
		{"http://user@127.0.0.1:80?q", "user@127.0.0.1:80"},
		{"no scheme at all", ""},
	} {
		if got := Authority(tc.url); got != tc.authority {
			t.Errorf("Authority(%q) = %q, want %q", tc.url, got, tc.authority)
		}
	}
	for _, tc := range []struct {
		url, scheme string
		want        bool
	}{
		{"HTTPS://x", "https", true}, {"https://x", "https", true}, {"http://x", "https", false}, {"https:/x", "https", false}, {"http", "http", false},
	} {
		if got := HasScheme(tc.url, tc.scheme); got != tc.want {
			t.Errorf("HasScheme(%q, %q) = %v", tc.url, tc.scheme, got)
		}
	}
}
