/*
 * protocol.c - encode and decode what the master and the workers exchange
 *
 * DESCRIPTION
 *	The two GVariant type strings live here and only here.  Decoding a
 *	report checks, in this order: the packet (one known form, whole:
 *	inline data, or a sealed memfd of bounded size), the serialized form
 *(g_variant_is_normal_form, so every offset inside is consistent and every string valid UTF-8),
 *then every field against its bound.  Only then is anything copied into a ScanReport.
 */
#include "mqsift-build.h"

#include "scanner/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* headers and envelope addresses are bytes, not UTF-8 text: an 8-bit header
 * must reach the worker exactly as it is delivered (a GVariant "s" refuses
 * invalid UTF-8, and the worker then scanned a message without its headers) */
#define REQUEST_TYPE "(sayayaayayst)"
#define REPORT_TYPE "(ibbbuassssbaya(sssssbsay)su)"
#define FINDING_TYPE "(sssssbsay)"

/* answers and requests up to this size are copied, larger ones mapped */
#define PROTOCOL_COPY_MAX (64 * 1024)

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* protocol_error_quark - the error domain */
/* clang-format off */
G_DEFINE_QUARK(mqsift-protocol-error-quark, protocol_error)
/* clang-format on */

/* or_empty - NULL -> "" */
static const char *
or_empty(const char *s)
{
	return s ? s : "";
}

/* bytestring - @s as an "ay" with its NUL, as g_variant_new_bytestring makes it */
static GVariant *
bytestring(const char *s)
{
	return g_variant_new_bytestring(or_empty(s));
}

/* protocol_encode_request - the master's side (built from its parts: no format string to parse) */
GBytes *
protocol_encode_request(const ProtocolRequest *req)
{
	gsize n = 0;

	while (req->recipients && req->recipients[n])
		n++;
	GVariant **rcpts = g_new(GVariant *, n + 1);
	for (gsize i = 0; i < n; i++)
		rcpts[i] = bytestring(req->recipients[i]);
	GVariant *parts[] = {
	    g_variant_new_string(or_empty(req->id)),
	    bytestring(req->headers),
	    bytestring(req->sender),
	    g_variant_new_array(G_VARIANT_TYPE_BYTESTRING, rcpts, n),
	    bytestring(req->client_ip),
	    g_variant_new_string(or_empty(req->quarantine_ref)),
	    g_variant_new_uint64(req->size),
	};
	g_free(rcpts);
	GVariant *v = g_variant_ref_sink(g_variant_new_tuple(parts, G_N_ELEMENTS(parts)));
	GBytes *b = g_variant_get_data_as_bytes(v);
	g_variant_unref(v);
	return b;
}

/* decode_checked - a GVariant of @type from @data, in normal form, or NULL with @error */
static GVariant *
decode_checked(GBytes *data, const char *type, GError **error)
{
	GVariant *v =
	    g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(type), data, FALSE));

	if (!g_variant_is_normal_form(v)) {
		g_variant_unref(v);
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_MALFORMED,
		            "not a %s in normal form (%" G_GSIZE_FORMAT " bytes)", type,
		            g_bytes_get_size(data));
		return NULL;
	}
	return v;
}

/* protocol_decode_request - the worker's side (the master is trusted, but bounded anyway) */
gboolean
protocol_decode_request(GBytes *data, ProtocolRequest *req, GError **error)
{
	GVariant *v = decode_checked(data, REQUEST_TYPE, error);

	memset(req, 0, sizeof *req);
	if (v == NULL)
		return FALSE;
	GVariant *rv = g_variant_get_child_value(v, 3);
	gsize n = g_variant_n_children(rv);
	if (n > PROTOCOL_MAX_RECIPIENTS) {
		g_variant_unref(rv);
		g_variant_unref(v);
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_BOUNDS,
		            "%" G_GSIZE_FORMAT " recipients", n);
		return FALSE;
	}
	const char **rcpts = g_new0(const char *, n + 1);
	for (gsize i = 0; i < n; i++) {
		GVariant *s = g_variant_get_child_value(rv, i);
		rcpts[i] = g_variant_get_bytestring(s); /* points into @v's data */
		g_variant_unref(s);
	}
	g_variant_unref(rv);
	g_variant_get(v, "(&s^&ay^&ayaay^&ay&st)", &req->id, &req->headers, &req->sender, NULL,
	              &req->client_ip, &req->quarantine_ref, &req->size);
	req->recipients = rcpts;
	req->owner = v; /* every string above points into its data */
	return TRUE;
}

