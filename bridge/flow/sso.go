package flow

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
	"github.com/clavebridge/clavebridge/bridge/samlxml"
	"github.com/clavebridge/clavebridge/bridge/session"
)

// startSession opens (or, after a forced authentication, replaces) the
// browser's SSO session with a fresh upstream result, and names it towards
// the SP being answered. A session it replaces hands on its participants,
// so that single logout still tells them, and is deleted (both at once,
// so that an SP joining it meanwhile is not lost). When the session
// replaced already records session.MaxParticipants SPs and this one is
// not among them, it is kept as it is and this login goes on without
// single sign-on. Failing to keep a session only costs single sign-on:
// the login goes on without one.
func (f *Flow) startSession(ctx context.Context, br Browser, req *bridge.Request, res bridge.Result, log *zap.Logger) (bridge.Result, *Cookie) {
	sess, err := f.Sessions.New(res)
	if err != nil {
		log.Warn("no SSO session kept", zap.Error(err))
		return res, nil
	}
	p, err := f.participant(req, &res)
	if err == nil {
		err = sess.Add(p)
	}
	if err != nil {
		log.Warn("no SSO session kept", zap.Error(err))
		return res, nil
	}
	replaced, err := f.Sessions.Replace(ctx, br.Session, sess)
	switch {
	case errors.Is(err, session.ErrFull):
		log.Warn("no SSO session kept", zap.Error(err),
			zap.String("reason", "the browser's session records the most services it may; it stays as it is"))
		return res, nil
	case err != nil:
		log.Warn("the session replaced was unreadable", zap.Error(err))
	}
	ttl, err := f.Sessions.Save(ctx, sess)
	if err != nil || ttl <= 0 {
		if err != nil {
			log.Warn("no SSO session kept", zap.Error(err))
		}
		return res, nil
	}
	cookie := &Cookie{Value: sess.ID, TTL: ttl}
	if replaced {
		log.Info("SSO session replaced", zap.Int("participants", len(sess.Participants)))
		return res, cookie
	}
	log.Info("SSO session started")
	return res, cookie
}

// participant names the session towards req's SP in res (session index
// and transient NameID) and returns the SP's record for the session, with
// the persistent NameID it is given (never a PersonIdentifier its policy
// withholds).
func (f *Flow) participant(req *bridge.Request, res *bridge.Result) (bridge.Participant, error) {
	var err error
	if res.SessionIndex, err = samlxml.NewID(f.Rand); err != nil {
		return bridge.Participant{}, fmt.Errorf("new session index: %w", err)
	}
	if res.TransientNameID, err = samlxml.NewID(f.Rand); err != nil {
		return bridge.Participant{}, fmt.Errorf("new transient NameID: %w", err)
	}
	return session.Participant(req, participantView(res), f.Now()), nil
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
	res, result := f.check(req, sp, sess.Result, log)
	res = f.identify(sp, res, log)
	if result == LoginSuccess {
		result = LoginSSO
	}
	p, err := f.participant(req, &res)
	if err != nil {
		return Reply{}, false, err
	}
	// Recorded atomically: concurrent reuses of one session all count.
	ttl, err := f.Sessions.Join(ctx, sess, p)
	switch {
	case errors.Is(err, session.ErrEnded), errors.Is(err, session.ErrFull):
		log.Info("SSO session not reused", zap.String("reason", err.Error()))
		return Reply{}, false, nil
	case err != nil:
		return Reply{}, false, err
	}
	reply.Session = &Cookie{Value: sess.ID, TTL: ttl}
	log.Info("SSO session reused", zap.Int("participants", len(sess.Participants)))
	reply.Out, err = f.render(ctx, sp, req, sp.Policy.Release(req, res))
	if err == nil {
		f.countLogin(sp, result)
	}
	return reply, err == nil, err
}

// Session is the browser's SSO session, nil when it has none.
func (f *Flow) Session(ctx context.Context, br Browser) (*session.Session, error) {
	if f.Sessions == nil {
		return nil, nil
	}
	return f.Sessions.Load(ctx, br.Session)
}
