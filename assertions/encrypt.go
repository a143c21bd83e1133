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

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"rolegate/store"
)

// XML Encryption names used in an EncryptedAssertion. Content: AES-256-GCM, the one AES-GCM
// variant with a 256-bit key (AWS decrypts AES-GCM or AES-CBC; CBC has no integrity). Key transport:
// RSA-OAEP with MGF1-SHA1 and a SHA-1 digest (rsa-oaep-mgf1p), the key transport XML Encryption
// 1.0 and 1.1 require of every implementation, and the RSA-OAEP that xmlsec1 1.2 decrypts; AWS
// names no key transport. SHA-1 in OAEP needs no collision resistance.
const (
	NSXMLEnc      = "http://www.w3.org/2001/04/xmlenc#"
	NSXMLDSig     = "http://www.w3.org/2000/09/xmldsig#"
	AlgAES256GCM  = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	AlgRSAOAEP    = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	AlgSHA1       = "http://www.w3.org/2000/09/xmldsig#sha1"
	xmlEncElement = "http://www.w3.org/2001/04/xmlenc#Element"
)

// minEncryptionBits refuses to wrap an AES-256 key under a weaker RSA key.
const minEncryptionBits = 2048

// Encryption is what an encrypted Response is encrypted to: the account's encryption certificate
// (its private key is in the account's IAM SAML provider), and where the content key, the GCM nonce
// and the OAEP seed come from.
type Encryption struct {
	Cert *x509.Certificate
	Rand io.Reader
}

func (e *Encryption) check() error {
	if e.Cert == nil || e.Rand == nil {
		return fmt.Errorf("assertions: encryption needs a certificate and a random source")
	}
	pub, ok := e.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < minEncryptionBits {
		return store.Errorf(store.Invalid, "the encryption certificate needs an RSA key of at least %d bits", minEncryptionBits)
	}
	return nil
}

// encryptAssertion returns saml:EncryptedAssertion holding the signed Assertion a, encrypted with
// a fresh AES-256-GCM key that is wrapped with RSA-OAEP to e.Cert, which the KeyInfo carries.
func encryptAssertion(a *etree.Element, e *Encryption) (*etree.Element, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(a.Copy())
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	key, nonce := make([]byte, 32), make([]byte, 12)
	if _, err := io.ReadFull(e.Rand, key); err != nil {
		return nil, fmt.Errorf("assertions: reading a content key: %w", err)
	}
	defer clear(key)
	if _, err := io.ReadFull(e.Rand, nonce); err != nil {
		return nil, fmt.Errorf("assertions: reading a nonce: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// XML Encryption 1.1 §5.2.4: the CipherValue is the nonce, then the ciphertext and its tag.
	sealed := gcm.Seal(append([]byte{}, nonce...), nonce, plain, nil)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), e.Rand, e.Cert.PublicKey.(*rsa.PublicKey), key, nil)
	if err != nil {
		return nil, fmt.Errorf("assertions: wrapping the content key: %w", err)
	}

	ea := etree.NewElement("saml:EncryptedAssertion")
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", NSXMLEnc)
	ed.CreateAttr("Type", xmlEncElement)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", AlgAES256GCM)
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

// awsContentAlgs are the content encryption algorithms AWS decrypts: AES-GCM or AES-CBC.
var awsContentAlgs = map[string]bool{
	"http://www.w3.org/2009/xmlenc11#aes128-gcm": true, "http://www.w3.org/2009/xmlenc11#aes192-gcm": true, AlgAES256GCM: true,
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc": true, "http://www.w3.org/2001/04/xmlenc#aes192-cbc": true,
	"http://www.w3.org/2001/04/xmlenc#aes256-cbc": true,
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
