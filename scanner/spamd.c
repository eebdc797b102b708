/*
 * spamd.c - SPAMC/1.5 requests and answers, over non-blocking sockets
 */
#include "mqsift-build.h"

#include "scanner/spamd.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* spamd_server_parse - a configured server */
gboolean
spamd_server_parse(const char *spec, SpamdServer *out, GError **error)
{
	memset(out, 0, sizeof *out);
	if (g_str_has_prefix(spec, "unix:")) {
		struct sockaddr_un *un = (struct sockaddr_un *)&out->addr;
		const char *path = spec + 5;
		if (*path != '/' || strlen(path) >= sizeof un->sun_path) {
			g_set_error(
			    error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "spam.spamd: \"%s\": a unix socket is written unix:/absolute/path",
			    spec);
			return FALSE;
		}
		un->sun_family = AF_UNIX;
		g_strlcpy(un->sun_path, path, sizeof un->sun_path);
		out->addrlen = sizeof *un;
		out->name = g_strdup(spec);
		return TRUE;
	}
	g_autofree char *host = NULL;
	const char *port = NULL;
	if (*spec == '[') {
		const char *rb = strchr(spec, ']');
		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			goto bad;
		host = g_strndup(spec + 1, (gsize)(rb - spec - 1));
		port = rb[1] == ':' ? rb + 2 : NULL;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon != NULL && strchr(spec, ':') != colon)
			goto bad; /* a bare IPv6 address: write it [::1]:783 */
		host = colon ? g_strndup(spec, (gsize)(colon - spec)) : g_strdup(spec);
		port = colon ? colon + 1 : NULL;
	}
	guint64 p = SPAMD_DEFAULT_PORT;
	if (port != NULL && (!g_ascii_string_to_unsigned(port, 10, 1, 65535, &p, NULL)))
		goto bad;
	/* a numeric address only: a name would need DNS at every connection */
	GInetAddress *ia = g_inet_address_new_from_string(host);
	if (ia == NULL)
		goto bad;
	GSocketAddress *sa = g_inet_socket_address_new(ia, (guint16)p);
	g_object_unref(ia);
	out->addrlen = (socklen_t)g_socket_address_get_native_size(sa);
	gboolean ok = g_socket_address_to_native(sa, &out->addr, sizeof out->addr, NULL);
	g_object_unref(sa);
	if (!ok)
		goto bad;
	out->name = g_strdup(spec);
	return TRUE;
bad:
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
	            "spam.spamd: \"%s\" is not unix:/path, ADDRESS:PORT or [IPv6]:PORT "
	            "(numeric addresses only)",
	            spec);
	return FALSE;
}

/* spamd_server_clear - free */
void
spamd_server_clear(SpamdServer *server)
{
	g_clear_pointer(&server->name, g_free);
}

/* spamd_request_head - the request line and headers */
GString *
spamd_request_head(const char *command, const char *user, gsize len)
{
	GString *h = g_string_new(NULL);

	g_string_append_printf(h, "%s SPAMC/1.5\r\n", command);
	if (strcmp(command, "PING") != 0) {
		g_string_append_printf(h, "Content-length: %" G_GSIZE_FORMAT "\r\n", len);
		if (user && *user)
			g_string_append_printf(h, "User: %s\r\n", user);
	}
	g_string_append(h, "\r\n");
	return h;
}

/* answer_error - set @error */
static gboolean
answer_error(GError **error, const char *what)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "spamd answered %s", what);
	return FALSE;
}

/* parse_number - a decimal score such as "-1.2" or "1000.0" */
static gboolean
parse_number(const char *s, const char *end, double *out)
{
	char buf[32];
	gsize n = (gsize)(end - s);
	char *e;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof buf)
		return FALSE;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (gsize i = 0; i < n; i++)
		if (!g_ascii_isdigit(buf[i]) && buf[i] != '.' && !(i == 0 && buf[i] == '-'))
			return FALSE;
	*out = g_ascii_strtod(buf, &e);
	return *e == '\0';
}

