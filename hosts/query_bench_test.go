package hosts

import (
	"context"
	"database/sql/driver"
	"io"
	"testing"
	"time"

	"mapgate/answer"
	"mapgate/engine"
)

// memEngine answers every statement at once with one row of one value,
// so that a benchmark measures the work around the database round trip.
// hosts asks an engine only to connect and to classify.
type memEngine struct{ engine.Engine }

func (memEngine) Connector(*engine.Table, engine.Host, engine.ConnOptions) (driver.Connector, string, string, error) {
	return memConnector{}, "mem", "mem", nil
}
func (memEngine) Classify(err error, _ bool) answer.Class {
	if err == nil {
		return answer.ClassNone
	}
	c, _ := engine.TransportClass(err)
	return c
}

type memConnector struct{}

func (memConnector) Connect(context.Context) (driver.Conn, error) { return memConn{}, nil }
func (memConnector) Driver() driver.Driver                        { return nil }

type memConn struct{}

func (memConn) Prepare(string) (driver.Stmt, error) { return memStmt{}, nil }
func (memConn) Close() error                        { return nil }
func (memConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }

type memStmt struct{}

func (memStmt) Close() error                               { return nil }
func (memStmt) NumInput() int                              { return -1 }
func (memStmt) Exec([]driver.Value) (driver.Result, error) { return nil, driver.ErrSkip }
func (memStmt) Query([]driver.Value) (driver.Rows, error)  { return &memRows{}, nil }

type memRows struct{ done bool }

func (*memRows) Columns() []string { return []string{"goto"} }
func (*memRows) Close() error      { return nil }
func (r *memRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = []byte("dest@example.net")
	return nil
}

// BenchmarkQuery is one lookup's run of a statement on one healthy host,
// the database answering at once: the failover, gate, breaker and
// database/sql work per lookup.
func BenchmarkQuery(b *testing.B) {
	p := NewPools(PoolOptions{})
	defer p.Close()
	cf := &engine.Table{Engine: memEngine{}, Path: "mem.cf", Hosts: []engine.Host{{Network: "tcp", Addr: "mem:1", Spec: "mem"}},
		Statement: "SELECT goto FROM alias WHERE address = ?"}
	ts, err := p.Targets("m", cf)
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Targets: ts, Args: []any{"someone@example.com"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v, _, _, err := Query(ctx, time.Now().Add(5*time.Second), r)
		if err != nil || len(v) != 1 {
			b.Fatal(v, err)
		}
	}
}
