package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RedisConfig is how to reach Redis when store.type is redis (store.redis).
type RedisConfig struct {
	// Mode is single (default), sentinel or cluster.
	Mode string `yaml:"mode"`
	// Addresses are host:port pairs: the server (single), the sentinels
	// (sentinel) or some cluster nodes (cluster). store.address is the
	// single-node shorthand; name one or the other.
	Addresses []string `yaml:"addresses"`
	// MasterName is the name the sentinels monitor (sentinel mode).
	MasterName string `yaml:"master_name"`
	// Username is the ACL user; Password its password (or requirepass's),
	// from a file or an environment variable, never written here.
	Username         string         `yaml:"username"`
	Password         RedisPassword  `yaml:"password"`
	SentinelPassword RedisPassword  `yaml:"sentinel_password"`
	DB               int            `yaml:"db"`
	TLS              RedisTLSConfig `yaml:"tls"`
	DialTimeout      Duration       `yaml:"dial_timeout"`  // default 2s
	ReadTimeout      Duration       `yaml:"read_timeout"`  // default 1s
	WriteTimeout     Duration       `yaml:"write_timeout"` // default 1s
	PoolSize         int            `yaml:"pool_size"`     // 0: go-redis's default (10 per CPU)
	// WaitReplicas > 0: take-once and replay writes wait (WAIT) until that
	// many replicas acknowledged them, at most WaitTimeout (default 50ms),
	// and fail closed otherwise.
	WaitReplicas int      `yaml:"wait_replicas"`
	WaitTimeout  Duration `yaml:"wait_timeout"`
}

// RedisTLSConfig is TLS to Redis (and to the sentinels).
type RedisTLSConfig struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`   // "": the system's roots
	CertFile   string `yaml:"cert_file"` // client certificate (optional)
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"` // "": the address's host
}

// RedisPassword names where a Redis password is: {file: PATH} or
// {env: NAME}. A password written inline is refused when decoding.
type RedisPassword Secret

// IsSet reports whether a password is named.
func (p RedisPassword) IsSet() bool { return p.File != "" || p.Env != "" }

// UnmarshalYAML refuses a scalar (a password written in the file) and
// any key but file and env.
func (p *RedisPassword) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: a Redis password is never written in the configuration: write {env: NAME} or {file: PATH}", n.Line)}}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Value != "file" && k.Value != "env" {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in type config.RedisPassword", k.Line, k.Value)}}
		}
	}
	var s Secret
	if err := n.Decode(&s); err != nil {
		return err
	}
	*p = RedisPassword(s)
	return nil
}

// maxRedisPasswordBytes bounds a password file.
const maxRedisPasswordBytes = 4096

// Redis modes.
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

func (c *Config) redisDefaults() {
	r := &c.Store.Redis
	setDefault(&r.Mode, RedisSingle)
	setDurationDefault(&r.DialTimeout, 2*time.Second)
	setDurationDefault(&r.ReadTimeout, time.Second)
	setDurationDefault(&r.WriteTimeout, time.Second)
	setDurationDefault(&r.WaitTimeout, 50*time.Millisecond)
}

// RedisAddresses is store.redis.addresses, or store.address alone.
func (c *Config) RedisAddresses() []string {
	if len(c.Store.Redis.Addresses) > 0 {
		return c.Store.Redis.Addresses
	}
	if c.Store.Address != "" {
		return []string{c.Store.Address}
	}
	return nil
}

// validateRedis checks store.redis (and store.address) when store.type is
// redis.
func (c *Config) validateRedis() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	r := c.Store.Redis
	const p = "store.redis."
	switch {
	case c.Store.Address != "" && len(r.Addresses) > 0:
		add(fieldErr("store.address", "name the servers in store.redis.addresses or store.address, not both"))
	case len(c.RedisAddresses()) == 0:
		add(fieldErr("store.address", "redis needs an address (store.address, or store.redis.addresses)"))
	}
	if u, err := url.Parse(c.Store.Address); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			add(fieldErr("store.address", "the URL holds a password: a password is never written in the configuration; name it in store.redis.password as {env: NAME} or {file: PATH}"))
		}
	}
	addrs := c.RedisAddresses()
	switch r.Mode {
	case RedisSingle:
		if len(r.Addresses) > 1 {
			add(fieldErr(p+"addresses", "single mode takes one address, not %d", len(r.Addresses)))
		}
	case RedisSentinel, RedisCluster:
		for i, a := range addrs {
			if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" || strings.Contains(a, "/") {
				add(fieldErr(fmt.Sprintf(p+"addresses[%d]", i), "%q is not host:port", a))
			}
		}
		if r.Mode == RedisSentinel && r.MasterName == "" {
			add(fieldErr(p+"master_name", "sentinel mode needs the name the sentinels monitor"))
		}
		if r.Mode == RedisCluster && r.DB != 0 {
			add(fieldErr(p+"db", "cluster mode has only database 0"))
		}
	default:
		add(fieldErr(p+"mode", "%q is not single, sentinel or cluster", r.Mode))
	}
	if r.Mode != RedisSentinel && r.MasterName != "" {
		add(fieldErr(p+"master_name", "only sentinel mode has a master name"))
	}
	if r.Mode != RedisSentinel && r.SentinelPassword.IsSet() {
		add(fieldErr(p+"sentinel_password", "only sentinel mode has sentinels"))
	}
	if r.DB < 0 || r.DB > 1<<16 {
		add(fieldErr(p+"db", "%d is not a database number", r.DB))
	}
	if r.PoolSize < 0 || r.PoolSize > 10000 {
		add(fieldErr(p+"pool_size", "%d: want 0 (the default) to 10000", r.PoolSize))
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"dial_timeout", r.DialTimeout}, {"read_timeout", r.ReadTimeout}, {"write_timeout", r.WriteTimeout}, {"wait_timeout", r.WaitTimeout}} {
		if d.v.D() <= 0 || d.v.D() > time.Minute {
			add(fieldErr(p+d.key, "%s: want more than 0, at most 1m", d.v.D()))
		}
	}
	if r.WaitReplicas < 0 || r.WaitReplicas > 16 {
		add(fieldErr(p+"wait_replicas", "%d: want 0 (off) to 16", r.WaitReplicas))
	}
	if r.WaitReplicas > 0 && r.WaitTimeout.D() >= r.ReadTimeout.D() {
		add(fieldErr(p+"wait_timeout", "%s is not shorter than read_timeout %s", r.WaitTimeout.D(), r.ReadTimeout.D()))
	}
	for _, s := range []struct {
		key string
		v   RedisPassword
	}{{"password", r.Password}, {"sentinel_password", r.SentinelPassword}} {
		if s.v.IsSet() {
			add(c.checkSecret(p+s.key, Secret(s.v)))
		}
	}
	t := r.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "") {
		add(fieldErr(p+"tls.enabled", "TLS files or server_name are set but TLS is not enabled"))
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		add(fieldErr(p+"tls", "cert_file and key_file go together"))
	}
	for _, f := range []struct{ key, name string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.name != "" {
			add(c.checkFile(p+"tls."+f.key, f.name))
		}
	}
	return errs
}

