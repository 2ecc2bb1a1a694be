// Package pgfront is mapgate's PostgreSQL-protocol front: a small server
// that Postfix's own pgsql: client (dict_pgsql, linked with libpq)
// connects to, so that every Postfix daemon, virtual(8) and local(8)
// included, asks mapgate through a table that stays "pgsql:". It runs on
// the connection core (internal/conncore), as the MySQL front does.
//
// The front's .cf (pgsql_table(5)) names mapgate as the host, the mapgate
// map as dbname, and the query
//
//	query = '%s'
//
// so the client sends the key, escaped with PQescapeStringConn and in
// single quotes, as the whole statement of a simple query. The front
// reports standard_conforming_strings = on, under which libpq escapes
// only the single quote (doubled); it unescapes with the exact inverse
// (Unescape) and asks a Resolver; it never executes anything. The one
// other statement acknowledged is the client encoding's "SET
// client_encoding TO '...'" that PQsetClientEncoding sends (Postfix 3.7
// sets LATIN1, 3.8+ its encoding parameter, UTF8 by default); UTF8,
// LATIN1 and SQL_ASCII are accepted, whose escaping is byte-wise.
// Anything else (another statement, the extended protocol, a function
// call) gets an ErrorResponse and a log line, and is never executed.
//
// The key handed to the Resolver is the bytes the client sent, whatever
// client encoding it declared: Postfix's keys are the bytes of the
// address, and a LATIN1 session of Postfix 3.7 carries UTF-8 addresses
// (a real server would convert them as Latin-1, so that an
// internationalized address is never found: POSTFIX-FACTS 1.9). Only in a
// LATIN1 session, a key that is not UTF-8 is read as Latin-1, as the
// server would (Encoding.Key). Values go back as the lookup core
// formatted them.
//
// Replies: a found key is a one-column text result set with one row; a
// key that is not found, or cannot match, or made the query fail where
// another key would not (answer.Result.KeyCaused), is an empty result set;
// an ErrorResponse only when the database cannot be asked or the map
// fails for every key, because dict_pgsql marks the host down for
// retry_interval on any PGRES_FATAL_ERROR, for every key (POSTFIX-FACTS
// 1.9).
//
// Protocol: PostgreSQL frontend/backend protocol 3.0 (the PostgreSQL
// manual, "Frontend/Backend Protocol"), messages encoded and decoded by
// github.com/jackc/pgx/v5/pgproto3; each message's length is checked
// before pgproto3 reads it. SSLRequest and GSSENCRequest are answered 'N'
// (no TLS: listen on a unix socket or loopback). Authentication is
// SCRAM-SHA-256 only (RFC 5802, RFC 7677; no channel binding), so no
// password crosses the socket; cleartext and MD5 are never offered.
package pgfront
