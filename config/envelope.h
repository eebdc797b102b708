/*
 * envelope.h - a message's envelope as the rulesets see it
 *
 * SUMMARY
 *	The sender, the recipients and the client address of a message,
 *	without the angle brackets the control file writes around addresses.
 */
#ifndef MQSIFT_CONFIG_ENVELOPE_H
#define MQSIFT_CONFIG_ENVELOPE_H

#include <glib.h>

/* Envelope - what rulesets look at (all borrowed) */
typedef struct {
	const char *sender;            /* without <>; "" for the null sender */
	const char *const *recipients; /* without <>, NULL-terminated */
	const char *client_ip;         /* or NULL */
} Envelope;

/* envelope_strip - "<a@b>" -> "a@b" in place (returns @address) */
char *envelope_strip(char *address);

#endif
