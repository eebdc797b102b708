/*
 * protocol.h - the master <-> worker protocol: one encoder and one decoder
 *
 * SUMMARY
 *	Every byte that crosses between the master and a scan worker is
 *	written and read here, and nowhere else.  A request (the envelope and
 *	the headers of one message) goes master -> worker; a report (the
 *	ScanReport) goes worker -> master.  Both are GVariants, sent as one
 *	SOCK_SEQPACKET packet each (protocol_send): inside the packet when
 *	they are small (nearly always), in a sealed memfd passed with it when
 *	they are not.
 *
 *	The master trusts nothing a worker sends: protocol_recv() accepts a
 *	packet of one known form only, whole, and protocol_read_sealed() only
 *	a memfd sealed against shrinking, growing and writing, no larger than
 *	a bound; protocol_decode_report() accepts only a
 *	GVariant in normal form whose every field is within its bound (string
 *	lengths, counts, the verdict's range, a MIME path's syntax).  Anything
 *	else is an error, and the caller kills the worker and retries the
 *	message: a bad answer never becomes a verdict.
 */
#ifndef MQSIFT_SCANNER_PROTOCOL_H
#define MQSIFT_SCANNER_PROTOCOL_H

#include <glib.h>

#include "scanner/scan.h"

#define PROTOCOL_ERROR (protocol_error_quark())
GQuark protocol_error_quark(void);

typedef enum {
	PROTOCOL_ERROR_DESCRIPTOR, /* not a sealed memfd, or too large */
	PROTOCOL_ERROR_MALFORMED,  /* not a GVariant of the right type in normal form */
	PROTOCOL_ERROR_BOUNDS,     /* a field out of its bound */
} ProtocolError;

/* bounds on what one report may hold */
#define PROTOCOL_MAX_NAMES 1024     /* signature names */
#define PROTOCOL_MAX_NAME_LEN 512   /* one signature name */
#define PROTOCOL_MAX_TEXT_LEN 65536 /* detail, blocked reason, a finding's texts */
#define PROTOCOL_MAX_FINDINGS 10000 /* findings (also bounded by scanner.max_mime_parts) */
#define PROTOCOL_MAX_PATH_LEN 128   /* a MIME path such as "2.1.3" */
#define PROTOCOL_MAX_RECIPIENTS 100000

/* ProtocolRequest - one message for a worker (strings borrowed) */
typedef struct {
	const char *id;
	const char *headers; /* NUL-terminated */
	const char *sender;  /* "" for the null sender */
	const char *const *recipients;
	const char *client_ip;      /* "" if unknown */
	const char *quarantine_ref; /* "" if none */
	guint64 size;               /* headers + body */
	GVariant *owner;            /* decoded: holds the strings (protocol_request_clear) */
} ProtocolRequest;

/* ProtocolReportLimits - what the master allows one report to hold */
typedef struct {
	gsize max_bytes;    /* the whole serialized report (and the memfd) */
	guint max_findings; /* findings */
} ProtocolReportLimits;

/*
 * protocol_encode_request - serialize @req.  Returns a new GBytes.
 */
GBytes *protocol_encode_request(const ProtocolRequest *req);

/*
 * protocol_decode_request - parse @data into @req, which holds what it
 * points to until protocol_request_clear().  FALSE with @error if @data is
 * malformed.
 */
gboolean protocol_decode_request(GBytes *data, ProtocolRequest *req, GError **error);

/* protocol_request_clear - free what a decoded @req holds */
void protocol_request_clear(ProtocolRequest *req);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ProtocolRequest, protocol_request_clear)

/* protocol_encode_report - serialize @report.  Returns a new GBytes. */
GBytes *protocol_encode_report(const ScanReport *report);

/*
 * protocol_decode_report - parse the untrusted @data into @report (all
 * fields owned; scan_report_clear it).  Saved names are never taken from
 * @data: they are rebuilt ("part-N.bin").  FALSE with @error, and @report
 * left empty, if anything is out of @limits or malformed.
 */
