package bridge

import (
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge/samlxml"
)

// startSession opens (or, after a forced authentication, replaces) the
// browser's SSO session with a fresh upstream result, and names it towards
// the SP being answered. Failing to keep a session only costs single sign-on.
func (f *Flow) startSession(c echo.Context, req *Request, res Result, log *zap.Logger) Result {
	sess, err := f.Sessions.New(res)
	if err == nil {
		err = f.join(c, sess, req, &res)
	}
	if err != nil {
		log.Warn("no SSO session kept", zap.Error(err))
		return res
	}
	log.Info("SSO session started")
	return res
}

// join names the session towards req's SP in res (session index and
// transient NameID), records the SP in sess, saves it and sets the cookie.
func (f *Flow) join(c echo.Context, sess *Session, req *Request, res *Result) error {
	var err error
	if res.SessionIndex, err = samlxml.NewID(f.Rand); err != nil {
		return err
	}
	if res.TransientNameID, err = samlxml.NewID(f.Rand); err != nil {
		return err
	}
	sess.Joined(req, res, f.Now())
	return f.Sessions.Save(c.Request().Context(), c, sess)
}

// reuse answers req from the browser's SSO session when the session may
// serve it; ok is false when a new authentication is needed.
func (f *Flow) reuse(c echo.Context, sp *ServiceProvider, req *Request) (out Outgoing, ok bool, err error) {
	if f.Sessions == nil {
		return Outgoing{}, false, nil
	}
	log := f.Log.With(zap.String("sp", sp.ID), zap.String("dialect", req.Dialect))
	sess, err := f.Sessions.Load(c)
	if err != nil {
		log.Warn("SSO session unreadable", zap.Error(err))
		return Outgoing{}, false, nil
	}
	if sess == nil {
		return Outgoing{}, false, nil
	}
	if usable, why := sess.Reusable(sp, req, f.Now(), f.Sessions.Lifetime); !usable {
		log.Info("SSO session not reused", zap.String("reason", why))
		return Outgoing{}, false, nil
	}
	res := f.check(req, sp, sess.Result, log)
	if err := f.join(c, sess, req, &res); err != nil {
		return Outgoing{}, false, err
	}
	log.Info("SSO session reused", zap.Int("participants", len(sess.Participants)))
	out, err = f.render(c.Request().Context(), sp, req, sp.Policy.Release(req, res))
	return out, err == nil, err
}
