package server

import (
	"fmt"

	"github.com/clavebridge/clavebridge/bridge/config"
	"github.com/clavebridge/clavebridge/bridge/store"
)

// openRedis connects to the Redis store.redis describes: the passwords read
// from their files or variables, TLS built from its files.
func openRedis(cfg *config.Config) (*store.Redis, error) {
	rc := cfg.Store.Redis
	password, err := cfg.ReadRedisPassword(rc.Password)
	if err != nil {
		return nil, fmt.Errorf("store.redis.password: %w", err)
	}
	sentinelPassword, err := cfg.ReadRedisPassword(rc.SentinelPassword)
	if err != nil {
		return nil, fmt.Errorf("store.redis.sentinel_password: %w", err)
	}
	tlsConfig, err := cfg.RedisTLS()
	if err != nil {
		return nil, fmt.Errorf("store.redis.tls: %w", err)
	}
	return store.OpenRedis(store.RedisOptions{
		Mode:             rc.Mode,
		Addresses:        cfg.RedisAddresses(),
		MasterName:       rc.MasterName,
		Username:         rc.Username,
		Password:         password,
		SentinelPassword: sentinelPassword,
		DB:               rc.DB,
		TLS:              tlsConfig,
		DialTimeout:      rc.DialTimeout.D(),
		ReadTimeout:      rc.ReadTimeout.D(),
		WriteTimeout:     rc.WriteTimeout.D(),
		PoolSize:         rc.PoolSize,
		WaitReplicas:     rc.WaitReplicas,
		WaitTimeout:      rc.WaitTimeout.D(),
	})
}
