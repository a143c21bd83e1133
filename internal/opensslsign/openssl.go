//go:build openssl && cgo

// Package opensslsign chooses, per build, what makes the signing key's RSA signatures: Go's crypto/rsa
// (the default build, pure Go and static) or the system's OpenSSL libcrypto through cgo (built with
// -tags openssl). Callers do not care which: New returns a crypto.Signer either way, and both make the
// same bytes (PKCS#1 v1.5 is deterministic).
package opensslsign

/*
#cgo LDFLAGS: -lcrypto
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

// rg_load parses a PKCS#1 RSAPrivateKey; NULL on failure, with the reason in *err.
static EVP_PKEY *rg_load(const unsigned char *der, long len, unsigned long *err) {
	const unsigned char *p = der;
	ERR_clear_error();
	EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	*err = k ? 0 : ERR_get_error();
	ERR_clear_error();
	return k;
}

static const EVP_MD *rg_md(int h) {
	switch (h) {
	case 1: return EVP_sha1();
	case 256: return EVP_sha256();
	case 384: return EVP_sha384();
	case 512: return EVP_sha512();
	}
	return NULL;
}

// rg_sign makes one PKCS#1 v1.5 signature of dgst in a context of its own, so that any number of
// threads sign with one key at once. Returns 1, or 0 with the reason in *err. Everything happens on
// this thread, so OpenSSL's thread-local error queue is read here.
static int rg_sign(EVP_PKEY *k, int h, const unsigned char *dgst, size_t dlen,
		unsigned char *sig, size_t *siglen, unsigned long *err) {
	const EVP_MD *md = rg_md(h);
	ERR_clear_error();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	int ok = md != NULL && ctx != NULL &&
		EVP_PKEY_sign_init(ctx) > 0 &&
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
		EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
		EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) > 0;
	*err = ok ? 0 : ERR_get_error();
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void rg_free(EVP_PKEY *k) { EVP_PKEY_free(k); }
static int rg_size(EVP_PKEY *k) { return EVP_PKEY_get_size(k); }
static const char *rg_version(void) { return OpenSSL_version(OPENSSL_VERSION_STRING); }
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"runtime"
	"unsafe"
)

// Name says which signer this build uses, with the version of the libcrypto loaded at run time.
func Name() string { return "openssl (OpenSSL " + C.GoString(C.rg_version()) + ")" }

// New loads priv into libcrypto once and returns a crypto.Signer that signs through it. The EVP_PKEY
// is freed when the Signer is unreachable.
func New(priv *rsa.PrivateKey) (crypto.Signer, error) {
	if priv == nil {
		return nil, fmt.Errorf("opensslsign: no key")
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("opensslsign: invalid RSA key: %w", err)
	}
	der := x509.MarshalPKCS1PrivateKey(priv)
	defer clear(der) // the plaintext key should not linger on the Go heap; best effort
	var e C.ulong
	k := C.rg_load((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &e)
	if k == nil {
		return nil, fmt.Errorf("opensslsign: libcrypto refused the key: %s", errString(e))
	}
	s := &signer{pub: &priv.PublicKey, key: k, size: int(C.rg_size(k))}
	runtime.AddCleanup(s, func(k *C.EVP_PKEY) { C.rg_free(k) }, k)
	return s, nil
}

// mds are the digests libcrypto signs for us, by rg_md's number: those of the XML signature methods
// goxmldsig may be asked for (Rolegate itself signs RSA-SHA256).
var mds = map[crypto.Hash]C.int{crypto.SHA1: 1, crypto.SHA256: 256, crypto.SHA384: 384, crypto.SHA512: 512}

type signer struct {
	pub  *rsa.PublicKey
	key  *C.EVP_PKEY
	size int // the signature's length in bytes
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign makes a PKCS#1 v1.5 signature of digest; rnd is not used (libcrypto blinds with its own
// random numbers), as Go's crypto/rsa does not use it either.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, fmt.Errorf("opensslsign: no hash function given")
	}
	if _, ok := opts.(*rsa.PSSOptions); ok {
		return nil, fmt.Errorf("opensslsign: RSA-PSS is not supported; Rolegate signs with PKCS#1 v1.5")
	}
	h := opts.HashFunc()
	bits, ok := mds[h]
	if !ok {
		return nil, fmt.Errorf("opensslsign: unsupported hash %v", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("opensslsign: digest is %d bytes, want %d for %v", len(digest), h.Size(), h)
	}
	sig := make([]byte, s.size)
	n := C.size_t(len(sig))
	var e C.ulong
	r := C.rg_sign(s.key, bits, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n, &e)
	runtime.KeepAlive(s) // the EVP_PKEY must outlive the call
	if r != 1 {
		return nil, fmt.Errorf("opensslsign: signing failed: %s", errString(e))
	}
	return sig[:n], nil
}

// errString is OpenSSL's text for an error code: library and reason, never key material.
func errString(e C.ulong) string {
	if e == 0 {
		return "no reason given"
	}
	buf := make([]byte, 256)
	C.ERR_error_string_n(e, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}
