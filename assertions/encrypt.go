package assertions

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"rolegate/store"
)

// XML Encryption names used in an EncryptedAssertion. Content: AES-GCM by default, AES-256-GCM
// (AWS decrypts AES-GCM or AES-CBC; CBC has no integrity), AES-CBC only for an SP that decrypts
// nothing else. Key transport: RSA-OAEP with MGF1-SHA1 and a SHA-1 digest (rsa-oaep-mgf1p), the
// key transport XML Encryption 1.0 and 1.1 require of every implementation, and the RSA-OAEP that
// xmlsec1 1.2 decrypts; AWS names no key transport. SHA-1 in OAEP needs no collision resistance.
const (
	NSXMLEnc      = "http://www.w3.org/2001/04/xmlenc#"
	NSXMLDSig     = "http://www.w3.org/2000/09/xmldsig#"
	AlgAES128GCM  = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	AlgAES192GCM  = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
	AlgAES256GCM  = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	AlgAES128CBC  = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	AlgAES192CBC  = "http://www.w3.org/2001/04/xmlenc#aes192-cbc"
	AlgAES256CBC  = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	AlgRSAOAEP    = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	AlgSHA1       = "http://www.w3.org/2000/09/xmldsig#sha1"
	xmlEncElement = "http://www.w3.org/2001/04/xmlenc#Element"
)

// contentCiphers are the content encryption algorithms Rolegate encrypts with: the key length in
// bytes, and whether the mode is GCM (else CBC).
var contentCiphers = map[string]struct {
	keyLen int
	gcm    bool
}{
	AlgAES128GCM: {16, true}, AlgAES192GCM: {24, true}, AlgAES256GCM: {32, true},
	AlgAES128CBC: {16, false}, AlgAES192CBC: {24, false}, AlgAES256CBC: {32, false},
}

// MinEncryptionBits refuses to wrap an AES-256 key under a weaker RSA key.
const MinEncryptionBits = 2048

// Encryption is what an encrypted Response is encrypted to: the recipient's encryption certificate
// (for AWS, its private key is in the account's IAM SAML provider), where the content key, the
// nonce or IV and the OAEP seed come from, and the algorithms.
type Encryption struct {
	Cert *x509.Certificate
	Rand io.Reader
	// Content is a content encryption algorithm of contentCiphers; "" is AlgAES256GCM. The key
	// transport is always AlgRSAOAEP.
	Content string
}

func (e *Encryption) check() error {
	if e.Cert == nil || e.Rand == nil {
		return fmt.Errorf("assertions: encryption needs a certificate and a random source")
	}
	if _, ok := contentCiphers[e.content()]; !ok {
		return fmt.Errorf("assertions: no content encryption algorithm %q", e.Content)
	}
	pub, ok := e.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < MinEncryptionBits {
		return store.Errorf(store.Invalid, "the encryption certificate needs an RSA key of at least %d bits", MinEncryptionBits)
	}
	return nil
}

func (e *Encryption) content() string {
	if e.Content == "" {
		return AlgAES256GCM
	}
	return e.Content
}

// EncryptAssertion returns saml:EncryptedAssertion holding the signed Assertion a, encrypted with a
// fresh content key of e's algorithm, wrapped with RSA-OAEP to e.Cert, which the KeyInfo carries.
// AWS's encrypted Responses and those to other SPs are both made here.
func EncryptAssertion(a *etree.Element, e *Encryption) (*etree.Element, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(a.Copy())
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	alg := e.content()
	c := contentCiphers[alg]
	key := make([]byte, c.keyLen)
	if _, err := io.ReadFull(e.Rand, key); err != nil {
		return nil, fmt.Errorf("assertions: reading a content key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if c.gcm {
		sealed, err = sealGCM(block, plain, e.Rand)
	} else {
		sealed, err = sealCBC(block, plain, e.Rand)
	}
	if err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), e.Rand, e.Cert.PublicKey.(*rsa.PublicKey), key, nil)
	if err != nil {
		return nil, fmt.Errorf("assertions: wrapping the content key: %w", err)
	}

	ea := etree.NewElement("saml:EncryptedAssertion")
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXMLEnc)
	ed.CreateAttr("Type", xmlEncElement)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", alg)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", NSXMLDSig)
	ek := ki.CreateElement("xenc:EncryptedKey")
	em := ek.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", AlgRSAOAEP)
	em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA1)
	ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(e.Cert.Raw))
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(sealed))
	return ea, nil
}

// sealGCM is XML Encryption 1.1 §5.2.4: the CipherValue is a 96-bit nonce, then the ciphertext and
// its 128-bit tag.
func sealGCM(block cipher.Block, plain []byte, rnd io.Reader) ([]byte, error) {
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, fmt.Errorf("assertions: reading a nonce: %w", err)
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

// sealCBC is XML Encryption 1.0 §5.2.1: the CipherValue is a random IV, then the ciphertext of
// the plaintext padded to whole blocks, the last byte of the padding being its length (1 to 16).
func sealCBC(block cipher.Block, plain []byte, rnd io.Reader) ([]byte, error) {
	n := block.BlockSize()
	pad := n - len(plain)%n
	out := make([]byte, n+len(plain)+pad)
	if _, err := io.ReadFull(rnd, out[:n]); err != nil {
		return nil, fmt.Errorf("assertions: reading an IV: %w", err)
	}
	copy(out[n:], plain)
	for i := n + len(plain); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, out[:n]).CryptBlocks(out[n:], out[n:])
	return out, nil
}

