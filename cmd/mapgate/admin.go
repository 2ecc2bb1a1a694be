package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"mapgate/daemon"
)

// adminRequest sends one request and returns the reply's text after "ok".
func adminRequest(path string, fields ...string) (string, error) {
	for _, f := range fields {
		if strings.ContainsAny(f, "\t\n") {
			return "", fmt.Errorf("a tab or newline in %q", f)
		}
	}
	c, err := net.DialTimeout("unix", path, daemon.AdminTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(daemon.AdminTimeout))
	if _, err := io.WriteString(c, strings.Join(fields, "\t")+"\n"); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(io.LimitReader(c, 64<<10)).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no reply: %w", err)
	}
	reply = strings.TrimSuffix(reply, "\n")
	if rest, ok := strings.CutPrefix(reply, "ok "); ok {
		return rest, nil
	}
	return "", errors.New(strings.TrimPrefix(reply, "error "))
}

// cmdPurge clears cached answers on a running server.
func cmdPurge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mapgate purge [--config FILE | --socket PATH] [MAP [KEY]]")
		fmt.Fprintln(stderr, "Clears the running server's cached answers: all of them, one map's, or those a lookup of KEY in MAP uses.")
		fs.PrintDefaults()
	}
	config := fs.String("config", "", "mapgate configuration file: its admin_socket")
	socket := fs.String("socket", "", "the admin socket (default: admin_socket of --config)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 2 {
		fs.Usage()
		return exitUsage
	}
	path := *socket
	if path == "" && *config != "" {
		s := newSettings()
		if err := s.loadFile(*config); err != nil {
			fmt.Fprintf(stderr, "mapgate purge: %v\n", err)
			return exitUsage
		}
		path = strings.TrimSpace(s.vals["admin_socket"])
	}
	if path == "" {
		fmt.Fprintln(stderr, "mapgate purge: no admin socket: give --socket, or --config with admin_socket set")
		return exitUsage
	}
	n, err := adminRequest(path, append([]string{"purge"}, fs.Args()...)...)
	if err != nil {
		fmt.Fprintf(stderr, "mapgate purge: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s entries purged\n", n)
	return exitOK
}
