package hosts

import "mapgate/answer"

// Who is to blame for a failed query is the table's engine's to say
// (engine.Engine's Classify): MySQL's error numbers are in engine/mysql,
// PostgreSQL's SQLSTATEs in engine/pgsql. hosts counts only ClassHost
// against a host's breaker.

// Class says who is to blame for a failed query (see answer.Class).
type Class = answer.Class

// The classes Classify returns, and the ones a lookup adds.
const (
	ClassNone     = answer.ClassNone
	ClassKey      = answer.ClassKey
	ClassQuery    = answer.ClassQuery
	ClassHost     = answer.ClassHost
	ClassCanceled = answer.ClassCanceled
	ClassUnknown  = answer.ClassUnknown
	ClassLimit    = answer.ClassLimit
	ClassTimeout  = answer.ClassTimeout
)
