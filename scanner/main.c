/*
 * main.c - the mqsift command line
 *
 * SUMMARY
 *	mqsift run [-c FILE] [--once] [--foreground]
 *	mqsift scan [-c FILE] [--json] FILE...
 *	mqsift lint [-c FILE] [--print]
 *	mqsift status [-c FILE] [--json | --prometheus]
 *	mqsift quarantine [-c FILE] list | show REF | release REF [--to ADDR] [--again] | purge
 *	mqsift config [-c FILE] [KEY...]
 *	mqsift version
 *
 * DIAGNOSTICS
 *	Exit status: 0 success, 1 "found something" (scan) or "problems" (lint)
 *	or "not found" (quarantine), 2 an error.
 */
#include "mqsift-build.h"

#include <gmime/gmime.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "queue/durable.h"
#include "queue/fdread.h"
#include "reports/notice.h"
#include "reports/report.h"
#include "reports/store.h"
#include "reports/template.h"
#include "queue/qdir.h"
#include "config/config.h"
#include "rules/policy.h"
#include "rules/untrusted.h"
#include "scanner/engine.h"
#include "scanner/log.h"
#include "scanner/proctitle.h"
#include "scanner/quarantine.h"
#include "scanner/run.h"
#include "scanner/sandbox.h"
#include "scanner/scan.h"
#include "scanner/spam.h"
#include "scanner/status.h"

static char *opt_config;
static gboolean opt_verbose;

static const GOptionEntry common_entries[] = {
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
     "configuration file (default " MQSIFT_DEFAULT_CONFIG ")", "FILE"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "log debugging detail", NULL},
    {NULL}};

/* usage - the command summary */
static int
usage(FILE *out, int status)
{
	fprintf(
	    out,
	    "usage: mqsift COMMAND [OPTIONS]\n\n"
	    "  run [-c FILE] [--once] [--foreground]  move mail from the inbound queue(s)\n"
	    "                                        to the outgoing queue, scanning it\n"
	    "  scan [-c FILE] [--json] FILE...        scan message files (exit 1: found)\n"
	    "  lint [-c FILE] [--print]               check configuration, queues, engine\n"
	    "  status [-c FILE] [--json|--prometheus]  what the running master is doing\n"
	    "                                        (exit 1: something is stuck)\n"
	    "  quarantine [-c FILE] list [--since D] [--from T] [--to T] [--verdict V]\n"
	    "  quarantine [-c FILE] show REF|release REF [--to ADDRESS] [--again]|purge\n"
	    "                                        REF: YYYYMMDD/<queue id>, or the queue id\n"
	    "  config [-c FILE] [KEY...]              the effective configuration, or values\n"
	    "  digest [-c FILE] [--since 24h] [--print]  postmaster digest of what was caught\n"
	    "  report [-c FILE] [--since 7d] [--html FILE]  statistics from the store\n"
	    "  version                                print the version\n\n"
	    "See mqsift(8).\n");
	return status;
}

/* parse_options - GOption parsing for one subcommand; FALSE on a usage error */
static gboolean
parse_options(const char *cmd, const GOptionEntry *extra, int *argc, char ***argv)
{
	g_autofree char *param = g_strdup_printf("%s", cmd);
	GOptionContext *ctx = g_option_context_new(param);
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(ctx, common_entries, NULL);
	if (extra)
		g_option_context_add_main_entries(ctx, extra, NULL);
	gboolean ok = g_option_context_parse(ctx, argc, argv, &error);
	if (!ok)
		fprintf(stderr, "mqsift %s: %s\n", cmd, error->message);
	g_option_context_free(ctx);
	return ok;
}

/* set when the configuration was refused as unsafe: lint then exits 2, not 1 */
static gboolean config_unsafe;

/* load_config - the configuration, or a message and NULL */
static MqConfig *
load_config(void)
{
	g_autoptr(GError) error = NULL;
	MqConfig *config = config_load(opt_config, opt_config != NULL, &error);

	if (config == NULL) {
		config_unsafe = g_error_matches(error, CONFIG_ERROR, CONFIG_ERROR_UNSAFE);
		fprintf(stderr, "mqsift: configuration error:\n%s\n", error->message);
	}
	return config;
}

