package flow

import (
	"go.uber.org/zap"

	"github.com/clavebridge/clavebridge/bridge"
)

// identify chooses, once for every success rendered to an SP (a fresh
// login or an SSO reuse), the persistent NameID that SP may see: the
// PersonIdentifier when its policy releases it, its pairwise identifier
// otherwise. Without a pairwise secret an SP that may not see the
// PersonIdentifier gets no persistent NameID at all (fail closed: its
// dialect refuses a persistent NameID, never falls back to the Subject).
// The Subject itself is cleared later, by the policy's Release.
func (f *Flow) identify(sp *bridge.ServiceProvider, res bridge.Result, log *zap.Logger) bridge.Result {
	res.PersistentNameID = ""
	if !res.Status.OK() || res.Subject == "" {
		return res
	}
	switch {
	case sp.Policy.ReleasesIdentifier():
		res.PersistentNameID = res.Subject
	case f.Pairwise != nil:
		res.PersistentNameID = f.Pairwise.ID(sp.ID, res.Subject)
	default:
		log.Warn("no pairwise secret: this SP can get no persistent NameID", zap.String("sp", sp.ID))
	}
	return res
}

// participantView is res as the participant's record keeps it: its Subject
// is the persistent NameID the SP was given, never a PersonIdentifier its
// policy withholds, so that a LogoutRequest sent to it names only what it
// already knows.
func participantView(res *bridge.Result) *bridge.Result {
	v := *res
	v.Subject = res.PersistentNameID
	return &v
}
