package main

import (
	"fmt"
	"net"

	"mapgate/socketmap"
)

// MySQLFront configures the MySQL-protocol front (package mysqlfront).
type MySQLFront struct {
	Listen         []string
	User, Password string
}

// loopbackOrUnix refuses a TCP listen address that is not a loopback
// address: the front's password travels as a SHA1 challenge response.
func loopbackOrUnix(spec string) error {
	network, addr, err := socketmap.ParseSpec(spec)
	if err != nil {
		return err
	}
	if network == "unix" {
		return nil
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q: the MySQL front listens on a unix socket or a loopback address only", spec)
	}
	return nil
}