/* cmd_run - mqsift run */
static int
cmd_run(int argc, char **argv)
{
	gboolean once = FALSE, foreground = FALSE;
	const GOptionEntry entries[] = {{"once", 0, 0, G_OPTION_ARG_NONE, &once,
	                                 "process the messages present, then exit (cron mode)",
	                                 NULL},
	                                {"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
	                                 "do not detach; log to stderr (not syslog)", NULL},
	                                {NULL}};

	if (!parse_options("run", entries, &argc, &argv))
		return 2;
	/* one sink per line: in the foreground (systemd) stderr is the journal */
	log_init(foreground || isatty(2), !foreground, opt_verbose);
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	if (!once && !foreground) {
		if (daemon(0, 0) < 0) {
			g_critical("cannot detach: %s", g_strerror(errno));
			config_free(&config);
			return 2;
		}
		/* detached, stderr is gone: without syslog, a file, never nowhere */
		if (!log_has_syslog() && !log_to_file(config->daemon_log_file))
			syslog(LOG_MAIL | LOG_ERR, "mqsift: cannot open %s; no log",
			       config->daemon_log_file);
	}
	/* the workers it forks set their own; the configuration stays in the
	 * title, so that two instances can be told apart (the rc script finds a
	 * master that lost its pid file this way) */
	proctitle_name("mqsift-master");
	if (opt_config != NULL)
		proctitle_set("mqsift: master%s -c %s", once ? " --once" : "", opt_config);
	else
		proctitle_set("mqsift: master%s", once ? " --once" : "");
	int status = run_command(config, once, opt_config);
	config_free(&config);
	return status;
}

/* json_string - append @s as a JSON string */
static void
json_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(out, "\\u%04x", *p);
		else
			g_string_append_c(out, (char)*p);
	}
	g_string_append_c(out, '"');
}

/*
 * scan_file - one file of "mqsift scan", read once through one descriptor.
 * A regular file is mapped, its body read from the descriptor as a worker
 * reads a df; anything else (a pipe, a FIFO) is read from the descriptor,
 * at most scanner.max_message_size bytes.  A larger message is judged by
 * its size alone, as a worker judges one.  FALSE with @error if the file
 * cannot be read.
 */
static gboolean
scan_file(const ScanContext *ctx, const char *path, ScanReport *rep, GError **error)
{
	gsize max = ctx->settings->max_message_size;
	int fd = open(path, O_RDONLY | O_CLOEXEC); /* lint: allow open */
	struct stat st;
	ScanMessageMap map;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s", g_strerror(err));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	if (S_ISREG(st.st_mode) && (guint64)st.st_size > max) {
		scan_message(ctx, "", (gsize)st.st_size, rep); /* only the size is looked at */
	} else if (S_ISREG(st.st_mode) && st.st_size > 0 &&
	           scan_message_map("", fd, max, &map, NULL)) {
		scan_message_body_fd(ctx, map.msg, map.len, fd, 0, rep);
		scan_message_map_clear(&map);
	} else {
		/* a pipe, or a file that says it is empty (/proc's, one being
		 * written): read past the size it gives */
		g_autoptr(GError) local = NULL;
		g_autoptr(GBytes) bytes = fdread_bytes(fd, max, &local);
		gsize len = 0;
		const char *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
		if (bytes != NULL)
			scan_message(ctx, data ? data : "", len, rep);
		else if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
			scan_message(ctx, "", max + 1, rep); /* only the size is looked at */
		else {
			close(fd);
			g_propagate_error(error, g_steal_pointer(&local));
			return FALSE;
		}
	}
	close(fd);
	return TRUE;
}

