// Package sqlshape reads the shape of a lookup query: which columns each
// ? placeholder is compared with, how (the comparison, the functions in
// between), and what a comparison no stored value can satisfy proves about
// the statement (its Role). It reads MySQL/MariaDB SELECT syntax (default
// sql_mode) as ParseQuery (package mysqlcf) leaves it, and models the MySQL
// manual's "Collation Coercibility in Expressions".
//
// lexer.go tokenizes, parser.go parses statements, SELECT cores and table
// references, expr.go parses expressions, analysis.go works out each
// placeholder's ParamUse. A construct the parser does not understand
// becomes an opaque node: the placeholders inside it are Known=false, and
// the others are analysed as usual.
//
// The parser models MySQL's collation aggregation (MySQL manual, "Collation
// Coercibility in Expressions"): a parameter is a coercible string; every
// comparison (=, IN, LIKE, BETWEEN, ...) and every string function that
// keeps its arguments' character set (CONCAT, LOWER, ...) aggregates the
// collations of its string operands. A column met in such an aggregation
// converts the parameter to the column's charset, which fails with error
// 1267, 1270 or 1271 when the key holds characters that charset lacks. Those
// columns are the ParamUse.Columns. Anything else is Known=false: a shape
// the parser does not understand must never yield a wrong column, since a
// wrong column could make mapgate reject a key that would have matched.
package sqlshape
