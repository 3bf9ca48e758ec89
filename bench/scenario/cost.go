package scenario

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"git.wntrmute.dev/kyle/mcr/bench/machine"
)

// Meter reads the counters of the registry process, when the harness
// started it.
type Meter interface {
	CPU() time.Duration       // user + system time so far
	RSSMiB() (float64, error) // resident set now
}

// Probe is an optional capability of a Meter: more of the system under
// test measured over the same windows, such as the processes in front of
// and behind the registry (a load balancer, a database) and the work the
// registry asks of them. Window is called as a window opens; the function
// it returns is called as the window closes and gives the readings.
type Probe interface {
	Window() func() []Reading
}

// Reading is one figure a Probe measured over a window.
type Reading struct {
	Name, Unit string
	Value      float64
	// PerOp divides Value by the window's operations and reports it as
	// Name + "/op"; otherwise Value is reported as it is.
	PerOp  bool
	Higher bool // whether higher is better
}

// rssEvery is how often a window samples the registry's resident set.
const rssEvery = 100 * time.Millisecond

// Cost is what a measured window cost: the registry's CPU, the load
// generator's (this process's) CPU, and the registry's resident set,
// sampled through the window.
type Cost struct {
	Server, Client time.Duration
	RSS            []float64 // MiB, one sample per rssEvery
	Metered        bool      // Server and RSS were measured
	Readings       []Reading // the Meter's Probe's, if it has one
}

// add accumulates another window's cost (one per large blob): readings
// per operation add up, others keep the latest window's value.
func (c *Cost) add(o Cost) {
	c.Server += o.Server
	c.Client += o.Client
	c.RSS = append(c.RSS, o.RSS...)
	c.Metered = c.Metered || o.Metered
	for _, x := range o.Readings {
		i := slices.IndexFunc(c.Readings, func(y Reading) bool { return y.Name == x.Name })
		switch {
		case i < 0:
			c.Readings = append(c.Readings, x)
		case x.PerOp:
			c.Readings[i].Value += x.Value
		default:
			c.Readings[i] = x
		}
	}
}

// window measures a Cost from open to close. CPU is taken as the
// difference of two readings, so what the registry does between
// operations (its background work) counts too: that is part of what an
// operation costs it.
type window struct {
	m           Meter
	srv0, self0 time.Duration
	stop        chan struct{}
	done        chan struct{}
	rss         []float64
	probe       func() []Reading
}

// openWindow starts measuring; m may be nil (the registry was not started
// by the harness), and then only the load generator's CPU is measured.
func openWindow(m Meter) *window {
	w := &window{m: m, self0: machine.SelfCPU(), stop: make(chan struct{}), done: make(chan struct{})}
	if m == nil {
		close(w.done)
		return w
	}
	if p, ok := m.(Probe); ok {
		w.probe = p.Window()
	}
	w.srv0 = m.CPU()
	go func() {
		defer close(w.done)
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			if v, err := m.RSSMiB(); err == nil {
				w.rss = append(w.rss, v)
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// close ends the window and returns its cost.
func (w *window) close() Cost {
	c := Cost{Client: machine.SelfCPU() - w.self0}
	close(w.stop)
	<-w.done
	if w.m != nil {
		c.Server = w.m.CPU() - w.srv0
		c.RSS, c.Metered = w.rss, true
	}
	if w.probe != nil {
		c.Readings = w.probe()
	}
	return c
}

// gate opens a window at a set time (the end of a warm-up) unless it was
// shut first.
type gate struct {
	opened atomic.Int64 // unix nanoseconds; 0 until the window is open
	mu     sync.Mutex
	w      *window
	shut   bool
	timer  *time.Timer
}

// With no warm-up (d ≤ 0) the window opens before openAfter returns, so
// before the first operation starts.
func openAfter(m Meter, d time.Duration) *gate {
	g := &gate{}
	open := func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.shut {
			g.w = openWindow(m)
			g.opened.Store(time.Now().UnixNano())
		}
	}
	if d <= 0 {
		open()
		g.timer = time.NewTimer(0) // stopped by close like the other
		return g
	}
	g.timer = time.AfterFunc(d, open)
	return g
}

// openedAt is when the window finished opening: a Probe's first reading
// may take a while on a loaded machine, and an operation that started
// before it ended is not in the window.
func (g *gate) openedAt() (time.Time, bool) {
	n := g.opened.Load()
	return time.Unix(0, n), n != 0
}

// close shuts the gate and returns the cost of the window, if it opened.
func (g *gate) close() Cost {
	g.timer.Stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = true
	if g.w == nil {
		return Cost{}
	}
	return g.w.close()
}

// cost records, per operation of case c, the registry's CPU, the load
// generator's CPU (both in ms), and the registry's median resident set
// over the window ("steady RSS"); nothing when no operation succeeded.
func (r *Result) cost(c string, ops int64, k Cost) {
	if ops <= 0 {
		return
	}
	if k.Metered {
		r.add(c, "server CPU/op", "ms", ms(k.Server)/float64(ops), false)
	}
	r.add(c, "client CPU/op", "ms", ms(k.Client)/float64(ops), false)
	if len(k.RSS) > 0 {
		s := slices.Clone(k.RSS)
		slices.Sort(s)
		r.add(c, "steady RSS", "MiB", s[len(s)/2], false)
	}
	for _, x := range k.Readings {
		if x.PerOp {
			r.add(c, x.Name+"/op", x.Unit, x.Value/float64(ops), x.Higher)
		} else {
			r.add(c, x.Name, x.Unit, x.Value, x.Higher)
		}
	}
}

// measured records a Run case's throughput, latency and cost.
func (r *Result) measured(c, unit string, o Outcome) {
	r.absorb(c, o)
	r.rate(c, unit, o.Rate())
	r.latency(c, o)
	r.cost(c, o.Ops, o.Cost)
}
