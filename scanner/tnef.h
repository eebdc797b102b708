/*
 * tnef.h - the files inside a TNEF blob (winmail.dat)
 *
 * SUMMARY
 *	GMime knows nothing of TNEF; libclamav unpacks it for the virus scan,
 *	but the filename policy needs the names of the files inside.
 *	tnef_extract() lists them, with their content, from the decoded part.
 */
#ifndef MQSIFT_SCANNER_TNEF_H
#define MQSIFT_SCANNER_TNEF_H

#include <glib.h>

/* TnefFile - one attachment found inside */
typedef struct {
	char *name;          /* long file name if present, else the short one, else "" */
	GPtrArray *names;    /* every name a reader could show: title, long and short
	                      * file names, display name (owned strings) */
	GBytes *data;        /* its content (attAttachData) */
	GBytes *data_prop;   /* PR_ATTACH_DATA_BIN/OBJ when it holds other bytes, or NULL */
	gboolean incomplete; /* a MAPI property mqsift cannot read hid the rest */
} TnefFile;

/* tnef_is_tnef - TRUE for a part declared as TNEF (type or the name winmail.dat) */
gboolean tnef_is_tnef(const char *mime_type, const char *filename);

/*
 * tnef_extract - the files of the TNEF blob @data, at most @max_files.
 * Returns a new array of TnefFile* (free with g_ptr_array_unref), or NULL if
 * the blob does not parse (the caller treats that part as unreadable).
 */
GPtrArray *tnef_extract(const void *data, gsize len, guint max_files);

#endif
