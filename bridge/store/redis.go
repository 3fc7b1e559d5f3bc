package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the key prefix NewRedis uses when given "".
const DefaultRedisPrefix = "clavebridge:"

// RedisDialTimeout bounds the PING with which DialRedis checks the server.
const RedisDialTimeout = 2 * time.Second

// Key-space infixes: a key is <prefix><space><id>.
const (
	redisPendingSpace = "pending:"
	redisSeenSpace    = "seen:"
	redisSessionSpace = "session:"
)

// Redis is a Store backed by a Redis server, shared by every bridge instance
// that uses the same server and prefix.
//
// Entries live in three key spaces, <prefix>pending:<id>, <prefix>seen:<key>
// and <prefix>session:<id>, and expire through Redis itself: every write is a
// SET with PX, the ttl rounded up to whole milliseconds so that an entry never
// disappears before ttl has elapsed. TakePending uses GETDEL, so the server
// must be Redis 6.2 or later (or a compatible server with GETDEL);
// UpdateSession runs a short Lua script (EVALSHA), so scripting must be
// allowed. Redis has no capacity limit of its own here, so Redis never
// returns ErrFull; the server's maxmemory policy governs memory instead.
//
// A Redis owns its client: Close closes it. It is safe for concurrent use.
type Redis struct {
	client redis.UniversalClient
	prefix string
	closed atomic.Bool
	// waitReplicas > 0 makes TakePending and MarkSeen wait, after their
	// write, until that many replicas acknowledged it (WAIT), at most
	// waitTimeout (see OpenRedis).
	waitReplicas int
	waitTimeout  time.Duration
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store that keeps its entries in Redis through client,
// under keys beginning with prefix ("" means DefaultRedisPrefix). client must
// not be nil; the returned Redis takes ownership of it. For context deadlines
// to bound commands in flight, and not only their start, create client with
// ContextTimeoutEnabled set, as DialRedis does.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{client: client, prefix: prefix}
}

