package mysql

import (
	"errors"

	"github.com/go-sql-driver/mysql"

	"mapgate/answer"
	"mapgate/engine"
)

// Class is answer.Class; the constants below are Classify's answers.
type Class = answer.Class

const (
	ClassNone     = answer.ClassNone
	ClassKey      = answer.ClassKey
	ClassQuery    = answer.ClassQuery
	ClassHost     = answer.ClassHost
	ClassCanceled = answer.ClassCanceled
	ClassUnknown  = answer.ClassUnknown
)

// charsetErrors are the server errors a key's characters (or its length)
// can cause when it is compared with, or converted or assigned to, a
// column's or a procedure parameter's character set.
var charsetErrors = map[uint16]bool{
	1253: true, // ER_COLLATION_CHARSET_MISMATCH
	1267: true, // ER_CANT_AGGREGATE_2COLLATIONS: "Illegal mix of collations"
	1270: true, // ER_CANT_AGGREGATE_3COLLATIONS (CONCAT('%u','@',col))
	1271: true, // ER_CANT_AGGREGATE_NCOLLATIONS (IN lists)
	1300: true, // ER_INVALID_CHARACTER_STRING
	1366: true, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD ("Incorrect string value")
	1406: true, // ER_DATA_TOO_LONG: assigned to a parameter (CALL p('%s')) or a variable
	3854: true, // MySQL 8 ER_CANNOT_CONVERT_STRING
}

// patternErrors are the server errors an invalid regular expression
// causes: a key used as a pattern (col REGEXP '%s').
var patternErrors = map[uint16]bool{
	1139: true, // ER_REGEXP_ERROR (MariaDB: "Got error '...' from regexp")
}

// hostErrors are server errors that say the host (or our account on it) is
// not usable right now, whatever the key.
var hostErrors = map[uint16]bool{
	1030: true, // ER_GET_ERRNO: storage engine error
	1037: true, // ER_OUTOFMEMORY
	1038: true, // ER_OUT_OF_SORTMEMORY
	1040: true, // ER_CON_COUNT_ERROR: too many connections
	1041: true, // ER_OUT_OF_RESOURCES
	1042: true, // ER_BAD_HOST_ERROR
	1043: true, // ER_HANDSHAKE_ERROR
	1044: true, // ER_DBACCESS_DENIED_ERROR
	1045: true, // ER_ACCESS_DENIED_ERROR
	1047: true, // ER_UNKNOWN_COM_ERROR / WSREP not ready
	1049: true, // ER_BAD_DB_ERROR: unknown database (wrong host or not restored yet)
	1053: true, // ER_SERVER_SHUTDOWN
	1077: true, // ER_NORMAL_SHUTDOWN
	1078: true, // ER_GOT_SIGNAL
	1079: true, // ER_SHUTDOWN_COMPLETE
	1080: true, // ER_FORCING_CLOSE
	1081: true, // ER_IPSOCK_ERROR
	1129: true, // ER_HOST_IS_BLOCKED
	1130: true, // ER_HOST_NOT_PRIVILEGED
	1152: true, // ER_ABORTING_CONNECTION
	1153: true, // ER_NET_PACKET_TOO_LARGE
	1154: true, // ER_NET_READ_ERROR_FROM_PIPE
	1155: true, // ER_NET_FCNTL_ERROR
	1156: true, // ER_NET_PACKETS_OUT_OF_ORDER
	1157: true, // ER_NET_UNCOMPRESS_ERROR
	1158: true, // ER_NET_READ_ERROR
	1159: true, // ER_NET_READ_INTERRUPTED
	1160: true, // ER_NET_ERROR_ON_WRITE
	1161: true, // ER_NET_WRITE_INTERRUPTED
	1184: true, // ER_NEW_ABORTING_CONNECTION
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1226: true, // ER_USER_LIMIT_REACHED
	1290: true, // ER_OPTION_PREVENTS_STATEMENT (--read-only, --skip-grant-tables)
	1317: true, // ER_QUERY_INTERRUPTED
	1792: true, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	1836: true, // ER_READ_ONLY_MODE
	1927: true, // MariaDB ER_CONNECTION_KILLED
	1969: true, // MariaDB ER_STATEMENT_TIMEOUT (max_statement_time)
	3024: true, // MySQL ER_QUERY_TIMEOUT (max_execution_time)
	3118: true, // ER_ACCOUNT_HAS_BEEN_LOCKED
	4031: true, // MySQL ER_CLIENT_INTERACTION_TIMEOUT
	// Client-side error numbers, should a driver ever report them as server errors.
	2002: true, 2003: true, 2006: true, 2013: true,
}

// queryErrors are server errors that mean the statement itself is broken
// for every key: the admin must fix the .cf file or the schema.
var queryErrors = map[uint16]bool{
	1054: true, // ER_BAD_FIELD_ERROR: unknown column
	1064: true, // ER_PARSE_ERROR
	1066: true, // ER_NONUNIQ_TABLE
	1052: true, // ER_NON_UNIQ_ERROR: ambiguous column
	1142: true, // ER_TABLEACCESS_DENIED_ERROR: SELECT denied on a table
	1143: true, // ER_COLUMNACCESS_DENIED_ERROR
	1146: true, // ER_NO_SUCH_TABLE
	1222: true, // ER_WRONG_NUMBER_OF_COLUMNS_IN_SELECT
	1235: true, // ER_NOT_SUPPORTED_YET
	1241: true, // ER_OPERAND_COLUMNS
	1242: true, // ER_SUBQUERY_NO_1_ROW
	1305: true, // ER_SP_DOES_NOT_EXIST
	1312: true, // ER_SP_BADSELECT
	1370: true, // ER_PROCACCESS_DENIED_ERROR
	1582: true, // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
	1584: true, // ER_WRONG_PARAMETERS_TO_STORED_FCT
}

// Classify decides who is to blame for err, a query's error. keySuspect is
// true when a value bound from the key may have caused an error about a
// value (the lookup core decides, with the column facts: a value with
// anything but printable ASCII, one longer than any mail address, one
// that is no valid pattern, each unless the facts vouched for it): only
// then can a charset, length or pattern error be the key's doing. The same
// error for a plain, short ASCII key means the query or the schema itself
// is broken (say, a join across two incompatible collations), and
// answering NOTFOUND would bounce everyone's mail, so it is ClassQuery.
//
// Errors are compared by number (*mysql.MySQLError), never by message text.
func Classify(err error, keySuspect bool) Class {
	if err == nil {
		return ClassNone
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch {
		case charsetErrors[me.Number], patternErrors[me.Number]:
			if keySuspect {
				return ClassKey
			}
			return ClassQuery
		case hostErrors[me.Number]:
			return ClassHost
		case queryErrors[me.Number]:
			return ClassQuery
		default:
			return ClassUnknown
		}
	}
	if errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, mysql.ErrMalformPkt) ||
		errors.Is(err, mysql.ErrPktSync) ||
		errors.Is(err, mysql.ErrPktSyncMul) ||
		errors.Is(err, mysql.ErrBusyBuffer) {
		return ClassHost
	}
	if c, ok := engine.TransportClass(err); ok {
		return c
	}
	return ClassUnknown
}

// IsCharsetError reports whether err is the server's charset or collation
// error (1267 and its kin).
func IsCharsetError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && charsetErrors[me.Number]
}
