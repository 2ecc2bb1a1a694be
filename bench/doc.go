// Package bench is mapgate's load generator and benchmark harness.
//
// It speaks the socketmap protocol (socketmap_table(5)) to a running
// mapgate over many connections, as Postfix's dict_sockmap client does: one
// request at a time per connection, the netstring "NAME KEY", a reply
// "OK value", "NOTFOUND ", "TEMP reason", "TIMEOUT reason" or "PERM reason".
//
// Every answer is checked against the one the data set implies. The data
// set is the one internal/testdb.BulkAliases generates (user<i>@bulk.example
// → user<i>@dest.example for i < N), so the expected reply of any key is
// derived from how the rows were made, not stored: see BulkAliases.
//
// A run (Run, with a Config) has a key mix (present / absent /
// unrepresentable, by ratio), a steady rate or as fast as possible, a
// duration and/or a count, and optionally a flood: extra connections
// sending unrepresentable keys at a multiple of the normal traffic's rate,
// the attack profile of the issue "Benchmark harness in CI". The Result has
// throughput, latency percentiles (p50/p99/p99.9) and counts per reply status
// and of wrong answers, in total and per second, for the normal ("good")
// traffic and the flood separately; it renders as JSON and as a readable
// summary, and Chart draws success rate and latency over time.
//
// The same per-second Series records Postfix's own clients (postmap -q -
// over mysql:, proxy:mysql: or socketmap:) in PostmapStream, so the chart
// can put Postfix beside mapgate.
//
// bench/cmd/benchrun runs the whole side-by-side comparison (make bench)
// and its short smoke form (make bench-smoke); `mapgate bench` runs one
// load against a running mapgate.
package bench
