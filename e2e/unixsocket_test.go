package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/pfinst"
)

// TestE2EUnixSocketRelativeToQueueDir: a socketmap unix path relative to
// the queue directory (as README and migrate recommend, so that chrooted
// smtpd and cleanup find it too) is resolved by Postfix's daemons, which
// run with the queue directory as their working directory.
func TestE2EUnixSocketRelativeToQueueDir(t *testing.T) {
	requireTools(t)
	db := startDB(t, "")
	cf := writeCF(t, cfDir(t), "alias", db, qAlias)
	in := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "socketmap:unix:mapgate/mapgate.sock:virtual_alias", Extra: smtpdMainCF})
	logOnFailure(t, "relative unix socket instance", in)
	sockDir := filepath.Join(in.QueueDir, "mapgate")
	require.NoError(t, os.MkdirAll(sockDir, 0o755))
	startMapgate(t, map[string]string{"virtual_alias": cf}, "--listen", "unix:"+filepath.Join(sockDir, "mapgate.sock"))

	code, line := in.RCPT("bob@example.jp")
	assert.Equal(t, 250, code, line)
	code, line = in.RCPT("nobody@example.jp")
	assert.Equal(t, 550, code, line)
	code, line = in.RCPT("ほげ@example.jp")
	assert.Equal(t, 550, code, line)
}
