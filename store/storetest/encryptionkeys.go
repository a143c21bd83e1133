package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"rolegate/store"
)

func encKey(acct, id string, state store.KeyState, at time.Time) *store.EncryptionKey {
	return &store.EncryptionKey{ID: id, AccountID: acct, State: state, Certificate: []byte("cert-" + id),
		SealedKey: []byte("sealed-" + id), KEKID: "kek1", CreatedAt: at}
}

func testEncryptionKeys(t *testing.T, s store.Store) {
	prod, dev := mkAccount(t, s, "123456789012", "prod"), mkAccount(t, s, "210987654321", "dev")
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	wantCode(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "r", store.KeyRetired, now)), store.Invalid)
	wantCode(t, s.CreateEncryptionKey(ctx, encKey("999999999999", "x", store.KeyNext, now)), store.NotFound)
	must(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "a", store.KeyNext, now)))
	wantCode(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "b", store.KeyNext, now)), store.Conflict)
	must(t, s.CreateEncryptionKey(ctx, encKey(dev.ID, "d", store.KeyNext, now))) // one next per account, not overall

	const awsID = "ABCDEFGHIJ0123456789KLMN"
	wantCode(t, s.SetEncryptionKeyAWSID(ctx, "a", "lower-case-not-allowed-here"), store.Invalid)
	wantCode(t, s.SetEncryptionKeyAWSID(ctx, "a", "SHORT"), store.Invalid)
	wantCode(t, s.SetEncryptionKeyAWSID(ctx, "zzz", awsID), store.NotFound)
	must(t, s.SetEncryptionKeyAWSID(ctx, "a", awsID))
	wantCode(t, s.PromoteEncryptionKey(ctx, "zzz", now), store.NotFound)
	t1 := now.Add(time.Hour)
	must(t, s.PromoteEncryptionKey(ctx, "a", t1))
	wantCode(t, s.PromoteEncryptionKey(ctx, "a", t1), store.Conflict) // current already
	wantCode(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "c", store.KeyCurrent, now)), store.Conflict)

	// A second key is promoted: the first retires in the same step, the other account's keys stay.
	must(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "b", store.KeyNext, now.Add(time.Minute))))
	t2 := now.Add(2 * time.Hour)
	must(t, s.PromoteEncryptionKey(ctx, "b", t2))
	keys, err := s.ListEncryptionKeys(ctx, prod.ID)
	must(t, err)
	if len(keys) != 2 || keys[0].ID != "b" || keys[0].State != store.KeyCurrent || !keys[0].ActivatedAt.Equal(t2) ||
		keys[1].ID != "a" || keys[1].State != store.KeyRetired || !keys[1].RetiredAt.Equal(t2) || !keys[1].ActivatedAt.Equal(t1) ||
		keys[1].AWSKeyID != awsID || keys[0].AWSKeyID != "" || string(keys[1].SealedKey) != "sealed-a" ||
		string(keys[1].Certificate) != "cert-a" || keys[1].KEKID != "kek1" || keys[1].AccountID != prod.ID || !keys[1].CreatedAt.Equal(now) {
		t.Fatalf("prod keys after two promotions: %+v %+v", keys[0], keys[1])
	}
	if keys, _ := s.ListEncryptionKeys(ctx, dev.ID); len(keys) != 1 || keys[0].State != store.KeyNext {
		t.Fatalf("dev keys changed: %+v", keys)
	}

	wantCode(t, s.RetireEncryptionKey(ctx, "a", t2), store.Conflict)
	wantCode(t, s.RetireEncryptionKey(ctx, "zzz", t2), store.NotFound)
	must(t, s.RetireEncryptionKey(ctx, "b", t2))
	must(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "e", store.KeyCurrent, t2))) // the place is free again

	// Keys go with their account.
	must(t, s.DeleteAccount(ctx, "prod"))
	if keys, err := s.ListEncryptionKeys(ctx, prod.ID); err != nil || len(keys) != 0 {
		t.Fatalf("keys of a removed account: %d %v", len(keys), err)
	}
	mkAccount(t, s, prod.ID, "prod")
	must(t, s.CreateEncryptionKey(ctx, encKey(prod.ID, "a", store.KeyNext, now))) // its old IDs are free too
}

func testConcurrentEncryptionKeyPromotions(t *testing.T, s store.Store) {
	a := mkAccount(t, s, "123456789012", "prod")
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	must(t, s.CreateEncryptionKey(ctx, encKey(a.ID, "old", store.KeyCurrent, now)))
	must(t, s.CreateEncryptionKey(ctx, encKey(a.ID, "new", store.KeyNext, now.Add(time.Second))))
	oneWins(t, 4, store.Conflict, func() error { return s.PromoteEncryptionKey(ctx, "new", now.Add(time.Hour)) })
	var n atomic.Int32
	oneWins(t, 4, store.Conflict, func() error {
		return s.CreateEncryptionKey(ctx, encKey(a.ID, fmt.Sprint("n", n.Add(1)), store.KeyNext, now))
	})
	keys, err := s.ListEncryptionKeys(ctx, a.ID)
	must(t, err)
	count := map[store.KeyState]int{}
	for _, k := range keys {
		count[k.State]++
	}
	if count[store.KeyCurrent] != 1 || count[store.KeyNext] != 1 || count[store.KeyRetired] != 1 {
		t.Fatalf("after concurrent promotions and creates: %v", count)
	}
}
