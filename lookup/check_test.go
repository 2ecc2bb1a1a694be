package lookup

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckRunsTheQuery: Check runs each query with a probe key, not only
// prepares it. A COLLATE that the bound key's character set (the
// connection's, utf8mb4) cannot take prepares and then fails for every key
// (error 1253): Check says so. A query that asks for %1-%9 is run with a
// probe key that has the labels, and a good query passes.
func TestCheckRunsTheQuery(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "collate", db: "postfix", body: "query = SELECT goto FROM alias WHERE address = '%s' COLLATE latin1_general_ci", opts: &MapOptions{}},
		mapDef{name: "labels", db: "postfix", body: "query = SELECT goto FROM alias WHERE address = '%u@%9.%8.%3.%2.%1'", opts: &MapOptions{}},
		mapDef{name: "good", db: "postfix", body: qAlias, opts: &MapOptions{}},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	checks := s.Check(ctx)
	require.Len(t, checks, 3)
	assert.False(t, checks["collate"].OK())
	require.Error(t, checks["collate"].Err())
	assert.Contains(t, checks["collate"].Err().Error(), "1253")
	assert.True(t, checks["labels"].OK(), "%v", checks["labels"].Err())
	assert.True(t, checks["good"].OK(), "%v", checks["good"].Err())

	// The probe keys are asked of the query as a lookup would ask them.
	for _, name := range []string{"labels", "good"} {
		args := s.maps[name].tables[0].probeArgs()
		require.NotEmpty(t, args, name)
		for _, a := range args {
			assert.Contains(t, a, "invalid", name)
		}
	}
}
