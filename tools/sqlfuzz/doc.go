// Package sqlfuzz is a test-only module: a differential fuzz test of
// mapgate's query analysis (package sqlshape) against vitess' MySQL
// grammar (vitess.io/vitess/go/vt/sqlparser). It is a module of its own
// so that the daemon never links vitess.
//
//	cd tools/sqlfuzz && go test -fuzz=FuzzShapeVsVitess -fuzztime=60s
//
// The two must agree on the number of ? placeholders and on the kind of
// statement. Every disagreement found so far was vitess' own (a panic on
// SET````, // read as a comment, @" and @? read as variables); the
// published .cf files of PostfixAdmin, iRedMail, ISPConfig and mailcow
// (testdata/corpus) agree throughout. So sqlshape stays hand-written:
// vitess does not read MySQL's own lexical rules more faithfully, it does
// not model collation coercibility (what the check needs), and the daemon
// would link a large generated parser and its dependencies.
package sqlfuzz
