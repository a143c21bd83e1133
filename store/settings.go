package store

import "unicode/utf8"

// Deployment settings (Store.Setting).
const (
	// SettingBaseURL is the base URL the first start pinned: the entity ID is BASE_URL/saml/metadata,
	// and every AWS account's SAML provider and every SP pins it as the Issuer.
	SettingBaseURL = "base_url"
	// SettingDemo is "true" in a store that serve --demo seeded, and only there.
	SettingDemo = "demo"
)

// Bounds of a setting's name and value.
const (
	maxSettingName  = 64
	maxSettingValue = 2048
)

// ValidateSetting refuses an empty or overlong name or value, and text that is not UTF-8.
func ValidateSetting(name, value string) error {
	if name == "" || len(name) > maxSettingName || !utf8.ValidString(name) {
		return Errorf(Invalid, "invalid setting name %q: use 1 to %d characters", name, maxSettingName)
	}
	if value == "" || len(value) > maxSettingValue || !utf8.ValidString(value) {
		return Errorf(Invalid, "invalid value for setting %s: use 1 to %d bytes of text", name, maxSettingValue)
	}
	return nil
}
