/*
 * policy.h - filename rules for attachments
 *
 * SUMMARY
 *	Ordered allow and deny rules on attachment names (case-insensitive
 *	regular expressions): policy.allow_filenames, then
 *	policy.deny_filenames, then the rules file policy.filename_rules (each
 *	rule with a log text and a text for the recipient; the shipped file is
 *	built in and used when the configured one does not exist).  Names are
 *	compared NFC-normalised, without leading quotes nor trailing dots,
 *	spaces and quotes (Windows ignores them), once with the characters that
 *	change how a name displays (bidi controls, zero-width and other format
 *	characters) removed - so "x.exe." and "cod\u202Eexe.txt" cannot hide an
 *	extension - and once as written, so a rule can ban those characters.
 */
#ifndef MQSIFT_RULES_POLICY_H
#define MQSIFT_RULES_POLICY_H

#include <glib.h>

#include "config/config.h"

typedef struct Policy Policy;

/* policy_new - compile the rules of @config; NULL with @error naming a bad pattern */
Policy *policy_new(const MqConfig *config, GError **error);

/* policy_free - free and clear */
void policy_free(Policy **policy);

/* policy_free_ptr - policy_free() for g_autoptr(Policy) */
static inline void
policy_free_ptr(Policy *p)
{
	policy_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Policy, policy_free_ptr)

/*
 * policy_check_filename - NULL if @filename may pass, else a newly allocated
 * text that says which rule blocked it (for logs and X-Virus-Status).
 */
char *policy_check_filename(const Policy *policy, const char *filename);

/*
 * policy_check_filetype - NULL if the content @buf (its first bytes are
 * enough) may pass, else a newly allocated reason naming the type found.
 * Only strong evidence counts: libmagic's description of a real executable
 * header (PE32, ELF, Mach-O, ...), never a guess from two magic bytes.
 */
char *policy_check_filetype(const Policy *policy, const void *buf, gsize len);

/*
 * policy_check_filename_in - as policy_check_filename_advice, with the rules
 * files @files (NULL-terminated; NULL: policy.filename_rules) instead of the
 * default one: blocked if any of them blocks.
 */
char *policy_check_filename_in(const Policy *policy, const char *const *files, const char *filename,
                               char **advice);

/* policy_describe_type - libmagic's description of @buf; newly allocated */
char *policy_describe_type(const Policy *policy, const void *buf, gsize len);

/*
 * policy_check_filename_advice - as policy_check_filename; *@advice gets the
 * matching rule's text for the recipient (newly allocated) or NULL.
 */
char *policy_check_filename_advice(const Policy *policy, const char *filename, char **advice);

#endif
