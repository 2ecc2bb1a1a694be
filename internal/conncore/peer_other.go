//go:build !linux

package conncore

import "net"

// peerOf names who is at the other end of nc, so that the unauthenticated
// budget is shared fairly between peers: here the remote address only.
func peerOf(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ""
}
