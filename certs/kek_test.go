package certs_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"rolegate/certs"
	"rolegate/store"
)

func newKEK(t *testing.T) *certs.KEK {
	t.Helper()
	k, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealThenOpenReturnsThePlaintext(t *testing.T) {
	k := newKEK(t)
	tests := []struct {
		name           string
		plaintext, aad []byte
	}{
		{"a key with its ID as aad", []byte("pkcs8 bytes"), []byte("rolegate-signing-key:1")},
		{"no aad", []byte("pkcs8 bytes"), nil},
		{"an empty plaintext", nil, []byte("aad")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := k.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.plaintext) > 0 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("sealed bytes contain the plaintext")
			}
			got, err := k.Open(sealed, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q; want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealUsesAFreshNonceEachTime(t *testing.T) {
	k := newKEK(t)
	a, _ := k.Seal([]byte("x"), nil)
	b, _ := k.Seal([]byte("x"), nil)
	if bytes.Equal(a, b) {
		t.Error("two seals of one plaintext are equal")
	}
}

func TestOpenFailsWithTheWrongKEKOrChangedBytes(t *testing.T) {
	k := newKEK(t)
	aad := []byte("rolegate-signing-key:1")
	sealed, err := k.Seal([]byte("secret signing key"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		kek    *certs.KEK
		sealed []byte
		aad    []byte
	}{
		{"another KEK", newKEK(t), sealed, aad},
		{"another aad", k, sealed, []byte("rolegate-signing-key:2")},
		{"a changed version byte", k, flip(0), aad},
		{"a changed nonce byte", k, flip(5), aad},
		{"a changed ciphertext byte", k, flip(20), aad},
		{"a changed tag byte", k, flip(len(sealed) - 1), aad},
		{"truncated bytes", k, sealed[:len(sealed)-1], aad},
		{"no bytes", k, nil, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.kek.Open(tt.sealed, tt.aad); !errors.Is(err, certs.ErrWrongKEK) {
				t.Errorf("Open error = %v; want ErrWrongKEK", err)
			}
		})
	}
	for i := range sealed {
		if _, err := k.Open(flip(i), aad); err == nil {
			t.Errorf("Open accepted the sealed bytes with byte %d changed", i)
		}
	}
}

func TestParseKEKAcceptsBase64Of32BytesOnly(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb, 0xff, 0x3e}, 11)[:32] // has + / - _ in base64
	want, err := certs.ParseKEK(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"standard base64 with padding is accepted", base64.StdEncoding.EncodeToString(key), true},
		{"standard base64 without padding is accepted", base64.RawStdEncoding.EncodeToString(key), true},
		{"URL base64 without padding is accepted", base64.RawURLEncoding.EncodeToString(key), true},
		{"URL base64 with padding is accepted", base64.URLEncoding.EncodeToString(key), true},
		{"surrounding white space is ignored", " \t" + base64.StdEncoding.EncodeToString(key) + "\n", true},
		{"31 bytes are refused", base64.StdEncoding.EncodeToString(key[:31]), false},
		{"33 bytes are refused", base64.StdEncoding.EncodeToString(append(key, 1)), false},
		{"text that is not base64 is refused", "not base64 at all!", false},
		{"hex is refused", fmt.Sprintf("%x", key), false},
		{"an empty string is refused", "", false},
		{"white space only is refused", " \n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := certs.ParseKEK(tt.text)
			if !tt.ok {
				if !store.IsCode(err, store.Invalid) {
					t.Fatalf("ParseKEK error = %v; want code invalid", err)
				}
				if strings.TrimSpace(tt.text) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.text)) {
					t.Errorf("error %q repeats the key text", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKEK: %v", err)
			}
			if k.ID() != want.ID() {
				t.Errorf("ID = %s; want %s, the same key", k.ID(), want.ID())
			}
		})
	}
}

