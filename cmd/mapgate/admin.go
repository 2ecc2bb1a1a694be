package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The admin socket: a unix socket, mode 0600, that takes one request per
// connection from the server's own uid or root (SO_PEERCRED), never from
// the socketmap or metrics listeners. A request is one line of
// tab-separated fields, "purge[\tMAP[\tKEY]]"; the reply is one line,
// "ok N" (entries dropped) or "error TEXT".

const adminTimeout = 5 * time.Second

type adminServer struct {
	l    *net.UnixListener
	path string
	h    *liveSet
	log  *slog.Logger
	done chan struct{}
}

// startAdmin listens on path (a stale socket file left by a crash is
// replaced; any other file is not).
func startAdmin(path string, h *liveSet, log *slog.Logger) (*adminServer, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("admin_socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin_socket %s: another server answers on it", path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(0o177) // the socket is born 0600
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin_socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin_socket: %w", err)
	}
	a := &adminServer{l: l, path: path, h: h, log: log, done: make(chan struct{})}
	go a.serve()
	log.Info("admin socket listening", "path", path)
	return a, nil
}

func (a *adminServer) close() {
	a.l.Close()
	<-a.done
}

func (a *adminServer) serve() {
	defer close(a.done)
	for {
		c, err := a.l.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.log.Error("admin socket", "err", err)
			}
			return
		}
		a.handle(c) // one at a time: purges are rare and quick
	}
}

// peerAllowed: root or the server's own uid.
func peerAllowed(c *net.UnixConn) (int, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return -1, false
	}
	uid := int(cred.Uid)
	return uid, uid == 0 || uid == os.Getuid()
}

func (a *adminServer) handle(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(adminTimeout))
	uid, ok := peerAllowed(c)
	if !ok {
		a.log.Warn("admin socket: connection refused: not root or mapgate's uid", "uid", uid)
		fmt.Fprintln(c, "error permission denied")
		return
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c, 64<<10), 4096).ReadString('\n')
	if err != nil {
		fmt.Fprintln(c, "error incomplete request")
		return
	}
	f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
	if f[0] != "purge" || len(f) > 3 {
		fmt.Fprintln(c, "error unknown request")
		return
	}
	var name, key string
	if len(f) > 1 {
		name = f[1]
	}
	if len(f) > 2 {
		key = f[2]
	}
	n, err := a.h.cur.Load().Purge(name, key)
	if err != nil {
		fmt.Fprintln(c, "error", err)
		return
	}
	a.log.Info("answer cache purged", "map", name, "key", logKeyAttr(key), "entries", n, "uid", uid)
	fmt.Fprintln(c, "ok", n)
}

// logKeyAttr quotes a key for the log (keys are hostile input).
func logKeyAttr(k string) string { return strconv.Quote(k) }

// adminRequest sends one request and returns the reply's text after "ok".
func adminRequest(path string, fields ...string) (string, error) {
	for _, f := range fields {
		if strings.ContainsAny(f, "\t\n") {
			return "", fmt.Errorf("a tab or newline in %q", f)
		}
	}
	c, err := net.DialTimeout("unix", path, adminTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(adminTimeout))
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
