package resilience

import (
	"sync"
	"time"
)

// Budget caps retries as a share of first attempts, so that when a
// dependency fails, retries add at most Ratio more load instead of
// multiplying it by the attempt count. Every first attempt deposits Ratio
// tokens, every retry withdraws one; MinPerSecond retries a second are
// always allowed so that a quiet service can still retry at all. Tokens
// expire after TTL.
type Budget struct {
	Ratio        float64
	MinPerSecond float64
	TTL          time.Duration
	now          func() time.Time

	mu      sync.Mutex
	tokens  float64
	minLeft float64
	second  time.Time
	last    time.Time
}

// NewBudget returns a budget of ratio retries per request.
func NewBudget(ratio, minPerSecond float64, ttl time.Duration) *Budget {
	return &Budget{Ratio: ratio, MinPerSecond: minPerSecond, TTL: ttl, now: time.Now}
}

func (b *Budget) decay(now time.Time) {
	if !b.last.IsZero() && now.Sub(b.last) > b.TTL {
		b.tokens = 0
	}
	b.last = now
	if now.Sub(b.second) >= time.Second {
		b.second, b.minLeft = now, b.MinPerSecond
	}
}

// Deposit records a first attempt.
func (b *Budget) Deposit() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.decay(b.now())
	b.tokens += b.Ratio
	// Bound the balance so a long healthy spell can't fund a retry storm.
	if limit := b.Ratio * 1000; b.tokens > limit {
		b.tokens = limit
	}
}

// Withdraw reports whether a retry may be made, and charges it.
func (b *Budget) Withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.decay(b.now())
	switch {
	case b.tokens >= 1:
		b.tokens--
		return true
	case b.minLeft >= 1:
		b.minLeft--
		return true
	}
	return false
}
