package idp

import (
	"strings"
	"testing"
	"time"
)

func TestWantsJSONOnlyWhenTheClientPrefersIt(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		want         bool
	}{
		{"no Accept header gets a page", "", false},
		{"a browser gets a page", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"anything at all gets a page", "*/*", false},
		{"application/json gets JSON", "application/json", true},
		{"a +json type gets JSON", "application/problem+json", true},
		{"JSON listed before HTML gets JSON", "application/json, text/html", true},
		{"HTML listed before JSON gets a page", "text/html, application/json", false},
		{"JSON refused with q=0 gets a page", "application/json;q=0, text/html", false},
		{"JSON refused with q=0.000 gets a page", "application/json; q=0.000", false},
		{"HTML refused with q=0 and JSON next gets JSON", "text/html;q=0, application/json", true},
		{"upper case still counts", "Application/JSON", true},
		{"json as text gets a page", "text/json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wantsJSON(tc.accept); got != tc.want {
				t.Errorf("wantsJSON(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

func TestDurationsShowAsPeopleWriteThem(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    time.Duration
		want string
	}{
		{"an hour a moment after the sign-in is 1h", time.Hour - 100*time.Millisecond, "1h"},
		{"an hour less a second is 1h", 59*time.Minute + 59*time.Second, "1h"},
		{"an exact hour is 1h", time.Hour, "1h"},
		{"four and a half hours", 4*time.Hour + 30*time.Minute, "4h30m"},
		{"the AWS minimum", 15 * time.Minute, "15m"},
		{"the AWS maximum", 12 * time.Hour, "12h"},
		{"half a minute keeps its seconds", 30 * time.Second, "30s"},
		{"a minute and a half rounds up", 90 * time.Second, "2m"},
		{"nothing is 0s", 0, "0s"},
		{"a negative duration is 0s", -time.Second, "0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wholeDuration(tc.d); got != tc.want {
				t.Errorf("wholeDuration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestTwoInstancesOnOneHostNameTheirCookiesApart(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
		same bool
	}{
		{"two ports on localhost", "http://localhost:8080", "http://localhost:8081", false},
		{"two paths behind one proxy", "https://sso.example.com/a", "https://sso.example.com/b", false},
		{"http and https on one host", "http://idp.example.com", "https://idp.example.com", false},
		{"a trailing slash is the same instance", "https://idp.example.com/", "https://idp.example.com", true},
		{"the default port is the same instance", "https://idp.example.com:443", "https://IDP.example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{sessionCookie, csrfCookie, deviceCookie} {
				ca, cb := CookieName(tc.a, name), CookieName(tc.b, name)
				if (ca == cb) != tc.same {
					t.Errorf("%s: %q at %s and %q at %s; want same = %v", name, ca, tc.a, cb, tc.b, tc.same)
				}
				if https := strings.HasPrefix(tc.a, "https:"); strings.HasPrefix(ca, "__Host-"+name+"_") != https || !strings.Contains(ca, name+"_") {
					t.Errorf("%q at %s: want the name, a tag, and __Host- exactly under https", ca, tc.a)
				}
			}
		})
	}
}

func TestTheSAMLResponseInputTakesBase64Only(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"the whole base64 alphabet goes out as it is", "ABCXYZabcxyz0189+/==", true},
		{"nothing at all", "", true},
		{"a quote would end the attribute", `QUJD"onfocus=alert(1)`, false},
		{"an angle bracket", "QUJD<script>", false},
		{"an ampersand", "QUJD&amp;", false},
		{"a space", "QUJD QUJD", false},
		{"a character past ASCII", "QUJDé", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := samlResponseInput(tc.in)
			if tc.ok {
				if err != nil || string(got) != `name="SAMLResponse" value="`+tc.in+`"` {
					t.Fatalf("%q: %q %v", tc.in, got, err)
				}
			} else if err == nil || got != "" {
				t.Fatalf("%q went out as %q", tc.in, got)
			}
		})
	}
}
