package idp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"rolegate/store"
)

// sameOrigin reports whether the origin a browser reported is base's: scheme and host compared as
// the WebAuthn library compares them, without regard to case.
func sameOrigin(origin, base string) bool {
	o, err1 := url.Parse(origin)
	b, err2 := url.Parse(base)
	return err1 == nil && err2 == nil && strings.EqualFold(o.Scheme, b.Scheme) && strings.EqualFold(o.Host, b.Host)
}

// FuzzWebAuthnCredential feeds the credential field of a security key's sign-in answer to what
// reads it: the JSON gate, both of go-webauthn's parsers, and the relying party this server
// configures, against one stored key and one pending challenge. With resign odd the answer is
// signed anew by that key, so that the fuzzer reaches past the signature. An answer accepted always
// carries this challenge, type webauthn.get, this origin (in any case), this RP ID's hash and the user-present
// flag, names the stored credential, and carries a signature the key made over exactly those bytes.
func FuzzWebAuthnCredential(f *testing.F) {
	const base, rpID = "https://idp.example.test", "idp.example.test"
	wa, err := newWebAuthn(base)
	if err != nil {
		f.Fatal(err)
	}
	// A fixed key, so that signed seeds in testdata stay valid.
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := priv.PublicKey.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: pub[1:33], YCoord: pub[33:]})
	if err != nil {
		f.Fatal(err)
	}
	credID := bytes.Repeat([]byte{0xc1}, 32)
	user := &waUser{u: &store.User{Name: "alice", Subject: "subject-of-alice"},
		creds: []webauthn.Credential{{ID: credID, PublicKey: cose, AttestationType: "none"}}}
	challenge := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))

	b64 := base64.RawURLEncoding.EncodeToString
	answer := func(typ, origin string, flags byte, sign bool) string {
		cd, _ := json.Marshal(map[string]string{"type": typ, "challenge": challenge, "origin": origin})
		h := sha256.Sum256([]byte(rpID))
		ad := binary.BigEndian.AppendUint32(append(h[:], flags), 1)
		sig := []byte{0x30, 0}
		if sign {
			hc := sha256.Sum256(cd)
			d := sha256.Sum256(slices.Concat(ad, hc[:]))
			sig, _ = ecdsa.SignASN1(rand.Reader, priv, d[:])
		}
		b, _ := json.Marshal(map[string]any{"id": b64(credID), "rawId": b64(credID), "type": "public-key",
			"clientExtensionResults": map[string]any{}, "response": map[string]string{"clientDataJSON": b64(cd),
				"authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64([]byte("subject-of-alice"))}})
		return string(b)
	}
	f.Add(answer("webauthn.get", base, 0x05, true), uint8(0))
	f.Add(answer("webauthn.get", base, 0x05, false), uint8(1))
	f.Add(answer("webauthn.create", base, 0x05, false), uint8(1))
	f.Add(answer("webauthn.get", "https://evil.example", 0x01, false), uint8(1))
	f.Add(answer("webauthn.get", base, 0x00, false), uint8(1))
	f.Add(`{"id":"","type":"public-key","response":{"attestationObject":"o2NmbXRkbm9uZQ","clientDataJSON":"e30"}}`, uint8(0))

	f.Fuzz(func(t *testing.T, raw string, resign uint8) {
		if !jsonBody(raw, maxCredentialJSON) {
			return
		}
		protocol.ParseCredentialCreationResponseBytes([]byte(raw)) // must not panic
		parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(raw))
		if err != nil {
			return
		}
		ar := parsed.Raw.AssertionResponse
		if resign%2 == 1 {
			hc := sha256.Sum256(ar.ClientDataJSON)
			d := sha256.Sum256(slices.Concat([]byte(ar.AuthenticatorData), hc[:]))
			if parsed.Response.Signature, err = ecdsa.SignASN1(rand.Reader, priv, d[:]); err != nil {
				t.Fatal(err)
			}
		}
		sd := webauthn.SessionData{Challenge: challenge, RelyingPartyID: rpID, UserID: []byte(user.u.Subject),
			AllowedCredentialIDs: [][]byte{credID}, Expires: time.Now().Add(time.Minute), UserVerification: protocol.VerificationPreferred}
		cred, err := wa.ValidateLogin(user, sd, parsed)
		if err != nil {
			return
		}
		cd, ad := parsed.Response.CollectedClientData, parsed.Response.AuthenticatorData
		rp := sha256.Sum256([]byte(rpID))
		switch {
		case cd.Challenge != challenge, cd.Type != protocol.AssertCeremony, !sameOrigin(cd.Origin, base):
			t.Fatalf("accepted client data %+v", cd)
		case !bytes.Equal(ad.RPIDHash, rp[:]), !ad.Flags.UserPresent():
			t.Fatalf("accepted authenticator data %+v", ad)
		case !bytes.Equal(cred.ID, credID), !bytes.Equal(parsed.RawID, credID):
			t.Fatalf("accepted an answer for credential %x", parsed.RawID)
		}
		hc := sha256.Sum256(ar.ClientDataJSON)
		d := sha256.Sum256(slices.Concat([]byte(ar.AuthenticatorData), hc[:]))
		if !ecdsa.VerifyASN1(&priv.PublicKey, d[:], parsed.Response.Signature) {
			t.Fatal("accepted a signature the key did not make over the answer's bytes")
		}
	})
}
