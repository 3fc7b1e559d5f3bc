package metadata

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/clavebridge/clavebridge/bridge/config"
)

// source reads an SP's metadata: a file, or a URL fetched under the fetch
// guard and, when useCache is set, the last good copy kept in cacheDir
// when the fetch or its checks fail. A good copy fetched is written there.
type source struct {
	fetch    *Fetcher
	cacheDir string
	useCache bool
	// Set by read for a URL: remote, and what the copy in use says.
	remote bool
	info   copyInfo
	// cacheErr is why the good copy just fetched could not be kept on
	// disk. The copy serves anyway: a full or read-only disk costs the
	// offline restart, not the SP.
	cacheErr error
}

func (s *source) read(ctx context.Context, c config.SPConfig, from string, signers []*x509.Certificate, now time.Time) (*spMetadata, error) {
	s.remote = config.IsURL(from)
	md, data, err := s.get(ctx, c, from, signers, now)
	if err == nil {
		if s.remote {
			s.info = copyInfo{fetched: now, validUntil: md.ValidUntil, cacheDuration: md.CacheDuration}
			if s.cacheDir != "" {
				s.cacheErr = writeCopy(s.cacheDir, c.ID, data)
			}
		}
		return md, nil
	}
	if !s.remote || !s.useCache || s.cacheDir == "" {
		return nil, err
	}
	path := cachePath(s.cacheDir, c.ID)
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		return nil, err
	}
	md, perr := s.check(c, data, signers, now)
	if perr != nil {
		return nil, fmt.Errorf("%w; the last good copy %s: %v", err, path, perr)
	}
	fetched := now
	if st, serr := os.Stat(path); serr == nil {
		fetched = st.ModTime()
	}
	s.info = copyInfo{fetched: fetched, validUntil: md.ValidUntil, cacheDuration: md.CacheDuration}
	return md, nil
}

func (s *source) get(ctx context.Context, c config.SPConfig, from string, signers []*x509.Certificate, now time.Time) (*spMetadata, []byte, error) {
	data, err := s.fetch.Fetch(ctx, from, PolicyOf(c))
	if err != nil {
		return nil, nil, err
	}
	md, err := s.check(c, data, signers, now)
	return md, data, err
}

func (s *source) check(c config.SPConfig, data []byte, signers []*x509.Certificate, now time.Time) (*spMetadata, error) {
	md, err := parseSPMetadata(data, signers, now)
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", c.Metadata, err)
	}
	if md.EntityID != c.ID {
		return nil, fmt.Errorf("metadata %s describes %q, not %q", c.Metadata, md.EntityID, c.ID)
	}
	return md, nil
}

// cachePath names an SP's copy by a hash of its entity ID.
func cachePath(dir, id string) string {
	h := sha256.Sum256([]byte(id))
	return filepath.Join(dir, hex.EncodeToString(h[:12])+".xml")
}

// writeCopy writes an SP's metadata atomically, mode 0600.
func writeCopy(dir, id string, data []byte) error {
	if err := writeFileAtomic(cachePath(dir, id), data); err != nil {
		return fmt.Errorf("metadata cache: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in its
// directory (made 0700 if missing), synced, then renamed over path: a
// reader sees the old copy or the new one, never half of one. Mode 0600.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".copy-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(0o600)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
	}
	return werr
}

var xsDuration = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseXSDuration reads a non-negative xs:duration (a month is 30 days, a
// year 365).
func parseXSDuration(s string) (time.Duration, bool) {
	m := xsDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s[len(s)-1] == 'T' {
		return 0, false
	}
	units := []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute}
	var d time.Duration
	for i, u := range units {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 32)
			if err != nil {
				return 0, false
			}
			d += time.Duration(n) * u
		}
	}
	if m[6] != "" {
		f, err := strconv.ParseFloat(m[6], 64)
		if err != nil {
			return 0, false
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, true
}

// RefreshMeter is what the refresher reports: the age of each SP's
// metadata copy in use and each failed refresh. SP labels are configured
// entity IDs.
type RefreshMeter interface {
	MetadataAge(sp string, age time.Duration)
	MetadataRefreshFailed(sp string)
	// MetadataCacheWriteFailed counts a good copy that could not be kept
	// in metadata_cache_dir (it serves, but a restart would need the URL).
	MetadataCacheWriteFailed(sp string)
}

// Refresher fetches again, when due, the metadata of every SP given by
// URL: when its cacheDuration (clamped to [Min, Max]) has passed, and
// before its validUntil. A copy that fails the fetch or its checks
// (signature included) is not used: the previous one serves until its own
// validUntil, past which that SP's requests are refused; other SPs go on.
type Refresher struct {
	Registry *Registry
	Config   *config.Config
	Fetch    *Fetcher
	Now      func() time.Time
	Meter    RefreshMeter // may be nil
	// Log reports a failed refresh or an SP refused (may be nil).
	Log func(sp string, err error)
	// AfterRefresh, when set, is called after each tick's refresh.
	AfterRefresh func()

	next map[string]time.Time
}

// Run refreshes on each tick until ctx is done.
func (f *Refresher) Run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			f.Refresh(ctx)
			if f.AfterRefresh != nil {
				f.AfterRefresh()
			}
		}
	}
}