/* cmd_scan - mqsift scan FILE... */
static int
cmd_scan(int argc, char **argv)
{
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "one JSON object per line", NULL}, {NULL}};

	if (!parse_options("scan FILE...", entries, &argc, &argv))
		return 2;
	log_init(TRUE, FALSE, opt_verbose);
	if (argc < 2) {
		fprintf(stderr, "mqsift scan: no file given\n");
		return 2;
	}
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	g_autoptr(GError) error = NULL;
	Policy *policy = policy_new(config, &error);
	Engine *engine = policy ? engine_new(config, &error) : NULL;
	if (engine == NULL) {
		fprintf(stderr, "mqsift scan: %s\n", error->message);
		policy_free(&policy);
		config_free(&config);
		return 2;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		ScanReport rep;
		ScanSettings settings;
		scan_settings_from_config(config, &settings);
		ScanContext ctx = {&settings, engine, policy, NULL};
		if (!scan_file(&ctx, argv[i], &rep, &error)) {
			fprintf(stderr, "mqsift scan: %s: %s\n", argv[i], error->message);
			g_clear_error(&error);
			status = 2;
			continue;
		}
		g_autofree char *st = scan_status_header(&rep);
		if (json) {
			GString *o = g_string_new("{\"file\":");
			json_string(o, argv[i]);
			g_string_append(o, ",\"verdict\":");
			json_string(o, scan_verdict_name(rep.verdict));
			g_string_append(o, ",\"status\":");
			json_string(o, st);
			g_string_append(o, ",\"names\":[");
			for (guint k = 0; k < rep.names->len; k++) {
				if (k)
					g_string_append_c(o, ',');
				json_string(o, g_ptr_array_index(rep.names, k));
			}
			g_string_append(o, "],\"parts\":[");
			for (guint k = 0; k < rep.findings->len; k++) {
				const Finding *f = g_ptr_array_index(rep.findings, k);
				g_string_append(o, k ? ",{\"path\":" : "{\"path\":");
				json_string(o, f->path);
				g_string_append(o, ",\"filename\":");
				json_string(o, f->filename ? f->filename : "");
				g_string_append(o, ",\"found\":");
				json_string(o, f->what);
				g_string_append_c(o, '}');
			}
			g_string_append_printf(o, "],\"scans\":%u", rep.scans);
			if (rep.ambiguous != NULL) {
				g_string_append(o, ",\"ambiguous\":");
				json_string(o, rep.ambiguous);
			}
			g_string_append_c(o, '}');
			printf("%s\n", o->str);
			g_string_free(o, TRUE);
		} else {
			/* everything here comes from the message: nothing reaches the
			 * terminal unescaped */
			g_autofree char *shown = untrusted_line(st, -1, 0);
			printf("%s: %s\n", argv[i], shown);
			for (guint k = 0; k < rep.findings->len; k++) {
				const Finding *f = g_ptr_array_index(rep.findings, k);
				g_autofree char *name = untrusted_line(f->filename, -1, 0);
				g_autofree char *what = untrusted_line(f->what, -1, 0);
				printf("  part %s%s%s: %s\n", f->path, f->filename ? " " : "", name,
				       what);
			}
		}
		if (rep.verdict == VERDICT_ERROR)
			status = 2;
		else if (rep.verdict != VERDICT_CLEAN && status == 0)
			status = 1;
		scan_report_clear(&rep);
	}
	engine_free(&engine);
	policy_free(&policy);
	config_free(&config);
	return status;
}

/* the built-in test message of lint: EICAR in a base64 attachment */
static const char lint_message[] =
    "From: lint@localhost\nTo: lint@localhost\nSubject: mqsift lint\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
    "test\n--b\nContent-Type: application/octet-stream\n"
    "Content-Disposition: attachment; filename=\"eicar.com.txt\"\n"
    "Content-Transfer-Encoding: base64\n\n"
    "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\n"
    "LUZJTEUhJEgrSCo=\n--b--\n";

/* sendmail_lock_type - "flock" or "posix" as the host's sendmail was built, or NULL */
static char *
sendmail_lock_type(void)
{
	const char *argv[] = {SENDMAIL_PATH, "-d0.10", "-bt", NULL};
	g_autofree char *out = NULL;
	int wait_status;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
	                  NULL, &wait_status, NULL))
		return NULL;
	if (out == NULL || strstr(out, "Compiled with:") == NULL)
		return NULL;
	g_autoptr(GRegex) re = g_regex_new("\\bHASFLOCK\\b", 0, 0, NULL);
	return g_strdup(g_regex_match(re, out, 0, NULL) ? "flock" : "posix");
}

/* check_queue - lint of one queue directory */
static gboolean
check_queue(const char *what, const char *path, GString *problems)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		g_string_append_printf(problems, "%s %s: %s\n", what, path, g_strerror(errno));
		return FALSE;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_string_append_printf(problems, "%s %s: not a directory\n", what, path);
		return FALSE;
	}
	if (st.st_mode & S_IWOTH)
		g_string_append_printf(problems, "%s %s: world-writable\n", what, path);
	if (access(path, R_OK | W_OK | X_OK) < 0)
		g_string_append_printf(problems, "%s %s: not writable by this user\n", what, path);
	return TRUE;
}

/* lint_glob_dirs - the directories a queue.incoming glob matches now */
static GPtrArray *
lint_glob_dirs(const char *pattern)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *dir = g_path_get_dirname(pattern);
	g_autofree char *base = g_path_get_basename(pattern);
	g_autoptr(GPatternSpec) spec = g_pattern_spec_new(base);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		if (g_pattern_spec_match_string(spec, name) && g_file_test(p, G_FILE_TEST_IS_DIR))
			g_ptr_array_add(out, g_steal_pointer(&p));
	}
	if (d != NULL)
		g_dir_close(d);
	return out;
}

/* lint_dir_exists - a directory production writes into must exist (systemd's
 * ReadWritePaths= and the rc script do not create it) */