/* protocol_request_clear - free a decoded request */
void
protocol_request_clear(ProtocolRequest *req)
{
	g_free((gpointer)req->recipients);
	if (req->owner)
		g_variant_unref(req->owner);
	memset(req, 0, sizeof *req);
}

/* protocol_encode_report - the worker's side */
GBytes *
protocol_encode_report(const ScanReport *r)
{
	GVariantBuilder names, findings;

	g_variant_builder_init(&names, G_VARIANT_TYPE("as"));
	for (guint i = 0; r->names && i < r->names->len; i++)
		g_variant_builder_add(&names, "s", (char *)g_ptr_array_index(r->names, i));
	g_variant_builder_init(&findings, G_VARIANT_TYPE("a" FINDING_TYPE));
	for (guint i = 0; r->findings && i < r->findings->len; i++) {
		const Finding *f = g_ptr_array_index(r->findings, i);
		gsize len = 0;
		const void *data = f->content ? g_bytes_get_data(f->content, &len) : NULL;
		g_variant_builder_add(
		    &findings, "(sssssbs@ay)", or_empty(f->path), or_empty(f->filename),
		    or_empty(f->content_type), or_empty(f->what), or_empty(f->advice), f->infected,
		    f->content && f->saved_name ? f->saved_name : "",
		    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, data ? data : "", len, 1));
	}
	gsize blen = 0;
	const void *body = r->new_body ? g_bytes_get_data(r->new_body, &blen) : NULL;
	GVariant *v = g_variant_ref_sink(
	    g_variant_new("(ibbbuassssb@aya(sssssbsay)su)", (gint32)r->verdict, r->limits,
	                  r->whole_message, r->unscanned, r->parts, &names, or_empty(r->blocked),
	                  or_empty(r->new_content_type), or_empty(r->detail), r->new_body != NULL,
	                  g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, body ? body : "", blen, 1),
	                  &findings, or_empty(r->ambiguous), r->scans));
	GBytes *b = g_variant_get_data_as_bytes(v);
	g_variant_unref(v);
	return b;
}

/* protocol_path_is_valid - "message" or a dotted list of numbers */
gboolean
protocol_path_is_valid(const char *path)
{
	gsize len = strlen(path);

	if (strcmp(path, "message") == 0)
		return TRUE;
	if (len == 0 || len > PROTOCOL_MAX_PATH_LEN || path[0] == '.' || path[len - 1] == '.')
		return FALSE;
	for (const char *p = path; *p; p++) {
		if (*p == '.' && p[1] == '.')
			return FALSE;
		if (*p != '.' && !g_ascii_isdigit(*p))
			return FALSE;
	}
	return TRUE;
}

/* text_ok - at most @max bytes; with @header_safe, no control character (it goes in a header) */
static gboolean
text_ok(const char *s, gsize max, gboolean header_safe)
{
	gsize len = strlen(s);

	if (len > max)
		return FALSE;
	if (header_safe)
		for (gsize i = 0; i < len; i++)
			if ((guchar)s[i] < 0x20 || s[i] == 0x7f)
				return FALSE;
	return TRUE;
}

/* bounds_error - set @error for a field out of bounds; FALSE */
static gboolean G_GNUC_PRINTF(2, 3) bounds_error(GError **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_BOUNDS, "report out of bounds: %s", text);
	return FALSE;
}

/* empty_to_null - "" -> NULL, else a copy */
static char *
empty_to_null(const char *s)
{
	return s && *s ? g_strdup(s) : NULL;
}

/*
 * decode_names - the signature names of @names into @r, each checked; FALSE
 * with @error at the first out of its bound
 */
