package conncore

import "time"

// Limits are a SQL front's connection settings (the MySQL and the
// PostgreSQL front embed them in their Server); a zero field takes its
// default (SQLFrontLimits).
type Limits struct {
	// IdleTimeout: how long to wait for the next command or query.
	// Postfix's idle_interval (60 s) closes the connection first.
	IdleTimeout time.Duration
	// RequestTimeout bounds reading a command once its first byte
	// arrived, and the lookup's context. A lookup that has not returned
	// shortly after (Grace) is answered with an error and the connection
	// closed.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write.
	WriteTimeout time.Duration
	// MaxConns caps logged-in connections; one over the cap is refused
	// (the protocol's "too many connections") instead of its login's OK.
	MaxConns int
	// MaxUnauthenticated is the budget of connections that have not
	// logged in yet, apart from MaxConns, so that they never take the
	// place of clients that log in. When it is full, a new connection
	// closes an unauthenticated one: the oldest of the peer that has the
	// most (Config.MaxUnauthenticated).
	MaxUnauthenticated int
	// HandshakeTimeout: a connection not logged in this long after its
	// accept is closed.
	HandshakeTimeout time.Duration
}

// SQLFrontLimits are the SQL fronts' defaults: the socketmap server's
// budgets, and a budget of 1024 connections not logged in beside 1024
// logged in. The budget must stay large: against a client refilling it
// as fast as it can (about 10,000 connects a second here) 20 of 20
// postmap lookups got through with 1024, 3 of 20 with 64 on the
// PostgreSQL front, whose login takes three round trips and the client's
// PBKDF2.
var SQLFrontLimits = Limits{
	IdleTimeout:        110 * time.Second,
	RequestTimeout:     10 * time.Second,
	WriteTimeout:       10 * time.Second,
	MaxConns:           1024,
	MaxUnauthenticated: 1024,
	HandshakeTimeout:   3 * time.Second,
}

// Or returns l with each zero (or negative) field taken from def.
func (l Limits) Or(def Limits) Limits {
	pick := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	pickN := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	return Limits{
		IdleTimeout:        pick(l.IdleTimeout, def.IdleTimeout),
		RequestTimeout:     pick(l.RequestTimeout, def.RequestTimeout),
		WriteTimeout:       pick(l.WriteTimeout, def.WriteTimeout),
		MaxConns:           pickN(l.MaxConns, def.MaxConns),
		MaxUnauthenticated: pickN(l.MaxUnauthenticated, def.MaxUnauthenticated),
		HandshakeTimeout:   pick(l.HandshakeTimeout, def.HandshakeTimeout),
	}
}

// Config returns the core's configuration for a front with these limits.
func (l Limits) Config(name string, refusal string) Config {
	return Config{
		Name:               name,
		MaxConns:           l.MaxConns,
		IdleTimeout:        l.IdleTimeout,
		RequestTimeout:     l.RequestTimeout,
		WriteTimeout:       l.WriteTimeout,
		MaxUnauthenticated: l.MaxUnauthenticated,
		HandshakeTimeout:   l.HandshakeTimeout,
		Refusal:            refusal,
	}
}
