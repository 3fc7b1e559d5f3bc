package simulator

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/clave2msg"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/trace"
	"github.com/clavebridge/clavebridge/bridge/web"
	"github.com/clavebridge/clavebridge/translate"
)

// maxPageFormBytes caps the body of a submitted login page.
const maxPageFormBytes = 16 << 10

// cancelled answers a login the citizen cancelled. Simulated choice: the
// real gateway's code and text for a cancelled login are not public.
func cancelled() clave2msg.Status {
	return clave2msg.Status{
		Code:    clave2msg.StatusResponder,
		SubCode: clave2msg.StatusAuthnFailed,
		Message: "001 Authentication cancelled by the user",
	}
}

// denied answers a request no identity provider can serve.
func denied(message string) clave2msg.Status {
	return clave2msg.Status{
		Code:    clave2msg.StatusRequester,
		SubCode: clave2msg.StatusRequestDenied,
		Message: message,
	}
}

// handleSSO receives the bridge's AuthnRequest (POST or Redirect binding).
func (s *Simulator) handleSSO(c echo.Context) error {
	p, err := s.readRequest(c)
	if err != nil {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("authentication request refused: %w", err))
	}
	s.logFor(c, p).Info("authentication request accepted", zap.String("request_id", p.ID),
		zap.String("provider", p.Provider), zap.String("application", p.App), zap.Stringer("loa", p.LoA))
	if s.auto != nil {
		return s.autoAuthenticate(c, p)
	}
	if len(s.available(p.Disabled, p.LoA)) == 0 {
		return s.answerFailure(c, p, denied("No identity provider is available for the requested level of assurance"))
	}
	id, err := s.newLoginID()
	if err != nil {
		return s.refuse(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("cannot start a login: %w", err))
	}
	browser, err := s.browserToken(c)
	if err != nil {
		return s.refuse(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("cannot start a login: %w", err))
	}
	l := login{req: *p, step: stepSelect, browser: browser}
	if err := s.logins.put(id, l, s.now()); err != nil {
		return s.refuse(c, http.StatusServiceUnavailable, bridge.ReasonUnavailable, fmt.Errorf("store login: %w", err))
	}
	return s.renderStep(c, id, l, "", "")
}

// newLoginID draws the random id that carries a login between pages.
func (s *Simulator) newLoginID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("draw login id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// handleLogin receives a submitted page.
func (s *Simulator) handleLogin(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxPageFormBytes)
	if err := r.ParseForm(); err != nil {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonBadRequest, fmt.Errorf("login form: %w", err))
	}
	id, now := r.PostForm.Get("login"), s.now()
	l, ok := s.logins.get(id, now)
	if !ok {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonOtherBrowser, errors.New("unknown or expired login id"))
	}
	s.logFor(c, &l.req) // the login's trace, for every line of this hop
	if err := s.checkLoginPost(r, l.browser); err != nil {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonOtherBrowser, err)
	}
	if r.PostForm.Get(web.SwitchField) != "" { // the language switch: the same step again
		return s.renderStep(c, id, l, "", "")
	}
	if r.PostForm.Get("cancel") != "" {
		return s.cancel(c, id)
	}
	o, err := s.advance(l, r.PostForm)
	if err != nil {
		return s.refuse(c, http.StatusInternalServerError, bridge.ReasonInternal, err)
	}
	if o.done == nil {
		o.next.browser = l.browser
		if !s.logins.update(id, o.next, now) {
			return s.refuse(c, http.StatusBadRequest, bridge.ReasonLoginExpired, errors.New("login expired while in use"))
		}
		return s.renderStep(c, id, o.next, o.error, typedUser(o, r.PostForm))
	}
	if _, ok := s.logins.take(id, now); !ok {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonLoginUsed, errors.New("login consumed twice"))
	}
	return s.answerSuccess(c, &l.req, o.done)
}

// typedUser is the identifier the citizen typed, shown again with an error.
func typedUser(o outcome, f url.Values) string {
	if o.error == "" {
		return ""
	}
	if u := f.Get("user"); u != "" {
		return u
	}
	return f.Get("identifier")
}

// cancel ends a login at the citizen's request.
func (s *Simulator) cancel(c echo.Context, id string) error {
	l, ok := s.logins.take(id, s.now())
	if !ok {
		return s.refuse(c, http.StatusBadRequest, bridge.ReasonLoginUsed, errors.New("login consumed twice"))
	}
	return s.answerFailure(c, &l.req, cancelled())
}

// answerSuccess posts the signed response with the encrypted assertion.
func (s *Simulator) answerSuccess(c echo.Context, p *pending, a *authn) error {
	value, err := s.successResponse(p, a)
	if err != nil {
		return s.refuse(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("build the answer: %w", err))
	}
	s.count.Add(1)
	s.logFor(c, p).Info("authentication completed", zap.String("request_id", p.ID), zap.String("application", p.App),
		zap.String("idp", string(a.idp)), zap.Stringer("loa", a.loa),
		zap.String("subject", translate.Mask(a.citizen.ID)))
	return post(c, p, value)
}

// answerFailure posts a signed error response.
func (s *Simulator) answerFailure(c echo.Context, p *pending, st clave2msg.Status) error {
	value, err := s.signedResponse(p, st, nil, s.now())
	if err != nil {
		return s.refuse(c, http.StatusInternalServerError, bridge.ReasonInternal, fmt.Errorf("build the answer: %w", err))
	}
	s.logFor(c, p).Info("authentication not completed", zap.String("request_id", p.ID),
		zap.String("application", p.App), zap.String("status", st.SubCode), zap.String("message", st.Message))
	return post(c, p, value)
}

// post sends the HTTP-POST binding form to the service provider's ACS:
// the shared auto-submitting page, localized, with a visible button when
// scripts are off.
func post(c echo.Context, p *pending, samlResponse string) error {
	securityHeaders(c.Response().Header(), web.PostCSP())
	fields := []samlxml.Field{{Name: "SAMLResponse", Value: samlResponse}, {Name: "RelayState", Value: p.RelayState}}
	return web.WritePost(c, bridge.Outgoing{URL: p.ACS, Fields: fields})
}

// logFor is the simulator's logger for a login. The bridge sends its trace
// id as the RelayState, so the gateway's lines of a login carry the same
// id as the bridge's: the simulator adopts it for the rest of the request.
func (s *Simulator) logFor(c echo.Context, p *pending) *zap.Logger {
	ctx := c.Request().Context()
	if isTraceID(p.RelayState) {
		trace.Adopt(ctx, p.RelayState)
	}
	return trace.Logger(ctx, s.log)
}

// isTraceID reports whether a RelayState is a trace id as the bridge draws
// them (16 hex digits): anything else is some other SP's opaque value.
func isTraceID(v string) bool {
	b, err := hex.DecodeString(v)
	return err == nil && len(b) == 8
}
