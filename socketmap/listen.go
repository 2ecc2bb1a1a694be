package socketmap

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultSocketMode is the mode given to a unix socket when
// UnixOptions.Mode is zero: the socket's owner and group may connect,
// nobody else. Give the socket the group Postfix's daemons run as
// (UnixOptions.Group) so that they can reach it; any other local user
// cannot ask which addresses exist.
const DefaultSocketMode os.FileMode = 0o660

// ErrSocketInUse is returned by Listen when a server already answers on the
// unix socket path.
var ErrSocketInUse = errors.New("socketmap: unix socket in use by a running server")

// UnixOptions sets the ownership and permissions of a unix socket created
// by Listen. It is ignored for TCP.
type UnixOptions struct {
	// Mode is applied with chmod after the socket is bound. Zero means
	// DefaultSocketMode (0660). Clients need write permission to connect.
	Mode os.FileMode
	// Owner and Group are user and group names or numeric ids applied with
	// chown. Empty leaves that id unchanged.
	Owner, Group string
}

// ParseSpec splits a socketmap endpoint into a network and address for the
// net package. Accepted forms, as in Postfix: "unix:/path", "inet:host:port"
// and "host:port" (TCP; IPv6 hosts in brackets, "[::1]:port").
func ParseSpec(spec string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(spec, "unix:"):
		network, address = "unix", strings.TrimPrefix(spec, "unix:")
		if address == "" {
			return "", "", fmt.Errorf("socketmap: empty unix socket path in %q", spec)
		}
		return network, address, nil
	case strings.HasPrefix(spec, "inet:"):
		address = strings.TrimPrefix(spec, "inet:")
	default:
		address = spec
	}
	if _, port, err := net.SplitHostPort(address); err != nil || port == "" {
		return "", "", fmt.Errorf("socketmap: endpoint %q: want unix:/path, inet:host:port or host:port", spec)
	}
	return "tcp", address, nil
}

// Listen opens a listener for spec (see ParseSpec).
//
// For a unix socket, an existing socket file at the path is probed: if a
// server answers, Listen fails with ErrSocketInUse and leaves it alone; if
// the connection is refused, the stale file is removed. Any other kind of
// file at the path is an error and is never removed. After binding, the
// socket gets uo.Mode and uo.Owner/uo.Group; closing the listener removes
// the socket file. Between bind and chmod the socket briefly has the
// permissions allowed by the process umask.
func Listen(spec string, uo UnixOptions) (net.Listener, error) {
	network, address, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	if network == "tcp" {
		return net.Listen(network, address)
	}
	return listenUnix(address, uo)
}

func listenUnix(path string, uo UnixOptions) (net.Listener, error) {
	uid, gid, err := lookupIDs(uo.Owner, uo.Group)
	if err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(true)
	mode := uo.Mode
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, fmt.Errorf("socketmap: %w", err)
	}
	if uid != -1 || gid != -1 {
		if err := os.Chown(path, uid, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("socketmap: %w", err)
		}
	}
	return l, nil
}

// removeStale removes a unix socket file nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socketmap: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("socketmap: %s exists and is not a socket (%s); not removing it", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: %s", ErrSocketInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socketmap: probing existing socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("socketmap: removing stale socket: %w", err)
	}
	return nil
}

// lookupIDs resolves owner and group names or numeric ids; -1 means
// unchanged.
func lookupIDs(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = strconv.Atoi(owner); err != nil {
			u, lerr := user.Lookup(owner)
			if lerr != nil {
				return 0, 0, fmt.Errorf("socketmap: socket owner: %w", lerr)
			}
			if uid, err = strconv.Atoi(u.Uid); err != nil {
				return 0, 0, fmt.Errorf("socketmap: socket owner %q has non-numeric uid %q", owner, u.Uid)
			}
		}
	}
	if group != "" {
		if gid, err = strconv.Atoi(group); err != nil {
			g, lerr := user.LookupGroup(group)
			if lerr != nil {
				return 0, 0, fmt.Errorf("socketmap: socket group: %w", lerr)
			}
			if gid, err = strconv.Atoi(g.Gid); err != nil {
				return 0, 0, fmt.Errorf("socketmap: socket group %q has non-numeric gid %q", group, g.Gid)
			}
		}
	}
	return uid, gid, nil
}
