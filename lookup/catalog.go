package lookup

import (
	"context"
	"database/sql"

	"mapgate/schema"
)

// Catalog is what the core asks of a SQL engine's catalogue: the columns
// each parameter of a query is compared with (discovery), and whether
// columns found earlier are still as described (confirmation). MySQL's,
// through information_schema, is schema.MySQL, the only one. A second
// engine (pgsql_table(5) has the same shape of configuration) would plug
// in here, beside its own driver and error classes in hosts.
type Catalog interface {
	Columns(ctx context.Context, db *sql.DB, dbname, query string) ([]schema.ParamColumns, error)
	Unchanged(ctx context.Context, db *sql.DB, infos []schema.ColumnInfo) (bool, error)
}

// catalog is the engine's catalogue every table asks.
var catalog Catalog = schema.MySQL{}
