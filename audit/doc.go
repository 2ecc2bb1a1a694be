// Package audit inspects the database schemas behind mysql_table(5) maps
// and reports which real-world keys break them, and how to fix the schema.
//
// For each .cf file it finds every column a key is compared with
// (lookup.DiscoverColumns), then proves the risk by asking the server: the
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
// The audit needs SELECT on the tables and information_schema only: the
// read-only account a .cf file normally names.
package audit
