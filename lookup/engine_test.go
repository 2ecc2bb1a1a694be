package lookup

// The tests serve mysql_table(5) files: the binary registers the MySQL
// engine the same way.
import _ "mapgate/engine/mysql"
