package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"git.wntrmute.dev/kyle/mcr/deploy/haproxy"
)

// Cluster is n mcr replicas sharing one bucket and one database, behind
// HAProxy running the project's example (deploy/haproxy: round robin, no
// session affinity, /readyz checks), as docs/scale-out.md deploys them.
type Cluster struct {
	Addr     string // HAProxy's front end: where clients connect
	Replicas []*Process
	Proxy    *haproxy.Proxy
	Storage  *Storage
	dir      string
}

// upTimeout bounds the wait for HAProxy to see every replica up: its
// checks run every second.
const upTimeout = 30 * time.Second

// StartCluster starts n replicas of bin on st (one after the other: the
// first creates the schema) with their directories under parent, and
// HAProxy (binary haproxyBin) in front of them, and returns once HAProxy
// reports every replica up. Replicas run without authentication: the
// first admin's password would live in the first replica's directory
// only.
func StartCluster(ctx context.Context, bin, haproxyBin, parent string, n int, st *Storage) (c *Cluster, err error) {
	if n < 1 || st == nil {
		return nil, fmt.Errorf("a cluster needs at least one replica and shared storage")
	}
	c = &Cluster{Storage: st}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	var addrs []string
	for range n {
		p, err := Start(ctx, MCR, bin, parent, Options{Storage: st})
		if err != nil {
			return c, err
		}
		c.Replicas = append(c.Replicas, p)
		addrs = append(addrs, p.Addr)
	}
	if c.dir, err = os.MkdirTemp(parent, "bench-haproxy-"); err != nil {
		return c, err
	}
	front, err := freeAddr()
	if err != nil {
		return c, err
	}
	stats, err := freeAddr()
	if err != nil {
		return c, err
	}
	if c.Proxy, err = haproxy.Start(haproxyBin, c.dir, front, stats, addrs); err != nil {
		return c, err
	}
	c.Addr = front
	return c, c.Proxy.AwaitUp(upTimeout)
}

// CPU is the replicas' user + system time so far, summed: with Cluster a
// scenario.Meter, "server CPU/op" is the whole fleet's.
func (c *Cluster) CPU() time.Duration {
	var sum time.Duration
	for _, p := range c.Replicas {
		sum += p.CPU()
	}
	return sum
}

// RSSMiB is the replicas' resident sets, summed.
func (c *Cluster) RSSMiB() (float64, error) {
	sum := 0.0
	for _, p := range c.Replicas {
		v, err := p.RSSMiB()
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// Alive reports whether every replica is still running.
func (c *Cluster) Alive() bool {
	for _, p := range c.Replicas {
		if !p.Alive() {
			return false
		}
	}
	return true
}

// LogTails are the ends of the replicas' logs, for error messages.
func (c *Cluster) LogTails() string {
	s := ""
	for i, p := range c.Replicas {
		s += fmt.Sprintf("--- replica %d (%s)\n%s\n", i+1, p.Dir, p.LogTail())
	}
	return s
}

// Stop stops HAProxy, then the replicas, and removes their directories.
func (c *Cluster) Stop() error {
	if c.Proxy != nil {
		c.Proxy.Stop(10 * time.Second)
	}
	var errs []error
	for _, p := range c.Replicas {
		errs = append(errs, p.Stop(), os.RemoveAll(p.Dir))
	}
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}