/* spamd_parse_answer - strict parsing of a whole answer */
gboolean
spamd_parse_answer(const char *data, gsize len, gboolean ping, SpamdAnswer *out, GError **error)
{
	const char *p = data, *end = data + len;
	const char *eol = memchr(p, '\n', len);
	gboolean have_spam = FALSE;

	memset(out, 0, sizeof *out);
	if (len > SPAMD_MAX_ANSWER)
		return answer_error(error, "more than 64 KB");
	if (eol == NULL || !g_str_has_prefix(p, "SPAMD/1."))
		return answer_error(error, len == 0 ? "nothing (connection closed)"
		                                    : "something that is not SPAMD/1.x");
	/* "SPAMD/1.1 0 EX_OK" */
	const char *sp = memchr(p, ' ', (gsize)(eol - p));
	if (sp == NULL || sp + 2 > eol || sp[1] != '0' || sp[2] != ' ') {
		g_autofree char *line = g_strndup(p, (gsize)(eol - p));
		g_strchomp(line);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spamd answered an error: %s",
		            g_str_is_ascii(line) && strlen(line) < 80 ? line : "(garbage)");
		return FALSE;
	}
	if (ping) {
		if (g_strstr_len(sp, eol - sp, "PONG") == NULL)
			return answer_error(error, "PING without PONG");
		out->tests = g_strdup("");
		return TRUE;
	}
	p = eol + 1;
	/* header lines up to a blank line */
	for (;;) {
		eol = memchr(p, '\n', (gsize)(end - p));
		if (eol == NULL) {
			if (p == end)
				break; /* headers only (CHECK) */
			return answer_error(error, "a truncated header");
		}
		gsize n = (gsize)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			p = eol + 1;
			break;
		}
		if (n > 7 && g_ascii_strncasecmp(p, "Spam:", 5) == 0) {
			/* "Spam: True ; 7.5 / 5.0" */
			const char *v = p + 5, *ve = p + n;
			const char *semi = memchr(v, ';', (gsize)(ve - v));
			const char *slash = semi ? memchr(semi, '/', (gsize)(ve - semi)) : NULL;
			while (v < ve && *v == ' ')
				v++;
			if (semi == NULL || slash == NULL ||
			    !parse_number(semi + 1, slash, &out->score) ||
			    !parse_number(slash + 1, ve, &out->required))
				return answer_error(error, "a Spam: line it should not");
			if (g_ascii_strncasecmp(v, "True", 4) == 0 ||
			    g_ascii_strncasecmp(v, "Yes", 3) == 0)
				out->is_spam = TRUE;
			else if (g_ascii_strncasecmp(v, "False", 5) != 0 &&
			         g_ascii_strncasecmp(v, "No", 2) != 0)
				return answer_error(error, "a Spam: line it should not");
			have_spam = TRUE;
		}
		p = eol + 1;
	}
	if (!have_spam)
		return answer_error(error, "without a Spam: line");
	/* SYMBOLS: "RULE_A,RULE_B"; REPORT: a text whose table names the rules */
	GString *tests = g_string_new(NULL);
	gsize blen = (gsize)(end - p);
	gboolean symbols = TRUE;
	for (gsize i = 0; i < blen; i++) {
		char c = p[i];
		if (!(g_ascii_isalnum(c) || c == '_' || c == ',' || c == '\r' || c == '\n' ||
		      c == ' '))
			symbols = FALSE;
	}
	if (symbols) {
		for (gsize i = 0; i < blen; i++)
			if (g_ascii_isalnum(p[i]) || p[i] == '_' || p[i] == ',')
				g_string_append_c(tests, p[i]);
	} else {
		/* REPORT: the table's lines " 1.2 RULE_NAME  description" */
		const char *q = p;
		while (q < end) {
			const char *nl = memchr(q, '\n', (gsize)(end - q));
			const char *le = nl ? nl : end;
			const char *t = q;
			while (t < le && *t == ' ')
				t++;
			const char *num = t;
			while (t < le && (g_ascii_isdigit(*t) || *t == '.' || *t == '-'))
				t++;
			if (t > num && t < le && *t == ' ') {
				while (t < le && *t == ' ')
					t++;
				const char *name = t;
				while (t < le &&
				       (g_ascii_isupper(*t) || g_ascii_isdigit(*t) || *t == '_'))
					t++;
				if (t - name >= 2 && (t == le || *t == ' ' || *t == '\r')) {
					if (tests->len)
						g_string_append_c(tests, ',');
					g_string_append_len(tests, name, t - name);
				}
			}
			q = nl ? nl + 1 : end;
		}
	}
	out->tests = g_string_free(tests, FALSE);
	return TRUE;
}

