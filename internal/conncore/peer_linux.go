//go:build linux

package conncore

import (
	"encoding/binary"
	"net"
	"strconv"
	"syscall"
)

// peerOf names who is at the other end of nc, so that the unauthenticated
// budget is shared fairly between peers: "uid N" for a unix socket (its
// SO_PEERCRED, unix(7)) and for a loopback TCP connection (the owner of the
// client's socket, from the kernel's sock_diag(7), as `ss -e` shows it);
// the address for another TCP peer; "" when it cannot be told.
func peerOf(nc net.Conn) string {
	switch c := nc.(type) {
	case *net.UnixConn:
		rc, err := c.SyscallConn()
		if err != nil {
			return ""
		}
		var cred *syscall.Ucred
		if rc.Control(func(fd uintptr) {
			cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		}) != nil || err != nil {
			return ""
		}
		return "uid " + strconv.FormatUint(uint64(cred.Uid), 10)
	case *net.TCPConn:
		ra, ok1 := c.RemoteAddr().(*net.TCPAddr)
		la, ok2 := c.LocalAddr().(*net.TCPAddr)
		if !ok1 || !ok2 {
			return ""
		}
		if !ra.IP.IsLoopback() {
			return ra.IP.String()
		}
		if uid, ok := tcpOwner(ra, la); ok {
			return "uid " + strconv.FormatUint(uint64(uid), 10)
		}
		return ra.IP.String()
	}
	return ""
}

// sock_diag(7) and inet_diag constants (linux/sock_diag.h, linux/inet_diag.h).
const (
	netlinkSockDiag   = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily  = 20 // SOCK_DIAG_BY_FAMILY
	nlmsgError        = 2  // NLMSG_ERROR
	nlmsgHdrLen       = 16
	inetDiagReqLen    = 56 // struct inet_diag_req_v2
	inetDiagUIDOffset = 4 + 48 + 12
)

// tcpOwner asks the kernel for the owner of the TCP socket whose local
// address is src and remote address dst: the client's end of a loopback
// connection. One request, answered within the send.
func tcpOwner(src, dst *net.TCPAddr) (uint32, bool) {
	family, alen := syscall.AF_INET, 4
	s4, d4 := src.IP.To4(), dst.IP.To4()
	sip, dip := []byte(s4), []byte(d4)
	if s4 == nil || d4 == nil {
		family, alen = syscall.AF_INET6, 16
		sip, dip = src.IP.To16(), dst.IP.To16()
		if sip == nil || dip == nil {
			return 0, false
		}
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	req := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[nlmsgHdrLen:]
	r[0], r[1] = byte(family), syscall.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	id := r[8:]                     // struct inet_diag_sockid
	binary.BigEndian.PutUint16(id[0:], uint16(src.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(dst.Port))
	copy(id[4:4+alen], sip)
	copy(id[20:20+alen], dip)
	ne.PutUint32(id[40:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], ^uint32(0))
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, false
	}
	buf := make([]byte, 1024)
	n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_DONTWAIT)
	if err != nil || n < nlmsgHdrLen+inetDiagUIDOffset+4 {
		return 0, false
	}
	if ne.Uint16(buf[4:]) == nlmsgError {
		return 0, false
	}
	msg := buf[nlmsgHdrLen:n]
	// struct inet_diag_msg: family, state, timer, retrans, the sockid,
	// expires, rqueue, wqueue, uid. The sockid must be the one asked.
	if int(msg[0]) != family || binary.BigEndian.Uint16(msg[4:]) != uint16(src.Port) ||
		binary.BigEndian.Uint16(msg[6:]) != uint16(dst.Port) {
		return 0, false
	}
	return ne.Uint32(msg[inetDiagUIDOffset:]), true
}
