/*
 * untrusted.h - strings from a message made safe to show
 *
 * SUMMARY
 *	Every string that comes from a message (file names, subjects, senders,
 *	signature names read from TNEF, ...) goes through one of these before it
 *	leaves mqsift as text: a log line, a terminal, the quarantine info file,
 *	the store, a template, a header.  What comes out is valid UTF-8 that
 *	cannot start a new line, move the cursor, change a terminal's title,
 *	reorder what is shown (bidi overrides) or hide characters.
 *
 *	untrusted_line() escapes reversibly (backslash doubled); untrusted_text()
 *	is for text that should already be safe (read back from the store, the
 *	quarantine, a rendered notice): it escapes what is still dangerous but
 *	leaves backslashes alone, so untrusted_line()'s output passes unchanged.
 */
#ifndef MQSIFT_RULES_UNTRUSTED_H
#define MQSIFT_RULES_UNTRUSTED_H

#include <glib.h>

/*
 * untrusted_line - @text (@len bytes, -1: NUL-terminated) made safe as ONE line of text for a
 * log line, a terminal, the quarantine info file, the store, a template: invalid UTF-8 bytes
 * become \xNN, C0/C1 controls and DEL become \n \r \t \xNN escapes (backslash itself doubled),
 * bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) and invisible format
 * characters (zero-width U+200B-U+200D, U+2060-U+2064, U+FEFF, U+00AD, other Cf) become <U+XXXX>;
 * the result is at most @max bytes (0: 998) of valid UTF-8, cut on a character boundary with
 * "..." appended when cut.  Never NULL (NULL in: ""). Newly allocated.
 *
 * Also shown as <U+XXXX>: the line and paragraph separators U+2028/U+2029 and
 * the invisible fillers U+034F, U+115F, U+1160, U+17B4, U+17B5, U+180B-U+180F,
 * U+3164, U+FFA0.  An escape is never cut in half.
 */
char *untrusted_line(const char *text, gssize len, gsize max);

/*
 * untrusted_filename - a file name safe to show and to put in a MIME parameter or header.
 * As untrusted_line, but with no escape that could be read as path syntax: each control
 * character, bidi or invisible character (the set untrusted_line shows as <U+XXXX>) and each
 * invalid UTF-8 byte becomes one '_'; '/', '\\' and '"' become '_'; a name made only of dots
 * ("." or "..") becomes underscores; leading dots are kept (".htaccess" stays visible as
 * such) and leading or trailing spaces become '_' so that they show.  At most @max bytes
 * (0: 255): when cut, the last extension (up to 16 bytes, e.g. ".exe") is kept after the
 * "..." so the cut never hides what kind of file it is.  Newly allocated, never NULL
 * (NULL in: "").
 */
char *untrusted_filename(const char *name, gsize max);

/*
 * untrusted_has_hidden - TRUE if @utf8 holds a control (C0, DEL, C1), bidi or invisible format
 * character (what untrusted_line would escape, backslash excepted), or a byte that is not
 * UTF-8 (whatever it would show as cannot be trusted).  NULL: FALSE.
 */
gboolean untrusted_has_hidden(const char *utf8);

typedef enum {
	UNTRUSTED_KEEP_NEWLINES = 1 << 0, /* LF and TAB pass (CR too, just before LF) */
} UntrustedFlags;

/*
 * untrusted_text - text that should already be safe, made safe again without
 * escaping it twice: as untrusted_line, but backslashes are not doubled (the
 * output of untrusted_line comes out byte for byte), and with
 * UNTRUSTED_KEEP_NEWLINES the text may keep several lines (a notice body,
 * "quarantine show").  At most @max bytes (0: no limit).  Newly allocated,
 * never NULL (NULL in: "").
 */
char *untrusted_text(const char *text, gssize len, gsize max, guint flags);

#endif
