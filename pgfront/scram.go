package pgfront

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL
// speaks it ("SASL Authentication" in the PostgreSQL manual): no channel
// binding (the front has no TLS), the user name in the SCRAM messages
// ignored (PostgreSQL takes the startup message's), no extensions.
// PBKDF2 runs once per password (newCredentials), not per login, so a
// login flood costs HMACs only.

const (
	scramMechanism = "SCRAM-SHA-256"
	// scramIterations is PostgreSQL's default scram_iterations.
	scramIterations = 4096
)

var errSCRAM = errors.New("malformed SCRAM message")

// credentials are the one user and password the front accepts, kept as
// PostgreSQL keeps a SCRAM secret: salt, iterations, StoredKey, ServerKey.
type credentials struct {
	user      string
	salt      []byte
	storedKey []byte
	serverKey []byte
}

// newCredentials derives the SCRAM secret of password with a fresh salt.
// The password is used as given: libpq applies SASLprep, which leaves
// ASCII unchanged, so a non-ASCII password must be in SASLprep form.
func newCredentials(user, password string) *credentials {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		panic("pgfront: pbkdf2: " + err.Error()) // only for FIPS-refused parameters
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &credentials{user: user, salt: salt, storedKey: stored[:], serverKey: hmacSHA256(salted, "Server Key")}
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// scramExchange is one login's SCRAM state.
type scramExchange struct {
	cr              *credentials
	gs2Header       string // "n,," or "y,,"
	clientFirstBare string
	serverFirst     string
	nonce           string // client's and server's
}

// first reads the client-first-message and returns the server-first-message.
func (x *scramExchange) first(msg []byte) (string, error) {
	s := string(msg)
	// gs2-header: "n,," (no channel binding) or "y,," (the client could,
	// but thinks the server cannot); "p=" asks for binding the front does
	// not offer. No authzid.
	switch {
	case strings.HasPrefix(s, "n,,"), strings.HasPrefix(s, "y,,"):
		x.gs2Header, s = s[:3], s[3:]
	default:
		return "", errSCRAM
	}
	x.clientFirstBare = s
	f := strings.Split(s, ",")
	if len(f) < 2 || !strings.HasPrefix(f[0], "n=") || !strings.HasPrefix(f[1], "r=") || len(f[1]) < 3 {
		return "", errSCRAM
	}
	if len(f) > 2 { // extensions (RFC 5802 "m="), which nobody sends
		return "", errSCRAM
	}
	cnonce := f[1][2:]
	if !printableNonce(cnonce) {
		return "", errSCRAM
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	x.nonce = cnonce + base64.StdEncoding.EncodeToString(b)
	x.serverFirst = "r=" + x.nonce + ",s=" + base64.StdEncoding.EncodeToString(x.cr.salt) + ",i=" + strconv.Itoa(scramIterations)
	return x.serverFirst, nil
}

// printableNonce: RFC 5802's printable, ASCII 0x21-0x7e except ','.
func printableNonce(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return s != ""
}

// final reads the client-final-message and, when its proof holds,
// returns the server-final-message; ok is false for a wrong password.
func (x *scramExchange) final(msg []byte) (serverFinal string, ok bool, err error) {
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return "", false, errSCRAM
	}
	withoutProof, proofB64 := s[:i], s[i+3:]
	f := strings.Split(withoutProof, ",")
	if len(f) != 2 || f[0] != "c="+base64.StdEncoding.EncodeToString([]byte(x.gs2Header)) || f[1] != "r="+x.nonce {
		return "", false, errSCRAM
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return "", false, errSCRAM
	}
	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	clientSig := hmacSHA256(x.cr.storedKey, authMessage)
	clientKey := make([]byte, sha256.Size)
	for k := range clientKey {
		clientKey[k] = proof[k] ^ clientSig[k]
	}
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], x.cr.storedKey) != 1 {
		return "", false, nil
	}
	return "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(x.cr.serverKey, authMessage)), true, nil
}
