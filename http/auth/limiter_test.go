package auth

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(Limits{PairBurst: 3, AddrBurst: 5, Window: time.Minute}, nil)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if _, blocked := l.Blocked("alice", "10.0.0.1", now); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail(context.Background(), "alice", "10.0.0.1", now)
	}
	wait, blocked := l.Blocked("alice", "10.0.0.1", now)
	if !blocked || wait <= 0 || wait > 20*time.Second {
		t.Errorf("account from the address after 3 failures: blocked %v, wait %v", blocked, wait)
	}
	// The owner logs in from elsewhere: failures from one address never
	// refuse another.
	if _, blocked := l.Blocked("alice", "10.0.0.2", now); blocked {
		t.Error("alice locked out of another address")
	}
	if _, blocked := l.Blocked("bob", "10.0.0.1", now); blocked {
		t.Error("bob blocked by alice's failures before the address limit")
	}
	// The bucket drains at 3 per minute: one failure's worth in 20 s.
	if _, blocked := l.Blocked("alice", "10.0.0.1", now.Add(21*time.Second)); blocked {
		t.Error("still blocked after draining one")
	}
	// The address limit counts failures across accounts.
	for _, acct := range []string{"b", "c"} {
		l.Fail(context.Background(), acct, "10.0.0.1", now)
	}
	if _, blocked := l.Blocked("someone-else", "10.0.0.1", now); !blocked {
		t.Error("address not blocked after 5 failures")
	}
	if _, blocked := l.Blocked("someone-else", "10.0.0.3", now); blocked {
		t.Error("another address blocked")
	}
	// Success forgets the pair's failures, not the address's.
	l.Succeed(context.Background(), "alice", "10.0.0.1")
	if _, blocked := l.Blocked("alice", "10.0.0.9", now); blocked {
		t.Error("account blocked after a success")
	}
	if _, blocked := l.Blocked("alice", "10.0.0.1", now); !blocked {
		t.Error("a success unlocked the address")
	}
}

// However many addresses fail as the admin, the admin from a clean
// address is never refused.
func TestLimiterNoGlobalLockout(t *testing.T) {
	l := NewLimiter(Limits{}, nil)
	now := time.Unix(1000, 0)
	for i := range 5000 {
		addr := fmt.Sprintf("10.1.%d.%d", i/250, i%250)
		l.Fail(context.Background(), "admin", addr, now)
		l.Fail(context.Background(), "admin", "10.9.9.9", now)
	}
	if _, blocked := l.Blocked("admin", "10.2.0.1", now); blocked {
		t.Error("the admin is locked out of a clean address")
	}
	if _, blocked := l.Blocked("admin", "10.9.9.9", now); !blocked {
		t.Error("the flooding address is not limited")
	}
}

func TestLimiterBounded(t *testing.T) {
	l := NewLimiter(Limits{Window: time.Second}, nil)
	now := time.Unix(0, 0)
	for i := range maxBuckets + 10 {
		l.Fail(context.Background(), string(rune(i)), "a", now)
		if i == maxBuckets/2 {
			now = now.Add(time.Hour) // the first half drains empty
		}
	}
	if n := l.n.Load(); n > maxBuckets {
		t.Errorf("%d buckets, bound %d", n, maxBuckets)
	}
}

// At most AddrChecks credential checks run for one address; the next one
// waits for a slot, up to CheckWait; another address is never held back.
func TestLimiterChecksInFlight(t *testing.T) {
	ctx := context.Background()
	l := NewLimiter(Limits{AddrChecks: 2, CheckWait: 20 * time.Millisecond}, nil)
	now := time.Unix(1000, 0)
	leave1, ok1 := l.Enter(ctx, "10.0.0.1", now)
	leave2, ok2 := l.Enter(ctx, "10.0.0.1", now)
	if !ok1 || !ok2 {
		t.Fatal("the first two checks refused")
	}
	if _, ok := l.Enter(ctx, "10.0.0.1", now); ok {
		t.Error("a third check in flight admitted")
	}
	leave3, ok := l.Enter(ctx, "10.0.0.2", now)
	if !ok {
		t.Fatal("another address held back")
	}
	leave3()
	// A waiting check gets the slot a finished one frees.
	got := make(chan bool)
	waiter := NewLimiter(Limits{AddrChecks: 1, CheckWait: time.Minute}, nil)
	hold, _ := waiter.Enter(ctx, "10.0.0.1", now)
	go func() {
		leave, ok := waiter.Enter(ctx, "10.0.0.1", now)
		if ok {
			leave()
		}
		got <- ok
	}()
	hold()
	if !<-got {
		t.Error("the waiting check was refused after a slot freed")
	}
	// A waiter whose request ends gives up at once.
	hold, _ = waiter.Enter(ctx, "10.0.0.1", now)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := waiter.Enter(cctx, "10.0.0.1", now); ok {
		t.Error("a cancelled check admitted")
	}
	hold()
	leave1()
	leave2()
	// A bucket with a check in flight survives pruning; idle ones go.
	leave5, _ := l.Enter(ctx, "10.0.0.3", now)
	l.prune(now.Add(time.Hour))
	if _, ok := l.buckets.Load("r:10.0.0.3"); !ok {
		t.Error("a bucket with a check in flight was pruned")
	}
	if _, ok := l.buckets.Load("r:10.0.0.2"); ok {
		t.Error("an idle bucket survived pruning")
	}
	leave5()
}
