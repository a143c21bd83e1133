package idp_test
