package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/coreos/go-systemd/v22/activation"
)

// inherited is one listening socket passed by systemd.
type inherited struct {
	name string // FileDescriptorName= in the .socket unit, or LISTEN_FD_<n>
	l    net.Listener
}

// inheritedListeners returns the listening sockets this process inherited
// through systemd's socket activation (sd_listen_fds(3): fds from 3 on,
// LISTEN_FDS, LISTEN_PID naming this process, LISTEN_FDNAMES), and unsets
// those variables so that no child process sees them. None when the process
// was not socket-activated.
//
// The sockets belong to systemd: closing them here leaves them listening in
// systemd, so connections made while mapgate restarts wait in the backlog
// instead of failing, and a unix socket's file is never removed by mapgate.
func inheritedListeners() ([]inherited, error) {
	files := activation.Files(true)
	var out []inherited
	var errs []error
	for _, f := range files {
		l, err := net.FileListener(f)
		f.Close() // FileListener made its own copy
		if err != nil {
			errs = append(errs, fmt.Errorf("inherited socket %s: %w (want a listening stream socket: ListenStream=)", f.Name(), err))
			continue
		}
		out = append(out, inherited{name: f.Name(), l: l})
	}
	if err := errors.Join(errs...); err != nil {
		for _, in := range out {
			in.l.Close()
		}
		return nil, err
	}
	return out, nil
}
