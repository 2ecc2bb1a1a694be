package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"mapgate/engine"
	"mapgate/internal/nbio"
	"mapgate/mysqlcf"
)

// Connector implements engine.Engine: go-sql-driver/mysql, configured as
// mysql_table(5) says (user, password, dbname, charset, option_file and
// option_group, the tls_* parameters).
func (Engine) Connector(t *engine.Table, h engine.Host, o engine.ConnOptions) (driver.Connector, string, string, error) {
	c, err := connConfig(native(t).cf, h, o)
	if err != nil {
		return nil, "", "", err
	}
	dsn := c.FormatDSN()
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, "", "", err
	}
	return conn, dsn, redactDSN(dsn), nil
}

// dial connects as the driver does (TCP keep-alives on), with raw reads
// and writes (nbio).
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return nbio.Wrap(nc), nil
}

// tlsN numbers the TLS configurations registered with the driver.
var tlsN atomic.Int64

// connConfig builds the driver configuration for one host of a .cf file.
func connConfig(cf *mysqlcf.File, h engine.Host, o engine.ConnOptions) (*mysql.Config, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.DBName = cf.User, cf.Password, cf.DBName
	if cf.OptionFile != "" {
		of, err := readOptionFile(cf.OptionFile, cf.OptionGroup)
		if err != nil {
			return nil, err
		}
		if c.User == "" {
			c.User = of["user"]
		}
		if c.Passwd == "" {
			c.Passwd = of["password"]
		}
		if c.DBName == "" {
			c.DBName = of["database"]
		}
	}
	c.Net, c.Addr = h.Network, h.Addr
	c.DialFunc = dial
	// The driver's own logger writes unescaped lines to stderr; its events
	// (a connection reset, a bad packet) are host faults mapgate already
	// logs, so they go to the debug level.
	c.Logger = mysqlLogger{o.Logger}
	c.Timeout = o.DialTimeout
	// These bound every read and write on a connection, the handshake
	// included: a stalled host turns into an i/o timeout after
	// QueryTimeout. Queries run without a cancellable context (see run).
	c.ReadTimeout = o.QueryTimeout
	c.WriteTimeout = o.QueryTimeout
	cs := cf.Charset
	if cs == "" {
		cs = "utf8mb4"
	}
	if err := c.Apply(mysql.Charset(cs, "")); err != nil {
		return nil, err
	}
	tc, err := tlsConfig(cf, h)
	if err != nil {
		return nil, err
	}
	if tc != "" {
		c.TLSConfig = tc
	}
	return c, nil
}

// tlsConfig registers the .cf file's tls_* settings with the driver and
// returns the name to use, "" for no TLS. As Postfix does, TLS is on when a
// certificate, key or CA is configured.
func tlsConfig(cf *mysqlcf.File, h engine.Host) (string, error) {
	t := cf.TLS
	if t.CertFile == "" && t.KeyFile == "" && t.CAFile == "" && t.CAPath == "" {
		return "", nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return "", fmt.Errorf("%s: tls_cert_file/tls_key_file: %w", cf.Path, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" || t.CAPath != "" {
		pool := x509.NewCertPool()
		files := []string{}
		if t.CAFile != "" {
			files = append(files, t.CAFile)
		}
		if t.CAPath != "" {
			m, _ := filepath.Glob(filepath.Join(t.CAPath, "*"))
			files = append(files, m...)
		}
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("%s: tls CA: %w", cf.Path, err)
			}
			pool.AppendCertsFromPEM(pem)
		}
		tc.RootCAs = pool
	}
	if t.VerifyCert {
		if h.Network == "tcp" {
			if host, _, err := net.SplitHostPort(h.Addr); err == nil {
				tc.ServerName = host
			}
		}
	} else {
		// Postfix's tls_verify_cert = no: encrypt without verifying.
		tc.InsecureSkipVerify = true
	}
	// One name per registration, for the whole process: a reload's pools
	// never take over an older set's name.
	name := fmt.Sprintf("mapgate-%d", tlsN.Add(1))
	if err := mysql.RegisterTLSConfig(name, tc); err != nil {
		return "", err
	}
	return name, nil
}

func redactDSN(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "?"
	}
	return cfg.User + "@" + cfg.Net + "(" + cfg.Addr + ")/" + cfg.DBName
}

// readOptionFile reads the [client] and [group] sections of a MySQL option
// file (my.cnf syntax): the settings mapgate can use are user, password and
// database.
func readOptionFile(path, group string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("option_file: %w", err)
	}
	if group == "" {
		group = "client"
	}
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.ToLower(strings.Trim(line, "[] \t"))
			continue
		}
		if section != "client" && section != strings.ToLower(group) {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "_", "-")
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, nil
}

// mysqlLogger routes go-sql-driver's messages to slog at debug level.
type mysqlLogger struct{ l *slog.Logger }

func (m mysqlLogger) Print(v ...any) { m.l.Debug("mysql driver", "msg", fmt.Sprint(v...)) }
