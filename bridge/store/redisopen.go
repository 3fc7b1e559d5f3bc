package store

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The deployments OpenRedis connects to.
const (
	RedisSingle   = "single"   // one server (perhaps behind a fixed address)
	RedisSentinel = "sentinel" // a primary and replicas watched by Sentinel
	RedisCluster  = "cluster"  // Redis Cluster
)

// DefaultRedisWaitTimeout is how long a take-once or replay write waits for
// its replicas when RedisOptions.WaitTimeout is zero.
const DefaultRedisWaitTimeout = 50 * time.Millisecond

// DefaultRedisReadTimeout is go-redis's read timeout, used when
// RedisOptions.ReadTimeout is zero.
const DefaultRedisReadTimeout = 3 * time.Second

// RedisOptions say how to reach Redis and how hard to insist on replication.
// Zero values mean go-redis's defaults, except where noted.
type RedisOptions struct {
	// Mode is RedisSingle (the default when empty), RedisSentinel or
	// RedisCluster.
	Mode string
	// Addresses are host:port pairs: the server (single: exactly one, which
	// may also be a redis:// or rediss:// URL as DialRedis takes), the
	// sentinels (sentinel) or some of the cluster's nodes (cluster).
	Addresses []string
	// MasterName is the name the sentinels monitor (sentinel mode only).
	MasterName string
	// Username and Password authenticate to Redis (an ACL user, or only a
	// password for requirepass). SentinelUsername and SentinelPassword
	// authenticate to the sentinels themselves.
	Username, Password                 string
	SentinelUsername, SentinelPassword string
	// DB is the database number (must be 0 in cluster mode).
	DB int
	// TLS, when not nil, is used for every connection (Redis and sentinels).
	TLS *tls.Config
	// Timeouts for dialling and for each command's reads and writes; the
	// context's deadline bounds commands too.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize is the most connections per server.
	PoolSize int
	// WaitReplicas > 0 makes TakePending and MarkSeen send WAIT after their
	// write and fail with ErrNotReplicated unless that many replicas
	// acknowledged it within WaitTimeout (DefaultRedisWaitTimeout if zero),
	// which must be shorter than the read timeout (else the read times out
	// first, and a retry finds the write done: a take-once value not
	// found, a first use reported as a replay).
	WaitReplicas int
	WaitTimeout  time.Duration
	// Prefix begins every key ("" means DefaultRedisPrefix).
	Prefix string
}

// OpenRedis connects to Redis as opts say, checks the connection with a PING
// bounded by RedisDialTimeout and returns the store. Errors never include a
// password.
func OpenRedis(opts RedisOptions) (*Redis, error) {
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultRedisWaitTimeout
	}
	if read := cmp.Or(opts.ReadTimeout, DefaultRedisReadTimeout); opts.WaitReplicas > 0 && opts.WaitTimeout >= read {
		return nil, fmt.Errorf("redis store: wait timeout %v is not shorter than the read timeout %v", opts.WaitTimeout, read)
	}
	client, err := redisClient(opts)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), RedisDialTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis store: connect (%s mode, %s): ping: %w", modeOrSingle(opts.Mode), redisAddrs(opts), err)
	}
	r := NewRedis(client, opts.Prefix)
	r.waitReplicas = max(opts.WaitReplicas, 0)
	r.waitTimeout = opts.WaitTimeout
	return r, nil
}

func modeOrSingle(mode string) string {
	if mode == "" {
		return RedisSingle
	}
	return mode
}

// redisAddrs names the addresses for an error, without a URL's password.
func redisAddrs(opts RedisOptions) string {
	out := make([]string, len(opts.Addresses))
	for i, a := range opts.Addresses {
		if strings.Contains(a, "://") {
			if o, err := redisOptions(a); err == nil {
				a = o.Addr
			} else {
				a = "(a URL)"
			}
		}
		out[i] = a
	}
	return strings.Join(out, ",")
}

// redisClient builds the go-redis client for opts' mode.
func redisClient(opts RedisOptions) (redis.UniversalClient, error) {
	if len(opts.Addresses) == 0 {
		return nil, errors.New("no address")
	}
	if opts.DB < 0 {
		return nil, fmt.Errorf("db %d is negative", opts.DB)
	}
	switch modeOrSingle(opts.Mode) {
	case RedisSingle:
		if len(opts.Addresses) != 1 {
			return nil, fmt.Errorf("single mode takes one address, not %d", len(opts.Addresses))
		}
		o, err := redisOptions(opts.Addresses[0])
		if err != nil {
			return nil, fmt.Errorf("parse address: %w", err)
		}
		if opts.Username != "" {
			o.Username = opts.Username
		}
		if opts.Password != "" {
			o.Password = opts.Password
		}
		if opts.DB != 0 {
			o.DB = opts.DB
		}
		if opts.TLS != nil {
			o.TLSConfig = opts.TLS
		}
		setIfPositive(&o.DialTimeout, opts.DialTimeout)
		setIfPositive(&o.ReadTimeout, opts.ReadTimeout)
		setIfPositive(&o.WriteTimeout, opts.WriteTimeout)
		if opts.PoolSize > 0 {
			o.PoolSize = opts.PoolSize
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClient(o), nil
	case RedisSentinel:
		if opts.MasterName == "" {
			return nil, errors.New("sentinel mode needs the master name")
		}
		if err := hostPorts(opts.Addresses); err != nil {
			return nil, err
		}
		return redis.NewUniversalClient(universalOptions(opts)), nil
	case RedisCluster:
		if opts.DB != 0 {
			return nil, errors.New("cluster mode has only database 0")
		}
		if err := hostPorts(opts.Addresses); err != nil {
			return nil, err
		}
		u := universalOptions(opts)
		u.MasterName, u.IsClusterMode = "", true // a cluster even from one seed address
		return redis.NewUniversalClient(u), nil
	default:
		return nil, fmt.Errorf("mode %q is not %s, %s or %s", opts.Mode, RedisSingle, RedisSentinel, RedisCluster)
	}
}

func hostPorts(addrs []string) error {
	for _, a := range addrs {
		if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" {
			return errors.New("sentinel and cluster addresses are host:port")
		}
	}
	return nil
}

func setIfPositive(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

// universalOptions are go-redis's universal client options for a Sentinel
// or Cluster deployment: NewUniversalClient makes a failover client when
// MasterName is set, a cluster client when IsClusterMode is.
func universalOptions(opts RedisOptions) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:                 opts.Addresses,
		MasterName:            opts.MasterName,
		SentinelUsername:      opts.SentinelUsername,
		SentinelPassword:      opts.SentinelPassword,
		Username:              opts.Username,
		Password:              opts.Password,
		DB:                    opts.DB,
		TLSConfig:             opts.TLS,
		DialTimeout:           opts.DialTimeout,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		PoolSize:              opts.PoolSize,
		ContextTimeoutEnabled: true,
	}
}
