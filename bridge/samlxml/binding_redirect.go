package samlxml

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Redirect binding query parameters.
const (
	paramRequest    = "SAMLRequest"
	paramResponse   = "SAMLResponse"
	paramRelayState = "RelayState"
	paramSigAlg     = "SigAlg"
	paramSignature  = "Signature"
)

// Redirect binding limits: RelayState is only sanity-capped here (dialects
// apply their own), the raw query may exceed the message by the base64 and
// percent-encoding overhead plus the other parameters.
const (
	maxRelayState      = 1024
	redirectQuerySlack = 16 << 10
)

// EncodeRedirect returns location with the DEFLATEd message, RelayState and,
// if signer is not nil, SigAlg and Signature appended to its query.
//
// The signature covers "param=…&RelayState=…&SigAlg=…" exactly as it appears
// in the query (SAML bindings 3.4.4.1); RelayState is left out when empty.
func EncodeRedirect(location, param string, xml []byte, relayState string, signer *Signer) (string, error) {
	if param != paramRequest && param != paramResponse {
		return "", fmt.Errorf("samlxml: redirect parameter %q is neither SAMLRequest nor SAMLResponse", param)
	}
	if strings.Contains(location, "#") {
		return "", errors.New("samlxml: redirect location has a fragment")
	}
	deflated, err := deflate(xml)
	if err != nil {
		return "", fmt.Errorf("samlxml: deflating the message: %w", err)
	}
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated))
	if relayState != "" {
		q += "&" + paramRelayState + "=" + url.QueryEscape(relayState)
	}
	if signer != nil {
		if q, err = signQuery(q, signer); err != nil {
			return "", err
		}
	}
	return joinQuery(location, q), nil
}

// signQuery appends SigAlg and the Signature over everything before it.
func signQuery(q string, signer *Signer) (string, error) {
	method, err := signer.method()
	if err != nil {
		return "", fmt.Errorf("samlxml: signing the redirect: %w", err)
	}
	q += "&" + paramSigAlg + "=" + url.QueryEscape(method)
	sig, err := signer.SignBytes([]byte(q))
	if err != nil {
		return "", err
	}
	return q + "&" + paramSignature + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

// joinQuery appends q to location's query, starting one if there is none.
func joinQuery(location, q string) string {
	switch {
	case !strings.Contains(location, "?"):
		return location + "?" + q
	case strings.HasSuffix(location, "?"), strings.HasSuffix(location, "&"):
		return location + q
	}
	return location + "&" + q
}

// deflate compresses data as raw DEFLATE (RFC 1951, no zlib header).
func deflate(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// inflate decompresses raw DEFLATE, refusing output beyond maxBytes without
// ever holding more than maxBytes+1 bytes (deflate bombs stop early).
func inflate(data []byte, maxBytes int) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(data))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(max(maxBytes, 0))+1))
	if len(out) > maxBytes {
		return nil, fmt.Errorf("message inflates to more than %d bytes", maxBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("inflating the message: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("empty message")
	}
	return out, nil
}

// Verify checks the query signature against v (algorithm allow-list applies).
func (m *RedirectMessage) Verify(v Verifier) (*x509.Certificate, error) {
	switch {
	case m == nil:
		return nil, errors.New("samlxml: no redirect message")
	case m.SigAlg == "":
		return nil, errors.New("samlxml: redirect message is unsigned: no SigAlg")
	case len(m.Signature) == 0:
		return nil, errors.New("samlxml: redirect message is unsigned: no Signature")
	}
	return v.VerifyBytes(m.SignedData, m.Signature, m.SigAlg)
}
