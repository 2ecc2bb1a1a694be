package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
)

func TestClassifyByNumber(t *testing.T) {
	me := func(n uint16) error {
		return fmt.Errorf("query: %w", &mysql.MySQLError{Number: n, Message: "text is never read"})
	}
	cases := []struct {
		err     error
		suspect bool
		want    Class
	}{
		{nil, true, ClassNone},
		{me(1267), true, ClassKey},
		{me(1270), true, ClassKey},
		{me(1271), true, ClassKey},
		{me(1366), true, ClassKey},
		{me(1406), true, ClassKey},    // a key longer than a procedure's parameter
		{me(1139), true, ClassKey},    // a key that is an invalid pattern
		{me(1139), false, ClassQuery}, // a broken pattern in the query
		{me(1267), false, ClassQuery}, // a plain ASCII key: the schema is broken
		{me(1271), false, ClassQuery},
		{me(1054), true, ClassQuery},
		{me(1146), false, ClassQuery},
		{me(1142), false, ClassQuery},
		{me(1040), false, ClassHost},
		{me(1045), true, ClassHost},
		{me(1290), false, ClassHost},
		{me(1205), false, ClassHost},
		{me(1927), false, ClassHost},
		{me(9999), true, ClassUnknown},
		{driver.ErrBadConn, false, ClassHost},
		{mysql.ErrInvalidConn, false, ClassHost},
		{io.ErrUnexpectedEOF, false, ClassHost},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false, ClassHost},
		{context.DeadlineExceeded, false, ClassHost},
		{context.Canceled, false, ClassCanceled},
		{errors.New("something new"), true, ClassUnknown},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Classify(c.err, c.suspect), "%v (suspect %v)", c.err, c.suspect)
	}
}
