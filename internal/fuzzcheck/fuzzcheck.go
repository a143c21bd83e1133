// Package fuzzcheck reads URLs as written, for the properties of fuzz targets: what any reader of
// the URL (a browser, AWS, net/url) takes for its scheme and host, before anyone decodes it.
package fuzzcheck

import "strings"

// HasScheme reports whether u starts with scheme "://", in any case: URL schemes are
// case-insensitive (RFC 3986 §3.1).
func HasScheme(u, scheme string) bool {
	p := scheme + "://"
	return len(u) >= len(p) && strings.EqualFold(u[:len(p)], p)
}

// Authority is the host[:port] (and any user info) of an absolute URL as written, in lower case:
// everything between "://" and the first "/", "?" or "#".
func Authority(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(rest)
}
