package main

import (
	"context"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"

	"git.wntrmute.dev/kyle/mcr/engine"
	"git.wntrmute.dev/kyle/mcr/http/grpcapi"
	"git.wntrmute.dev/kyle/mcr/http/server"
)

// The process's side of a restart (docs/operations.md, "Restarts and
// draining"): tell systemd, drain, stop.

// sdNotify sends a state change to systemd (sd_notify(3)) when it asked
// for them with NOTIFY_SOCKET (a unit of Type=notify); otherwise nothing.
// A name starting with @ is in the abstract namespace, which the net
// package maps for us.
func sdNotify(state string, log zerolog.Logger) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte(state))
		_ = c.Close()
	}
	if err != nil {
		log.Warn().Err(err).Str("state", state).Msg("notifying systemd")
	}
}

// stopGrace is what the process takes past http.shutdown_timeout to cut
// off the last requests and stop the actors and the stores; the whole stop
// fits in shutdown_timeout + 2 s.
const stopGrace = 1500 * time.Millisecond

// drainAndStop runs once SIGTERM/SIGINT arrived: /readyz fails at once
// (and the gRPC API's health checks, rpc when it is on);
// after http.drain the listener closes; in-flight requests run until
// http.shutdown_timeout after the signal, then what is left is cut off;
// then the actors stop. serveErr reports the server ending on its own.
func drainAndStop(c Config, srv *server.Server, rpc *grpcapi.Server, reg *engine.Registry, bg *background, serveErr <-chan error, log zerolog.Logger) error {
	signalled := time.Now()
	sdNotify("STOPPING=1", log)
	srv.Drain()
	if rpc != nil {
		rpc.SetServing(false)
	}
	log.Info().Dur("drain", c.HTTP.Drain.Duration).Dur("shutdown_timeout", c.HTTP.ShutdownTimeout.Duration).Msg("shutting down")
	deadline := signalled.Add(c.HTTP.ShutdownTimeout.Duration)
	drain := time.NewTimer(c.HTTP.Drain.Duration)
	defer drain.Stop()
	select {
	case <-drain.C:
	case err := <-serveErr:
		return err
	}
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if rpc != nil {
		rpc.Drain(sctx) // follow streams end, running calls finish under the same bound
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("in-flight requests did not finish in time; cut off")
	}
	<-serveErr
	bg.stop(log) // before the actors stop: a collection uses them
	actx, acancel := context.WithDeadline(context.Background(), deadline.Add(stopGrace))
	defer acancel()
	err := reg.Close(actx)
	// How long the bounded part of the stop took, by this process's
	// clock, from the moment it took the signal: what http.shutdown_timeout
	// governs (closing the stores follows).
	log.Info().Dur("took", time.Since(signalled)).Msg("stopped")
	return err
}
