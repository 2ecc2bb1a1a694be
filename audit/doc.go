// Package audit inspects the database schemas behind mysql_table(5) maps
// and reports which real-world keys break them, and how to fix the schema.
//
// For each .cf file it finds every column a key is compared with
// (schema.DiscoverColumns), then proves the risk by asking the server: the
// map's own query runs inside a READ ONLY transaction once per class of
// probe key (ASCII, Latin-1 accents, Japanese, Cyrillic, Greek, 4-byte
// characters, invalid UTF-8, over-long keys). A probe the server refuses
// (mysql.IsCharsetError, or any error once the ASCII probe has shown that
// the query works: the key is all that differs) is a class of keys that
// makes Postfix's mysql: client fail every lookup of the map for a while;
// every probe runs. An ASCII probe that fails with a charset error proves
// mixed collations across joined columns. EXPLAIN with the ASCII probe
// shows comparisons that cannot use an index.
//
// What mapgate answers for each probe key is asked of mapgate's own
// lookup path (mapgate.go, lookup.Map.Explain), never predicted here.
//
// latin1 columns are sampled for UTF-8 byte sequences written through a
// latin1 connection (double-encoded text): such columns must be converted
// through a binary type, since ALTER TABLE ... CONVERT TO CHARACTER SET
// would encode them a second time.
//
// The fix is planned once every file is audited (plan.go): tables compared
// with each other in one query, and tables tied by foreign keys over text
// columns, form a group converted to one collation; the foreign keys are
// dropped first and added back last. The collation is read from the
// server (answers.go, collation.go): the utf8mb4 collation that changes
// fewest answers of lookups, checked on the stored key values and keys
// derived from them. A fix that changes any answer is "review", with every
// changed pair listed. A preflight (preflight.go) checks the group
// read-only and heads its statements with SQL that stops the mysql client
// before any change when a precondition fails when they run.
//
// The query is read with sqlshape (its analysis, and Tables, ColumnSpans
// and SelectPlaces on its tokens).
//
// The audit needs SELECT on the tables and information_schema only: the
// read-only account a .cf file normally names.
package audit
