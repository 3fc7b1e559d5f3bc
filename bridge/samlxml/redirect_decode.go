package samlxml

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// queryParam is one known parameter of a Redirect query.
type queryParam struct {
	raw   string // "name=value" exactly as received
	value string // the decoded value
}

// DecodeRedirect decodes the raw query of a Redirect-binding request, with the
// inflated message capped at maxBytes.
//
// The query is split by hand so that SignedData holds the parameters exactly
// as received (SAMLRequest or SAMLResponse, RelayState, SigAlg). Repeated
// SAML parameters are refused; other parameters are ignored.
func DecodeRedirect(rawQuery string, maxBytes int) (*RedirectMessage, error) {
	if limit := 4*max(maxBytes, 0) + redirectQuerySlack; len(rawQuery) > limit {
		return nil, fmt.Errorf("samlxml: redirect query of %d bytes exceeds %d", len(rawQuery), limit)
	}
	params, err := splitQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("samlxml: redirect query: %w", err)
	}
	m, err := decodeRedirectParams(params, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("samlxml: redirect query: %w", err)
	}
	return m, nil
}

// splitQuery returns the SAML parameters of rawQuery by decoded name.
func splitQuery(rawQuery string) (map[string]queryParam, error) {
	params := make(map[string]queryParam)
	for seg := range strings.SplitSeq(rawQuery, "&") {
		rawName, rawValue, _ := strings.Cut(seg, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil || !isRedirectParam(name) {
			continue
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("parameter %s appears more than once", name)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		params[name] = queryParam{raw: seg, value: value}
	}
	return params, nil
}

// isRedirectParam reports whether name is one of the SAML parameters.
func isRedirectParam(name string) bool {
	switch name {
	case paramRequest, paramResponse, paramRelayState, paramSigAlg, paramSignature:
		return true
	}
	return false
}

// decodeRedirectParams builds the message from the SAML parameters.
func decodeRedirectParams(params map[string]queryParam, maxBytes int) (*RedirectMessage, error) {
	name, err := messageParam(params)
	if err != nil {
		return nil, err
	}
	m := &RedirectMessage{
		Param:      name,
		RelayState: params[paramRelayState].value,
		SigAlg:     params[paramSigAlg].value,
	}
	if len(m.RelayState) > maxRelayState {
		return nil, fmt.Errorf("RelayState is longer than %d bytes", maxRelayState)
	}
	deflated, err := decodeBase64Param(params[name].value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if m.XML, err = inflate(deflated, maxBytes); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if sig, ok := params[paramSignature]; ok {
		if m.Signature, err = decodeBase64Param(sig.value); err != nil {
			return nil, fmt.Errorf("Signature: %w", err)
		}
	}
	m.SignedData = signedData(params, name)
	return m, nil
}

// messageParam returns whichever of SAMLRequest and SAMLResponse is present.
func messageParam(params map[string]queryParam) (string, error) {
	_, req := params[paramRequest]
	_, resp := params[paramResponse]
	switch {
	case req && resp:
		return "", errors.New("both SAMLRequest and SAMLResponse")
	case req:
		return paramRequest, nil
	case resp:
		return paramResponse, nil
	}
	return "", errors.New("neither SAMLRequest nor SAMLResponse")
}

// signedData joins the signed parameters as received, in the order SAML
// bindings 3.4.4.1 prescribes.
func signedData(params map[string]queryParam, name string) []byte {
	parts := []string{params[name].raw}
	for _, p := range []string{paramRelayState, paramSigAlg} {
		if qp, ok := params[p]; ok {
			parts = append(parts, qp.raw)
		}
	}
	return []byte(strings.Join(parts, "&"))
}

// decodeBase64Param decodes a base64 query value. A '+' the sender left
// unescaped reads as a space; base64 has no spaces, so it is put back.
func decodeBase64Param(value string) ([]byte, error) {
	return decodeBase64Text(strings.ReplaceAll(value, " ", "+"))
}
