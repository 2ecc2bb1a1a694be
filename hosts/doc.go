// Package hosts runs a map's statement on the database hosts of a
// mysql_table(5) file (its hosts parameter): one pool per map, account and
// host behind a gate that bounds every wait, a breaker and a quarantine per
// host, failover within the lookup's deadline (Query), and the
// classification of a query's error (Classify: the key's, the query's,
// the host's) that decides between a miss, TEMP and the next host.
//
// Postfix's mysql client marks a host down for 60 s on any error and tries
// the hosts in order (mysql_table(5), "hosts"); this package keeps the
// order but lets only host faults count against a host.
package hosts
