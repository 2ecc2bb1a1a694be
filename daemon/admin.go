package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The admin socket: a unix socket, mode 0600, that takes one request per
// connection from the server's own uid or root (SO_PEERCRED), never from
// the socketmap or metrics listeners. A request is one line of
// tab-separated fields, "purge[\tMAP[\tKEY]]"; the reply is one line,
// "ok N" (entries dropped) or "error TEXT".

// AdminTimeout bounds one admin connection, on both sides.
const AdminTimeout = 5 * time.Second

// adminMaxConns connections are served at once; more are closed at once.
// Each has AdminTimeout to send its request: a few idle connections cannot
// keep mapgate purge out.
const adminMaxConns = 16

type adminServer struct {
	l     *net.UnixListener
	path  string
	purge func(name, key string) (int, error)
	log   *slog.Logger
	slots chan struct{}
	wg    sync.WaitGroup
}

// startAdmin listens on path (a stale socket file left by a crash is
// replaced; any other file is not).
func startAdmin(path string, purge func(name, key string) (int, error), log *slog.Logger) (*adminServer, error) {
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
	a := &adminServer{l: l, path: path, purge: purge, log: log, slots: make(chan struct{}, adminMaxConns)}
	a.wg.Add(1)
	go a.serve()
	log.Info("admin socket listening", "path", path)
	return a, nil
}

// close stops listening, removes the socket file and waits for the
// requests being served.
func (a *adminServer) close() {
	a.l.Close() // removes the file (net.UnixListener unlinks what it bound)
	a.wg.Wait()
}

func (a *adminServer) serve() {
	defer a.wg.Done()
	for {
		c, err := a.l.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.log.Error("admin socket", "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return
		}
		select {
		case a.slots <- struct{}{}:
		default:
			a.log.Warn("admin socket: too many connections; closed one", "max", adminMaxConns)
			c.Close()
			continue
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() { <-a.slots }()
			a.handle(c)
		}()
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
	c.SetDeadline(time.Now().Add(AdminTimeout))
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
	n, err := a.purge(name, key)
	if err != nil {
		fmt.Fprintln(c, "error", err)
		return
	}
	a.log.Info("answer cache purged", "map", strconv.Quote(name), "key", strconv.Quote(key), "entries", n, "uid", uid)
	fmt.Fprintln(c, "ok", n)
}
