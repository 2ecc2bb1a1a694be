// Package audit inspects the database schemas behind mysql_table(5) maps
// and reports which real-world keys break them, and how to fix the schema.
//
// For each .cf file it finds every column a key is compared with
// (schema.DiscoverColumns), then proves the risk by asking the server: the
// map's own query runs inside a READ ONLY transaction once per class of
// probe key (ASCII, Latin-1 accents, Japanese, Cyrillic, Greek, 4-byte
// characters, invalid UTF-8, over-long keys). A probe that fails with
// error 1267, 1270 or 1271 (illegal mix of collations; MySQL manual,
// "Collation Coercibility in Expressions") is a class of keys that makes
// Postfix's mysql: client fail every lookup of the map for a while; the
// report also gives what charset.Check (mapgate's own pre-check) predicts
// for the same key. An ASCII probe that fails proves mixed collations
// across joined columns. EXPLAIN with the ASCII probe shows comparisons
// that cannot use an index.
//
// latin1 columns are sampled for UTF-8 byte sequences written through a
// latin1 connection (double-encoded text): such columns must be converted
// through a binary type, since ALTER TABLE ... CONVERT TO CHARACTER SET
// would encode them a second time.
//
// Each probe's rows are compared with mapgate's answer: a key mapgate
// rejects (NOTFOUND without a query) that the server returns rows for is a
// wrong NOTFOUND.
//
// The fix is planned once every file is audited (plan.go): tables compared
// with each other in one query, and tables tied by foreign keys over text
// columns, form a group converted to one collation; the foreign keys are
// dropped first and added back last. The collation is read from the
// server (collation.go): the utf8mb4 collation that compares Latin-1 test
// pairs as the key columns do now. A preflight (preflight.go) checks the
// group read-only and heads its statements with SQL that stops the mysql
// client before any change when a precondition fails when they run.
//
// The audit needs SELECT on the tables and information_schema only: the
// read-only account a .cf file normally names.
package audit