static gboolean
decode_names(GVariant *names, ScanReport *r, GError **error)
{
	gsize n = g_variant_n_children(names);

	if (n > PROTOCOL_MAX_NAMES)
		return bounds_error(error, "%" G_GSIZE_FORMAT " signature names", n);
	r->names = g_ptr_array_new_full((guint)n, g_free);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) s = g_variant_get_child_value(names, i);
		const char *name = g_variant_get_string(s, NULL);
		if (*name == '\0' || !text_ok(name, PROTOCOL_MAX_NAME_LEN, TRUE))
			return bounds_error(error, "signature name %" G_GSIZE_FORMAT, i);
		g_ptr_array_add(r->names, g_strdup(name));
	}
	return TRUE;
}

/*
 * decode_findings - the findings of @findings into @r, each checked; FALSE
 * with @error at the first out of its bound.  Saved names are never taken
 * from a worker: they are built again here.
 */
static gboolean
decode_findings(GVariant *findings, const ProtocolReportLimits *limits, ScanReport *r,
                GError **error)
{
	gsize n = g_variant_n_children(findings);

	if (n > MIN(limits->max_findings, PROTOCOL_MAX_FINDINGS))
		return bounds_error(error, "%" G_GSIZE_FORMAT " findings", n);
	r->findings = g_ptr_array_new_full((guint)n, scan_finding_free);
	for (gsize i = 0; i < n; i++) {
		g_autoptr(GVariant) fv = g_variant_get_child_value(findings, i);
		const char *path, *fname, *fct, *what, *advice, *saved;
		gboolean infected;
		g_autoptr(GVariant) content = NULL;
		g_variant_get(fv, "(&s&s&s&s&sb&s@ay)", &path, &fname, &fct, &what, &advice,
		              &infected, &saved, &content);
		if (!protocol_path_is_valid(path))
			return bounds_error(error, "finding %" G_GSIZE_FORMAT ": MIME path", i);
		if (!text_ok(fname, PROTOCOL_MAX_TEXT_LEN, FALSE) ||
		    !text_ok(fct, PROTOCOL_MAX_TEXT_LEN, FALSE) ||
		    !text_ok(what, PROTOCOL_MAX_TEXT_LEN, FALSE) ||
		    !text_ok(advice, PROTOCOL_MAX_TEXT_LEN, FALSE) ||
		    !text_ok(saved, PROTOCOL_MAX_PATH_LEN, FALSE))
			return bounds_error(error, "finding %" G_GSIZE_FORMAT ": a text field", i);
		Finding *f = g_new0(Finding, 1);
		gsize len;
		const void *cdata = g_variant_get_fixed_array(content, &len, 1);
		f->path = g_strdup(path);
		f->filename = empty_to_null(fname);
		f->content_type = g_strdup(fct);
		f->what = g_strdup(what);
		f->advice = empty_to_null(advice);
		f->infected = infected;
		f->saved_name = g_strdup_printf("part-%u.bin", r->findings->len + 1);
		f->content = *saved != '\0' ? g_bytes_new(cdata, len) : NULL;
		g_ptr_array_add(r->findings, f);
	}
	return TRUE;
}

/*
 * decode_report - @v (a report in normal form) into @r, every field checked
 * against its bound as it is taken; FALSE with @error at the first that is not
 */