static void
lint_dir_exists(const char *key, const char *dir, GString *problems)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		g_string_append_printf(problems, "%s %s: %s\n", key, dir, g_strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		g_string_append_printf(problems, "%s %s: not a directory\n", key, dir);
}

/*
 * lint_paths - the quarantine and store directories exist; every rules file
 * named in the configuration exists (a missing one means the built-in
 * rules, not the ones written for this site)
 */
static void
lint_paths(const MqConfig *config, GString *problems)
{
	g_autofree char *db_dir = g_path_get_dirname(config->reports_database);
	g_autoptr(GPtrArray) rules = g_ptr_array_new();
	const char *shipped = MQSIFT_DATADIR "/filename.rules";

	lint_dir_exists("quarantine.dir", config->quarantine_dir, problems);
	lint_dir_exists("reports.database: directory", db_dir, problems);
	config_all_values(config, "policy.filename_rules", rules);
	for (guint i = 0; i < rules->len; i++) {
		const char *path = g_ptr_array_index(rules, i);

		if (*path == '\0' || g_file_test(path, G_FILE_TEST_EXISTS))
			continue;
		if (strcmp(path, shipped) == 0)
			printf("note: %s is not installed: the built-in filename rules apply\n",
			       path);
		else
			g_string_append_printf(problems, "policy.filename_rules %s: %s\n", path,
			                       g_strerror(ENOENT));
	}
}

/* lint_sandbox - the workers' protections on this kernel, and their scratch space */
static void
lint_sandbox(const MqConfig *config, GString *problems)
{
	g_autofree char *what = sandbox_describe(config);
	g_autofree char *scratch = sandbox_scratch_base(config);
	struct passwd *pw = getpwnam(config->scanner_user);
	g_autoptr(GError) error = NULL;

	printf("%s\n", what);
	if (pw == NULL) {
		g_string_append_printf(problems, "scanner.user %s does not exist\n",
		                       config->scanner_user);
		return;
	}
	if (!sandbox_scratch_check(scratch, pw->pw_uid, &error)) {
		g_string_append_printf(problems, "%s\n", error->message);
		return;
	}
	guint64 need = 2 * config->scanner_max_file_size;
	gint64 avail = sandbox_scratch_free_space(scratch, 0);
	if (avail < 0) {
		g_autofree char *parent = g_path_get_dirname(scratch);
		avail = sandbox_scratch_free_space(parent, 0);
	}
	if (avail < 0)
		printf("scratch: %s (created at start), free space unknown\n", scratch);
	else
		printf("scratch: %s, %" G_GINT64_FORMAT " MiB free%s\n", scratch, avail >> 20,
		       geteuid() == 0 ? " (each worker mounts a private tmpfs on its own "
		                        "subdirectory)"
		                      : "");
	if (avail >= 0 && (guint64)avail < need)
		g_string_append_printf(problems,
		                       "scanner.tmpdir %s: only %" G_GINT64_FORMAT
		                       " KiB free, less than twice scanner.max_file_size: scans "
		                       "will fail (and be retried) where libclamav needs room\n",
		                       scratch, avail / 1024);
}

