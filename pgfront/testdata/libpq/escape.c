/*
 * escape: a test helper for pgfront (libpq_test.go). It connects with
 * libpq to the front (argv[1], a conninfo string), sets the client
 * encoding as Postfix's dict_pgsql does (PQsetClientEncoding, argv[2]),
 * then for each line of stdin (a key, hex-encoded) prints
 *   ESC <hex of PQescapeStringConn's output>  or  ESCERR
 * and, when it escaped, the answer to the query '<escaped>':
 *   ROW <hex of the first value> | NOROWS | ERR <message>
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unhex(const char *s, char *out) {
	int n = 0;
	while (s[0] && s[1] && s[0] != '\n') {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			return -1;
		out[n++] = (char) v;
		s += 2;
	}
	return n;
}

static void puthex(const char *s, size_t n) {
	for (size_t i = 0; i < n; i++)
		printf("%02x", (unsigned char) s[i]);
}

int main(int argc, char **argv) {
	static char line[200000], key[100000], esc[200001], q[200010];
	PGconn *c;

	if (argc != 3)
		return 2;
	c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		return 1;
	}
	if (PQsetClientEncoding(c, argv[2]) != 0) {
		fprintf(stderr, "set encoding: %s", PQerrorMessage(c));
		return 1;
	}
	while (fgets(line, sizeof line, stdin)) {
		int n = unhex(line, key), err = 0;
		size_t m;
		PGresult *r;

		if (n < 0)
			return 2;
		m = PQescapeStringConn(c, esc, key, n, &err);
		if (err) {
			printf("ESCERR\n");
			continue;
		}
		printf("ESC ");
		puthex(esc, m);
		printf("\n");
		snprintf(q, sizeof q, "'%s'", esc);
		r = PQexec(c, q);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
			printf("ROW ");
			puthex(PQgetvalue(r, 0, 0), PQgetlength(r, 0, 0));
			printf("\n");
		} else if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			printf("NOROWS\n");
		} else {
			char *e = PQresultErrorMessage(r);
			printf("ERR %.*s\n", (int) strcspn(e, "\n"), e);
		}
		PQclear(r);
		fflush(stdout);
	}
	PQfinish(c);
	return 0;
}
