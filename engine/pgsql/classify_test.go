package pgsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"mapgate/answer"
)

// TestClassify: errors by SQLSTATE, never by message text; a value error
// is the key's only when the server raised it while binding the
// parameters and the key is suspect.
func TestClassify(t *testing.T) {
	pe := func(code string) error {
		return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "text is never read"})
	}
	bound := func(code string) error { return &bindError{pe(code)} }
	for _, c := range []struct {
		err     error
		suspect bool
		want    answer.Class
	}{
		{nil, true, answer.ClassNone},
		{bound("22P05"), true, answer.ClassKey},
		{bound("22021"), true, answer.ClassKey},
		{bound("22P02"), true, answer.ClassKey},
		{bound("22P05"), false, answer.ClassQuery}, // a plain key: the query or the schema
		{pe("22P05"), true, answer.ClassUnknown},   // raised while the statement ran: not proven the key's
		{pe("22012"), false, answer.ClassQuery},
		{pe("08006"), false, answer.ClassHost},
		{pe("53300"), false, answer.ClassHost}, // too many connections
		{pe("57P01"), false, answer.ClassHost}, // admin shutdown
		{pe("57014"), false, answer.ClassHost}, // statement_timeout
		{pe("28P01"), true, answer.ClassHost},
		{pe("3D000"), false, answer.ClassHost},
		{pe("40P01"), false, answer.ClassHost},
		{pe("42P01"), true, answer.ClassQuery},
		{pe("42703"), false, answer.ClassQuery},
		{pe("42501"), false, answer.ClassQuery},
		{pe("0A000"), false, answer.ClassQuery},
		{pe("P0001"), true, answer.ClassUnknown},
		{driver.ErrBadConn, false, answer.ClassHost},
		{io.ErrUnexpectedEOF, false, answer.ClassHost},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false, answer.ClassHost},
		{context.DeadlineExceeded, false, answer.ClassHost},
		{context.Canceled, false, answer.ClassCanceled},
		{errors.New("something new"), true, answer.ClassUnknown},
	} {
		assert.Equal(t, c.want, Engine{}.Classify(c.err, c.suspect), "%v (suspect %v)", c.err, c.suspect)
	}
	assert.True(t, Engine{}.IsCharsetError(bound("22P05")))
	assert.False(t, Engine{}.IsCharsetError(pe("22P02")))
}

// TestImpossible: what the check proves before a query, per database
// encoding and parameter type.
func TestImpossible(t *testing.T) {
	text := []paramType{{oid: 25, name: "text", category: 'S'}}
	num := []paramType{{oid: 23, name: "int4", category: 'N'}}
	for _, c := range []struct {
		enc    string
		params []paramType
		v      string
		want   string
	}{
		{"LATIN1", text, "josé@example.jp", ""},
		{"LATIN1", text, "\u0081", ""}, // ISO-8859-1 has the C1 controls
		{"LATIN1", text, "€uro", "unrepresentable"},
		{"LATIN1", text, "ほげ", "unrepresentable"},
		{"WIN1252", text, "€uro", ""},
		{"WIN1252", text, "\u0081", "unrepresentable"},
		{"SQL_ASCII", text, "ほげ😀", ""},
		{"UTF8", text, "ほげ😀", ""},
		{"EUC_JP", text, "ほげ", ""}, // not modelled: left to the server
		{"UTF8", text, "\xe9", "invalid_utf8"},
		{"UTF8", num, "bob@example.net", "not_a_number"},
		{"UTF8", num, "bob", ""}, // letters a number may have (0x, Infinity): the server decides
		{"UTF8", num, " -12 ", ""},
	} {
		f := &facts{encoding: c.enc, params: c.params}
		got, _ := impossible(c.v, 0, f)
		assert.Equal(t, c.want, string(got), "%s %s %q", c.enc, c.params[0].name, c.v)
	}
}
