package pgfront

import (
	"crypto/rand"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"mapgate/internal/conncore"
)

// refuseLogin counts a refused login, logs it at most once a second, and
// sends the FATAL error that ends it.
func (c *conn) refuseLogin(code, reply, msg string, args ...any) bool {
	c.cc.LoginFailed()
	if n, ok := c.s.loginLog.Allow(); ok {
		c.log.Warn(msg, append(args, "suppressed_since_last", n)...)
	}
	c.be.Send(fatal(code, reply))
	_ = c.flush()
	return false
}

// startup answers SSLRequest and GSSENCRequest with 'N' (the front has no
// TLS), reads the startup message, authenticates with SCRAM-SHA-256 and
// reports the session's parameters.
func (c *conn) startup() bool {
	var sm *pgproto3.StartupMessage
	for sm == nil {
		m, _, n, tooLong, err := c.next(maxStartupMessage, true)
		if tooLong || err != nil {
			if tooLong || !quiet(err) {
				c.cc.LoginFailed()
				c.protoError("refused a malformed startup message", "bytes", n, "err", err)
			}
			return false
		}
		switch m := m.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			c.cc.WriteDeadline(time.Now())
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false
			}
		case *pgproto3.CancelRequest:
			return false // no query runs long enough to cancel
		case *pgproto3.StartupMessage:
			sm = m
		}
	}
	user := sm.Parameters["user"]
	db, ok := sm.Parameters["database"]
	if !ok || db == "" {
		db = user // PostgreSQL's default
	}
	var unknown []string
	for k := range sm.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unknown = append(unknown, k)
		}
	}
	if sm.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknown) > 0 {
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	if v, ok := sm.Parameters["client_encoding"]; ok {
		enc, ok := ParseEncoding(v)
		if !ok {
			return c.refuseLogin("22023", "mapgate: client_encoding must be UTF8, LATIN1 or SQL_ASCII",
				"refused a client encoding whose escaping is not byte-wise", "client_encoding", conncore.CutName(v))
		}
		c.enc = enc
	}
	if !c.authenticate(user) {
		return false
	}
	if !c.s.Resolver.HasMap(db) {
		c.cc.LoginFailed()
		if n, ok := c.s.dbLog.Allow(); ok {
			c.log.Warn("unknown map in the startup's database", "dbname", conncore.CutName(db), "dbname_bytes", len(db), "suppressed_since_last", n)
		}
		c.be.Send(fatal("3D000", "database (mapgate map) "+strconv.QuoteToASCII(conncore.CutName(db))+" does not exist"))
		_ = c.flush()
		return false
	}
	c.db = db
	if !c.cc.LoggedIn() {
		c.be.Send(fatal("53300", "sorry, too many clients already (mapgate)"))
		_ = c.flush()
		return false
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range [][2]string{
		{"server_version", "15.0 (mapgate)"},
		{"server_encoding", "UTF8"},
		{"client_encoding", c.enc.String()},
		{"standard_conforming_strings", "on"},
		{"integer_datetimes", "on"},
		{"DateStyle", "ISO, MDY"},
		{"IntervalStyle", "postgres"},
		{"TimeZone", "UTC"},
		{"is_superuser", "off"},
		{"session_authorization", user},
	} {
		c.be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	secret := make([]byte, 4)
	_, _ = rand.Read(secret)
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.id, SecretKey: secret})
	return c.ready() == nil
}

// authenticate runs SCRAM-SHA-256 (the only method offered: no cleartext
// password, no MD5) and sends AuthenticationSASLFinal when it succeeds.
func (c *conn) authenticate(user string) bool {
	x := &scramExchange{cr: c.s.creds.Load()}
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	if c.flush() != nil {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeSASL)
	m, ok := c.authMessage()
	if !ok {
		return false
	}
	ir, isIR := m.(*pgproto3.SASLInitialResponse)
	if !isIR || ir.AuthMechanism != scramMechanism {
		return c.refuseLogin("28000", "mapgate: only SCRAM-SHA-256 without channel binding",
			"refused an authentication method other than SCRAM-SHA-256", "user", conncore.CutName(user), "user_bytes", len(user))
	}
	sf, err := x.first(ir.Data)
	if err != nil {
		return c.refuseLogin("08P01", "mapgate: malformed SCRAM message", "refused a malformed SCRAM message",
			"user", conncore.CutName(user), "user_bytes", len(user))
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(sf)})
	if c.flush() != nil {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	if m, ok = c.authMessage(); !ok {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeOk)
	r, isR := m.(*pgproto3.SASLResponse)
	if !isR {
		return c.refuseLogin("08P01", "mapgate: expected a SASL response", "refused a login that did not continue SCRAM",
			"user", conncore.CutName(user), "user_bytes", len(user))
	}
	final, good, err := x.final(r.Data)
	if err != nil {
		return c.refuseLogin("08P01", "mapgate: malformed SCRAM message", "refused a malformed SCRAM message",
			"user", conncore.CutName(user), "user_bytes", len(user))
	}
	// The user is compared after the proof, so that a wrong user and a
	// wrong password look the same to the client, as PostgreSQL's do.
	if !good || user != x.cr.user {
		return c.refuseLogin("28P01", "password authentication failed for user "+strconv.QuoteToASCII(conncore.CutName(user)),
			"access denied", "user", conncore.CutName(user), "user_bytes", len(user))
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	return true
}

// authMessage reads one authentication message; false (after logging a
// malformed one) ends the login.
func (c *conn) authMessage() (pgproto3.FrontendMessage, bool) {
	m, typ, n, tooLong, err := c.next(maxStartupMessage, false)
	switch {
	case tooLong:
		c.refuseLogin("08P01", "mapgate: message too long", "refused an over-long authentication message", "type", typ, "bytes", n)
		return nil, false
	case err != nil:
		if !quiet(err) {
			c.refuseLogin("08P01", "mapgate: malformed authentication message", "refused a malformed authentication message", "err", err)
		}
		return nil, false
	}
	if _, ok := m.(*pgproto3.Terminate); ok {
		return nil, false
	}
	return m, true
}