func TestAKEKShowsItsIDButNeverItsKey(t *testing.T) {
	k, text, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.ID()) != 16 || strings.Trim(k.ID(), "0123456789abcdef") != "" {
		t.Errorf("ID = %q; want 16 hex digits", k.ID())
	}
	raw, _ := base64.StdEncoding.DecodeString(text)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%x", k), fmt.Sprintf("%v", *k)} {
		if strings.Contains(s, text[:10]) || strings.Contains(s, fmt.Sprintf("%x", raw[:8])) {
			t.Errorf("formatted KEK %q shows the key", s)
		}
	}
	again, _ := certs.ParseKEK(text)
	if again.ID() != k.ID() {
		t.Errorf("ParseKEK(GenerateKEK text).ID = %s; want %s", again.ID(), k.ID())
	}
}

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeKEK(t *testing.T, path string, mode os.FileMode) *certs.KEK {
	t.Helper()
	k, text, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes through the umask
		t.Fatal(err)
	}
	return k
}

func TestLoadKEKCreatesTheDataDirFileWithMode0600AndReusesIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k, src, err := certs.LoadKEK(env(nil), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kek")
	if !strings.Contains(src, path) || !strings.Contains(src, "created") {
		t.Errorf("source = %q; want it to name %s and say created", src, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o; want 0600", fi.Mode().Perm())
	}
	again, src, err := certs.LoadKEK(env(nil), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != k.ID() || strings.Contains(src, "created") {
		t.Errorf("second LoadKEK = %s from %q; want %s, reused", again.ID(), src, k.ID())
	}
}

func TestLoadKEKChoosesItsSource(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes")
	}
	envKEK, envText, _ := certs.GenerateKEK()
	dir := t.TempDir()
	dataKEK := writeKEK(t, filepath.Join(dir, "kek"), 0o600)
	fileKEK := writeKEK(t, filepath.Join(dir, "secret"), 0o640)
	secret := filepath.Join(dir, "secret")
	open := filepath.Join(dir, "world-readable")
	writeKEK(t, open, 0o604)
	loose := t.TempDir()
	writeKEK(t, filepath.Join(loose, "kek"), 0o644)
	groupWritable := filepath.Join(dir, "group-writable")
	writeKEK(t, groupWritable, 0o660)

	tests := []struct {
		name        string
		vars        map[string]string
		dataDir     string
		allowCreate bool
		want        *certs.KEK
		wantErr     []string // substrings of the error
	}{
		{"ROLEGATE_KEK beats ROLEGATE_KEK_FILE and the data dir",
			map[string]string{"ROLEGATE_KEK": envText, "ROLEGATE_KEK_FILE": secret}, dir, true, envKEK, nil},
		{"ROLEGATE_KEK_FILE beats the data dir, and may be group-readable",
			map[string]string{"ROLEGATE_KEK_FILE": secret}, dir, true, fileKEK, nil},
		{"the data dir file is used when neither is set", nil, dir, false, dataKEK, nil},
		{"a data dir file readable by others is refused", nil, loose, true, nil,
			[]string{filepath.Join(loose, "kek"), "chmod 600"}},
		{"a ROLEGATE_KEK_FILE readable by everyone is refused",
			map[string]string{"ROLEGATE_KEK_FILE": open}, dir, true, nil, []string{open, "chmod 600"}},
		{"a ROLEGATE_KEK_FILE that the group may overwrite with its own key is refused",
			map[string]string{"ROLEGATE_KEK_FILE": groupWritable}, dir, true, nil, []string{groupWritable, "chmod 600"}},
		{"a missing ROLEGATE_KEK_FILE is an error, not created",
			map[string]string{"ROLEGATE_KEK_FILE": filepath.Join(dir, "missing")}, dir, true, nil, []string{"ROLEGATE_KEK_FILE", "missing"}},
		{"a bad ROLEGATE_KEK is an error naming the variable",
			map[string]string{"ROLEGATE_KEK": "short"}, dir, true, nil, []string{"ROLEGATE_KEK", "base64"}},
		{"a missing data dir file is not created unless allowed", nil, t.TempDir(), false, nil, []string{"ROLEGATE_KEK"}},
		{"no source at all is an error", nil, "", true, nil, []string{"ROLEGATE_KEK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, src, err := certs.LoadKEK(env(tt.vars), tt.dataDir, tt.allowCreate)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadKEK = %s from %q; want an error", k.ID(), src)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.ID() != tt.want.ID() {
				t.Errorf("LoadKEK = %s from %q; want %s", k.ID(), src, tt.want.ID())
			}
			if strings.Contains(src, envText) {
				t.Errorf("source %q shows the key", src)
			}
		})
	}
}
