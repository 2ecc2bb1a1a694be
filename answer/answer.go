// Package answer is what the lookup core tells a front end: a value, a
// miss, or a failure with its class and a reason. It knows nothing of any
// wire protocol: the socketmap front end (package smfront) turns a Result
// into a socketmap_table(5) reply; another front end (a MySQL-protocol
// one, say) turns it into its own.
package answer

// Class says who is to blame for a failed lookup or query, and so what a
// front end answers and whether a host's breaker counts it. Its zero
// value is ClassUnknown, a failure: a class never set is never a miss.
//
// What a front answers for each (a SQL front's error reply makes
// Postfix's mysql: and pgsql: clients skip the host for retry_interval,
// for every key, so it sends one only when the database cannot be asked or
// the map fails for every key):
//
//	class                      socketmap  SQL front (Result.SQL)
//	None, found                OK         the row
//	None, not found            NOTFOUND   empty result set
//	Key (KeyCaused)            TEMP       two rows: this lookup fails (an
//	                                      older front .cf: empty result set)
//	Limit                      TEMP       two rows (older front .cf: error)
//	Host, Timeout, Canceled    TEMP       error
//	Query (every key fails)    TEMP       error
//	Unknown                    TEMP       error
//	NoMap                      PERM       error (unknown database)
type Class uint8

const (
	// ClassUnknown: anything not recognised. Never a miss. The zero value.
	ClassUnknown Class = iota
	// ClassNone: no error (the key was found, or provably not found).
	ClassNone
	// ClassKey: the key's own value made the query fail (a character or
	// a length the column or the procedure parameter cannot hold, a
	// pattern that is not one), where a matching row cannot be ruled out.
	// Another key would not fail this way: the database can be asked and
	// the map works (see KeyCaused).
	ClassKey
	// ClassQuery: the query or schema is broken (unknown column, missing
	// table, mixed collations between columns, a privilege missing).
	// Every key would fail; the host is healthy.
	ClassQuery
	// ClassHost: the host is down, unreachable, overloaded, read-only,
	// refusing us, or too slow; or no host is available.
	ClassHost
	// ClassCanceled: the client went away.
	ClassCanceled
	// ClassLimit: the result exceeded the table's expansion_limit (a
	// temporary failure, as in Postfix).
	ClassLimit
	// ClassTimeout: the lookup's own deadline passed before a host
	// answered.
	ClassTimeout
	// ClassNoMap: no map has the name asked for (a configuration error).
	ClassNoMap
)

var classNames = [...]string{
	ClassNone:     "none",
	ClassKey:      "key",
	ClassQuery:    "query",
	ClassHost:     "host",
	ClassCanceled: "canceled",
	ClassUnknown:  "unknown",
	ClassLimit:    "limit",
	ClassTimeout:  "timeout",
	ClassNoMap:    "no_map",
}

// String returns the class's metric label ("none", "key", "query", "host",
// "canceled", "unknown", "limit", "timeout", "no_map").
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// KeyCaused reports whether c is a failure the key caused (ClassKey):
// uncertain for that key only. A SQL front never answers it with an
// error (see Result.SQL).
func (c Class) KeyCaused() bool { return c == ClassKey }

// Result is the answer to one lookup. Make one with Found, NotFound or
// Fail: the zero value is a failure (ClassUnknown), so a result never
// assigned is never a miss.
type Result struct {
	// Value is the formatted result (result_format applied) when Found.
	Value string
	// Found: the key was found. When false and Class is ClassNone, the key
	// is provably absent.
	Found bool
	// Class is why the lookup failed (ClassNone when it did not).
	Class Class
	// Reason is a short text for the client when the lookup failed; it
	// never holds the key.
	Reason string
}

// Found returns the result of a found key.
func Found(value string) Result { return Result{Value: value, Found: true, Class: ClassNone} }

// NotFound returns the result of a key that is provably absent.
func NotFound() Result { return Result{Class: ClassNone} }

// Fail returns a failed lookup's result. ClassNone is no failure: it
// becomes ClassUnknown.
func Fail(c Class, reason string) Result {
	if c == ClassNone {
		c = ClassUnknown
	}
	return Result{Class: c, Reason: reason}
}

// Failed reports whether the lookup failed (neither found nor provably
// absent).
func (r Result) Failed() bool { return r.Class != ClassNone }

// KeyCaused reports whether the lookup failed because of the key alone
// (Class.KeyCaused).
func (r Result) KeyCaused() bool { return r.Failed() && r.Class.KeyCaused() }

