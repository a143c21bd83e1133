package main

import (
	"slices"
	"strings"
	"testing"
)

func TestKeysRotateStagesThenPromotesAndTheMetadataFollows(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.serve(t).stop(t) // the first serve creates the signing key

		keys := c.keys(t)
		if len(keys) != 1 || keys[0].State != "current" || keys[0].Bits < 2048 || keys[0].Fingerprint == "" {
			t.Fatalf("keys after the first serve = %+v; want one current key of at least 2048 bits", keys)
		}
		old := keys[0]

		if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "staged") {
			t.Errorf("the first keys rotate printed %q; want it to say the next key is staged", out)
		}
		keys = c.keys(t)
		states := map[string]keyJSONOut{}
		for _, k := range keys {
			states[k.State] = k
		}
		next := states["next"]
		if len(keys) != 2 || states["current"].ID != old.ID || next.ID == "" || next.ID == old.ID || next.Bits < 2048 {
			t.Fatalf("keys after staging = %+v; want the old key current and a new one next", keys)
		}

		srv := c.serve(t)
		published := metadataCerts(t, srv.get(t, "/saml/metadata"))
		srv.stop(t)
		if !slices.Equal(published, []string{old.Fingerprint, next.Fingerprint}) {
			t.Errorf("metadata during a rotation lists certificates %v; want the current then the next: %v",
				published, []string{old.Fingerprint, next.Fingerprint})
		}

		if out := c.ok(t, "", "keys", "rotate"); !strings.Contains(out, "promoted") || !strings.Contains(out, next.ID) {
			t.Errorf("the second keys rotate printed %q; want it to say key %s is promoted", out, next.ID)
		}
		keys = c.keys(t)
		states = map[string]keyJSONOut{}
		for _, k := range keys {
			states[k.State] = k
		}
		if len(keys) != 2 || states["current"].ID != next.ID || states["retired"].ID != old.ID {
			t.Fatalf("keys after promotion = %+v; want %s current and %s retired", keys, next.ID, old.ID)
		}

		srv = c.serve(t)
		published = metadataCerts(t, srv.get(t, "/saml/metadata"))
		srv.stop(t)
		if !slices.Equal(published, []string{next.Fingerprint}) {
			t.Errorf("metadata after the rotation lists certificates %v; want only the promoted key's %s", published, next.Fingerprint)
		}
	})
}
