// Package mysqlfront is mapgate's second front end: a small MySQL-protocol
// server that Postfix's own mysql: client (dict_mysql, linked with
// libmysqlclient or libmariadb) connects to, so that every Postfix daemon,
// virtual(8) and local(8) included, asks mapgate through a table that stays
// "mysql:".
//
// The front's .cf (mysql_table(5)) names mapgate as the host, the mapgate map
// as dbname, and the query
//
//	query = '%s'
//
// so the client sends the key, escaped with mysql_real_escape_string and in
// single quotes, as the whole statement. The front unescapes it (the escape
// is reversible) and asks a Resolver; it never executes anything. A
// statement that is not exactly one quoted escaped key is refused with an
// error and logged escaped, except the few session statements the client
// libraries send on their own (SET NAMES, SET CHARACTER SET, SET
// autocommit), which are acknowledged.
//
// Replies: a found key is a one-column text result set with one row per
// value (Postfix joins rows with ','); a key that is not found, or cannot
// match, or made the query fail where another key would not (a key-caused
// condition, socketmap's TEMP for that key alone), is an empty result set;
// an error packet (Temp) only when the database cannot be asked or the map
// fails for every key, because dict_mysql marks the host down for
// retry_interval on any error, for every key (mysql_table(5)).
//
// Protocol: the MySQL client/server protocol, "Protocol::HandshakeV10",
// "Protocol::HandshakeResponse41", COM_QUERY text result sets with EOF
// packets (CLIENT_DEPRECATE_EOF is not offered), COM_INIT_DB, COM_PING,
// COM_QUIT, COM_RESET_CONNECTION; authentication mysql_native_password only
// (other plugins are switched to it with an AuthSwitchRequest).
//
// Why hand-written: vitess' go/mysql and dolthub's fork bring a SQL parser
// and hundreds of packages into the binary for the eight packet types used
// here; the code below keeps to those, with every length checked before
// allocation, and its parsers are fuzzed (testdata/fuzz).
package mysqlfront
