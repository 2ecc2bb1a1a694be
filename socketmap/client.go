package socketmap

import (
	"net"
	"sync"
	"time"
)

// Client is a minimal socketmap client, for tests, diagnostics and the
// benchmark harness. It sends one request at a time over one connection and
// is safe for concurrent use (requests are serialised). After any error the
// connection is in an unknown state: Close it and Dial again.
type Client struct {
	// Timeout bounds each Lookup (write and read); zero means no deadline.
	// Set it before the first Lookup.
	Timeout time.Duration

	mu   sync.Mutex
	nc   net.Conn
	dec  *Decoder
	wbuf []byte
}

// Dial connects to a socketmap server at spec (see ParseSpec), with a
// 10-second connect timeout.
func Dial(spec string) (*Client, error) {
	network, address, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout(network, address, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return NewClient(nc), nil
}

// NewClient returns a Client speaking over an established connection. It
// accepts replies up to DefaultMaxSize bytes.
func NewClient(nc net.Conn) *Client {
	return &Client{nc: nc, dec: NewDecoder(nc, DefaultMaxSize)}
}

// Lookup sends "name key" and returns the parsed reply. A reply that is
// not valid socketmap syntax is an error wrapping ErrBadReply.
func (c *Client) Lookup(name, key string) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Timeout > 0 {
		if err := c.nc.SetDeadline(time.Now().Add(c.Timeout)); err != nil {
			return Reply{}, err
		}
	}
	c.wbuf = AppendRequest(c.wbuf[:0], name, key)
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return Reply{}, err
	}
	p, err := c.dec.Next()
	if err != nil {
		return Reply{}, err
	}
	return ParseReply(p)
}

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }
