/*
 * engine.c - libclamav set-up, scanning, change detection
 *
 * DESCRIPTION
 *	The libclamav traps (doc/design.md, "Library traps"): an empty engine finds
 *	nothing (so "no database" is never silently accepted), limits are
 *	silent unless EXCEEDS_MAX heuristics are on, and ALLMATCHES returns a
 *	single name unless the virus-found callback collects them.
 */
#include "mqsift-build.h"

#include "scanner/engine.h"

#include <clamav.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "queue/fault.h"

/*
 * EngineLimits - the settings an engine is compiled with, besides its
 * databases: an engine is only kept across a configuration reload when they
 * are the same
 */
typedef struct {
	guint64 max_scan_size, max_file_size, max_scan_time_ms;
	guint max_recursion, max_files;
} EngineLimits;

struct Engine {
	struct cl_engine *cl;
	struct cl_scan_options opts;
	struct cl_stat stat;
	gboolean stat_dir;   /* stat is in use (directory source) */
	struct stat file_st; /* single-file source */
	char *source;
	char *configured; /* scanner.signatures, watched while the test db stands in */
	guint sigs;
	gboolean test_db;
	guint db_version; /* the databases' version (daily's), 0 if unknown */
	gint64 db_time;   /* when they were built (unix time), 0 if unknown */
	gint64 loaded_at; /* when this engine was loaded (unix time) */
	char *tmpdir;     /* set by engine_set_tmpdir, else NULL ($TMPDIR or /tmp) */
	EngineLimits limits;
};

/* limits_of - the engine settings of @config */
static EngineLimits
limits_of(const MqConfig *config)
{
	return (EngineLimits){
	    .max_scan_size = config->scanner_max_scan_size,
	    .max_file_size = config->scanner_max_file_size,
	    .max_scan_time_ms = (guint64)config->scanner_max_scan_time * 1000,
	    .max_recursion = config->scanner_max_recursion,
	    .max_files = config->scanner_max_files,
	};
}

/* engine_error_quark - the error domain */
/* clang-format off */
G_DEFINE_QUARK(mqsift-engine-error-quark, engine_error)
/* clang-format on */

/* engine_result_init - empty result */
void
engine_result_init(EngineResult *result)
{
	memset(result, 0, sizeof *result);
	result->names = g_ptr_array_new_with_free_func(g_free);
	result->blocked = g_ptr_array_new_with_free_func(g_free);
}

/* engine_result_clear - free a result's contents */
void
engine_result_clear(EngineResult *result)
{
	if (result->names)
		g_ptr_array_unref(result->names);
	if (result->blocked)
		g_ptr_array_unref(result->blocked);
	g_free(result->detail);
	memset(result, 0, sizeof *result);
}

/* add_name - record one signature name, once */
static void
add_name(EngineResult *r, const char *name)
{
	for (guint i = 0; i < r->names->len; i++)
		if (strcmp(g_ptr_array_index(r->names, i), name) == 0)
			return;
	g_ptr_array_add(r->names, g_strdup(name));
	if (g_str_has_prefix(name, "Heuristics.Limits.Exceeded"))
		r->limits = TRUE;
	if (g_str_has_prefix(name, "Heuristics.Encrypted"))
		r->encrypted = TRUE;
}

/* on_file_inspection - libclamav shows us each file it unpacks: hand it to the inspector */
static cl_error_t
on_file_inspection(int fd, const char *type, const char **ancestors, size_t parent_file_size,
                   const char *file_name, size_t file_size, const char *file_buffer,
                   uint32_t recursion_level, uint32_t layer_attributes, void *context)
{
	EngineResult *r = context;

	gboolean skip = FALSE;

	if (r == NULL || r->inspect == NULL)
		return CL_CLEAN;
	char *why = r->inspect(r->inspect_data, file_name, type, file_buffer,
	                       file_buffer ? file_size : 0, recursion_level, &skip);
	if (why != NULL) {
		for (guint i = 0; i < r->blocked->len; i++)
			if (strcmp(g_ptr_array_index(r->blocked, i), why) == 0) {
				g_free(why);
				why = NULL;
				break;
			}
		if (why != NULL)
			g_ptr_array_add(r->blocked, why);
	}
	/* CL_BREAK: this file is known (the caller scanned the same bytes), do
	 * not scan it again; CL_CLEAN: keep scanning, a virus elsewhere must
	 * still be found */
	return skip ? CL_BREAK : CL_CLEAN;
}