// SQLReply is how a SQL-protocol front (the MySQL and the PostgreSQL
// front) answers a Result. After an error reply Postfix's mysql: and
// pgsql: clients skip the table's hosts for retry_interval, for every key
// (POSTFIX-FACTS 1.3, 1.9), so a front sends one only when the database
// cannot be asked or the map fails for every key. Its zero value is
// SQLError.
type SQLReply uint8

const (
	// SQLError: an error reply.
	SQLError SQLReply = iota
	// SQLRow: one row holding Result.Value.
	SQLRow
	// SQLEmpty: a result set with no row (not found).
	SQLEmpty
	// SQLFailOne: this lookup alone fails, nothing else. The front sends
	// two rows; the client's .cf sets expansion_limit = 1 (the front
	// knows from the statement, see LimitedQuerySuffix), so Postfix's
	// client fails the lookup with DICT_ERR_RETRY ("Expansion limit
	// exceeded for key") after the query succeeded: the delivery or
	// the RCPT is deferred, and no host is marked down
	// (dict_mysql.c, dict_pgsql.c: the expansion loop).
	SQLFailOne
)

// FailOneRows are the values of the SQLFailOne reply's two rows. Postfix
// logs its own warning ("Expansion limit exceeded for key"); mapgate's log
// has the reason.
func FailOneRows() []string {
	return []string{"mapgate: temporary failure for this key (see mapgate's log)", "mapgate: temporary failure for this key"}
}

// LimitedQuerySuffix ends the query of a front .cf that also sets
// expansion_limit = 1 (mapgate migrate writes both): the statement Postfix
// sends is then the quoted key followed by this comment, and a front may
// answer SQLFailOne for it. A statement without it comes from an older
// front .cf, whose client would join two rows into one wrong answer.
const LimitedQuerySuffix = " /* expansion_limit = 1 */"

// SQL returns r's reply on a SQL front. limited: the client's .cf sets
// expansion_limit = 1 (its statement ends with LimitedQuerySuffix).
//
// A failure of this key alone (KeyCaused, ClassLimit: socketmap's TEMP
// for that key) is SQLFailOne when limited. For an older front .cf it
// falls back to what that .cf allows: a key-caused failure is an empty
// result (never an error: that would down the host for every key), and
// an expansion_limit overrun is an error, as Postfix's own client fails
// that lookup (an empty result would bounce a key whose rows exist).
func (r Result) SQL(limited bool) SQLReply {
	switch {
	case r.KeyCaused() || r.Class == ClassLimit:
		if limited {
			return SQLFailOne
		}
		if r.KeyCaused() {
			return SQLEmpty
		}
		return SQLError
	case r.Failed():
		return SQLError
	case r.Found && r.Value != "":
		return SQLRow
	}
	return SQLEmpty
}

// Outcome is the reply's lookup result as the fronts' metrics count it:
// "ok" (a row), "notfound" (no row) or "temp" (a failure, for this key
// or for every key).
func (s SQLReply) Outcome() string {
	switch s {
	case SQLRow:
		return "ok"
	case SQLEmpty:
		return "notfound"
	}
	return "temp"
}

// OlderFormAdvice is a front's log line for SQLAnswer.OlderForm.
const OlderFormAdvice = "a failure of this key alone was answered as a front .cf without \"/* expansion_limit = 1 */\" allows " +
	"(not found, or an error that makes Postfix skip the table); rewrite the front .cf with mapgate migrate, so that Postfix defers this key alone"

// SQLAnswer is a SQL front's answer to one lookup (Result.ForSQL).
type SQLAnswer struct {
	Reply SQLReply
	// TooLarge: the value was over the front's bound, so the answer is a
	// failure of this key.
	TooLarge bool
	// OlderForm: a failure of this key alone answered as a front .cf
	// without LimitedQuerySuffix allows (not found, or an error), where
	// one with it would have deferred this key alone. Worth a log line.
	OlderForm bool
}

// ForSQL is Result.SQL for a front whose replies hold at most max bytes:
// a longer value is a failure of this key (ClassLimit).
func (r Result) ForSQL(limited bool, max int) SQLAnswer {
	var a SQLAnswer
	if r.SQL(limited) == SQLRow && len(r.Value) > max {
		r, a.TooLarge = Fail(ClassLimit, "answer over the front's bound"), true
	}
	a.Reply = r.SQL(limited)
	a.OlderForm = !limited && r.SQL(true) == SQLFailOne
	return a
}