/* cmd_lint - mqsift lint */
static int
cmd_lint(int argc, char **argv)
{
	gboolean print = FALSE;
	const GOptionEntry entries[] = {
	    {"print", 'p', 0, G_OPTION_ARG_NONE, &print, "show the effective configuration", NULL},
	    {NULL}};

	if (!parse_options("lint", entries, &argc, &argv))
		return 2;
	log_init(TRUE, FALSE, opt_verbose);
	g_autoptr(GError) load_error = NULL;
	MqConfig *config = config_load(opt_config, opt_config != NULL, &load_error);
	if (config == NULL) {
		/* one line per problem; an unsafe file is not a problem to list: it stops */
		gboolean unsafe = g_error_matches(load_error, CONFIG_ERROR, CONFIG_ERROR_UNSAFE);
		fprintf(stderr, "%s\n", load_error->message);
		return unsafe ? 2 : 1;
	}
	if (print) {
		GString *p = config_print(config);
		fputs(p->str, stdout);
		g_string_free(p, TRUE);
	}
	GString *problems = g_string_new(NULL);
	g_autoptr(GError) error = NULL;

	for (int i = 0; config->doubtful && config->doubtful[i]; i++)
		g_string_append_printf(problems, "%s\n", config->doubtful[i]);
	lint_paths(config, problems);
	struct stat out_st;
	gboolean out_ok = check_queue("queue.outgoing", config->queue_outgoing, problems) &&
	                  stat(config->queue_outgoing, &out_st) == 0;
	for (int i = 0; config->queue_incoming[i]; i++) {
		const char *in = config->queue_incoming[i];
		struct stat st;
		if (strpbrk(in, "*?[") != NULL) {
			g_autoptr(GPtrArray) dirs = lint_glob_dirs(in);
			if (dirs->len == 0)
				g_string_append_printf(
				    problems, "queue.incoming %s: matches no directory\n", in);
			continue;
		}
		if (check_queue("queue.incoming", in, problems) && out_ok && stat(in, &st) == 0 &&
		    st.st_dev != out_st.st_dev)
			printf("note: %s and %s are on different filesystems: bodies will be "
			       "copied, not linked\n",
			       in, config->queue_outgoing);
	}
	struct stat qst;
	if (stat(config->quarantine_dir, &qst) == 0 && (qst.st_mode & 0077) != 0)
		g_string_append_printf(
		    problems,
		    "quarantine.dir %s is readable by others (mode %04o): it holds "
		    "mail; chmod 0700 it\n",
		    config->quarantine_dir, qst.st_mode & 07777);
	g_autofree char *lock = sendmail_lock_type();
	if (lock == NULL)
		printf("note: cannot ask %s how it locks its queue\n", SENDMAIL_PATH);
	else if (strcmp(lock, config->queue_lock) != 0)
		g_string_append_printf(problems,
		                       "queue.lock is %s, but %s locks queue files with %s: set "
		                       "queue.lock: %s\n",
		                       config->queue_lock, SENDMAIL_PATH, lock, lock);
	Policy *policy = policy_new(config, &error);
	if (policy == NULL) {
		config_unsafe = g_error_matches(error, CONFIG_ERROR, CONFIG_ERROR_UNSAFE);
		g_string_append_printf(problems, "%s\n", error->message);
		g_clear_error(&error);
	}
	Engine *engine = engine_new(config, &error);
	if (engine == NULL) {
		g_string_append_printf(problems, "engine: %s\n", error->message);
		g_clear_error(&error);
	} else if (policy != NULL) {
		ScanSettings settings;
		scan_settings_from_config(config, &settings);
		ScanContext ctx = {&settings, engine, policy, NULL};
		ScanReport rep;
		scan_message(&ctx, lint_message, strlen(lint_message), &rep);
		if (rep.verdict != VERDICT_INFECTED)
			g_string_append_printf(
			    problems,
			    "engine: the built-in EICAR test message was not "
			    "detected (%s): the signatures in %s are not usable\n",
			    scan_verdict_name(rep.verdict), engine_source(engine));
		else
			printf(
			    "engine: %u signatures from %s%s; EICAR test message detected (%s)\n",
			    engine_signature_count(engine), engine_source(engine),
			    engine_is_test_db(engine) ? " (TEST signatures only)" : "",
			    (char *)g_ptr_array_index(rep.names, 0));
		scan_report_clear(&rep);
	}
	if (engine != NULL && engine_is_test_db(engine))
		g_string_append_printf(problems,
		                       "scanner.signatures %s: no ClamAV database there, so only "
		                       "mqsift's TEST signatures (EICAR, clam.exe) are loaded and "
		                       "every real virus would pass: install clamav-freshclam or "
		                       "correct the path\n",
		                       config->scanner_signatures);
	engine_free(&engine);
	policy_free(&policy);
	lint_sandbox(config, problems);
	/* spam (issue #16): each spamd answers PING and scores GTUBE; each zone lists 127.0.0.2 */
	{
		GString *seen = g_string_new(NULL);
		spam_lint(config, seen, problems);
		fputs(seen->str, stdout);
		g_string_free(seen, TRUE);
	}
	int status = config_unsafe ? 2 : problems->len > 0 ? 1 : 0;
	if (status)
		fprintf(stderr, "%s", problems->str);
	else
		printf("configuration %s: ok\n", config->source);
	g_string_free(problems, TRUE);
	config_free(&config);
	return status;
}

/* cmd_config - mqsift config [KEY]: the effective configuration, or one value */
static int
cmd_config(int argc, char **argv)
{
	if (!parse_options("config [KEY]", NULL, &argc, &argv))
		return 2;
	log_init(TRUE, FALSE, opt_verbose);
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	int status = 0;
	if (argc < 2) {
		GString *p = config_print(config);
		fputs(p->str, stdout);
		g_string_free(p, TRUE);
	} else {
		for (int i = 1; i < argc; i++) {
			g_autofree char *v = config_value_text(config, argv[i]);
			if (v == NULL) {
				const char *near = config_closest_key(argv[i]);
				fprintf(stderr, "mqsift config: unknown key \"%s\"%s%s%s\n",
				        argv[i], near ? " (did you mean \"" : "", near ? near : "",
				        near ? "\"?)" : "");
				status = 1;
			} else {
				printf("%s\n", v);
			}
		}
	}
	config_free(&config);
	return status;
}

