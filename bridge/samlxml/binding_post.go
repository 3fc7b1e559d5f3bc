package samlxml

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// The SAML binding URIs of the two bindings this package codes.
const (
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
)

// AutoSubmitScript is the only script a POST binding page runs (it submits
// the page's first form); PostFormCSP allows exactly this text by its hash.
// It calls the prototype's submit so a field named "submit" cannot shadow it.
const AutoSubmitScript = autoSubmitScript

const autoSubmitScript = `HTMLFormElement.prototype.submit.call(document.forms[0]);`

// HiddenInputs renders fields as hidden inputs, each value escaped so that
// it survives the browser's parsing byte for byte (CR and LF included).
func HiddenInputs(fields []Field) string {
	var b strings.Builder
	size := 0
	for _, f := range fields {
		size += len(f.Name) + len(f.Value) + 48
	}
	b.Grow(size)
	for _, f := range fields {
		b.WriteString(`<input type="hidden" name="`)
		writeAttrEscaped(&b, f.Name)
		b.WriteString(`" value="`)
		writeAttrEscaped(&b, f.Value)
		b.WriteString("\">\n")
	}
	return b.String()
}

// PostFormCSP is the Content-Security-Policy of a POST binding page: its one
// script (AutoSubmitScript) by hash, forms to anywhere over http(s).
func PostFormCSP() string {
	sum := sha256.Sum256([]byte(autoSubmitScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action http: https:; frame-ancestors 'none'; base-uri 'none'"
}

// postLineSlack allows for line breaks in a base64 form value.
const postLineSlack = 1024

// DecodePostValue base64-decodes a SAMLRequest/SAMLResponse form value,
// refusing anything that decodes to more than maxBytes.
//
// White space (line breaks included) is ignored; the length is checked
// before decoding.
func DecodePostValue(value string, maxBytes int) ([]byte, error) {
	limit := base64.StdEncoding.EncodedLen(max(maxBytes, 0))
	if len(value) > limit+limit/32+postLineSlack {
		return nil, fmt.Errorf("samlxml: POST value of %d bytes is too long for a %d byte message", len(value), maxBytes)
	}
	compact := stripSpace(value)
	if len(compact) > limit {
		return nil, fmt.Errorf("samlxml: POST value decodes to more than %d bytes", maxBytes)
	}
	if compact == "" {
		return nil, errors.New("samlxml: empty POST value")
	}
	data, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, fmt.Errorf("samlxml: POST value is not base64: %w", err)
	}
	if len(data) > maxBytes {
		return nil, fmt.Errorf("samlxml: POST value decodes to more than %d bytes", maxBytes)
	}
	return data, nil
}

// attrSpecials are the bytes writeAttrEscaped replaces: html.EscapeString's
// five, CR and LF.
const attrSpecials = "&'<>\"\r\n"

// writeAttrEscaped writes s escaped for an attribute value, CR and LF
// included, so that it survives the browser's attribute-value
// normalisation byte for byte; in one pass (a base64 value, the common
// case, has nothing to escape).
func writeAttrEscaped(b *strings.Builder, s string) {
	for {
		i := strings.IndexAny(s, attrSpecials)
		if i < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		switch s[i] {
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&#39;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		case '\r':
			b.WriteString("&#13;")
		case '\n':
			b.WriteString("&#10;")
		}
		s = s[i+1:]
	}
}

// MessageFields are the fields of a POSTed message: name=value, and the
// RelayState when there is one.
func MessageFields(name, value, relayState string) []Field {
	fields := []Field{{Name: name, Value: value}}
	if relayState != "" {
		fields = append(fields, Field{Name: "RelayState", Value: relayState})
	}
	return fields
}
