package authn

import "rolegate/store"

// Auto-POST pages: the forms that carry a Response to where it goes.
const (
	PageAWSPost = "aws_post" // to an AWS sign-in endpoint
	PageSSOPost = "sso_post" // to a SAML SP's ACS
)

// PostForm is what an auto-POST page shows: the form, and around it the page's words.
type PostForm struct {
	Page  string // PageAWSPost or PageSSOPost
	Title string
	ACS   string // where the form posts
	// The Response: XML, base64-encoded as the page is written, or (crewjam's, for an SP) already
	// in base64.
	XML          []byte
	SAMLResponse string
	RelayState   string

	Account *store.Account // PageAWSPost: the account signed in to
	Confirm bool           // PageAWSPost: the page waits for a click instead of posting itself
	SP      string         // PageSSOPost: the SP's entity ID
}
