package main

import (
	"fmt"
	"net"

	"mapgate/socketmap"
)

// MySQLFront configures a SQL-protocol front: the MySQL front (package
// mysqlfront) or the PostgreSQL front (package pgfront).
type MySQLFront struct {
	Listen         []string
	User, Password string
}

// loopbackOrUnix refuses a TCP listen address that is not a loopback
// address: neither SQL front has TLS (the MySQL front's password travels
// as a SHA1 challenge response; keys and answers travel in clear).
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
		return fmt.Errorf("%q: a SQL front listens on a unix socket or a loopback address only", spec)
	}
	return nil
}
