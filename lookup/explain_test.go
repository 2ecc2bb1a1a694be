package lookup

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/charset"
)

// TestExplain: Explain gives Lookup's own answer and the plan of each step
// as the check made it: a miss without a query for a key a required
// comparison's column cannot hold, NULL bound for a filter parameter, the
// key itself answered before any step when it is not valid UTF-8.
func TestExplain(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "required", db: "postfix", body: qAlias},
		mapDef{name: "filter", db: "pf3", body: "query = SELECT goto FROM alias WHERE address = '%s' OR address = '@%d'"},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m, _ := s.Map("required")
	ex := m.Explain(ctx, "ほげ@example.jp")
	assert.False(t, ex.Result.Found)
	assert.False(t, ex.Result.Failed())
	require.NotEmpty(t, ex.Steps)
	require.NotNil(t, ex.Steps[0].Plan.Miss)
	assert.Equal(t, charset.ReasonUnrepresentable.String(), ex.Steps[0].Plan.Miss.Reason.String())
	assert.Equal(t, "alias.address", ex.Steps[0].Plan.Miss.Column)

	ex = m.Explain(ctx, "bob@example.jp")
	assert.True(t, ex.Result.Found)
	assert.Equal(t, "bob@example.jp", ex.Result.Value)
	assert.Nil(t, ex.Steps[0].Plan.Miss)

	ex = m.Explain(ctx, "x\xff@example.jp")
	assert.Equal(t, "invalid_utf8", ex.Rejected)
	assert.Empty(t, ex.Steps)
	assert.False(t, ex.Result.Found || ex.Result.Failed())

	f, _ := s.Map("filter")
	ex = f.Explain(ctx, "😀@example.com")
	assert.True(t, ex.Result.Found, "the catch-all branch still answers")
	assert.Equal(t, "catchall@example.jp", ex.Result.Value)
	require.NotEmpty(t, ex.Steps)
	assert.Equal(t, []int{0}, ex.Steps[0].Plan.Null)
}
