// Package pgsqlcf reads Postfix's pgsql_table(5) files: the parameters
// (hosts with unix:, inet:, bare names and postgresql:// URIs, user,
// password, dbname, encoding, query, result_format, domain,
// expansion_limit, idle_interval, retry_interval, and the legacy
// select_function and select_field/table/where_field/additional_conditions
// forms), as Postfix's dict_pgsql.c reads them.
//
// The query is scanned as PostgreSQL's own lexer does, and every %
// expansion becomes a bound parameter $1 … $n. What the expansions mean
// (db_common.c, which Postfix shares between its SQL clients) comes from
// package mysqlcf, as does the reading of the file itself (cfg_parser.c)
// and result_format.
//
// It knows nothing of databases or of lookups: a File is what the .cf file
// says, with the errors and warnings Postfix would give.
package pgsqlcf
