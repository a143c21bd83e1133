package awslogin

// ParseEnvelope is the reader of the IdP's ECP reply, for the fuzz target in package awslogin_test.
var ParseEnvelope = parseEnvelope
