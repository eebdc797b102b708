/*
 * template.h - texts for people: replacement parts, notices, digests
 *
 * SUMMARY
 *	A template is a UTF-8 text file <dir>/<lang>/<name>.txt with variables
 *	written $name or ${name}; "$$" is a dollar sign.  Unknown variables are
 *	left as they are, so a typo shows in the output instead of vanishing.
 *	When the file cannot be read, the English text built into mqsift is
 *	used and the log says so: a notice is never lost for want of a file.
 */
#ifndef MQSIFT_REPORTS_TEMPLATE_H
#define MQSIFT_REPORTS_TEMPLATE_H

#include <glib.h>

/* template_expand - substitute @vars (name -> value) in @text; newly allocated */
char *template_expand(const char *text, GHashTable *vars);

/*
 * template_render - load <@dir>/<@lang>/<@name>.txt (falling back to the
 * built-in English text) and expand it; newly allocated.
 */
char *template_render(const char *dir, const char *lang, const char *name, GHashTable *vars);

/*
 * template_render_mail - render a template whose first line is "Subject: ...":
 * returns the body and sets *@subject (both newly allocated).  Without such a
 * line the subject is @fallback_subject.
 */
char *template_render_mail(const char *dir, const char *lang, const char *name, GHashTable *vars,
                           const char *fallback_subject, char **subject);

/* template_builtin - the built-in English text of @name, or NULL (borrowed) */
const char *template_builtin(const char *name);

#endif
