/*
 * spamd.h - a client of SpamAssassin's spamd (the SPAMC/1.5 protocol)
 *
 * SUMMARY
 *	A request is "<COMMAND> SPAMC/1.5", then "Content-length: N" and
 *	"User: NAME" header lines, a blank line and exactly N bytes of the
 *	message.  spamd answers "SPAMD/1.x 0 EX_OK", header lines (among them
 *	"Spam: True ; 7.5 / 5.0"), a blank line and, for SYMBOLS, the names of
 *	the rules that hit, comma-separated; then it closes the connection.
 *	PING is answered "SPAMD/1.5 0 PONG".
 *
 *	Servers are written "unix:/path" or "host:port" ("[v6]:port"; the
 *	port defaults to 783).  Nothing here blocks: SpamdCall is a state
 *	machine driven by poll() (spam.c's I/O thread).  spamd_call_sync() is
 *	the blocking form that lint uses.  Every answer is bounded
 *	(SPAMD_MAX_ANSWER) and parsed strictly: a server that answers
 *	anything else is a failed server, never a verdict.
 */
#ifndef MQSIFT_SCANNER_SPAMD_H
#define MQSIFT_SCANNER_SPAMD_H

#include <glib.h>
#include <sys/socket.h>

#define SPAMD_DEFAULT_PORT 783
#define SPAMD_MAX_ANSWER (64 * 1024)

/* SpamdServer - one configured spamd */
typedef struct {
	char *name; /* as configured, for logs */
	struct sockaddr_storage addr;
	socklen_t addrlen;
} SpamdServer;

/* SpamdAnswer - what spamd said about a message */
typedef struct {
	gboolean is_spam; /* spamd's own opinion (its required_score) */
	double score;
	double required;
	char *tests; /* rule names, comma-separated (SYMBOLS); "" if none */
} SpamdAnswer;

/* spamd_server_parse - "unix:/path", "host:port", "[::1]:783"; FALSE with @error */
gboolean spamd_server_parse(const char *spec, SpamdServer *out, GError **error);

/* spamd_server_clear - free what spamd_server_parse allocated */
void spamd_server_clear(SpamdServer *server);

/* spamd_request_head - the request up to the blank line, for @len bytes of message */
GString *spamd_request_head(const char *command, const char *user, gsize len);

/*
 * spamd_parse_answer - a whole answer (up to EOF) to SYMBOLS, REPORT, CHECK
 * or PING (@ping: only the PONG status line is expected).  FALSE with @error
 * saying what was wrong (status code, missing Spam: line, garbage).
 */
gboolean spamd_parse_answer(const char *data, gsize len, gboolean ping, SpamdAnswer *out,
                            GError **error);

/* spamd_answer_clear - free the answer's strings */
void spamd_answer_clear(SpamdAnswer *answer);

/* SpamdCall - one request in progress on one connection */
typedef struct SpamdCall SpamdCall;

/*
 * spamd_call_new - start connecting to @server and sending @command with
 * @message (@len bytes, borrowed: it must outlive the call; NULL for PING).
 * Returns NULL with @error if the connection fails at once.
 */
SpamdCall *spamd_call_new(const SpamdServer *server, const char *command, const char *user,
                          const char *message, gsize len, GError **error);

/* spamd_call_fd - the socket to poll; spamd_call_events - POLLIN or POLLOUT */
int spamd_call_fd(const SpamdCall *call);
short spamd_call_events(const SpamdCall *call);

/*
 * spamd_call_step - do what the socket allows now.  Returns 0 while more is
 * to come, 1 when the answer is complete (@out filled), -1 on failure (@error).
 */
int spamd_call_step(SpamdCall *call, SpamdAnswer *out, GError **error);

/* spamd_call_free - close and free; clears the pointer */
void spamd_call_free(SpamdCall **call);

/* spamd_call_sync - the whole call, blocking at most @timeout_ms (lint, tests) */
gboolean spamd_call_sync(const SpamdServer *server, const char *command, const char *message,
                         gsize len, guint timeout_ms, SpamdAnswer *out, GError **error);

#endif