static gboolean
decode_report(GVariant *v, const ProtocolReportLimits *limits, ScanReport *r, GError **error)
{
	gint32 verdict;
	gboolean has_body;
	const char *blocked, *ctype, *detail, *ambiguous;
	g_autoptr(GVariant) names = NULL;
	g_autoptr(GVariant) body = NULL;
	g_autoptr(GVariant) findings = NULL;

	g_variant_get(v, "(ibbbu@as&s&s&sb@ay@a(sssssbsay)&su)", &verdict, &r->limits,
	              &r->whole_message, &r->unscanned, &r->parts, &names, &blocked, &ctype,
	              &detail, &has_body, &body, &findings, &ambiguous, &r->scans);
	if (!text_ok(ambiguous, PROTOCOL_MAX_TEXT_LEN, TRUE))
		return bounds_error(error, "the ambiguity findings");
	if (verdict < VERDICT_CLEAN || verdict > VERDICT_ERROR)
		return bounds_error(error, "verdict %d", (int)verdict);
	if (!has_body && g_variant_n_children(body) != 0)
		return bounds_error(error, "a body without its flag");
	if (!text_ok(blocked, PROTOCOL_MAX_TEXT_LEN, FALSE) ||
	    !text_ok(detail, PROTOCOL_MAX_TEXT_LEN, FALSE))
		return bounds_error(error, "a reason longer than %d bytes", PROTOCOL_MAX_TEXT_LEN);
	if (!text_ok(ctype, PROTOCOL_MAX_NAME_LEN, TRUE))
		return bounds_error(error, "the new Content-Type");
	if (!decode_names(names, r, error) || !decode_findings(findings, limits, r, error))
		return FALSE;
	r->verdict = (Verdict)verdict;
	r->ambiguous = empty_to_null(ambiguous);
	r->blocked = empty_to_null(blocked);
	r->new_content_type = empty_to_null(ctype);
	r->detail = empty_to_null(detail);
	if (has_body) {
		gsize len;
		const void *bdata = g_variant_get_fixed_array(body, &len, 1);
		r->new_body = g_bytes_new(bdata, len);
	}
	return TRUE;
}

/* protocol_decode_report - the master's side: @data is untrusted */
gboolean
protocol_decode_report(GBytes *data, const ProtocolReportLimits *limits, ScanReport *r,
                       GError **error)
{
	memset(r, 0, sizeof *r);
	if (g_bytes_get_size(data) > limits->max_bytes) {
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_BOUNDS,
		            "report of %" G_GSIZE_FORMAT " bytes (at most %" G_GSIZE_FORMAT ")",
		            g_bytes_get_size(data), limits->max_bytes);
		return FALSE;
	}
	g_autoptr(GVariant) v = decode_checked(data, REPORT_TYPE, error);
	if (v == NULL)
		return FALSE;
	if (!decode_report(v, limits, r, error)) {
		scan_report_clear(r); /* nothing half-decoded reaches the caller */
		return FALSE;
	}
	return TRUE;
}

/* protocol_report_limits - a rewrite holds the body once and the removed parts once more */
ProtocolReportLimits
protocol_report_limits(const MqConfig *config, guint64 message_size)
{
	ProtocolReportLimits l;
	guint64 size = MIN(message_size, config->scanner_max_message_size);
	guint parts = config->scanner_max_mime_parts ? config->scanner_max_mime_parts : 1000;

	/*
	 * The new body is at most the message plus one replacement text per
	 * part; the findings carry decoded parts, each no larger than its
	 * encoded form, and a nested message may be reported with its parts:
	 * three times the message, plus the texts, is a generous bound that
	 * still stops a worker from making the master allocate without end.
	 */
	l.max_bytes =
	    (gsize)MIN(3 * size + (guint64)parts * 2048 + 4 * 1024 * 1024, (guint64)G_MAXSIZE / 2);
	l.max_findings = MIN(parts + 16, PROTOCOL_MAX_FINDINGS);
	return l;
}

/* protocol_memfd_new - write, then seal */
int
protocol_memfd_new(const char *name, GBytes *data)
{
	gsize len;
	const char *p = g_bytes_get_data(data, &len);
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int saved = w < 0 ? errno : ENOSPC;
			close(fd);
			errno = saved;
			return -1;
		}
		p += w;
		len -= (gsize)w;
	}
	if (fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS | F_SEAL_SEAL) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Mapping - what unmap needs */
typedef struct {
	void *addr;
	gsize len;
} Mapping;

/* unmap - GBytes free func for a mapping */
static void
unmap(gpointer p)
{
	Mapping *m = p;

	munmap(m->addr, m->len);
	g_free(m);
}

