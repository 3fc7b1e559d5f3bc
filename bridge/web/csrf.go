package web

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// CSRF guards a site's own forms against cross-site request forgery with
// the two checks every form of the bridge's pages uses: the POST's origin
// (its Origin header, or without one its Referer, must name the site's own
// host) and a random token kept in a cookie of its own (HttpOnly,
// SameSite=Strict, so a cross-site form never carries it) that the
// handler compares with the value it expects: a hidden field, or the token
// a login was bound to.
type CSRF struct {
	Cookie string // the token cookie's name
	Path   string // and path
	Secure bool
	Base   string // the site's base URL: the one origin its forms come from
	Rand   io.Reader
}

// Token returns the browser's token, drawing and setting a new one when
// the request carries none (or not one as Token draws them).
func (x CSRF) Token(c echo.Context) (string, error) {
	if ck, err := c.Cookie(x.Cookie); err == nil && validToken(ck.Value) {
		return ck.Value, nil
	}
	var b [16]byte
	if _, err := io.ReadFull(x.Rand, b[:]); err != nil {
		return "", fmt.Errorf("draw csrf token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	c.SetCookie(&http.Cookie{
		Name: x.Cookie, Value: token, Path: x.Path, HttpOnly: true,
		Secure: x.Secure, SameSite: http.SameSiteStrictMode,
	})
	return token, nil
}

// validToken is a token as Token draws them.
func validToken(v string) bool {
	if len(v) != 32 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// Origin reads the request's Origin, or without one its Referer.
// fromBrowser is whether there was one ("null" included: every page here
// is sent with Referrer-Policy no-referrer, so browsers send "Origin:
// null" even for the site's own forms, and the token must decide);
// sameSite is false when it names a host other than the site's.
func (x CSRF) Origin(r *http.Request) (fromBrowser, sameSite bool) {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	switch from {
	case "":
		return false, true
	case "null":
		return true, true // opaque: the token decides
	}
	want, err := url.Parse(x.Base)
	if err != nil {
		return true, false
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return true, false
	}
	return true, strings.EqualFold(u.Host, want.Host)
}

// Carries reports whether the request brought the token cookie (present)
// and whether its value is want (in constant time; never for an empty want).
func (x CSRF) Carries(r *http.Request, want string) (present, equal bool) {
	ck, err := r.Cookie(x.Cookie)
	if err != nil {
		return false, false
	}
	return true, want != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(want)) == 1
}