gboolean protocol_decode_report(GBytes *data, const ProtocolReportLimits *limits,
                                ScanReport *report, GError **error);

/*
 * protocol_report_limits - the bounds for the report on a message of
 * @message_size bytes under @config: what a rewrite of it can hold.
 */
ProtocolReportLimits protocol_report_limits(const MqConfig *config, guint64 message_size);

/*
 * protocol_memfd_new - a memfd holding @data, sealed against shrinking,
 * growing and writing (and further sealing).  Returns the descriptor
 * (close-on-exec) or -1 with errno set.
 */
int protocol_memfd_new(const char *name, GBytes *data);

/*
 * protocol_read_sealed - map the content of @fd, which must be a memfd
 * carrying F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, a regular file of at
 * most @max_size (and at least one) bytes.  Returns a new GBytes (the
 * mapping; the descriptor may be closed), or NULL with @error.
 */
GBytes *protocol_read_sealed(int fd, gsize max_size, GError **error);

/*
 * a request or report up to this size travels inside its packet, not in a
 * memfd: small enough that the most requests a worker holds (the pool's
 * depth, 16) fit in its socket's buffer with room to spare (a packet this
 * large takes 8 KB of the default 208 KB), so that the master never waits on
 * a worker that stopped reading
 */
#define PROTOCOL_INLINE_MAX 4000

/*
 * the send buffer a sender's socket is given (protocol_socket_prepare): the
 * most requests a worker holds (16), each as large as travels inline (a
 * packet of 4000 bytes takes 8448 of it), fit twice over
 */
#define PROTOCOL_SEND_ROOM (16 * 8448 * 2)

/*
 * protocol_socket_prepare - give the sending end @sock PROTOCOL_SEND_ROOM
 * bytes of buffer, whatever net.core.wmem_default says (best effort: a
 * smaller buffer makes sends fail sooner, never wait)
 */
void protocol_socket_prepare(int sock);

/*
 * protocol_send - one packet on @sock: @data (inside the packet up to
 * PROTOCOL_INLINE_MAX bytes when the peer's socket has room for it now, else
 * in a sealed memfd sent with it), then the @n_fds descriptors @fds (at most
 * 2; they stay the caller's).  Never waits: FALSE with errno set if the peer
 * is gone, its socket has no room (EAGAIN), or a memfd cannot be made.
 */
gboolean protocol_send(int sock, GBytes *data, const int *fds, int n_fds);

/*
 * protocol_answer - protocol_send() for a worker's report: the same packet,
 * but a full socket is waited for (the master reads every answer; a worker
 * that waits too long is the master's deadline's concern)
 */
gboolean protocol_answer(int sock, GBytes *data);

/*
 * protocol_send_raw - one packet of @len bytes of @data and the @n_fds (at
 * most 16) descriptors @fds, as they are, with no form imposed: for tests
 * that send what a broken worker would (a tag 'm' and a memfd they made)
 */
gboolean protocol_send_raw(int sock, const void *data, gsize len, const int *fds, int n_fds);

/*
 * protocol_recv - one packet from @sock: its data, no larger than @max_size,
 * in *@data, and exactly @n_fds descriptors in @fds (close-on-exec, the
 * caller's).  Anything else (a truncated packet, an unknown form, a
 * descriptor too many or too few, an unsealed memfd) is an error, and every
 * descriptor that came is closed.  FALSE with @error: G_IO_ERROR_CLOSED when
 * the peer closed the socket, a PROTOCOL_ERROR otherwise.
 */
gboolean protocol_recv(int sock, gsize max_size, GBytes **data, int *fds, int n_fds,
                       GError **error);

/* protocol_path_is_valid - "message", or digits joined by dots ("0", "2.1.3") */
gboolean protocol_path_is_valid(const char *path);

#endif
