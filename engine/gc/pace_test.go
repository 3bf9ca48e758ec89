package gc

import (
	"context"
	"testing"
	"time"
)

// busy spins for d, as a unit of collection work.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

func TestPacerDuty(t *testing.T) {
	ctx := context.Background()
	p := newPacer(0.25)
	start := time.Now()
	for range 20 {
		busy(time.Millisecond)
		if err := p.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 20 ms of work at a quarter duty is at least 60 ms of sleep on top.
	if took := time.Since(start); took < 75*time.Millisecond {
		t.Errorf("20 ms of work at duty 0.25 took %v, want >= 75 ms", took)
	}

}

// A cancelled run stops sleeping at once.
func TestPacerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := newPacer(0.001) // 10 ms of work would sleep 10 s
	busy(10 * time.Millisecond)
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if err := p.step(ctx); err == nil {
		t.Fatal("step after cancel returned nil")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancelled step slept %v", took)
	}
}
