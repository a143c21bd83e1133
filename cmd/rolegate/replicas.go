package main

import (
	"time"

	"github.com/spf13/cobra"

	"rolegate/certs"
	"rolegate/store"
)

// envKeyRefresh is the environment's --key-refresh.
const envKeyRefresh = "ROLEGATE_KEY_REFRESH"

// keyRefreshFlag adds serve's --key-refresh: how long a replica reuses the signing-key list it read
// from the store, and so the longest before it follows a rotation made elsewhere (the CLI, another
// replica). Its ceiling is certs.DefaultRefresh: rolegate keys rotate retires the previous key
// certs.DefaultSettle (twice that) after the activation, and by then every replica must have
// stopped signing with it.
func keyRefreshFlag(c *cobra.Command, d *time.Duration) {
	c.Flags().DurationVar(d, "key-refresh", certs.DefaultRefresh,
		"how long a replica reuses the signing keys it read from the database: the longest before it follows a key rotation made elsewhere; 0s to "+
			certs.DefaultRefresh.String()+", 0s rereads them for every use (env "+envKeyRefresh+")")
}

// checkKeyRefresh refuses a --key-refresh (or its environment variable, which envFlags set)
// outside 0 to certs.DefaultRefresh.
func checkKeyRefresh(d time.Duration) error {
	if d < 0 || d > certs.DefaultRefresh {
		return store.Errorf(store.Invalid, "invalid key refresh %s: use 0s to %s, so that every replica follows a rotation before "+
			"rolegate keys rotate retires the previous key (%s after the activation)", d, certs.DefaultRefresh, certs.DefaultSettle)
	}
	return nil
}