// ReadRedisPassword reads a password named by store.redis.password or
// sentinel_password: the file's or the variable's content without the
// trailing newline, "" when none is named.
func (c *Config) ReadRedisPassword(p RedisPassword) (string, error) {
	var text string
	switch {
	case p.File != "":
		f, err := os.Open(c.Path(p.File))
		if err != nil {
			return "", fmt.Errorf("redis password: %w", err)
		}
		defer f.Close()
		buf := make([]byte, maxRedisPasswordBytes+1)
		n, err := f.Read(buf)
		if err != nil && n == 0 {
			return "", fmt.Errorf("redis password: read %s: %w", p.File, err)
		}
		if n > maxRedisPasswordBytes {
			return "", fmt.Errorf("redis password: %s holds more than %d bytes", p.File, maxRedisPasswordBytes)
		}
		text = string(buf[:n])
	case p.Env != "":
		v, ok := os.LookupEnv(p.Env)
		if !ok {
			return "", fmt.Errorf("redis password: environment variable %s is not set", p.Env)
		}
		text = v
	default:
		return "", nil
	}
	text = strings.TrimRight(text, "\r\n")
	if text == "" {
		return "", errors.New("redis password: empty")
	}
	return text, nil
}

// RedisTLS builds the TLS configuration of store.redis.tls, nil when TLS
// is off: at least TLS 1.2, the CA file's roots (else the system's), the
// client certificate when one is named.
func (c *Config) RedisTLS() (*tls.Config, error) {
	t := c.Store.Redis.TLS
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(c.Path(t.CAFile))
		if err != nil {
			return nil, fmt.Errorf("redis tls: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("redis tls: ca_file holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.Path(t.CertFile), c.Path(t.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("redis tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// redis: the risks of a Redis store that Validate allows.
func (r *reviewer) redis() {
	c := r.c
	if c.Store.Type != "redis" {
		return
	}
	rc, prod := c.Store.Redis, c.Mode == ModeProduction
	const p = "store.redis."
	local := allLoopback(c.RedisAddresses())
	if prod && !rc.TLS.Enabled && !local {
		r.add(Warning, p+"tls.enabled", "Redis over plain TCP: sessions and replay marks cross the network unencrypted, and the password too",
			"set store.redis.tls.enabled: true (Redis 6+ with tls-port)")
	}
	if prod && !rc.Password.IsSet() && !local {
		r.add(Warning, p+"password", "no Redis password: anyone who reaches Redis can read sessions and erase replay marks",
			"set an ACL user and name its password as {env: NAME} or {file: PATH}")
	}
	if (rc.Mode == RedisSentinel || rc.Mode == RedisCluster) && rc.WaitReplicas == 0 {
		r.add(Warning, p+"wait_replicas", "replication is asynchronous: a replay mark or a taken login the primary acknowledged can vanish at failover, and be used again",
			"set wait_replicas: 1 (and give the primary at least two replicas, or a replica lost stops logins)")
	}
	for _, s := range []struct {
		key string
		v   RedisPassword
	}{{"password", rc.Password}, {"sentinel_password", rc.SentinelPassword}} {
		if s.v.Env != "" {
			if _, ok := os.LookupEnv(s.v.Env); !ok {
				r.add(Warning, p+s.key+".env", fmt.Sprintf("environment variable %s is not set here", s.v.Env),
					"serve refuses to start without it: set it where the bridge runs")
			}
		}
	}
}

// allLoopback reports whether every address is on loopback, a socket or
// rediss:// (the risks of the network then do not apply).
func allLoopback(addrs []string) bool {
	for _, a := range addrs {
		if strings.HasPrefix(a, "unix://") {
			continue
		}
		if u, err := url.Parse(a); err == nil && strings.Contains(a, "://") {
			if u.Scheme == "rediss" {
				continue
			}
			a = u.Host
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return false
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}