/* open_period - the store and the period [now - @since_text, now), with the graphs if @graphs */
static ReportData *
open_period(const MqConfig *config, const char *since_text, gboolean graphs, gint64 *since,
            gint64 *until)
{
	guint64 secs;
	g_autoptr(GError) error = NULL;

	if (!config_parse_duration(since_text, &secs)) {
		fprintf(stderr, "mqsift: --since takes a duration such as 24h or 7d, not \"%s\"\n",
		        since_text);
		return NULL;
	}
	*until = g_get_real_time() / G_USEC_PER_SEC + 1;
	*since = *until - 1 - (gint64)secs;
	Store *store = store_open(config->reports_database, &error);
	if (store == NULL) {
		fprintf(stderr, "mqsift: %s\n", error->message);
		return NULL;
	}
	ReportData *d = report_collect(store, *since, *until, &error);
	if (d != NULL && graphs && !report_collect_graphs(d, store, &error))
		report_free(&d);
	if (d == NULL)
		fprintf(stderr, "mqsift: %s\n", error->message);
	store_close(&store);
	return d;
}

/* cmd_digest - the postmaster's digest of a period */
static int
cmd_digest(int argc, char **argv)
{
	char *since_text = NULL;
	gboolean print = FALSE;
	const GOptionEntry entries[] = {
	    {"since", 's', 0, G_OPTION_ARG_STRING, &since_text, "period (default 24h)", "DURATION"},
	    {"print", 'p', 0, G_OPTION_ARG_NONE, &print, "print it instead of mailing it", NULL},
	    {NULL}};

	if (!parse_options("digest", entries, &argc, &argv))
		return 2;
	log_init(TRUE, !print, opt_verbose);
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	gint64 since, until;
	ReportData *d = open_period(config, since_text ? since_text : "24h", FALSE, &since, &until);
	if (d == NULL) {
		config_free(&config);
		return 2;
	}
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	g_hash_table_insert(
	    vars, "hostname",
	    g_strdup(*config->scanner_hostname ? config->scanner_hostname : g_get_host_name()));
	g_hash_table_insert(vars, "since", report_format_time(since));
	g_hash_table_insert(vars, "until", report_format_time(until));
	g_hash_table_insert(vars, "caught", g_strdup_printf("%u", report_caught_count(d)));
	g_hash_table_insert(vars, "report", report_digest_text(d));
	g_autofree char *subject = NULL;
	g_autofree char *body =
	    template_render_mail(config->reports_templates, config->reports_language, "digest",
	                         vars, "mqsift digest", &subject);
	g_hash_table_destroy(vars);
	int status = 0;
	if (print) {
		/* for a terminal: whatever a template or the store holds, no escape gets through */
		g_autofree char *safe_subject = untrusted_text(subject, -1, 0, 0);
		g_autofree char *safe_body = untrusted_text(body, -1, 0, UNTRUSTED_KEEP_NEWLINES);
		printf("Subject: %s\n\n%s", safe_subject, safe_body);
	} else {
		g_autoptr(GError) error = NULL;
		QueueLock lock = qdir_lock_from_name(config->queue_lock);
		QueueDir *out = qdir_open(config->queue_outgoing, lock, &error);
		char *id =
		    out ? notice_send(config, out, config->notify_postmaster, subject, body, &error)
		        : NULL;
		if (id == NULL) {
			fprintf(stderr, "mqsift digest: %s\n", error->message);
			status = 2;
		} else {
			g_message("digest of %u caught message(s) queued for %s as %s",
			          report_caught_count(d), config->notify_postmaster, id);
		}
		g_free(id);
		qdir_free(&out);
	}
	report_free(&d);
	config_free(&config);
	g_free(since_text);
	return status;
}