// Refresh fetches what is due and reports every SP's metadata age.
func (f *Refresher) Refresh(ctx context.Context) {
	if f.next == nil {
		f.next = map[string]time.Time{}
	}
	now := f.Now()
	min, max := f.Config.MetadataRefresh.Bounds()
	r := f.Registry
	for _, spc := range f.Config.ServiceProviders {
		if !config.IsURL(spc.Metadata) {
			continue
		}
		d := f.Config.Dialect(spc.Dialect)
		if d == nil {
			continue
		}
		k := key(spc.Dialect, spc.ID)
		r.mu.RLock()
		cur, known := r.copies[k]
		r.mu.RUnlock()
		next, ok := f.next[k]
		if !ok && known {
			next = due(cur, min, max)
		}
		if known && now.Before(next) && (cur.validUntil.IsZero() || now.Before(cur.validUntil)) {
			f.age(spc.ID, now.Sub(cur.fetched))
			continue
		}
		fetch := f.Fetch
		if fetch == nil {
			fetch = &Fetcher{}
		}
		src := &source{fetch: fetch, cacheDir: r.cacheDir}
		sp, err := resolve(f.Config, spc, now, src)
		if err == nil {
			r.mu.Lock()
			old := r.sps[k]
			r.sps[k] = sp
			for i, o := range r.order {
				if o == old {
					r.order[i] = sp
				}
			}
			if old == nil {
				r.order = append(r.order, sp)
			}
			r.copies[k] = src.info
			delete(r.refused, k)
			r.mu.Unlock()
			f.next[k] = due(src.info, min, max)
			f.age(spc.ID, 0)
			f.cacheFailed(spc.ID, src.cacheErr)
			continue
		}
		f.next[k] = now.Add(min)
		if f.Meter != nil {
			f.Meter.MetadataRefreshFailed(spc.ID)
		}
		if known {
			f.log(spc.ID, fmt.Errorf("metadata refresh failed, the last good copy serves: %w", err))
		} else {
			f.log(spc.ID, fmt.Errorf("metadata refresh failed, and there is no good copy: the SP stays refused: %w", err))
		}
		if known {
			f.age(spc.ID, now.Sub(cur.fetched))
		}
		if known && !cur.validUntil.IsZero() && !now.Before(cur.validUntil) {
			why := fmt.Errorf("its metadata expired at %s (validUntil) and could not be refreshed: %v",
				cur.validUntil.UTC().Format(time.RFC3339), err)
			r.mu.Lock()
			_, already := r.refused[k]
			r.refused[k] = why
			r.mu.Unlock()
			if !already {
				f.log(spc.ID, fmt.Errorf("requests refused: %w", why))
			}
		}
	}
}

// due is when a copy should be fetched again: after its cacheDuration
// clamped to [min, max], and no later than its validUntil.
func due(c copyInfo, min, max time.Duration) time.Time {
	d := c.cacheDuration
	if d < min {
		d = min
	}
	if d > max {
		d = max
	}
	t := c.fetched.Add(d)
	if !c.validUntil.IsZero() && c.validUntil.Before(t) {
		t = c.validUntil
	}
	return t
}

func (f *Refresher) age(sp string, d time.Duration) {
	if f.Meter != nil {
		f.Meter.MetadataAge(sp, d)
	}
}

// cacheFailed reports a good copy that could not be written to the cache.
func (f *Refresher) cacheFailed(sp string, err error) {
	if err == nil {
		return
	}
	if f.Meter != nil {
		f.Meter.MetadataCacheWriteFailed(sp)
	}
	f.log(sp, fmt.Errorf("the metadata refreshed serves, but its copy could not be kept for an offline restart: %w", err))
}

func (f *Refresher) log(sp string, err error) {
	if f.Log != nil {
		f.Log(sp, err)
	}
}
