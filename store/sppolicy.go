package store

import (
	"slices"
	"strings"
)

// The user attributes an SP can be given (rolegate sp set --release); assertions maps each to its
// SAML name.
const (
	ReleaseEmail    = "email"    // mail
	ReleaseName     = "name"     // displayName
	ReleaseUsername = "username" // uid
	ReleaseGroups   = "groups"   // isMemberOf
)

// ReleaseAttrs lists every releasable attribute, in the order they are stored and sent.
var ReleaseAttrs = []string{ReleaseEmail, ReleaseName, ReleaseUsername, ReleaseGroups}

// The NameID formats an SP can be fixed to (rolegate sp set --nameid-format), as the CLI names
// them; assertions maps each to its SAML URI.
const (
	NameIDPersistent = "persistent"
	NameIDTransient  = "transient"
	NameIDEmail      = "emailAddress"
	// NameIDUnspecified, typed, fixes no format: the SP's requests choose.
	NameIDUnspecified = "unspecified"
)

// NameIDFormats are the formats an SP can be fixed to.
var NameIDFormats = []string{NameIDPersistent, NameIDTransient, NameIDEmail}

// ParseNameIDFormat reads a format as typed (any case): one of NameIDFormats, or "" for
// unspecified.
func ParseNameIDFormat(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, NameIDUnspecified) {
		return "", nil
	}
	for _, f := range NameIDFormats {
		if strings.EqualFold(s, f) {
			return f, nil
		}
	}
	return "", Errorf(Invalid, "unknown NameID format %q: use %s or %s", boundedName(s), strings.Join(NameIDFormats, ", "), NameIDUnspecified)
}

// CheckNameIDFormat accepts "" or one of NameIDFormats, as stored.
func CheckNameIDFormat(f string) error {
	if f != "" && !slices.Contains(NameIDFormats, f) {
		return Errorf(Invalid, "unknown NameID format %q: use %s, or none", boundedName(f), strings.Join(NameIDFormats, ", "))
	}
	return nil
}

// ParseRelease reads a release list as typed: comma-separated keys, any case, spaces allowed;
// "" or "none" is the empty list.
func ParseRelease(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return []string{}, nil
	}
	var out []string
	for _, k := range strings.Split(s, ",") {
		out = append(out, strings.ToLower(strings.TrimSpace(k)))
	}
	return NormalizeRelease(out)
}

// NormalizeRelease checks every key and returns them in ReleaseAttrs order without repeats.
func NormalizeRelease(keys []string) ([]string, error) {
	for _, k := range keys {
		if !slices.Contains(ReleaseAttrs, k) {
			return nil, Errorf(Invalid, "unknown attribute %q to release: use %s (comma-separated), or none",
				boundedName(k), strings.Join(ReleaseAttrs, ", "))
		}
	}
	out := []string{}
	for _, k := range ReleaseAttrs {
		if slices.Contains(keys, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// boundedName keeps an unknown name short enough to echo in one line.
func boundedName(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

// Admits reports whether a member of groups may use the SP: anyone when it is not restricted,
// otherwise a member of one of its allowed groups (none, once they were all deleted).
func (sp *ServiceProvider) Admits(groups []string) bool {
	if !sp.Restricted {
		return true
	}
	for _, g := range groups {
		if slices.ContainsFunc(sp.AllowedGroups, func(a string) bool { return Key(a) == Key(g) }) {
			return true
		}
	}
	return false
}
