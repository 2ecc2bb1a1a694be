// Package sqlfuzz is a test-only module: a differential fuzz test of
// mapgate's query analysis (package sqlshape) against vitess' MySQL
// grammar (vitess.io/vitess/go/vt/sqlparser). It is a module of its own
// so that the daemon never links vitess.
//
//	cd tools/sqlfuzz && go test -fuzz=FuzzShapeVsVitess -fuzztime=60s
package sqlfuzz
