package mfa

import (
	"bytes"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/certs"
)

// rfcSecret is RFC 6238 Appendix B's SHA-1 seed: the ASCII string "12345678901234567890".
var rfcSecret = []byte("12345678901234567890")

func TestCodeMatchesRFC6238TestVectors(t *testing.T) {
	for _, v := range []struct {
		unix int64
		want string // eight digits, as the RFC lists them
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0).UTC()
		t.Run(at.Format(time.RFC3339), func(t *testing.T) {
			if got := Code(rfcSecret, Step(at), 8); got != v.want {
				t.Errorf("eight digits: got %s, want %s", got, v.want)
			}
			// Six digits are the same truncation modulo 10^6: the last six of the eight.
			if got := Code(rfcSecret, Step(at), Digits); got != v.want[2:] {
				t.Errorf("six digits: got %s, want %s", got, v.want[2:])
			}
			if _, verdict := Check(rfcSecret, v.want[2:], at, 0); verdict != Valid {
				t.Errorf("Check of the RFC's code = %v, want Valid", verdict)
			}
		})
	}
}

func TestCheckAcceptsOneStepOfSkewAndNoMore(t *testing.T) {
	now := time.Unix(1700000000, 0).UTC()
	cur := Step(now)
	for _, c := range []struct {
		name   string
		offset int64
		want   Verdict
	}{
		{"two steps behind is refused", -2, Wrong},
		{"one step behind is accepted", -1, Valid},
		{"the current step is accepted", 0, Valid},
		{"one step ahead is accepted", 1, Valid},
		{"two steps ahead is refused", 2, Wrong},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := Code(rfcSecret, cur+c.offset, Digits)
			// A code that by chance equals one inside the window would make this case meaningless.
			for s := cur - Skew; c.want == Wrong && s <= cur+Skew; s++ {
				if Code(rfcSecret, s, Digits) == code {
					t.Skipf("code collision at step %d", s)
				}
			}
			step, got := Check(rfcSecret, code, now, 0)
			if got != c.want {
				t.Fatalf("verdict %v, want %v", got, c.want)
			}
			if got == Valid && step != cur+c.offset {
				t.Errorf("matched step %d, want %d", step, cur+c.offset)
			}
		})
	}
}

func TestCheckRefusesAReplayedOrOlderStep(t *testing.T) {
	now := time.Unix(1700000000, 0).UTC()
	cur := Step(now)
	for _, c := range []struct {
		name        string
		offset      int64 // the code's step, from now
		last        int64 // the factor's last accepted step, from now
		wantVerdict Verdict
	}{
		{"the same step again is a replay", 0, 0, Replayed},
		{"an earlier step after a later one is a replay", -1, 0, Replayed},
		{"the step just after the last one is valid", 0, -1, Valid},
		{"a step ahead of the last one used is valid", 1, 0, Valid},
	} {
		t.Run(c.name, func(t *testing.T) {
			step, got := Check(rfcSecret, Code(rfcSecret, cur+c.offset, Digits), now, cur+c.last)
			if got != c.wantVerdict || step != cur+c.offset {
				t.Errorf("got step %d %v, want step %d %v", step, got, cur+c.offset, c.wantVerdict)
			}
		})
	}
}

func TestCheckRefusesMalformedCodes(t *testing.T) {
	now := time.Unix(1700000000, 0).UTC()
	good := Code(rfcSecret, Step(now), Digits)
	for _, code := range []string{"", good[:5], good + "0", " " + good, "12345a", "١٢٣٤٥٦", good[:3] + " " + good[3:]} {
		if _, v := Check(rfcSecret, code, now, 0); v != Wrong {
			t.Errorf("Check(%q) = %v, want Wrong", code, v)
		}
	}
}

func TestURIAnnouncesTheParametersWeCheck(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := URI("Rolegate", "alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Rolegate:alice" {
		t.Errorf("URI %s: want otpauth://totp/Rolegate:alice", raw)
	}
	want := map[string]string{"issuer": "Rolegate", "digits": "6", "period": "30", "algorithm": "SHA1",
		"secret": strings.ReplaceAll(SecretText(secret), " ", "")}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	img, err := QRCode(raw, 200)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width != 200 {
		t.Errorf("QR code: %v, width %d", err, cfg.Width)
	}
}

func TestRecoveryCodesAreDistinctAndMatchOnlyThemselves(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodes || len(hashes) != RecoveryCodes {
		t.Fatalf("%d codes, %d hashes; want %d", len(codes), len(hashes), RecoveryCodes)
	}
	seen := map[string]bool{}
	for i, code := range codes {
		if seen[code] {
			t.Fatalf("code %s twice", code)
		}
		seen[code] = true
		for _, typed := range []string{code, strings.ToUpper(code), strings.ReplaceAll(code, "-", ""), strings.ReplaceAll(code, "-", " ")} {
			h, ok := RecoveryHash(typed)
			if !ok || !bytes.Equal(h, hashes[i]) {
				t.Errorf("typed %q: did not match its own hash", typed)
			}
		}
		for j := range hashes {
			if h, _ := RecoveryHash(code); j != i && bytes.Equal(h, hashes[j]) {
				t.Errorf("code %d matched hash %d", i, j)
			}
		}
	}
	for _, bad := range []string{"", "abcd-efgh-ijkl-mno", "abcd-efgh-ijkl-mnop-q", "abcd-efgh-ijkl-mn01", "123456"} {
		if _, ok := RecoveryHash(bad); ok {
			t.Errorf("RecoveryHash(%q) accepted it", bad)
		}
	}
}

func TestASealedSecretOpensOnlyForItsUser(t *testing.T) {
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := NewSecret()
	sealed, err := SealSecret(kek, "rg-alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed secret contains the secret")
	}
	if got, err := OpenSecret(kek, "rg-alice", sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("OpenSecret = %x, %v; want the secret", got, err)
	}
	if _, err := OpenSecret(kek, "rg-bob", sealed); err == nil {
		t.Fatal("a secret sealed for one user opened for another")
	}
}

// BenchmarkCheck is the CPU cost of checking one TOTP code: three HMAC-SHA-1 values.
func BenchmarkCheck(b *testing.B) {
	now := time.Unix(1700000000, 0).UTC()
	code := Code(rfcSecret, Step(now)+1, Digits)
	for b.Loop() {
		if _, v := Check(rfcSecret, code, now, 0); v != Valid {
			b.Fatal(v)
		}
	}
}

func TestInviteCodesAreRandomAndCheckOnlyAsTyped(t *testing.T) {
	code, hash, err := NewInvite()
	if err != nil {
		t.Fatal(err)
	}
	other, otherHash, _ := NewInvite()
	if code == other || bytes.Equal(hash, otherHash) {
		t.Fatalf("two invites are the same: %q", code)
	}
	if !regexp.MustCompile(`^[a-z2-7]{4}(-[a-z2-7]{4}){5}$`).MatchString(code) {
		t.Fatalf("invite %q is not six groups of four base32 letters", code)
	}
	for _, typed := range []string{code, strings.ToUpper(code), strings.ReplaceAll(code, "-", " "), strings.ReplaceAll(code, "-", "")} {
		if h, ok := InviteHash(typed); !ok || !bytes.Equal(h, hash) {
			t.Errorf("%q does not check as the invite", typed)
		}
	}
	for _, bad := range []string{"", code[:len(code)-1], code + "a", strings.Replace(code, code[:1], "1", 1), strings.Repeat("a", 100)} {
		if h, ok := InviteHash(bad); ok && bytes.Equal(h, hash) {
			t.Errorf("%q checks as the invite", bad)
		}
	}
}
