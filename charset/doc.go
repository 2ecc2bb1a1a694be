// Package charset decides, without asking the database, whether a lookup key
// can possibly equal a value stored in a MySQL/MariaDB column, and prepares
// keys the way Postfix's mysql: client would send them.
//
// The problem it solves: comparing a column with a string that the column's
// character set cannot hold (for example `ほげ@example.jp` against a latin1
// column over a utf8mb4 connection) makes the server fail the whole query with
// error 1267 ER_CANT_AGGREGATE_2COLLATIONS, "Illegal mix of collations",
// because the column (coercibility 2) wins over the literal (coercibility 4)
// and the literal cannot be converted. Postfix would then mark the database
// host down. [Check] finds such keys first so the caller can answer NOTFOUND.
//
// It follows these MySQL and MariaDB manual pages:
//
//   - "West European Character Sets" (charset-we-sets.html): MySQL's latin1 is
//     Windows cp1252, except that the five bytes cp1252 leaves undefined (0x81,
//     0x8D, 0x8F, 0x90, 0x9D) map to the C1 controls U+0081, U+008D, U+008F,
//     U+0090 and U+009D. The other C1 controls (U+0080, U+0098, ...) are not in
//     latin1. golang.org/x/text's charmap.Windows1252 decodes those five bytes
//     to U+FFFD, so this package adds them itself.
//   - "The utf8mb3 Character Set" / "The utf8mb4 Character Set"
//     (charset-unicode-utf8mb3.html, charset-unicode-utf8mb4.html): utf8mb3
//     holds only the Basic Multilingual Plane (at most three bytes per
//     character); utf8mb4 holds every Unicode scalar value. MariaDB's utf8 is
//     utf8mb3.
//   - "Collation Coercibility in Expressions"
//     (charset-collation-coercibility.html) and MariaDB's COERCIBILITY: why a
//     parameter is converted to the column's charset, not the reverse.
//   - "The binary Collation Compared to _bin Collations"
//     (charset-binary-collations.html): a binary string compares byte by byte
//     and never causes a conversion error.
//   - "Trailing Space Handling in Comparisons" (charset-binary-collations.html,
//     PAD SPACE collations): 'a' = 'a  ', so trailing spaces never count
//     towards a key's length.
//
// Everything here is a pure function of its arguments: no I/O, no global
// state beyond read-only tables built at init. The rule throughout is that a
// wrong rejection bounces real mail, so whenever a match is possible, or the
// package does not know, [Check] says "send the query".
//
// Typical use, per parameter that is compared with a column:
//
//	key = charset.Normalize(charset.Fold(key)) // as configured for the map
//	if err := charset.Check(key, conn, col, maxChars); err != nil {
//		err.Column = "alias.address"
//		// answer NOTFOUND for this search step; log err and charset.Escape(key)
//	}
//
// Check must see the string that will actually be sent: normalising can turn
// an unrepresentable sequence (e + U+0301) into a representable one (é).
package charset
