/*
 * worker.h - scan workers: the processes that parse mail from strangers
 *
 * SUMMARY
 *	A worker is forked by the master after the engine is loaded (so the
 *	engine's memory is shared), then drops to scanner.user, sets
 *	no-new-privileges, and owns nothing: it cannot open the queues, the
 *	store or the quarantine.  The master sends it each message as file
 *	descriptors (the df, opened by the master, and a memfd with the headers
 *	and the envelope); the worker answers with a memfd holding the
 *	ScanReport (verdict, findings with their content, rewritten body) as a
 *	GVariant, which the master reads as untrusted data.
 */
#ifndef MQSIFT_SCANNER_WORKER_H
#define MQSIFT_SCANNER_WORKER_H

#include <sys/types.h>
#include <glib.h>

#include "config/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/scan.h"

typedef struct Worker Worker;

/* WorkRequest - one message for a worker (all borrowed) */
typedef struct {
	const char *id;
	const char *headers; /* the qf headers as delivered, then an empty line */
	gsize headers_len;
	int df_fd;          /* the body */
	gsize size;         /* headers + body, as the scan sees it */
	const char *sender; /* without <> */
	const char *const *recipients;
	const char *client_ip; /* or NULL */
	const char *quarantine_ref;
} WorkRequest;

/*
 * worker_spawn - fork a worker that scans with @engine and @policy under
 * @config (all inherited by the fork).  @number (its pool slot, from 1)
 * goes in its process title, "mqsift: worker N idle" or "... scanning ID".
 * Returns NULL with @error if the scanner.user does not exist or the fork
 * fails.
 */
Worker *worker_spawn(const MqConfig *config, Engine *engine, const Policy *policy, guint number,
                     GError **error);

/* worker_fd - the socket to poll for the answer */
int worker_fd(const Worker *worker);

/* worker_pid - the process */
pid_t worker_pid(const Worker *worker);

/* worker_messages - how many messages it has been given (it is recycled after
 * scanner.max_messages_per_worker) */
guint worker_messages(const Worker *worker);

/* worker_send - hand @req to the worker; FALSE with @error if it is gone */
gboolean worker_send(Worker *worker, const WorkRequest *req, GError **error);

/*
 * worker_request_encode - @req as it travels (for worker_send_encoded, which
 * may send it again to another worker).  Returns a new GBytes.
 */
GBytes *worker_request_encode(const WorkRequest *req);

/*
 * worker_send_encoded - send a request made by worker_request_encode() with
 * the body @df_fd (both stay the caller's).  The worker answers its requests
 * in the order they were sent.  FALSE with @error if the worker is gone.
 */
gboolean worker_send_encoded(Worker *worker, GBytes *request, int df_fd, GError **error);

/*
 * worker_receive_sized - worker_receive() for a worker holding several
 * requests: the answer to the oldest, about a message of @message_size bytes
 * (which bounds the answer).
 */
gboolean worker_receive_sized(Worker *worker, guint64 message_size, ScanReport *report,
                              GError **error);

/*
 * worker_receive - read the answer into @report (scan_report_clear it).
 * FALSE with @error if the worker died or answered anything but a sealed
 * memfd, within the bound for the message it was given, that
 * protocol_decode_report accepts: the caller must then kill the worker and
 * retry the message.
 */
gboolean worker_receive(Worker *worker, ScanReport *report, GError **error);

/* worker_kill - SIGKILL, reap, free; clears the pointer */
void worker_kill(Worker **worker);

/* worker_stop - let it finish and exit (closes its socket), reap, free */
void worker_stop(Worker **worker);

/* worker_stop_ptr - worker_stop() for g_autoptr(Worker) */
static inline void
worker_stop_ptr(Worker *p)
{
	worker_stop(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Worker, worker_stop_ptr)

/* worker_drop_privileges - become @user (used by the worker; exposed for tests) */
gboolean worker_drop_privileges(const char *user, GError **error);

#endif