// DialRedis connects to the Redis server at address and checks it with a
// PING bounded by RedisDialTimeout. address is either a URL that
// redis.ParseURL understands (redis://[user:password@]host[:port][/db],
// rediss:// for TLS, unix:///path) or a bare host:port. The returned store
// uses DefaultRedisPrefix.
func DialRedis(address string) (*Redis, error) {
	opts, err := redisOptions(address)
	if err != nil {
		return nil, fmt.Errorf("redis store: parse address: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), RedisDialTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		// opts.Addr is host:port or a socket path: never the password.
		return nil, fmt.Errorf("redis store: connect to %s: ping: %w", opts.Addr, err)
	}
	return NewRedis(client, ""), nil
}

// redisOptions parses a DialRedis address. Errors never include the address
// itself, which may hold a password.
func redisOptions(address string) (*redis.Options, error) {
	if strings.Contains(address, "://") {
		opts, err := redis.ParseURL(address)
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL, password included
		}
		return opts, err
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil || host == "" || port == "" {
		return nil, errors.New("want a redis:// URL or host:port")
	}
	return &redis.Options{Addr: address}, nil
}

// ErrNotReplicated: a take-once or replay write reached the primary but
// fewer replicas than RedisOptions.WaitReplicas acknowledged it within
// RedisOptions.WaitTimeout. The write stands on the primary; the caller
// fails closed (the login stops) rather than risk it vanishing at failover.
var ErrNotReplicated = errors.New("store: write not acknowledged by enough replicas")

// PutPending implements Store with SET <prefix>pending:<id> value PX ttl.
func (r *Redis) PutPending(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return r.set(ctx, "put pending", r.key(redisPendingSpace, id), value, ttl)
}

// TakePending implements Store with GETDEL, which reads and deletes the key in
// one atomic step (Redis >= 6.2).
func (r *Redis) TakePending(ctx context.Context, id string) ([]byte, error) {
	const op = "take pending"
	if err := r.begin(ctx, op); err != nil {
		return nil, err
	}
	key := r.key(redisPendingSpace, id)
	cmd := redis.NewStringCmd(ctx, "getdel", key)
	if err := r.process(ctx, key, cmd); err != nil {
		return nil, r.fail(ctx, op, err)
	}
	value, err := cmd.Bytes()
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return value, nil
}

// MarkSeen implements Store with SET <prefix>seen:<key> 1 PX ttl NX: the
// first caller gets OK, later ones a nil reply until the key expires.
func (r *Redis) MarkSeen(ctx context.Context, key string, ttl time.Duration) (first bool, err error) {
	const op = "mark seen"
	if err := r.begin(ctx, op); err != nil {
		return false, err
	}
	if err := CheckTTL(ttl); err != nil {
		return false, fmt.Errorf("redis store: %s: %w", op, err)
	}
	k := r.key(redisSeenSpace, key)
	cmd := redis.NewStatusCmd(ctx, "set", k, "1", "px", millis(ttl), "nx")
	switch err := r.process(ctx, k, cmd); {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	default:
		return false, r.fail(ctx, op, err)
	}
}

// PutSession implements Store with SET <prefix>session:<id> value PX ttl.
func (r *Redis) PutSession(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return r.set(ctx, "put session", r.key(redisSessionSpace, id), value, ttl)
}

// GetSession implements Store with GET.
func (r *Redis) GetSession(ctx context.Context, id string) ([]byte, error) {
	const op = "get session"
	if err := r.begin(ctx, op); err != nil {
		return nil, err
	}
	value, err := r.client.Get(ctx, r.key(redisSessionSpace, id)).Bytes()
	if err != nil {
		return nil, r.fail(ctx, op, err)
	}
	return value, nil
}

// DeleteSession implements Store with DEL. Deleting a missing session is not
// an error.
func (r *Redis) DeleteSession(ctx context.Context, id string) error {
	const op = "delete session"
	if err := r.begin(ctx, op); err != nil {
		return err
	}
	if err := r.client.Del(ctx, r.key(redisSessionSpace, id)).Err(); err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

// RedisUpdateAttempts bounds how many times UpdateSession tries before it
// gives up with ErrConflict. An attempt fails only when another update of
// the same session succeeded since it read the value, so N concurrent
// updates of one session all succeed when N <= RedisUpdateAttempts.
const RedisUpdateAttempts = 100

// compareAndSet writes KEYS[1] only if it still holds what the caller read:
// ARGV[1] is "1" when it read ARGV[2], "0" when it found nothing; ARGV[3]
// is "set" (ARGV[4] for ARGV[5] ms) or "del". It returns 1 when it wrote.
var compareAndSet = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
if ARGV[3] == 'set' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[1])
end
return 1
`)

// UpdateSession implements Store optimistically: GET the session, run
// update, then write with a script that compares the value first (a
// compare-and-set executed atomically by the server). When another update
// won in between it starts again, at most RedisUpdateAttempts times.
func (r *Redis) UpdateSession(ctx context.Context, id string, update func(old []byte) ([]byte, error), ttl time.Duration) error {
	const op = "update session"
	if err := r.begin(ctx, op); err != nil {
		return err
	}
	if err := CheckTTL(ttl); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	key := r.key(redisSessionSpace, id)
	for range RedisUpdateAttempts {
		old, err := r.client.Get(ctx, key).Bytes()
		found := "1"
		switch {
		case errors.Is(err, redis.Nil):
			old, found = nil, "0"
		case err != nil:
			return r.fail(ctx, op, err)
		case old == nil:
			old = []byte{}
		}
		value, err := update(old)
		if err != nil {
			return fmt.Errorf("redis store: %s: %w", op, err)
		}
		args := []any{found, old, "del"}
		if value != nil {
			args = []any{found, old, "set", value, millis(ttl)}
		}
		wrote, err := compareAndSet.Run(ctx, r.client, []string{key}, args...).Int()
		if err != nil {
			return r.fail(ctx, op, err)
		}
		if wrote == 1 {
			return nil
		}
	}
	return fmt.Errorf("redis store: %s: %w (%d attempts)", op, ErrConflict, RedisUpdateAttempts)
}

// Ping implements Store with PING.
func (r *Redis) Ping(ctx context.Context) error {
	const op = "ping"
	if err := r.begin(ctx, op); err != nil {
		return err
	}
	if err := r.client.Ping(ctx).Err(); err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

// Close closes the client; later calls other than Close fail with ErrClosed.
// The entries stay in Redis until they expire. Close is idempotent.
func (r *Redis) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redis store: close: %w", err)
	}
	return nil
}

// set is the shared body of PutPending and PutSession.
func (r *Redis) set(ctx context.Context, op, key string, value []byte, ttl time.Duration) error {
	if err := r.begin(ctx, op); err != nil {
		return err
	}
	if err := CheckTTL(ttl); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	cmd := redis.NewStatusCmd(ctx, "set", key, value, "px", millis(ttl))
	if err := r.client.Process(ctx, cmd); err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

// process runs cmd, a write to key whose loss at a failover would let a
// login or an assertion be used twice. With waitReplicas set it sends WAIT
// right behind cmd on the same connection (a pipeline to the primary that
// owns key) and fails with ErrNotReplicated when fewer replicas
// acknowledged the write in time. A command that wrote nothing (a nil
// reply: nothing to take, or a replay) needs no wait.
func (r *Redis) process(ctx context.Context, key string, cmd redis.Cmder) error {
	if r.waitReplicas <= 0 {
		return r.client.Process(ctx, cmd)
	}
	var pipe redis.Pipeliner
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		node, err := c.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("find the primary of the key's slot: %w", err)
		}
		pipe = node.Pipeline()
	case *redis.Client:
		pipe = c.Pipeline()
	default:
		return fmt.Errorf("wait for replicas: unsupported client %T", r.client)
	}
	wait := redis.NewIntCmd(ctx, "wait", r.waitReplicas, max(r.waitTimeout.Milliseconds(), 1))
	_ = pipe.Process(ctx, cmd)
	_ = pipe.Process(ctx, wait)
	_, _ = pipe.Exec(ctx)
	if err := cmd.Err(); err != nil {
		return err
	}
	if err := wait.Err(); err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if n := wait.Val(); n < int64(r.waitReplicas) {
		return fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, n, r.waitReplicas, r.waitTimeout)
	}
	return nil
}

// key returns the Redis key for id in the key space sp.
func (r *Redis) key(sp, id string) string { return r.prefix + sp + id }

// begin fails, wrapping op, when ctx is already done or r is closed, so that
// neither reaches the server.
func (r *Redis) begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if r.closed.Load() {
		return fmt.Errorf("redis store: %s: %w", op, ErrClosed)
	}
	return nil
}

// fail wraps a command error with op, mapping a nil reply to ErrNotFound and
// a closed client to ErrClosed. When ctx ended while the command ran, the
// error wraps ctx.Err() as well as the client's error.
func (r *Redis) fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("redis store: %s: %w", op, ErrNotFound)
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("redis store: %s: %w", op, ErrClosed)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redis store: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("redis store: %s: %w", op, err)
}

// millis converts a positive ttl to whole milliseconds for PX, rounding up so
// that an entry never expires before ttl has elapsed.
func millis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}