/* spamd_answer_clear - free */
void
spamd_answer_clear(SpamdAnswer *answer)
{
	g_clear_pointer(&answer->tests, g_free);
}

struct SpamdCall {
	int fd;
	gboolean connected;
	GString *head;
	const char *body;
	gsize body_len;
	gsize sent; /* of head + body */
	gboolean ping;
	GString *in;
};

/* spamd_call_new - a non-blocking connect, then the request */
SpamdCall *
spamd_call_new(const SpamdServer *server, const char *command, const char *user,
               const char *message, gsize len, GError **error)
{
	int fd = socket(server->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s",
		            g_strerror(errno));
		return NULL;
	}
	gboolean now = connect(fd, (const struct sockaddr *)&server->addr, server->addrlen) == 0;
	if (!now && errno != EINPROGRESS && errno != EAGAIN) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "connect: %s",
		            g_strerror(errno));
		close(fd);
		return NULL;
	}
	SpamdCall *c = g_new0(SpamdCall, 1);
	c->fd = fd;
	c->connected = now;
	c->ping = strcmp(command, "PING") == 0;
	c->head = spamd_request_head(command, user, message ? len : 0);
	c->body = message;
	c->body_len = message ? len : 0;
	c->in = g_string_new(NULL);
	return c;
}

/* accessors */
int
spamd_call_fd(const SpamdCall *call)
{
	return call->fd;
}

short
spamd_call_events(const SpamdCall *call)
{
	return call->sent < call->head->len + call->body_len || !call->connected ? POLLOUT : POLLIN;
}

/* call_fail - errno into @error */
static int
call_fail(GError **error, const char *what, int err)
{
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", what, g_strerror(err));
	return -1;
}

/* spamd_call_step - advance */
int
spamd_call_step(SpamdCall *c, SpamdAnswer *out, GError **error)
{
	if (!c->connected) {
		int err = 0;
		socklen_t l = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return 0;
		if (err != 0)
			return call_fail(error, "connect", err);
		c->connected = TRUE;
	}
	gsize total = c->head->len + c->body_len;
	while (c->sent < total) {
		const char *buf;
		gsize n;
		if (c->sent < c->head->len) {
			buf = c->head->str + c->sent;
			n = c->head->len - c->sent;
		} else {
			buf = c->body + (c->sent - c->head->len);
			n = total - c->sent;
		}
		ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return call_fail(error, "send", errno);
		}
		c->sent += (gsize)w;
	}
	for (;;) {
		char buf[8192];
		ssize_t r = recv(c->fd, buf, sizeof buf, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return call_fail(error, "receive", errno);
		}
		if (r == 0)
			break;
		if (c->in->len + (gsize)r > SPAMD_MAX_ANSWER) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
			            "spamd answered more than 64 KB");
			return -1;
		}
		g_string_append_len(c->in, buf, r);
		/* PING: spamd keeps the connection open after PONG */
		if (c->ping && memchr(c->in->str, '\n', c->in->len) != NULL)
			break;
	}
	return spamd_parse_answer(c->in->str, c->in->len, c->ping, out, error) ? 1 : -1;
}

/* spamd_call_free - close */
void
spamd_call_free(SpamdCall **call)
{
	if (call == NULL || *call == NULL)
		return;
	SpamdCall *c = *call;
	close(c->fd);
	g_string_free(c->head, TRUE);
	g_string_free(c->in, TRUE);
	g_free(c);
	*call = NULL;
}

/* spamd_call_sync - blocking, bounded */
gboolean
spamd_call_sync(const SpamdServer *server, const char *command, const char *message, gsize len,
                guint timeout_ms, SpamdAnswer *out, GError **error)
{
	SpamdCall *c = spamd_call_new(server, command, "mqsift", message, len, error);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	int rc = 0;

	if (c == NULL)
		return FALSE;
	while (rc == 0) {
		gint64 left = deadline - g_get_monotonic_time();
		if (left <= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
			            "no answer within %u ms", timeout_ms);
			rc = -1;
			break;
		}
		struct pollfd p = {.fd = c->fd, .events = spamd_call_events(c)};
		if (poll(&p, 1, (int)MIN(left / 1000 + 1, 1000)) < 0 && errno != EINTR) {
			rc = call_fail(error, "poll", errno);
			break;
		}
		if (p.revents)
			rc = spamd_call_step(c, out, error);
	}
	spamd_call_free(&c);
	return rc == 1;
}
