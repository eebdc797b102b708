/*
 * notice.h - messages mqsift writes itself (warnings to the postmaster, ...)
 *
 * SUMMARY
 *	A notice is written straight into the outgoing queue as a new entry in
 *	sendmail's format: envelope sender <> (so it never bounces back and
 *	never reaches a forged sender), "Auto-Submitted: auto-generated", and
 *	"X-Virus-Status: Clean" (it cannot loop back through the scanner: it
 *	never enters the inbound queue).
 */
#ifndef MQSIFT_REPORTS_NOTICE_H
#define MQSIFT_REPORTS_NOTICE_H

#include <glib.h>

#include "queue/qdir.h"
#include "config/config.h"

/*
 * notice_send - queue a text notice to @to (one address) with @subject and the
 * UTF-8 @body.  Returns the new queue ID, or NULL with @error.
 */
char *notice_send(const MqConfig *config, QueueDir *out, const char *to, const char *subject,
                  const char *body, GError **error);

#endif
