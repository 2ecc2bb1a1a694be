// Package socketmap implements the server side of Postfix's socketmap lookup
// protocol, as described in socketmap_table(5), and the netstring framing it
// uses (https://cr.yp.to/proto/netstrings.txt).
//
// A request is one netstring whose payload is "NAME KEY": the map name, one
// space, then the key as raw bytes (the key may itself contain spaces, any
// byte, or be empty). The server answers every request with exactly one
// netstring reply, in order:
//
//	OK <value>        the key was found; value is never empty
//	NOTFOUND <empty>  the key is provably absent
//	TEMP <reason>     temporary failure; Postfix defers (4xx)
//	TIMEOUT <reason>  the lookup timed out; Postfix defers (4xx)
//	PERM <reason>     configuration error; Postfix treats it as a config error
//
// Postfix's client (src/util/dict_sockmap.c) reuses one connection for many
// requests, closes it after 10 s idle or 100 s of life, and refuses replies
// whose payload is longer than 100000 bytes (socketmap_max_reply_size).
//
// The package knows nothing about databases or character sets: a [Server]
// decodes requests, enforces size limits and deadlines, and calls a
// [Handler]. [Decoder], [AppendNetstring], [AppendReply] and [Client] are
// exported so that tools and benchmarks can speak the same protocol.
package socketmap
