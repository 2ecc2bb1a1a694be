package lookup

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// writePEM writes one PEM block.
func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// makeCA writes a CA and a server certificate for 127.0.0.1 into dir.
func makeCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mapgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvTpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTpl, ca, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	require.NoError(t, err)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	writePEM(t, caFile, "CERTIFICATE", caDER)
	writePEM(t, certFile, "CERTIFICATE", srvDER)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return caFile, certFile, keyFile
}

// TestTLSSettings: tls_CAfile with tls_verify_cert = yes connects to a
// server whose account requires TLS; without tls_* settings the server
// refuses the account, which is a host fault (TEMP), never NOTFOUND.
func TestTLSSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a private MariaDB (not in -short)")
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := makeCA(t, dir)
	srv, err := testdb.NewArgs("--ssl-ca="+caFile, "--ssl-cert="+certFile, "--ssl-key="+keyFile)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	srv.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci")+`
CREATE USER 'tlsonly'@'127.0.0.1' IDENTIFIED BY 'secret' REQUIRE SSL;
GRANT SELECT ON postfix.* TO 'tlsonly'@'127.0.0.1';`)

	hosts := "inet:" + srv.Addr()
	body := "hosts = " + hosts + "\nuser = tlsonly\npassword = secret\ndbname = postfix\n" + qAlias + "\n"
	write := func(name, extra string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body+extra), 0o600))
		return p
	}
	specs := []MapSpec{
		{Name: "verified", Paths: []string{write("verified.cf", "tls_CAfile = "+caFile+"\ntls_verify_cert = yes\n")}},
		{Name: "plain", Paths: []string{write("plain.cf", "")}},
	}
	s, err := Load(specs, PoolOptions{}, testLogger(t), nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "verified", "bob@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "verified", "nobody@example.jp"))
	r := lookupReply(t, s, "plain", "bob@example.jp")
	assert.Equal(t, socketmap.StatusTemp, r.Status, "an account that requires TLS, without TLS: %v", r)
	r = lookupReply(t, s, "plain", "nobody@example.jp")
	assert.Equal(t, socketmap.StatusTemp, r.Status, "never NOTFOUND when the database could not answer: %v", r)
}
