// Package mysqlcf reads Postfix's mysql_table(5) files: the parameters
// (hosts, user, password, dbname, query, result_format, domain,
// expansion_limit, the tls_* and option_* settings, and the legacy
// select_field/table/where_field form), the %-expansions of query and
// result_format as Postfix's db_common.c applies them, and main.cf-style
// "name = value" files in general (Params, used by mapgate's own
// configuration).
//
// It knows nothing of databases or of lookups: a File is what the .cf file
// says, with the errors and warnings Postfix would give, naming the file,
// line and parameter.
package mysqlcf
