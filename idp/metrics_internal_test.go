package idp

import (
	"testing"

	"rolegate/store"
)

func TestAnAssertionsKindComesFromItsWayIn(t *testing.T) {
	for _, c := range []struct {
		name    string
		details map[string]string
		want    string
	}{
		{"a registered SP's", map[string]string{"sp": "https://app.example.com", "acs": "https://app.example.com/acs"}, kindSP},
		{"ECP's", map[string]string{"via": "ecp", "account": "prod"}, kindECP},
		{"the CLI's browser flow's", map[string]string{"via": "cli-browser"}, kindCLI},
		{"the CLI's device flow's", map[string]string{"via": "cli-device"}, kindCLI},
		{"a CLI session's refresh's", map[string]string{"via": "cli_refresh"}, kindCLI},
		{"the console sign-in's", map[string]string{"account": "prod", "role": "Admin"}, kindAWS},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := assertionKind(&store.AuditEvent{Details: c.details}); got != c.want {
				t.Fatalf("kind %q, want %q", got, c.want)
			}
		})
	}
}
