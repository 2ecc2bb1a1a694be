package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"mapgate/answer"
)

// TransportClass classifies an error that is no database's reply, the
// same for every engine: a client that left (answer.ClassCanceled), or a
// connection that failed, timed out or was refused (answer.ClassHost).
// ok is false for any other error, which the engine classifies itself.
func TransportClass(err error) (c answer.Class, ok bool) {
	if errors.Is(err, context.Canceled) {
		return answer.ClassCanceled, true
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ETIMEDOUT) {
		return answer.ClassHost, true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return answer.ClassHost, true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return answer.ClassHost, true
	}
	return answer.ClassUnknown, false
}