/* protocol_read_sealed - a sealed memfd's content, bounded */
GBytes *
protocol_read_sealed(int fd, gsize max_size, GError **error)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR,
		            "the answer is not a regular file (a memfd)");
		return NULL;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR,
		            "the answer is not a sealed memfd (seals %#x)", seals < 0 ? 0 : seals);
		return NULL;
	}
	if (st.st_size <= 0 || (guint64)st.st_size > (guint64)max_size) {
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR,
		            "answer of %lld bytes (at most %" G_GSIZE_FORMAT ")",
		            (long long)st.st_size, max_size);
		return NULL;
	}
	gsize len = (gsize)st.st_size;
	if (len <= PROTOCOL_COPY_MAX) {
		/* small (nearly every request and answer): one read instead of a
		 * mapping, whose unmapping costs a TLB shootdown in a threaded master */
		char *buf = g_malloc(len);
		ssize_t n = pread(fd, buf, len, 0);
		if (n < 0 || (gsize)n != len) {
			g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR, "read: %s",
			            n < 0 ? g_strerror(errno) : "short read");
			g_free(buf);
			return NULL;
		}
		return g_bytes_new_take(buf, len);
	}
	/* sealed against shrinking and writing: the mapping can neither fault nor change */
	void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (addr == MAP_FAILED) {
		g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR, "mmap: %s",
		            g_strerror(errno));
		return NULL;
	}
	Mapping *m = g_new(Mapping, 1);
	m->addr = addr;
	m->len = len;
	return g_bytes_new_with_free_func(addr, len, unmap, m);
}

/* the first byte of a packet: what carries its data */
#define TAG_INLINE 'i' /* the rest of the packet */
#define TAG_MEMFD 'm'  /* a sealed memfd, the packet's first descriptor */

/* the most descriptors a packet carries: a memfd and two more */
#define PACKET_MAX_FDS 3
/* what a receiver makes room for: more than any packet carries */
#define RECV_MAX_FDS 16

/* send_iov - the @niov pieces of @iov and @n descriptors, in one packet (sendmsg @flags) */
static gboolean
send_iov(int sock, struct iovec *iov, int niov, const int *fds, int n, int flags)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RECV_MAX_FDS)];
	} ctl;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)niov};
	gsize len = 0;

	g_return_val_if_fail(n >= 0 && n <= RECV_MAX_FDS, FALSE);
	for (int i = 0; i < niov; i++)
		len += iov[i].iov_len;
	if (n > 0) {
		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (gsize)n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (gsize)n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (gsize)n);
	}
	for (;;) {
		ssize_t r = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
		if (r >= 0 && (gsize)r == len)
			return TRUE;
		if (r < 0 && errno == EINTR)
			continue;
		if (r >= 0)
			errno = EMSGSIZE;
		return FALSE;
	}
}

/* send_packet - @tag, @len bytes of @data, and @n descriptors, in one packet (sendmsg @flags) */
static gboolean
send_packet(int sock, char tag, const void *data, gsize len, const int *fds, int n, int flags)
{
	struct iovec iov[2] = {{&tag, 1}, {(void *)data, len}};

	g_return_val_if_fail(n <= PACKET_MAX_FDS, FALSE);
	return send_iov(sock, iov, len > 0 ? 2 : 1, fds, n, flags);
}

/*
 * send_data - inline when small and the socket has room, else in a sealed
 * memfd; sendmsg @flags (MSG_DONTWAIT: never wait)
 */
static gboolean
send_data(int sock, GBytes *data, const int *fds, int n_fds, int flags)
{
	gsize len;
	const void *p = g_bytes_get_data(data, &len);

	g_return_val_if_fail(n_fds < PACKET_MAX_FDS, FALSE);
	if (len <= PROTOCOL_INLINE_MAX) {
		if (send_packet(sock, TAG_INLINE, p, len, fds, n_fds, MSG_DONTWAIT))
			return TRUE;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return FALSE;
	}
	int all[PACKET_MAX_FDS];
	all[0] = protocol_memfd_new("mqsift-packet", data);
	if (all[0] < 0)
		return FALSE;
	if (n_fds > 0)
		memcpy(all + 1, fds, sizeof(int) * (gsize)n_fds);
	gboolean ok = send_packet(sock, TAG_MEMFD, NULL, 0, all, n_fds + 1, flags);
	int saved = errno;
	close(all[0]);
	errno = saved;
	return ok;
}

/*
 * protocol_send - the master's send: no packet is ever waited for.  A peer
 * that stops reading (a hung or hostile worker) would block the master for
 * good, where it must stay free to see the peer's deadline pass.  With the
 * buffer protocol_socket_prepare() gives, the most requests a worker holds
 * always fit; a send that finds no room fails (EAGAIN), as to a peer that
 * is gone.
 */