// Key transports an SP's metadata may list. Rolegate always wraps with AlgRSAOAEP, which every XML
// Encryption implementation must support; RSA PKCS#1 v1.5 (Bleichenbacher) it never uses.
const (
	AlgRSAOAEP11 = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	AlgRSA15     = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
)

// ChooseContentEncryption picks the content encryption for an SP from the EncryptionMethod
// algorithms its metadata lists for its encryption key, in metadata order: the first AES-GCM
// listed; failing that the first AES-CBC, for an SP that lists only CBC; AlgAES256GCM when it
// lists no content algorithm. An SP listing content algorithms of which Rolegate uses none, or
// key transports without RSA-OAEP, is refused with a message naming them.
func ChooseContentEncryption(listed []string) (string, error) {
	var gcm, cbc, transports, others []string
	oaep := false
	for _, a := range listed {
		c, known := contentCiphers[a]
		switch {
		case known && c.gcm:
			gcm = append(gcm, a)
		case known:
			cbc = append(cbc, a)
		case a == AlgRSAOAEP || a == AlgRSAOAEP11:
			oaep = true
			transports = append(transports, a)
		case a == AlgRSA15:
			transports = append(transports, a)
		default:
			others = append(others, a)
		}
	}
	switch {
	case len(transports) > 0 && !oaep:
		return "", store.Errorf(store.Invalid, "its EncryptionMethods name only the key transport %s; Rolegate wraps keys with RSA-OAEP (%s)",
			strings.Join(transports, ", "), AlgRSAOAEP)
	case len(gcm) > 0:
		return gcm[0], nil
	case len(cbc) > 0:
		return cbc[0], nil
	case len(others) > 0:
		return "", store.Errorf(store.Invalid, "its EncryptionMethods name only %s; Rolegate encrypts with AES-GCM or AES-CBC (%s, %s)",
			strings.Join(others, ", "), AlgAES256GCM, AlgAES128CBC)
	}
	return AlgAES256GCM, nil
}

// awsContentAlgs are the content encryption algorithms AWS decrypts: AES-GCM or AES-CBC.
var awsContentAlgs = map[string]bool{
	AlgAES128GCM: true, AlgAES192GCM: true, AlgAES256GCM: true, AlgAES128CBC: true, AlgAES192CBC: true, AlgAES256CBC: true,
}

// decryptAssertion opens an EncryptedAssertion as the account's IAM would, with one of keys, and
// returns the Assertion in it; v.Encryption names the algorithms. It decrypts with crewjam/saml's
// xmlenc, another implementation than the one that encrypts.
func decryptAssertion(ea *etree.Element, keys []*rsa.PrivateKey, v *Verdict) (*etree.Element, error) {
	ed := ea.FindElement("./EncryptedData")
	if ed == nil {
		return nil, fmt.Errorf("the EncryptedAssertion holds no EncryptedData")
	}
	data := ed.FindElement("./EncryptionMethod")
	transport := ed.FindElement("./KeyInfo/EncryptedKey/EncryptionMethod")
	if data == nil || transport == nil {
		return nil, fmt.Errorf("the EncryptedData names no content encryption or key transport algorithm")
	}
	alg := data.SelectAttrValue("Algorithm", "")
	if !awsContentAlgs[alg] {
		return nil, fmt.Errorf("the assertion is encrypted with %q; AWS decrypts AES-GCM or AES-CBC", alg)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the assertion is encrypted, and the account's IAM holds no encryption key to decrypt it: run rolegate aws register")
	}
	var plain []byte
	err := fmt.Errorf("no key")
	for _, k := range keys {
		if plain, err = xmlenc.Decrypt(k, ed); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the EncryptedAssertion does not decrypt with the account's encryption key (%v): AWS would refuse it", err)
	}
	doc := etree.NewDocument()
	if err := xrv.Validate(bytes.NewReader(plain)); err != nil {
		return nil, fmt.Errorf("the decrypted assertion does not survive an XML round trip (%v): AWS would reject it", err)
	}
	if err := doc.ReadFromBytes(plain); err != nil || doc.Root() == nil {
		return nil, fmt.Errorf("the decrypted assertion is not XML")
	}
	a := doc.Root()
	if a.Tag != "Assertion" || a.NamespaceURI() != NSAssertion {
		return nil, fmt.Errorf("the EncryptedAssertion holds a %s, not a SAML Assertion", a.Tag)
	}
	v.Encryption = alg + " with key transport " + transport.SelectAttrValue("Algorithm", "")
	return a, nil
}