/* on_post_scan - libclamav is done with a file (and all it held): tell the caller */
static cl_error_t
on_post_scan(int fd, int result, const char *virname, void *context)
{
	EngineResult *r = context;

	if (r != NULL && r->leave != NULL)
		r->leave(r->inspect_data);
	return CL_CLEAN; /* the verdict is libclamav's */
}

/* on_virus_found - libclamav's all-match callback: collect every name */
static void
on_virus_found(int fd, const char *virname, void *context)
{
	EngineResult *r = context;

	if (r == NULL || virname == NULL)
		return;
	add_name(r, virname);
	if (r->found != NULL)
		r->found(r->inspect_data, virname);
}

/* is_database_name - a file name libclamav loads signatures from */
static gboolean
is_database_name(const char *name)
{
	static const char *const exts[] = {".cvd", ".cld",  ".cud", ".hdb", ".hsb", ".hdu", ".hsu",
	                                   ".mdb", ".msb",  ".mdu", ".msu", ".ndb", ".ndu", ".ldb",
	                                   ".ldu", ".idb",  ".cdb", ".cbc", ".pdb", ".gdb", ".wdb",
	                                   ".yar", ".yara", ".imp", NULL};
	const char *dot = strrchr(name, '.');

	return dot != NULL && g_strv_contains((const char *const *)exts, dot);
}

/*
 * the result of the scan running in this thread: libclamav reports some
 * failures (a temporary file it cannot create or write) only through its
 * message callback, and then carries on as if the part were clean
 */
static __thread EngineResult *scanning;

/* on_clamav_message - libclamav's own messages, through GLib logging; an error during a
 * scan makes the scan's verdict an error */
static void
on_clamav_message(enum cl_msg severity, const char *fullmsg, const char *msg, void *context)
{
	g_autofree char *text = g_strstrip(g_strdup(msg));

	if (severity == CL_MSG_ERROR && scanning != NULL) {
		g_message("libclamav: %s", text);
		if (!scanning->error) {
			scanning->error = TRUE;
			g_free(scanning->detail);
			scanning->detail = g_strdup_printf("libclamav: %s", text);
		}
	} else if (severity == CL_MSG_ERROR) {
		g_info("libclamav: %s", text);
	} else {
		g_debug("libclamav: %s", text);
	}
}

/* has_database - TRUE if @dir holds at least one file libclamav would load */
static gboolean
has_database(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return FALSE;
	if (S_ISREG(st.st_mode))
		return TRUE;
	GDir *d = g_dir_open(path, 0, NULL);
	if (d == NULL)
		return FALSE;
	const char *name;
	gboolean found = FALSE;
	while (!found && (name = g_dir_read_name(d)) != NULL)
		found = is_database_name(name);
	g_dir_close(d);
	return found;
}

/*
 * engine_set_tmpdir - libclamav writes every MIME part and archive member it
 * unpacks to a temporary file in @dir.  A worker calls it on its own copy of
 * the engine (after the fork) with its private directory; nothing is created
 * or changed here.
 */
gboolean
engine_set_tmpdir(Engine *engine, const char *dir, GError **error)
{
	cl_error_t rc = cl_engine_set_str(engine->cl, CL_ENGINE_TMPDIR, dir);

	if (rc != CL_SUCCESS) {
		g_set_error(error, ENGINE_ERROR, 0,
		            "cannot set libclamav's temporary directory to %s: %s", dir,
		            cl_strerror(rc));
		return FALSE;
	}
	g_free(engine->tmpdir);
	engine->tmpdir = g_strdup(dir);
	return TRUE;
}

/*
 * scratch_too_small - TRUE (with @result's error set) if libclamav's
 * temporary directory has less room than one scan of @len bytes can need:
 * the largest file libclamav unpacks plus twice the input.  libclamav does
 * not notice a temporary file it could not fill (a full tmpfs): the part
 * would be scanned empty and pass as clean.
 */
