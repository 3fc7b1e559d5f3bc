package flow

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
)

// startSession opens (or, after a forced authentication, replaces) the
// browser's SSO session with a fresh upstream result, and names it towards
// the SP being answered. A session it replaces hands on its participants,
// so that single logout still tells them, and is deleted. Failing to keep
// a session only costs single sign-on: the login goes on without one.
func (f *Flow) startSession(ctx context.Context, br Browser, req *bridge.Request, res bridge.Result, log *zap.Logger) (bridge.Result, *Cookie) {
	sess, err := f.Sessions.New(res)
	if err != nil {
		log.Warn("no SSO session kept", zap.Error(err))
		return res, nil
	}
	old, err := f.Sessions.Load(ctx, br.Session)
	if err != nil {
		log.Warn("the session replaced was unreadable", zap.Error(err))
	}
	if old != nil {
		sess.Participants = old.Participants
	}
	cookie, err := f.join(ctx, sess, req, &res)
	if err != nil {
		log.Warn("no SSO session kept", zap.Error(err))
		return res, nil
	}
	if old != nil {
		if err := f.Sessions.Delete(ctx, old.ID); err != nil {
			log.Warn("the session replaced was not deleted", zap.Error(err))
		}
		log.Info("SSO session replaced", zap.Int("participants", len(sess.Participants)))
		return res, cookie
	}
	log.Info("SSO session started")
	return res, cookie
}

// join names the session towards req's SP in res (session index and
// transient NameID), records the SP in sess and saves it.
func (f *Flow) join(ctx context.Context, sess *session.Session, req *bridge.Request, res *bridge.Result) (*Cookie, error) {
	var err error
	if res.SessionIndex, err = samlxml.NewID(f.Rand); err != nil {
		return nil, fmt.Errorf("new session index: %w", err)
	}
	if res.TransientNameID, err = samlxml.NewID(f.Rand); err != nil {
		return nil, fmt.Errorf("new transient NameID: %w", err)
	}
	sess.Joined(req, res, f.Now())
	ttl, err := f.Sessions.Save(ctx, sess)
	if err != nil || ttl <= 0 {
		return nil, err
	}
	return &Cookie{Value: sess.ID, TTL: ttl}, nil
}

// reuse answers req from the browser's SSO session when the session may
// serve it; ok is false when a new authentication is needed.
func (f *Flow) reuse(ctx context.Context, br Browser, sp *bridge.ServiceProvider, req *bridge.Request) (reply Reply, ok bool, err error) {
	if f.Sessions == nil {
		return Reply{}, false, nil
	}
	log := f.log(ctx).With(zap.String("sp", sp.ID), zap.String("dialect", req.Dialect))
	sess, err := f.Sessions.Load(ctx, br.Session)
	if err != nil {
		log.Warn("SSO session unreadable", zap.Error(err))
		return Reply{}, false, nil
	}
	if sess == nil {
		return Reply{}, false, nil
	}
	if usable, why := sess.Reusable(sp, req, f.Now(), f.Sessions.Lifetime); !usable {
		log.Info("SSO session not reused", zap.String("reason", why))
		return Reply{}, false, nil
	}
	res := f.check(req, sp, sess.Result, log)
	if reply.Session, err = f.join(ctx, sess, req, &res); err != nil {
		return Reply{}, false, err
	}
	log.Info("SSO session reused", zap.Int("participants", len(sess.Participants)))
	reply.Out, err = f.render(ctx, sp, req, sp.Policy.Release(req, res))
	return reply, err == nil, err
}

// Session is the browser's SSO session, nil when it has none.
func (f *Flow) Session(ctx context.Context, br Browser) (*session.Session, error) {
	if f.Sessions == nil {
		return nil, nil
	}
	return f.Sessions.Load(ctx, br.Session)
}
