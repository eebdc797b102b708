/*
 * rule.h - rules: per-message settings chosen by sender, recipient or client IP
 *
 * SUMMARY
 *	A ruleset is an ordered list of rules, each one or two conditions and a
 *	value; the first rule whose conditions all hold gives the value, and a
 *	"default" rule closes the list.  In the YAML configuration:
 *
 *	    policy:
 *	      subject_tag:
 *	        - from: "*@partner.example"      # the envelope sender
 *	          value: ""
 *	        - to: "*.example.org"            # a recipient
 *	          ip: 10.0.0.0/8                 # and the client (two conditions: both)
 *	          value: "[VIRUS]"
 *	        - default: "{Virus?}"
 *
 *	Conditions: from, to, from_or_to, from_and_to, ip.  Patterns: an exact
 *	address (user@example.org), *@domain, a domain with its subdomains
 *	(example.org or .example.org), a glob (*, ?), a regular expression
 *	between slashes (/^sales-.*@/), "*" for anything; for ip an IPv4 or
 *	IPv6 address or CIDR block.  Comparisons ignore case.  Everything is
 *	compiled once at load; matching allocates nothing.
 *
 *	Several recipients: each recipient is evaluated on its own (to-rules see
 *	that recipient), and when their values differ the strictest wins - see
 *	config.c for each setting's order (scanning on beats off, replace beats
 *	clean, a warning beats none, a sender notice needs every recipient).
 */
#ifndef MQSIFT_CONFIG_RULE_H
#define MQSIFT_CONFIG_RULE_H

#include <glib.h>

#include "config/envelope.h"

typedef struct RulePattern RulePattern;

/* rule_pattern_new - compile @text for condition @what ("from", "ip", ...); NULL + @error */
RulePattern *rule_pattern_new(const char *what, const char *text, GError **error);

/* rule_pattern_free - GDestroyNotify */
void rule_pattern_free(gpointer pattern);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RulePattern, rule_pattern_free)

/* rule_pattern_match_address - does the address (no <>) match? */
gboolean rule_pattern_match_address(const RulePattern *pattern, const char *address);

/* rule_pattern_match_ip - does the IP text match? (FALSE for NULL or unparsable) */
gboolean rule_pattern_match_ip(const RulePattern *pattern, const char *ip);

typedef enum {
	COND_FROM,
	COND_TO,
	COND_FROM_OR_TO,
	COND_FROM_AND_TO,
	COND_IP,
} CondKind;

/* RuleCond - one condition of a rule */
typedef struct {
	CondKind kind;
	RulePattern *pattern;
} RuleCond;

/* rule_cond_kind - parse "from", "to", ...; FALSE if not a condition name */
gboolean rule_cond_kind(const char *name, CondKind *kind);

/*
 * rule_conds_match - do all @n conditions hold for @env, considering only
 * @recipient for the to-conditions?
 */
gboolean rule_conds_match(const RuleCond *conds, guint n, const Envelope *env,
                          const char *recipient);

#endif
