// Package hosts runs a table's statement on the database hosts of its
// file (the hosts parameter of mysql_table(5) and pgsql_table(5)): one
// pool per map, account and host behind a gate that bounds every wait, a
// breaker and a quarantine per host, and failover within the lookup's
// deadline (Query). It knows no database: the table's engine
// (engine.Engine) connects to a host and says who is to blame for a
// query's error (the key's, the query's, the host's), which decides
// between a miss, TEMP and the next host.
//
// Postfix's mysql client tries the hosts in random order, all UNIX domain
// sockets before any TCP host (mysql_table(5), "hosts"; pgsql_table(5)
// randomizes too), and marks a host down for retry_interval (60 s) after
// any query error. This package tries them in a fixed order instead, the
// order of engine.Table.Hosts (for mysql: UNIX sockets first, then TCP,
// each group as written), so that the first host is a predictable primary;
// healthy hosts get the load in that order, and only host faults count
// against a host.
package hosts
