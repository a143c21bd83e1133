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
