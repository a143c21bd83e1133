package storetest

import (
	"strings"
	"sync"
	"testing"

	"rolegate/store"
)

func testSettings(t *testing.T, s store.Store) {
	_, err := s.Setting(ctx, store.SettingBaseURL)
	wantCode(t, err, store.NotFound)
	got, err := s.InitSetting(ctx, store.SettingBaseURL, "https://idp.example.com")
	if err != nil || got != "https://idp.example.com" {
		t.Fatalf("first InitSetting: %q, %v", got, err)
	}
	// A second first start keeps the first value and says what it is.
	got, err = s.InitSetting(ctx, store.SettingBaseURL, "http://localhost:8080")
	if err != nil || got != "https://idp.example.com" {
		t.Fatalf("second InitSetting: %q, %v; want the first value kept", got, err)
	}
	must(t, s.SetSetting(ctx, store.SettingBaseURL, "https://sso.example.com"))
	if got, err := s.Setting(ctx, store.SettingBaseURL); err != nil || got != "https://sso.example.com" {
		t.Fatalf("after SetSetting: %q, %v", got, err)
	}
	// Settings are independent of one another.
	if _, err := s.Setting(ctx, store.SettingDemo); !store.IsCode(err, store.NotFound) {
		t.Fatalf("an unset setting: %v, want NotFound", err)
	}
	for _, bad := range [][2]string{{"", "x"}, {"x", ""}, {strings.Repeat("n", 65), "x"}, {"x", strings.Repeat("v", 2049)}, {"x", "\xff"}} {
		wantCode(t, s.SetSetting(ctx, bad[0], bad[1]), store.Invalid)
		_, err := s.InitSetting(ctx, bad[0], bad[1])
		wantCode(t, err, store.Invalid)
	}
	if _, err := s.Setting(ctx, "x"); !store.IsCode(err, store.NotFound) {
		t.Fatalf("a refused setting was written: %v", err)
	}
	// The longest name and value are kept whole.
	long := strings.Repeat("v", 2048)
	must(t, s.SetSetting(ctx, strings.Repeat("n", 64), long))
	if got, err := s.Setting(ctx, strings.Repeat("n", 64)); err != nil || got != long {
		t.Fatalf("longest setting read back %d bytes, %v", len(got), err)
	}
}

func testConcurrentInitSetting(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.InitSetting(ctx, store.SettingBaseURL, "https://idp"+string(rune('a'+i))+".example.com")
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("concurrent first starts saw %q and %q: want one value for all", got[0], got[i])
		}
	}
}