static gboolean
scratch_too_small(Engine *engine, gsize len, EngineResult *result)
{
	const char *dir = engine->tmpdir ? engine->tmpdir : g_get_tmp_dir();
	struct statvfs sv;
	int err = 0;
	guint64 need = (guint64)cl_engine_get_num(engine->cl, CL_ENGINE_MAX_FILESIZE, &err);

	need = MIN(need, (guint64)1 << 30) + 2 * (guint64)len;
	if (statvfs(dir, &sv) < 0) {
		result->error = TRUE;
		result->detail =
		    g_strdup_printf("temporary directory %s: %s", dir, g_strerror(errno));
		return TRUE;
	}
	guint64 avail = (guint64)sv.f_bavail * sv.f_frsize;
	if (avail >= need && sv.f_favail > 16)
		return FALSE;
	result->error = TRUE;
	g_free(result->detail);
	result->detail = g_strdup_printf("temporary directory %s has %" G_GUINT64_FORMAT
	                                 " KiB free, a scan may need %" G_GUINT64_FORMAT " KiB",
	                                 dir, avail / 1024, need / 1024);
	return TRUE;
}

/* set_limit - cl_engine_set_num with a log on failure */
static gboolean
set_limit(struct cl_engine *cl, enum cl_engine_field f, long long v, GError **error)
{
	cl_error_t rc = cl_engine_set_num(cl, f, v);

	if (rc != CL_SUCCESS) {
		g_set_error(error, ENGINE_ERROR, 0, "cannot set engine limit %d: %s", (int)f,
		            cl_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/* engine_new - load and compile */
Engine *
engine_new(const MqConfig *config, GError **error)
{
	static gsize initialised;
	static cl_error_t init_rc;
	cl_error_t rc;

	/* once per process; the GOnce is finished whatever the outcome, so a later
	 * call (a signature reload) gets the same error instead of waiting for it */
	if (g_once_init_enter(&initialised)) {
		init_rc = fault_should_fail("engine:init") ? CL_EMEM : cl_init(CL_INIT_DEFAULT);
		if (init_rc == CL_SUCCESS)
			cl_set_clcb_msg(on_clamav_message);
		g_once_init_leave(&initialised, 1);
	}
	if (init_rc != CL_SUCCESS) {
		g_set_error(error, ENGINE_ERROR, 0, "cannot initialise libclamav: %s",
		            cl_strerror(init_rc));
		return NULL;
	}
	g_autoptr(Engine) e = g_new0(Engine, 1);
	const char *source = config->scanner_signatures;
	if (!has_database(source)) {
		g_warning("no ClamAV database in %s: using the TEST signatures shipped with mqsift "
		          "(%s), which only know EICAR and clam.exe. Install clamav-freshclam "
		          "or point scanner.signatures at a real database.",
		          source, MQSIFT_TEST_SIGNATURES);
		source = MQSIFT_TEST_SIGNATURES;
		e->test_db = TRUE;
		if (!has_database(source)) {
			g_set_error(error, ENGINE_ERROR, 0,
			            "no ClamAV database in %s, nor test signatures in %s",
			            config->scanner_signatures, source);
			return NULL;
		}
	}
	e->source = g_strdup(source);
	e->configured = g_strdup(config->scanner_signatures);
	e->cl = cl_engine_new();
	if (e->cl == NULL) {
		g_set_error(error, ENGINE_ERROR, 0, "cannot create a libclamav engine");
		return NULL;
	}
	e->limits = limits_of(config);
	if (!set_limit(e->cl, CL_ENGINE_MAX_SCANSIZE, (long long)e->limits.max_scan_size, error) ||
	    !set_limit(e->cl, CL_ENGINE_MAX_FILESIZE, (long long)e->limits.max_file_size, error) ||
	    !set_limit(e->cl, CL_ENGINE_MAX_RECURSION, e->limits.max_recursion, error) ||
	    !set_limit(e->cl, CL_ENGINE_MAX_FILES, e->limits.max_files, error) ||
	    !set_limit(e->cl, CL_ENGINE_MAX_SCANTIME, (long long)e->limits.max_scan_time_ms,
	               error)) {
		return NULL;
	}
	/*
	 * No clean-file cache: a file cached as clean is not unpacked again, so
	 * the file-inspection callback - the filename and filetype policy, which
	 * can differ per message - would not see its members the second time.
	 */
	if (!set_limit(e->cl, CL_ENGINE_DISABLE_CACHE, 1, error))
		return NULL;
	cl_engine_set_clcb_virus_found(e->cl, on_virus_found);
	cl_engine_set_clcb_file_inspection(e->cl, on_file_inspection);
	cl_engine_set_clcb_post_scan(e->cl, on_post_scan);
	rc = cl_load(source, e->cl, &e->sigs, CL_DB_STDOPT);
	if (rc != CL_SUCCESS) {
		g_set_error(error, ENGINE_ERROR, 0, "cannot load the signature database %s: %s",
		            source, cl_strerror(rc));
		return NULL;
	}
	if (e->sigs == 0) {
		g_set_error(error, ENGINE_ERROR, 0, "the signature database %s holds no signature",
		            source);
		return NULL;
	}
	rc = cl_engine_compile(e->cl);
	if (rc != CL_SUCCESS) {
		g_set_error(error, ENGINE_ERROR, 0, "cannot compile the engine from %s: %s", source,
		            cl_strerror(rc));
		return NULL;
	}
	e->db_version = (guint)cl_engine_get_num(e->cl, CL_ENGINE_DB_VERSION, NULL);
	e->db_time = (gint64)cl_engine_get_num(e->cl, CL_ENGINE_DB_TIME, NULL);
	e->loaded_at = g_get_real_time() / G_USEC_PER_SEC;
	e->opts.general = CL_SCAN_GENERAL_ALLMATCHES | CL_SCAN_GENERAL_HEURISTICS;
	e->opts.parse = ~0u;
	/* encrypted archives are reported; the per-message policy decides (scan.c) */
	e->opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX | CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE;
	e->opts.mail = 0;
	struct stat st;
	if (stat(source, &st) == 0 && S_ISDIR(st.st_mode)) {
		memset(&e->stat, 0, sizeof e->stat);
		cl_statinidir(source, &e->stat);
		e->stat_dir = TRUE;
	} else {
		e->file_st = st;
	}
	return g_steal_pointer(&e);
}

/* engine_fits - see engine.h */
gboolean
engine_fits(const Engine *engine, const MqConfig *config)
{
	EngineLimits want = limits_of(config);

	return engine != NULL && g_strcmp0(engine->configured, config->scanner_signatures) == 0 &&
	       engine->limits.max_scan_size == want.max_scan_size &&
	       engine->limits.max_file_size == want.max_file_size &&
	       engine->limits.max_scan_time_ms == want.max_scan_time_ms &&
	       engine->limits.max_recursion == want.max_recursion &&
	       engine->limits.max_files == want.max_files;
}

/* engine_free - free and clear */
void
engine_free(Engine **engine)
{
	if (engine == NULL || *engine == NULL)
		return;
	Engine *e = *engine;
	if (e->cl)
		cl_engine_free(e->cl);
	if (e->stat_dir)
		cl_statfree(&e->stat);
	g_free(e->source);
	g_free(e->configured);
	g_free(e->tmpdir);
	g_free(e);
	*engine = NULL;
}

/* engine_signature_count - accessor */
guint
engine_signature_count(const Engine *engine)
{
	return engine->sigs;
}

/* engine_db_info - accessor */
void
engine_db_info(const Engine *engine, guint *version, gint64 *built, gint64 *loaded)
{
	*version = engine->db_version;
	*built = engine->db_time;
	*loaded = engine->loaded_at;
}

/* engine_source - accessor */
const char *
engine_source(const Engine *engine)
{
	return engine->source;
}

/* engine_is_test_db - accessor */
gboolean
engine_is_test_db(const Engine *engine)
{
	return engine->test_db;
}

/* finish_scan - turn a return code into the result */
static void
finish_scan(cl_error_t rc, const char *virname, EngineResult *result)
{
	if (rc == CL_VIRUS) {
		if (virname != NULL)
			add_name(result, virname);
	} else if (rc != CL_CLEAN) {
		result->error = TRUE;
		g_free(result->detail);
		result->detail = g_strdup(cl_strerror(rc));
	}
}

/* scan_map - scan @map (NULL: it could not be opened, an error about @what), then close it */
static void
scan_map(Engine *engine, cl_fmap_t *map, const char *name, const char *what, EngineResult *result)
{
	const char *virname = NULL;
	unsigned long scanned = 0;

	if (map == NULL) {
		result->error = TRUE;
		result->detail = g_strdup_printf("cannot map %s", what);
		return;
	}
	scanning = result;
	cl_error_t rc =
	    cl_scanmap_callback(map, name, &virname, &scanned, engine->cl, &engine->opts, result);
	scanning = NULL;
	cl_fmap_close(map);
	finish_scan(rc, virname, result);
}

/* engine_scan_buffer - scan memory */
void
engine_scan_buffer(Engine *engine, const void *data, gsize len, const char *name,
                   EngineResult *result)
{
	if (len == 0 || scratch_too_small(engine, len, result))
		return;
	scan_map(engine, cl_fmap_open_memory(data, len), name, "the buffer", result);
}

/* a scan this large is followed by a malloc_trim */
#define TRIM_AFTER_BYTES (1024 * 1024)

/* SplitSource - a message as a prefix in memory and the rest in a descriptor */
typedef struct {
	const char *head;
	gsize head_len;
	int fd;
	gsize fd_len;
	gboolean failed; /* a read came back short or failed: the scan saw less */
} SplitSource;

/* split_pread - libclamav's read callback over a SplitSource; whole reads or -1 */
static off_t
split_pread(void *handle, void *buf, size_t count, off_t offset)
{
	SplitSource *src = handle;
	gsize at = (gsize)offset, done = 0;
	char *out = buf;

	if (offset < 0 || at > src->head_len + src->fd_len) {
		src->failed = TRUE;
		return -1;
	}
	count = MIN(count, src->head_len + src->fd_len - at);
	if (at < src->head_len) {
		done = MIN(count, src->head_len - at);
		memcpy(out, src->head + at, done);
	}
	while (done < count) {
		ssize_t n =
		    pread(src->fd, out + done, count - done, (off_t)(at + done - src->head_len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file is shorter than it was said to be */
			src->failed = TRUE;
			return -1;
		}
		done += (gsize)n;
	}
	return (off_t)done;
}

/* engine_scan_split - scan @head followed by the first @fd_len bytes of @fd */
void
engine_scan_split(Engine *engine, const void *head, gsize head_len, int fd, gsize fd_len,
                  const char *name, EngineResult *result)
{
	SplitSource src = {head, head_len, fd, fd_len, FALSE};
	gsize len = head_len + fd_len;

	if (len == 0 || scratch_too_small(engine, len, result))
		return;
	/* a map that reads as libclamav asks and ages out what it is done with:
	 * the message is not held whole in memory while libclamav holds its own
	 * parse of it */
	scan_map(engine, cl_fmap_open_handle(&src, 0, len, split_pread, 1), name, "the message",
	         result);
	/* what libclamav allocated for its parse of a large message is free now
	 * but still resident (freed heap is kept by malloc): give it back, or
	 * the next phase's memory (GMime's walk) comes on top of it */
	if (len >= TRIM_AFTER_BYTES)
		malloc_trim(0);
	if (src.failed && !result->error) {
		/* libclamav read less than the message: never a clean verdict */
		result->error = TRUE;
		g_free(result->detail);
		result->detail = g_strdup("cannot read the message body");
	}
}

/* engine_scan_fd - scan a descriptor */
void
engine_scan_fd(Engine *engine, int fd, const char *name, EngineResult *result)
{
	const char *virname = NULL;
	unsigned long scanned = 0;
	struct stat st;

	if (scratch_too_small(engine, fstat(fd, &st) == 0 ? (gsize)st.st_size : 0, result))
		return;
	scanning = result;
	cl_error_t rc =
	    cl_scandesc_callback(fd, name, &virname, &scanned, engine->cl, &engine->opts, result);
	scanning = NULL;

	finish_scan(rc, virname, result);
}

/* engine_changed - has the database changed on disk? */
gboolean
engine_changed(Engine *engine)
{
	if (engine->test_db)
		return has_database(engine->configured); /* a real database was installed */
	if (engine->stat_dir)
		return cl_statchkdir(&engine->stat) == 1;
	struct stat st;
	if (stat(engine->source, &st) < 0)
		return FALSE;
	return st.st_mtime != engine->file_st.st_mtime || st.st_ino != engine->file_st.st_ino ||
	       st.st_size != engine->file_st.st_size;
}

/* engine_mark_seen - reset the change detection to the current state */
void
engine_mark_seen(Engine *engine)
{
	if (engine->stat_dir) {
		cl_statfree(&engine->stat);
		memset(&engine->stat, 0, sizeof engine->stat);
		cl_statinidir(engine->source, &engine->stat);
	} else {
		stat(engine->source, &engine->file_st);
	}
}