/* cmd_report - statistics as text, or an HTML page */
static int
cmd_report(int argc, char **argv)
{
	char *since_text = NULL, *html = NULL;
	const GOptionEntry entries[] = {
	    {"since", 's', 0, G_OPTION_ARG_STRING, &since_text, "period (default 7d)", "DURATION"},
	    {"html", 0, 0, G_OPTION_ARG_FILENAME, &html, "write an HTML page to FILE", "FILE"},
	    {NULL}};

	if (!parse_options("report", entries, &argc, &argv))
		return 2;
	log_init(TRUE, FALSE, opt_verbose);
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	gint64 since, until;
	ReportData *d =
	    open_period(config, since_text ? since_text : "7d", html != NULL, &since, &until);
	int status = 0;
	if (d == NULL) {
		status = 2;
	} else if (html) {
		g_autofree char *page = report_html(
		    d, *config->scanner_hostname ? config->scanner_hostname : g_get_host_name());
		g_autoptr(GError) error = NULL;
		if (!g_file_set_contents(html, page, -1, &error)) {
			fprintf(stderr, "mqsift report: %s\n", error->message);
			status = 2;
		} else {
			printf("wrote %s\n", html);
		}
	} else {
		g_autofree char *text = report_text(d);
		fputs(text, stdout);
	}
	report_free(&d);
	config_free(&config);
	g_free(since_text);
	g_free(html);
	return status;
}

/* cmd_status - ask the running master what it is doing */
static int
cmd_status(int argc, char **argv)
{
	gboolean json = FALSE, prometheus = FALSE;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "one JSON object, for scripts", NULL},
	    {"prometheus", 0, 0, G_OPTION_ARG_NONE, &prometheus,
	     "Prometheus text format (counters, histogram, gauges)", NULL},
	    {NULL}};

	if (!parse_options("status", entries, &argc, &argv))
		return 2;
	log_init(TRUE, FALSE, opt_verbose);
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	g_autoptr(GError) error = NULL;
	guint problems = 0;
	g_autofree char *answer = status_query(config->daemon_status_socket,
	                                       json         ? "json"
	                                       : prometheus ? "prometheus"
	                                                    : "text",
	                                       &problems, &error);
	config_free(&config);
	if (answer == NULL) {
		fprintf(stderr, "mqsift status: %s\n", error->message);
		return 2;
	}
	fputs(answer, stdout);
	return problems > 0 ? 1 : 0;
}

