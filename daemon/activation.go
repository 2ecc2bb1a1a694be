package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// Inherited is one listening socket passed by systemd.
type Inherited struct {
	// Name is FileDescriptorName= of the .socket unit (LISTEN_FD_<n>
	// without one). FrontMySQL ("mysql") is served by the MySQL front,
	// FrontPgSQL ("pgsql") by the PostgreSQL front, every other name by
	// socketmap.
	Name string
	L    net.Listener
}

// FrontMySQL is the FileDescriptorName= of a socket the MySQL front serves.
const FrontMySQL = "mysql"

// InheritedListeners returns the listening sockets this process inherited
// through systemd's socket activation (sd_listen_fds(3): fds from 3 on,
// LISTEN_FDS, LISTEN_PID naming this process, LISTEN_FDNAMES), and unsets
// those variables so that no child process sees them. None when the process
// was not socket-activated. Call it before anything opens a file.
//
// The sockets belong to systemd: closing them here leaves them listening in
// systemd, so connections made while mapgate restarts wait in the backlog
// instead of failing, and a unix socket's file is never removed by mapgate.
func InheritedListeners() ([]Inherited, error) {
	if err := checkListenFDs(); err != nil {
		unsetActivationEnv()
		return nil, err
	}
	files := activation.Files(true)
	var out []Inherited
	var errs []error
	for _, f := range files {
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own copy
		if err != nil {
			errs = append(errs, fmt.Errorf("inherited socket %s: %w (want a listening stream socket: ListenStream=)", f.Name(), err))
			continue
		}
		out = append(out, Inherited{Name: f.Name(), L: l})
	}
	if err := errors.Join(errs...); err != nil {
		for _, in := range out {
			in.L.Close()
		}
		return nil, err
	}
	return out, nil
}

// checkListenFDs refuses a LISTEN_FDS (for this process) that names
// descriptors this process does not have, before go-systemd allocates room
// for that many (LISTEN_FDS=99999999999 would be an out-of-memory crash).
// The descriptors are looked at one by one from 3 and the first missing one
// stops the check, so any count costs at most one fstat per real socket.
func checkListenFDs() error {
	pid, n := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if n == "" || pid != strconv.Itoa(os.Getpid()) {
		return nil
	}
	count, err := strconv.ParseUint(n, 10, 31)
	if err != nil {
		return fmt.Errorf("socket activation: LISTEN_FDS=%s is not a descriptor count", strconv.QuoteToASCII(n))
	}
	for i := uint64(0); i < count; i++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(3+i), &st); err != nil {
			return fmt.Errorf("socket activation: LISTEN_FDS=%d, but descriptor %d is not open (%v)", count, 3+i, err)
		}
	}
	return nil
}

func unsetActivationEnv() {
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
}
