package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"mapgate/audit"
)

// Exit codes of mapgate audit.
const (
	exitAuditSafe   = 0 // no map at risk
	exitAuditRisk   = 1 // some map breaks on some keys, or its fix would change answers
	exitAuditFailed = 2 // the audit could not run (completely)
)

// cmdAudit inspects the schemas behind the maps (or one whole schema) and
// prints what breaks and how to fix it.
func cmdAudit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: mapgate audit [--config FILE] [--map NAME=FILE.cf ...] [--json]
       mapgate audit --dsn 'user:password@tcp(host:3306)/' --database DB [--json]

Checks, for each map, the columns its query compares keys with: their character
sets and collations, which real-world keys make the query fail (proven by
sending probe keys through the query in a read-only transaction), mixed
collations, lookups without an index, and latin1 columns holding double-encoded
UTF-8. Prints the SQL that converts the tables and the .cf changes to make:
ready when the server shows that no lookup's answer changes, else review, with
every changed answer listed (the SQL then runs only after
SET @mapgate_review = 'accept';). Needs only SELECT on the tables and
information_schema.

Exit status: 0 no map at risk, 1 some map at risk or a fix to review, 2 the
audit could not run.

`)
		fs.PrintDefaults()
	}
	var flags commonFlags
	flags.register(fs, false)
	dsn := fs.String("dsn", "", "audit a whole schema: go-sql-driver DSN, e.g. 'postfix:secret@tcp(127.0.0.1:3306)/'")
	database := fs.String("database", "", "with --dsn: the database to audit")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	examples := fs.Int("examples", 3, "example rows to show per double-encoded or latin1 column")
	timeout := fs.Duration("timeout", 60*time.Second, "limit for each query of the audit")
	collation := fs.String("collation", "", "the utf8mb4 collation the fix converts to (default: of the server's, the one that changes fewest answers)")
	if err := fs.Parse(args); err != nil {
		return exitAuditFailed
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "mapgate audit: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return exitAuditFailed
	}
	opts := audit.Options{Examples: *examples, QueryTimeout: *timeout, Collation: *collation}
	if *examples == 0 {
		opts.Examples = -1
	}
	ctx := context.Background()
	var r *audit.Report
	switch {
	case *dsn != "":
		if flags.config != "" || len(flags.maps) > 0 {
			fmt.Fprintln(stderr, "mapgate audit: give either --dsn or maps (--map, --config), not both")
			return exitAuditFailed
		}
		r = audit.Schema(ctx, *dsn, *database, opts)
	default:
		if *database != "" {
			fmt.Fprintln(stderr, "mapgate audit: --database needs --dsn")
			return exitAuditFailed
		}
		s, err := flags.settings()
		if err != nil {
			fmt.Fprintf(stderr, "mapgate audit: %v\n", err)
			return exitAuditFailed
		}
		if _, ok := s.vals["recipient_delimiter"]; !ok {
			// Not needed for the audit; spares running postconf.
			s.vals["recipient_delimiter"] = ""
		}
		cfg, err := s.build()
		if err != nil {
			fmt.Fprintf(stderr, "mapgate audit: %v\n", err)
			return exitAuditFailed
		}
		if len(cfg.Maps) == 0 {
			fmt.Fprintln(stderr, "mapgate audit: no maps: give --map NAME=FILE.cf, --config FILE, or --dsn and --database")
			return exitAuditFailed
		}
		r = audit.Maps(ctx, cfg.Maps, opts)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "mapgate audit: %v\n", err)
			return exitAuditFailed
		}
	} else if err := audit.WriteText(stdout, r); err != nil {
		fmt.Fprintf(stderr, "mapgate audit: %v\n", err)
		return exitAuditFailed
	}
	if fails := r.Failures(); len(fails) > 0 {
		for _, f := range fails {
			if f.File != "" {
				fmt.Fprintf(stderr, "mapgate audit: %s: %s\n", f.File, f.Message)
			} else {
				fmt.Fprintf(stderr, "mapgate audit: %s\n", f.Message)
			}
		}
		return exitAuditFailed
	}
	if r.AtRisk() {
		return exitAuditRisk
	}
	return exitAuditSafe
}
