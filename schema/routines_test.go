package schema

import (
	"fmt"
	"testing"

	"mapgate/internal/testdb"
)

// A placeholder that is a CALL's argument gets the procedure parameter's
// facts from information_schema.PARAMETERS (for an account that may only
// execute the procedure), and a changed parameter is seen as changed.
func TestDiscoverParameters(t *testing.T) {
	s := colServer(t)
	s.MustExec(t, fmt.Sprintf(`CREATE DATABASE IF NOT EXISTS procs; USE procs;
DROP PROCEDURE IF EXISTS lookup_key;
CREATE PROCEDURE lookup_key(k VARCHAR(254) CHARSET utf8mb3, n INT) SELECT k;
GRANT EXECUTE ON procs.* TO '%[1]s'@'127.0.0.1';`, testdb.User))
	db := colOpen(t, colTCP(s, "procs", "utf8mb4"))
	ctx := colCtx(t)
	for _, q := range []string{"CALL lookup_key(?, ?)", "CALL procs.LOOKUP_KEY(?, ?)", "CALL lookup_key(CONCAT(?, ''), ?)"} {
		pcs, err := DiscoverColumns(ctx, db, "procs", q)
		if err != nil {
			t.Fatal(err)
		}
		if pcs[0].Known {
			t.Fatalf("%s: DiscoverColumns alone knows the procedure's parameter: %+v", q, pcs[0])
		}
		if err := DiscoverParameters(ctx, db, "procs", pcs); err != nil {
			t.Fatal(err)
		}
		p := pcs[0]
		if q == "CALL lookup_key(CONCAT(?, ''), ?)" {
			if p.Known {
				t.Errorf("%s: an expression argument is known: %+v", q, p)
			}
			continue
		}
		if !p.Known || !p.Direct || len(p.Infos) != 1 || !p.Infos[0].Routine ||
			p.Infos[0].Charset != "utf8mb3" || p.Infos[0].MaxChars != 254 || p.Infos[0].Column != "k" {
			t.Fatalf("%s: %+v, want param k utf8mb3 len 254", q, p)
		}
		if n := pcs[1]; !n.Known || n.Infos[0].DataType != "int" || n.Infos[0].Charset != "" {
			t.Errorf("%s: second parameter %+v, want int", q, n)
		}
		if ok, err := ColumnsUnchanged(ctx, db, p.Infos); !ok || err != nil {
			t.Errorf("%s: unchanged = %v, %v", q, ok, err)
		}
	}
	pcs, _ := DiscoverColumns(ctx, db, "procs", "CALL lookup_key(?, ?)")
	if err := DiscoverParameters(ctx, db, "procs", pcs); err != nil {
		t.Fatal(err)
	}
	s.MustExec(t, `USE procs; DROP PROCEDURE lookup_key; CREATE PROCEDURE lookup_key(k VARCHAR(254) CHARSET utf8mb4, n INT) SELECT k;`)
	if ok, err := ColumnsUnchanged(ctx, db, pcs[0].Infos); ok || err != nil {
		t.Errorf("after the parameter's charset changed: unchanged = %v, %v", ok, err)
	}
}
