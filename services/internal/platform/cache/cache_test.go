package cache

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-platform/bulwark/services/internal/platform/testsvc"
)

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type recorder struct {
	mu     sync.Mutex
	hits   map[Level]int
	errors int
}

func (r *recorder) Hit(l Level) { r.mu.Lock(); r.hits[l]++; r.mu.Unlock() }
func (r *recorder) RedisError(string) {
	r.mu.Lock()
	r.errors++
	r.mu.Unlock()
}

func newCache(t testing.TB, rdb redis.UniversalClient, rec *recorder) *Cache[user] {
	t.Helper()
	c, err := New[user](rdb, Options{Name: "users", L1TTL: time.Minute, L2TTL: time.Hour, Observer: rec, RedisTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getCount(t testing.TB, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_get:calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

func TestReadsGoL1ThenRedisThenOrigin(t *testing.T) {
	srv := testsvc.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	rec := &recorder{hits: map[Level]int{}}
	pod1, pod2 := newCache(t, rdb, rec), newCache(t, rdb, rec)
	var loads atomic.Int32
	load := func(context.Context) (user, error) { loads.Add(1); return user{ID: "u1", Name: "Ada"}, nil }
	ctx := context.Background()

	for _, c := range []*Cache[user]{pod1, pod1, pod2} {
		if v, err := c.Get(ctx, "u1", load); err != nil || v.Name != "Ada" {
			t.Fatalf("%v %v", v, err)
		}
	}
	if loads.Load() != 1 || rec.hits[Origin] != 1 || rec.hits[L1] != 1 || rec.hits[L2] != 1 {
		t.Errorf("loads %d, hits %v: want origin, then L1, then the other pod from Redis", loads.Load(), rec.hits)
	}

	pod1.Invalidate(ctx, "u1")
	if _, err := rdb.Get(ctx, "users:u1").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("Redis still holds the invalidated key: %v", err)
	}
	if _, err := pod1.Get(ctx, "u1", load); err != nil || loads.Load() != 2 {
		t.Errorf("a read after invalidation did not reach the origin: loads %d", loads.Load())
	}
}

func TestConcurrentMissesMakeOneRedisGet(t *testing.T) {
	srv := testsvc.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	c := newCache(t, rdb, &recorder{hits: map[Level]int{}})
	before := getCount(t, rdb)
	var loads atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			<-start
			_, _ = c.Get(context.Background(), "hot", func(context.Context) (user, error) {
				loads.Add(1)
				time.Sleep(20 * time.Millisecond)
				return user{ID: "hot"}, nil
			})
		})
	}
	close(start)
	wg.Wait()
	if got := getCount(t, rdb) - before; got != 1 || loads.Load() != 1 {
		t.Errorf("%d Redis GETs and %d loads for 100 concurrent misses, want 1 and 1", got, loads.Load())
	}
}

func TestRedisOutageFallsBackToTheOrigin(t *testing.T) {
	srv := testsvc.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	rec := &recorder{hits: map[Level]int{}}
	c := newCache(t, rdb, rec)
	srv.Stop()
	v, err := c.Get(context.Background(), "u2", func(context.Context) (user, error) { return user{ID: "u2"}, nil })
	if err != nil || v.ID != "u2" {
		t.Fatalf("read failed with Redis down: %v %v", v, err)
	}
	if rec.errors == 0 {
		t.Error("the Redis failure was not counted")
	}
	srv.Start()
	c.Invalidate(context.Background(), "u3")
	if _, err := c.Get(context.Background(), "u3", func(context.Context) (user, error) { return user{ID: "u3"}, nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := rdb.Get(context.Background(), "users:u3").Result(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis not used again after it came back")
		}
		c.Invalidate(context.Background(), "u3")
		_, _ = c.Get(context.Background(), "u3", func(context.Context) (user, error) { return user{ID: "u3"}, nil })
		time.Sleep(50 * time.Millisecond)
	}
}

func TestL1EntriesExpire(t *testing.T) {
	c, err := New[user](nil, Options{Name: "ttl", L1TTL: 30 * time.Millisecond, L2TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var loads atomic.Int32
	load := func(context.Context) (user, error) { loads.Add(1); return user{ID: "k"}, nil }
	for range 3 {
		if _, err := c.Get(context.Background(), "k", load); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := c.Get(context.Background(), "k", load); err != nil {
		t.Fatal(err)
	}
	if loads.Load() != 2 {
		t.Errorf("%d loads: want one, then one more after the L1 TTL", loads.Load())
	}
}

func TestLoaderErrorsAreNotCached(t *testing.T) {
	c := newCache(t, nil, &recorder{hits: map[Level]int{}})
	boom := errors.New("db down")
	if _, err := c.Get(context.Background(), "k", func(context.Context) (user, error) { return user{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if v, err := c.Get(context.Background(), "k", func(context.Context) (user, error) { return user{ID: "k"}, nil }); err != nil || v.ID != "k" {
		t.Fatalf("a failed load was cached: %v %v", v, err)
	}
}

// BenchmarkL1Hit: the target is <= 50 ns and 0 allocs per hit (make bench).
func BenchmarkL1Hit(b *testing.B) {
	c, err := New[user](nil, Options{Name: "bench", L1TTL: time.Hour, L2TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Get(ctx, "k", func(context.Context) (user, error) { return user{ID: "k"}, nil }); err != nil {
		b.Fatal(err)
	}
	load := func(context.Context) (user, error) { return user{}, errors.New("miss") }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, "k", load); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdKeyStampede: 100 concurrent reads of a key in neither
// level, against a real Redis; reports the Redis GETs and origin loads per
// stampede (target: exactly 1 GET; make bench prints it).
func BenchmarkColdKeyStampede(b *testing.B) {
	srv := testsvc.StartRedis(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	c := newCache(b, rdb, &recorder{hits: map[Level]int{}})
	ctx := context.Background()
	before := getCount(b, rdb)
	var loads atomic.Int64
	n := 0
	for b.Loop() {
		n++
		key := "cold-" + strconv.Itoa(n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				if _, err := c.Get(ctx, key, func(context.Context) (user, error) { loads.Add(1); return user{ID: key}, nil }); err != nil {
					b.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(getCount(b, rdb)-before)/float64(n), "redis-gets/stampede")
	b.ReportMetric(float64(loads.Load())/float64(n), "loads/stampede")
}

// A *redis.Client that is nil, passed as a redis.UniversalClient, is an
// interface holding a nil pointer, not a nil interface: it must still mean
// "no second level" (REDIS_ADDR empty), never a nil dereference.
func TestTypedNilClientMeansL1Only(t *testing.T) {
	var none *redis.Client
	rec := &recorder{hits: map[Level]int{}}
	c := newCache(t, none, rec)
	ctx := context.Background()
	var loads atomic.Int32
	load := func(context.Context) (user, error) { loads.Add(1); return user{ID: "u1", Name: "Ada"}, nil }
	for range 2 {
		if v, err := c.Get(ctx, "u1", load); err != nil || v.Name != "Ada" {
			t.Fatalf("%v %v", v, err)
		}
	}
	c.Invalidate(ctx, "u1")
	if v, err := c.Get(ctx, "u1", load); err != nil || v.Name != "Ada" {
		t.Fatalf("after invalidation: %v %v", v, err)
	}
	if loads.Load() != 2 || rec.hits[Origin] != 2 || rec.hits[L1] != 1 || rec.hits[L2] != 0 || rec.errors != 0 {
		t.Errorf("loads %d, hits %v, Redis errors %d: want origin, L1, origin and no Redis at all", loads.Load(), rec.hits, rec.errors)
	}
}
