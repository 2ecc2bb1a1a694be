package audit

import (
	"io"
	"log/slog"

	"mapgate/engine"
	"mapgate/hosts"
	"mapgate/lookup"
)

// mapgateView is mapgate's own lookup path for one .cf file, as it serves
// the map: the audit asks it what mapgate answers for each probe key
// (lookup.Map.Explain) rather than predicting it. It has its own pool (one
// connection) and no cache. The lookups run as mapgate runs them, outside
// the audit's read-only transactions: the statement Postfix and mapgate
// run for every lookup anyway.
type mapgateView struct {
	m     *lookup.Map
	pools *hosts.Pools
}

// newMapgateView builds the map for one file with the map's options, but
// asking each key alone (no address or domain search): the probe key is
// the one search step, as the server's probe runs it.
func newMapgateView(name string, t *engine.Table, opts lookup.MapOptions, o Options) (*mapgateView, error) {
	opts.AddressSearch = false
	opts.DomainSearch = lookup.DomainExact
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pools := hosts.NewPools(hosts.PoolOptions{MaxOpen: 1, DialTimeout: o.DialTimeout, QueryTimeout: o.QueryTimeout, Logger: quiet})
	m, err := lookup.NewMap(name, []*engine.Table{t}, opts, pools, quiet, nil)
	if err != nil {
		pools.Close()
		return nil, err
	}
	return &mapgateView{m: m, pools: pools}, nil
}

func (v *mapgateView) close() {
	v.m.Close()
	v.pools.Close()
}