gboolean
protocol_send(int sock, GBytes *data, const int *fds, int n_fds)
{
	return send_data(sock, data, fds, n_fds, MSG_DONTWAIT);
}

/* protocol_answer - the worker's send: it may wait for the master to read */
gboolean
protocol_answer(int sock, GBytes *data)
{
	return send_data(sock, data, NULL, 0, 0);
}

/* protocol_socket_prepare - room for PROTOCOL_SEND_ROOM bytes of packets */
void
protocol_socket_prepare(int sock)
{
	int want = PROTOCOL_SEND_ROOM;

	/* root may go past net.core.wmem_max; anyone else asks for what it may */
	if (setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
		setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

/* protocol_send_raw - bytes and descriptors as they are */
gboolean
protocol_send_raw(int sock, const void *data, gsize len, const int *fds, int n_fds)
{
	struct iovec iov = {(void *)data, len};

	return send_iov(sock, &iov, 1, fds, n_fds, 0);
}

/* close_all - close the @n descriptors of @fds */
static void
close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* packet_error - close what came with a bad packet; FALSE with @error */
static gboolean G_GNUC_PRINTF(4, 5)
    packet_error(GError **error, const int *got, int n_got, const char *fmt, ...)
{
	va_list ap;

	close_all(got, n_got);
	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR, "%s", text);
	return FALSE;
}

/* protocol_recv - one whole packet of a known form */
gboolean
protocol_recv(int sock, gsize max_size, GBytes **data, int *fds, int n_fds, GError **error)
{
	gsize cap = 1 + MIN(max_size, (gsize)PROTOCOL_INLINE_MAX);
	g_autofree char *buf = g_malloc(cap + 1); /* one more: a longer packet is truncated */
	struct iovec iov = {buf, cap + 1};
	/* room for more descriptors than any packet carries: every one the kernel
	 * installs is seen here, and closed if the packet is refused (those that
	 * find no room are closed by the kernel: MSG_CTRUNC) */
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * RECV_MAX_FDS)];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int got[RECV_MAX_FDS];
	int n_got = 0;
	ssize_t r;

	*data = NULL;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	int err = r < 0 ? errno : 0;
	for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c != NULL;
	     c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		gsize k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (gsize i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (n_got < RECV_MAX_FDS)
				got[n_got++] = fd;
			else
				close(fd); /* cannot be: the buffer holds no more */
		}
	}
	if (r == 0 && n_got > 0)
		return packet_error(error, got, n_got, "an empty packet with descriptors");
	if (r <= 0) {
		close_all(got, n_got);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s",
		            err ? g_strerror(err) : "the other end closed");
		return FALSE;
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (gsize)r > cap)
		return packet_error(error, got, n_got,
		                    "a packet longer than %" G_GSIZE_FORMAT
		                    " bytes, or with too many descriptors",
		                    cap);
	if (buf[0] == TAG_INLINE) {
		if (n_got != n_fds)
			return packet_error(error, got, n_got, "%d descriptors, not %d", n_got,
			                    n_fds);
		if ((gsize)r - 1 == 0 || (gsize)r - 1 > max_size)
			return packet_error(error, got, n_got,
			                    "%zd bytes (at most %" G_GSIZE_FORMAT ")", r - 1,
			                    max_size);
		*data = g_bytes_new(buf + 1, (gsize)r - 1);
	} else if (buf[0] == TAG_MEMFD && r == 1) {
		if (n_got != n_fds + 1)
			return packet_error(error, got, n_got, "%d descriptors, not %d", n_got,
			                    n_fds + 1);
		*data = protocol_read_sealed(got[0], max_size, error);
		close(got[0]);
		if (*data == NULL) {
			close_all(got + 1, n_got - 1);
			return FALSE;
		}
		memmove(got, got + 1, sizeof(int) * (gsize)(n_got - 1));
		n_got--;
	} else {
		return packet_error(error, got, n_got, "a packet of unknown form");
	}
	if (n_fds > 0)
		memcpy(fds, got, sizeof(int) * (gsize)n_fds);
	return TRUE;
}
