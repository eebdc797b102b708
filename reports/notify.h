/*
 * notify.h - who is told what: the postmaster's warning after each pass, and
 * (when enabled) the sender's notice
 *
 * SUMMARY
 *	The postmaster gets one message per pass in which something was caught,
 *	listing each message (not one mail per virus).  A sender is told only
 *	if notify.sender is on for the message, the sender is in one of
 *	notify.local_domains, the message is not bulk or list mail, the sender
 *	is not <>, and no signature found matches notify.silent_viruses (worms
 *	forge their senders: telling the "sender" tells an innocent bystander).
 */
#ifndef MQSIFT_REPORTS_NOTIFY_H
#define MQSIFT_REPORTS_NOTIFY_H

#include <glib.h>

#include "queue/qdir.h"
#include "queue/qf.h"
#include "config/config.h"

/* Caught - one caught message, for the postmaster's warning (strings borrowed) */
typedef struct {
	const char *queue_id;
	const char *sender;
	const char *recipients;
	const char *subject;
	const char *message_id;
	const char *report;     /* "Virus 'X' found" or the rule */
	const char *quarantine; /* reference, or NULL */
} Caught;

/*
 * notify_postmaster - queue the warning about @n caught messages; returns the
 * notice's queue ID or NULL with @error.
 */
char *notify_postmaster(const MqConfig *config, QueueDir *out, const Caught *caught, guint n,
                        GError **error);

/*
 * notify_sender_allowed - may the sender of @qf be told?  @eff is the
 * message's settings, @names the signatures found (may be empty).  When it
 * may not, *@why says why (borrowed static text), for the log.
 */
gboolean notify_sender_allowed(const MqConfig *eff, const Qf *qf, GPtrArray *names,
                               const char **why);

/* notify_sender - queue the notice to the sender; returns its queue ID or NULL */
char *notify_sender(const MqConfig *eff, QueueDir *out, const Qf *qf, const char *report,
                    const char *quarantine, GError **error);

/*
 * notify_poison - queue the postmaster's notice that the message @queue_id
 * (control file @qf, body of @size bytes) made a worker fail @tries times and
 * was quarantined whole as @quarantine (template "poison-message"); with a
 * @scan_error, its scan failed @tries times over @hours hours, the last time
 * so (template "scan-error-message").  Returns the notice's queue ID, or NULL
 * with @error.
 */
char *notify_poison(const MqConfig *config, QueueDir *out, const Qf *qf, const char *queue_id,
                    guint tries, gsize size, const char *quarantine, const char *scan_error,
                    guint hours, GError **error);

/*
 * notify_set_aside - queue the postmaster's notice that the message @queue_id,
 * unprocessable for @reason, stayed @age seconds in @queue and was moved to
 * @destination (template "set-aside").  Returns the notice's queue ID, or
 * NULL with @error.
 */
char *notify_set_aside(const MqConfig *config, QueueDir *out, const char *queue_id,
                       const char *reason, const char *queue, gint64 age, const char *destination,
                       GError **error);

/* notify_default_silent - the built-in patterns of notify.silent_viruses (borrowed) */
const char *const *notify_default_silent(void);

#endif
