// Package cache is the services' two-level read cache: an in-process
// cache (otter) with a short TTL, then Redis (go-redis) with a longer one,
// then the loader (PostgreSQL). Concurrent misses on one key collapse into
// one load (otter's loader), so 100 requests for a cold key make one Redis
// GET. Redis is not critical: when it fails, reads go to the loader and the
// failure is counted, never returned.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// Level names where a read was served, for metrics.
type Level string

// Levels.
const (
	L1     Level = "l1"
	L2     Level = "l2"
	Origin Level = "origin"
)

// Observer sees one cache's reads by level and its Redis failures
// (metrics). It is bound to one cache so that a hit costs a counter
// increment, not a label lookup.
type Observer interface {
	Hit(level Level)
	RedisError(op string)
}

type nopObserver struct{}

func (nopObserver) Hit(Level)         {}
func (nopObserver) RedisError(string) {}

// ClockResolution is how far L1 expiry may lag: the in-process level reads
// a coarse clock (otter.CoarseClock) instead of the precise time, because
// reading the precise time costs more than the rest of a hit. Against an
// L1 TTL of seconds, 10 ms is noise.
const ClockResolution = 10 * time.Millisecond

// Options configure a Cache.
type Options struct {
	// Name prefixes Redis keys (<name>:<key>).
	Name string
	// L1TTL is short (other pods' writes are seen after it, give or take
	// ClockResolution); L2TTL longer.
	L1TTL, L2TTL time.Duration
	// L1Size bounds the in-process entries.
	L1Size int
	// RedisTimeout bounds each Redis call, so a hung Redis costs at most this.
	RedisTimeout time.Duration
	Observer     Observer
}

// Cache caches values of type V by string key.
type Cache[V any] struct {
	opts Options
	l1   *otter.Cache[string, V]
	rdb  redis.UniversalClient
}

// New returns a cache over rdb (nil: L1 only). A nil *redis.Client (or
// any nil pointer) passed as rdb is an interface that is not nil; it too
// means L1 only, rather than a nil dereference on the first miss.
func New[V any](rdb redis.UniversalClient, o Options) (*Cache[V], error) {
	if v := reflect.ValueOf(rdb); rdb != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		rdb = nil
	}
	if o.Name == "" || o.L1TTL <= 0 || o.L2TTL < o.L1TTL {
		return nil, fmt.Errorf("cache: need a name and 0 < L1TTL <= L2TTL, got %q %s %s", o.Name, o.L1TTL, o.L2TTL)
	}
	if o.L1Size <= 0 {
		o.L1Size = 10_000
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = 100 * time.Millisecond
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	l1, err := otter.New(&otter.Options[string, V]{
		MaximumSize:      o.L1Size,
		ExpiryCalculator: otter.ExpiryWriting[string, V](o.L1TTL),
		Clock:            otter.NewCoarseClock(ClockResolution),
	})
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", o.Name, err)
	}
	return &Cache[V]{opts: o, l1: l1, rdb: rdb}, nil
}

// Get returns the value for key from L1, Redis or load, in that order.
func (c *Cache[V]) Get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	if v, ok := c.l1.GetIfPresent(key); ok {
		c.opts.Observer.Hit(L1)
		return v, nil
	}
	return c.l1.Get(ctx, key, otter.LoaderFunc[string, V](func(ctx context.Context, key string) (V, error) {
		if v, ok := c.fromRedis(ctx, key); ok {
			c.opts.Observer.Hit(L2)
			return v, nil
		}
		v, err := load(ctx)
		if err != nil {
			return v, err
		}
		c.opts.Observer.Hit(Origin)
		c.toRedis(ctx, key, v)
		return v, nil
	}))
}

// Invalidate drops key from both levels (after a write). Other pods keep
// their L1 copy for at most L1TTL.
func (c *Cache[V]) Invalidate(ctx context.Context, key string) {
	c.l1.Invalidate(key)
	if c.rdb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RedisTimeout)
	defer cancel()
	if err := c.rdb.Del(ctx, c.redisKey(key)).Err(); err != nil {
		c.opts.Observer.RedisError("del")
	}
}

func (c *Cache[V]) redisKey(key string) string { return c.opts.Name + ":" + key }

func (c *Cache[V]) fromRedis(ctx context.Context, key string) (V, bool) {
	var zero V
	if c.rdb == nil {
		return zero, false
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RedisTimeout)
	defer cancel()
	raw, err := c.rdb.Get(ctx, c.redisKey(key)).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.opts.Observer.RedisError("get")
		}
		return zero, false
	}
	var v V
	if err := json.Unmarshal(raw, &v); err != nil {
		c.opts.Observer.RedisError("decode")
		return zero, false
	}
	return v, true
}

func (c *Cache[V]) toRedis(ctx context.Context, key string, v V) {
	if c.rdb == nil {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RedisTimeout)
	defer cancel()
	if err := c.rdb.Set(ctx, c.redisKey(key), raw, c.opts.L2TTL).Err(); err != nil {
		c.opts.Observer.RedisError("set")
	}
}