/* cmd_quarantine - list, show, release, purge */
static int
cmd_quarantine(int argc, char **argv)
{
	g_autofree char *since_text = NULL, *from = NULL, *verdict = NULL;
	g_auto(GStrv) to = NULL;
	gboolean again = FALSE;
	const GOptionEntry entries[] = {
	    {"since", 's', 0, G_OPTION_ARG_STRING, &since_text, "list: entries of this period only",
	     "DURATION"},
	    {"from", 0, 0, G_OPTION_ARG_STRING, &from, "list: the sender contains TEXT", "TEXT"},
	    {"to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to,
	     "list: a recipient contains TEXT; release: to this recipient instead of the "
	     "original ones (repeatable)",
	     "TEXT|ADDRESS"},
	    {"verdict", 0, 0, G_OPTION_ARG_STRING, &verdict, "list: infected, blocked, ...",
	     "VERDICT"},
	    {"again", 0, 0, G_OPTION_ARG_NONE, &again,
	     "release: even if this entry was released before", NULL},
	    {NULL}};

	if (!parse_options("quarantine list|show REF|release REF [--to ADDRESS] [--again]|purge",
	                   entries, &argc, &argv))
		return 2;
	log_init(TRUE, TRUE, opt_verbose);
	if (argc < 2)
		return usage(stderr, 2);
	if (to != NULL && to[0] != NULL && to[1] != NULL && strcmp(argv[1], "list") == 0) {
		fprintf(stderr, "mqsift quarantine list: --to takes one text\n");
		return 2;
	}
	QuarantineFilter filter = {0, from, to ? to[0] : NULL, verdict};
	if (since_text != NULL) {
		guint64 secs;
		if (!config_parse_duration(since_text, &secs)) {
			fprintf(
			    stderr,
			    "mqsift quarantine: --since takes a duration such as 24h or 7d, not "
			    "\"%s\"\n",
			    since_text);
			return 2;
		}
		filter.since = g_get_real_time() / G_USEC_PER_SEC - (gint64)secs;
	}
	MqConfig *config = load_config();
	if (config == NULL)
		return 2;
	const char *sub = argv[1];
	g_autoptr(GError) error = NULL;
	GString *out = g_string_new(NULL);
	int status = 0;
	g_autofree char *ref = NULL;

	if ((strcmp(sub, "show") == 0 || strcmp(sub, "release") == 0) && argc == 3) {
		/* a reference, or the bare queue ID people see in logs and notices */
		ref = quarantine_resolve(config, argv[2], &error);
		if (ref == NULL) {
			fprintf(stderr, "mqsift quarantine %s: %s\n", sub, error->message);
			status = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? 1 : 2;
			sub = "";
		}
	}
	if (*sub == '\0') {
		/* already reported */
	} else if (strcmp(sub, "list") == 0 && argc == 2) {
		int n = quarantine_list(config, &filter, out, &error);
		if (n < 0) {
			fprintf(stderr, "mqsift quarantine list: %s\n", error->message);
			status = 2;
		} else {
			fputs(out->str, stdout);
			if (n == 0)
				fprintf(stderr, "(no entry%s)\n",
				        since_text || from || to || verdict ? " matches" : "");
		}
	} else if (strcmp(sub, "show") == 0 && argc == 3) {
		if (quarantine_show(config, ref, out, &error)) {
			fputs(out->str, stdout);
			g_autofree char *rel = quarantine_released(config, ref);
			if (rel != NULL)
				printf("\nreleased (time, queue ID, recipients):\n%s", rel);
		} else {
			fprintf(stderr, "mqsift quarantine show: %s\n", error->message);
			status = 1;
		}
	} else if (strcmp(sub, "release") == 0 && argc == 3) {
		QueueLock lock = qdir_lock_from_name(config->queue_lock);
		QueueDir *outq = qdir_open(config->queue_outgoing, lock, &error);
		QuarantineRelease how = {(const char *const *)to, again};
		char *id = outq ? quarantine_release(config, outq, ref, &how, &error) : NULL;
		if (id) {
			g_autofree char *rcpts = NULL;
			g_autofree char *history = quarantine_released(config, ref);
			g_auto(GStrv) lines =
			    history ? g_strsplit(g_strchomp(history), "\n", -1) : NULL;
			if (lines != NULL && g_strv_length(lines) > 0) {
				g_auto(GStrv) f =
				    g_strsplit(lines[g_strv_length(lines) - 1], " ", 3);
				rcpts = g_strdup(f[1] && f[2] ? f[2] : "");
			}
			g_message("%s: released into %s as %s to %s%s", ref, config->queue_outgoing,
			          id, rcpts ? rcpts : "?", again ? " (again)" : "");
			printf("released %s as %s\n", ref, id);
			Store *store = store_open(config->reports_database, &error);
			if (store == NULL ||
			    !store_release_add(store, ref, id, g_get_real_time() / G_USEC_PER_SEC,
			                       rcpts ? rcpts : "", again, &error)) {
				g_warning("%s: released as %s, but the store did not record it: %s",
				          ref, id, error ? error->message : "?");
				g_clear_error(&error);
			}
			store_close(&store);
			g_free(id);
		} else {
			fprintf(stderr, "mqsift quarantine release: %s\n", error->message);
			status = g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? 1 : 2;
		}
		qdir_free(&outq);
	} else if (strcmp(sub, "purge") == 0 && argc == 2) {
		guint n = 0;
		if (quarantine_purge(config, &n, &error)) {
			printf("purged %u entr%s older than %u days\n", n, n == 1 ? "y" : "ies",
			       config->quarantine_keep_days);
		} else {
			fprintf(stderr, "mqsift quarantine purge: %s (%u entr%s purged)\n",
			        error->message, n, n == 1 ? "y" : "ies");
			status = 2;
		}
	} else {
		status = usage(stderr, 2);
	}
	g_string_free(out, TRUE);
	config_free(&config);
	return status;
}

/* main - dispatch */
int
main(int argc, char **argv)
{
	/* first: from here on argv and environ are copies (process titles) */
	proctitle_init(argc, argv);
	setlocale(LC_ALL, "");
	if (argc < 2)
		return usage(stderr, 2);
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
		return usage(stdout, 0);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("mqsift %s\n", PACKAGE_VERSION);
		return 0;
	}
	g_mime_init();
	argv++;
	argc--;
	int status;
	if (strcmp(cmd, "run") == 0)
		status = cmd_run(argc, argv);
	else if (strcmp(cmd, "scan") == 0)
		status = cmd_scan(argc, argv);
	else if (strcmp(cmd, "lint") == 0)
		status = cmd_lint(argc, argv);
	else if (strcmp(cmd, "digest") == 0)
		status = cmd_digest(argc, argv);
	else if (strcmp(cmd, "report") == 0)
		status = cmd_report(argc, argv);
	else if (strcmp(cmd, "config") == 0)
		status = cmd_config(argc, argv);
	else if (strcmp(cmd, "quarantine") == 0)
		status = cmd_quarantine(argc, argv);
	else if (strcmp(cmd, "status") == 0)
		status = cmd_status(argc, argv);
	else {
		fprintf(stderr, "mqsift: unknown command \"%s\"\n", cmd);
		status = usage(stderr, 2);
	}
	g_mime_shutdown();
	return status;
}
