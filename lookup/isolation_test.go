package lookup

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/socketmap"
)

// A query that binds only the domain returns the same rows for every user
// of that domain, and identical concurrent queries share one round trip.
// The answer formatted with result_format = %U@%s must still carry each
// caller's own user. The SLEEP keeps each query in flight long enough that
// the 16 clients' lookups really overlap and share it.
func TestSharedQueryFormatsPerKey(t *testing.T) {
	srv := sharedServer(t)
	obs := newCounting()
	hosts := []string{"inet:" + srv.Addr()}
	const body = "query = SELECT target_domain FROM alias_domain WHERE alias_domain='%d' AND SLEEP(0.05) = 0\nresult_format = %U@%s"
	s := loadSet(t, hosts, PoolOptions{}, obs,
		mapDef{name: "alias_domain_rewrite", db: "postfix", body: body, opts: &MapOptions{}})

	const clients, rounds = 16, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := map[string]string{}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				key := fmt.Sprintf("user%d@example.net", c)
				want := socketmap.OK(fmt.Sprintf("user%d@example.jp", c))
				if got := lookupReply(t, s, "alias_domain_rewrite", key); got != want {
					mu.Lock()
					wrong[key] = got.String()
					mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
	assert.Empty(t, wrong, "answers formatted with another caller's key")
	// The queries were shared: fewer round trips than lookups.
	require.Less(t, obs.count(obs.queries, "none"), clients*rounds, "the test needs overlapping lookups")
}

// A key with a NUL is never found, whatever the query binds: a map whose
// query uses only %d would not see the NUL in its bound value.
func TestNULKeyNeverFound(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "domain_only", db: "postfix", body: "query = SELECT target_domain FROM alias_domain WHERE alias_domain='%d'"},
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	for _, key := range []string{"bob\x00@example.net", "\x00@example.net", "bob@example.net\x00"} {
		assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "domain_only", key), "%q", key)
		assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "virtual_alias", key), "%q (no catch-all either)", key)
	}
	assert.Equal(t, socketmap.OK("example.jp"), lookupReply(t, s, "domain_only", "bob@example.net"))
}
