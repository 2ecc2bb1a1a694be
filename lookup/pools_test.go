package lookup

import "mapgate/hosts"

// The tests of this package name the pools' types as they did when the
// pools were part of it.
type (
	PoolOptions = hosts.PoolOptions
	Pools       = hosts.Pools
)
