package sso

// The decoder and its bound, for the fuzz target in package sso_test.
var DecodeSAMLRequest = decodeSAMLRequest

const MaxSAMLRequest = maxSAMLRequest
