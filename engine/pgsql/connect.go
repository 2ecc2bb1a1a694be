package pgsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"mapgate/engine"
	"mapgate/pgsqlcf"
)

// Connector implements engine.Engine: pgconn (pgx v5's protocol layer)
// with the connection string Postfix's libpq client uses for the host
// (pgsqlcf.File.ConnString: a postgresql:// URI as written, or host, port,
// user, password and dbname; libpq's defaults and environment fill in the
// rest, as pgx reads them), and client_encoding UTF8 whatever the file's
// encoding says: mapgate's keys are UTF-8, and the server converts them to
// the database encoding, or refuses the statement when it cannot.
func (Engine) Connector(t *engine.Table, h engine.Host, o engine.ConnOptions) (driver.Connector, string, string, error) {
	cf := native(t).cf
	ph := h.Native.(pgsqlcf.Host)
	cs := cf.ConnString(ph)
	cfg, err := pgconn.ParseConfig(cs)
	if err != nil {
		// The error may quote the connection string, password and all.
		return nil, "", "", fmt.Errorf("%s: hosts %s: the connection settings cannot be read", cf.Path, h.Spec)
	}
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "mapgate"
	}
	if o.DialTimeout > 0 {
		cfg.ConnectTimeout = o.DialTimeout
	}
	dial := cfg.DialFunc
	timeout := o.QueryTimeout
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil || timeout <= 0 {
			return c, err
		}
		return &deadlineConn{Conn: c, timeout: timeout}, nil
	}
	// Connection attempts to the fallbacks (sslmode=prefer tries TLS,
	// then plain) are the driver's; every attempt obeys ConnectTimeout.
	desc := cfg.User + "@" + describeHost(cfg) + "/" + cfg.Database
	key := cs + "\x00" + o.DialTimeout.String() + "\x00" + o.QueryTimeout.String()
	return &connector{cfg: cfg}, key, desc, nil
}

// describeHost names where cfg connects, for logs: host:port or the
// socket directory.
func describeHost(cfg *pgconn.Config) string {
	if len(cfg.Host) > 0 && cfg.Host[0] == '/' {
		return cfg.Host
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}
