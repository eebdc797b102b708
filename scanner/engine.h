/*
 * engine.h - the libclamav engine: load once, scan buffers and files, reload
 *
 * SUMMARY
 *	An Engine is a compiled libclamav engine with mqsift's limits and scan
 *	options: all matches reported (every signature name, through the
 *	virus-found callback), every parser on, heuristics on including
 *	EXCEEDS_MAX, so a file beyond a limit is reported as
 *	"Heuristics.Limits.Exceeded.*" instead of passing as clean.
 *
 *	When scanner.signatures holds no database at all, the test databases
 *	shipped with mqsift are loaded instead and the log says so loudly; a
 *	database that exists but fails to load is an error (nothing is
 *	scanned with a half-loaded engine).
 */
#ifndef MQSIFT_SCANNER_ENGINE_H
#define MQSIFT_SCANNER_ENGINE_H

#include <glib.h>

#include "config/config.h"

#define ENGINE_ERROR (engine_error_quark())
GQuark engine_error_quark(void);

typedef struct Engine Engine;

/*
 * EngineInspect - called for every file libclamav looks at (the scanned
 * buffer at level 0, each MIME part, archive member, ... below it) with its
 * name (or NULL), libclamav's type ("CL_TYPE_ZIP"), its content and size,
 * before libclamav scans it.  Returns NULL, or a newly allocated reason to
 * block it.  Setting *@skip makes libclamav pass over the file (the caller
 * knows it already); files are entered depth first, and each entered file
 * is left (EngineLeave) once libclamav is done with it and what it holds.
 */
typedef char *(*EngineInspect)(gpointer data, const char *name, const char *type, const void *buf,
                               gsize len, guint level, gboolean *skip);

/* EngineLeave - libclamav finished the file last entered */
typedef void (*EngineLeave)(gpointer data);

/* EngineFound - a signature matched in the file last entered (or below it) */
typedef void (*EngineFound)(gpointer data, const char *signature);

/* EngineResult - what one scan found */
typedef struct {
	gboolean error;        /* the scan failed (or libclamav reported an error, such as a
	                        * temporary file it could not write, while scanning); see detail */
	GPtrArray *names;      /* signature names (owned strings), empty if clean */
	gboolean limits;       /* a Heuristics.Limits.Exceeded.* name is among them */
	gboolean encrypted;    /* a Heuristics.Encrypted.* name is among them */
	char *detail;          /* error text, or NULL */
	GPtrArray *blocked;    /* reasons the inspector gave (owned strings) */
	EngineInspect inspect; /* set by the caller before the scan, or NULL */
	EngineLeave leave;     /* likewise, or NULL */
	EngineFound found;     /* likewise, or NULL */
	gpointer inspect_data; /* for the three hooks */
} EngineResult;

/*
 * engine_new - initialise libclamav (once per process), load @config's
 * signatures (or the shipped test ones, see above), compile.  Returns a new
 * Engine or NULL with @error.
 */
Engine *engine_new(const MqConfig *config, GError **error);

/*
 * engine_set_tmpdir - where libclamav writes its temporary files (a worker's
 * private directory, set on its forked copy).  FALSE with @error.
 */
gboolean engine_set_tmpdir(Engine *engine, const char *dir, GError **error);

/* engine_free - free and clear the caller's pointer */
void engine_free(Engine **engine);

/* engine_free_ptr - engine_free() for g_autoptr(Engine) */
static inline void
engine_free_ptr(Engine *p)
{
	engine_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Engine, engine_free_ptr)

/* engine_signature_count - signatures loaded */
guint engine_signature_count(const Engine *engine);

/*
 * engine_db_info - the version of the signature databases (the highest
 * one, daily's, or 0 when they carry none), when they were built and when
 * this engine loaded them (unix times; built is 0 when unknown)
 */
void engine_db_info(const Engine *engine, guint *version, gint64 *built, gint64 *loaded);

/* engine_source - what was loaded (directory or file), borrowed */
const char *engine_source(const Engine *engine);

/* engine_is_test_db - TRUE if the shipped test databases stand in for a real one */
gboolean engine_is_test_db(const Engine *engine);

/* engine_scan_buffer - scan @len bytes; fills @result (engine_result_clear it) */
void engine_scan_buffer(Engine *engine, const void *data, gsize len, const char *name,
                        EngineResult *result);

/*
 * engine_scan_split - scan the bytes of @head followed by the first @fd_len
 * bytes of @fd (read with pread from offset 0) as one file.  libclamav reads
 * the descriptor part as it needs it and lets go of what it is done with,
 * so a large message is not held whole in memory during the scan.  A read
 * that fails or comes back short sets @result's error.
 */
void engine_scan_split(Engine *engine, const void *head, gsize head_len, int fd, gsize fd_len,
                       const char *name, EngineResult *result);

/* engine_scan_fd - scan a whole file */
void engine_scan_fd(Engine *engine, int fd, const char *name, EngineResult *result);

/* engine_result_init / engine_result_clear - set up and free a result */
void engine_result_init(EngineResult *result);
void engine_result_clear(EngineResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(EngineResult, engine_result_clear)

/*
 * engine_fits - TRUE if @engine was built as @config would build it (the
 * same scanner.signatures and limits): a configuration reload can keep it
 */
gboolean engine_fits(const Engine *engine, const MqConfig *config);

/* engine_changed - TRUE if the signature databases changed since loading (or since
 * the last engine_mark_seen) */
gboolean engine_changed(Engine *engine);

/* engine_mark_seen - take the databases as they are now as the reference for engine_changed */
void engine_mark_seen(Engine *engine);

#endif
