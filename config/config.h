/*
 * config.h - mqsift's configuration: one YAML file, every key with a default
 *
 * SUMMARY
 *	config_load() reads /etc/mqsift/mqsift.yaml (or the file given with -c)
 *	into a typed MqConfig.  A missing file means "all defaults"; an empty
 *	file too.  Any problem - bad YAML, an unknown key (the closest known one
 *	is suggested), a value of the wrong kind - is reported as
 *	FILE:LINE:COLUMN: what was expected, all problems at once, and nothing
 *	half-loaded is returned.
 *
 *	Durations read as people write them ("30", "5s", "30m", "12h", "7d");
 *	sizes too ("512", "10k", "50M", "1G", binary multiples).
 */
#ifndef MQSIFT_CONFIG_CONFIG_H
#define MQSIFT_CONFIG_CONFIG_H

#include <glib.h>

#include "config/rule.h"

#ifndef MQSIFT_DEFAULT_CONFIG /* configure sets it from --sysconfdir */
#define MQSIFT_DEFAULT_CONFIG "/etc/mqsift/mqsift.yaml"
#endif

#define CONFIG_ERROR (config_error_quark())
GQuark config_error_quark(void);

typedef enum {
	CONFIG_ERROR_INVALID, /* the message lists every problem, one per line */
	CONFIG_ERROR_IO,
	CONFIG_ERROR_UNSAFE, /* a file others than root and us could have written */
} ConfigError;

typedef struct {
	/* queue */
	char **queue_incoming; /* NULL-terminated; directories or globs */
	char *queue_outgoing;
	char *queue_lock;          /* "flock" | "posix" */
	guint queue_file_mode;     /* mode of files written into the outgoing queue */
	guint queue_scan_interval; /* seconds between polls of the inbound queues */
	guint queue_batch_size;    /* messages committed per batch of fsyncs */
	gboolean queue_kick_delivery;
	char **queue_sendmail;      /* command and arguments used to kick delivery */
	guint queue_bad_file_grace; /* seconds before a broken qf is moved aside */
	guint queue_error_grace;    /* seconds a message keeps failing before quarantine */
	/* scanner */
	char *scanner_signatures;
	char *scanner_hostname;        /* empty: the machine's name */
	guint scanner_workers;         /* 0: the number of cores */
	char *scanner_tmpdir;          /* libclamav's temporary files */
	char *scanner_user;            /* workers run as this user */
	guint scanner_message_timeout; /* seconds */
	guint scanner_max_attempts;
	char *daemon_pid_file;
	char *daemon_off_file;
	char *daemon_log_file;
	guint daemon_summary_interval; /* seconds between summary log lines (daemon) */
	char *daemon_status_socket;    /* unix socket "mqsift status" asks; "" = none */
	char *daemon_status_group;     /* group that may read it (besides root) */
	char *daemon_metrics_file;     /* node_exporter textfile, "" = none */
	guint daemon_metrics_interval; /* seconds between writes of it */
	guint daemon_sample_interval;  /* seconds between queue depth samples */
	guint daemon_stuck_after;      /* a queued message older than this is stuck */
	guint scanner_max_db_age;      /* seconds: an older database is stale */
	guint64 scanner_max_scan_size;
	guint64 scanner_max_file_size;
	guint scanner_max_recursion;
	guint scanner_max_files;
	guint scanner_max_scan_time; /* seconds */
	guint scanner_max_mime_depth;
	guint scanner_max_mime_parts;
	guint64 scanner_max_message_size;
	char *scanner_on_limits;               /* "deliver" | "block" */
	guint64 scanner_max_memory;            /* a worker's address space; 0: engine + 1G */
	guint scanner_max_messages_per_worker; /* then it is replaced */
	/* quarantine */
	char *quarantine_dir;
	guint quarantine_keep_days;
	/* reports */
	char *reports_database;
	guint reports_keep_days;
	char *reports_language; /* "en" | "fr" */
	char *reports_templates;
	char *reports_org;
	/* notify */
	char *notify_postmaster;
	gboolean notify_postmaster_warnings;
	gboolean notify_sender;
	char **notify_local_domains;
	char **notify_local_networks; /* CIDRs: clients whose senders may be told */
	char **notify_silent_viruses;
	/* policy */
	char *policy_subject_tag; /* empty: no tag */
	gboolean policy_inline_warning;
	char **policy_deny_filenames;  /* case-insensitive regular expressions */
	char **policy_allow_filenames; /* checked first */
	char *policy_filename_rules;   /* the rules file */

	/* per-message settings (each may be a ruleset, see ruleset.h) */
	gboolean scanner_scan;
	char *policy_infected_action; /* "clean" | "replace" */
	char *policy_blocked_action;  /* "clean" | "replace" */
	gboolean policy_filename_checks;
	gboolean policy_filetype_checks;
	char **policy_deny_filetypes;    /* regular expressions on libmagic's description */
	char *policy_encrypted_archives; /* "allow" | "deny" */
	char *mime_on_ambiguous;         /* "deliver" | "block" */

	/* spam (issue #16; scanner/spam.h) */
	char **spam_spamd;            /* "unix:/path" or "ADDRESS:PORT", tried in order */
	guint spam_spamd_timeout;     /* seconds per server and message */
	guint spam_spamd_retry;       /* a failed server is skipped this long (seconds) */
	char *spam_spamd_command;     /* "SYMBOLS" | "REPORT" */
	char *spam_spamd_user;        /* User: header (empty: none) */
	guint spam_max_in_flight;     /* checks running at once */
	char **spam_dnsbl_zones;      /* "zone" or "zone=weight" */
	char **spam_dns_servers;      /* empty: /etc/resolv.conf */
	guint spam_dnsbl_timeout;     /* seconds per client address */
	char **spam_trusted_networks; /* CIDRs never looked up */
	gboolean spam_allow_delete;   /* "delete" without "quarantine" is allowed */
	char **spam_allow;            /* senders (globs) and client networks never spam */
	char **spam_deny;             /* senders and client networks always (high) spam */
	/* per-message spam settings (rulesets) */
	gboolean spam_check;
	guint64 spam_max_size;
	double spam_tag_level;
	double spam_high_level;
	double spam_dnsbl_threshold;
	char **spam_actions; /* deliver header subject_tag quarantine delete "forward ADDR" */
	char **spam_high_actions;
	char *spam_subject_tag;
	char *spam_on_error; /* "deliver" | "defer" */

	char *source;        /* the file the config came from, or "(defaults)" */
	char **doubtful;     /* NULL-terminated (or NULL): what loads but is likely a
	                      * mistake (a duplicate key), one "file:line:col: ..." each;
	                      * "mqsift lint" fails on them */
	GPtrArray *rulesets; /* private: the rulesets of per-message keys */
} MqConfig;

/*
 * config_load - read @path (NULL: MQSIFT_DEFAULT_CONFIG).  A missing file
 * gives the defaults unless @must_exist.  Returns a new MqConfig or NULL with
 * @error (CONFIG_ERROR_INVALID lists every problem).
 */
MqConfig *config_load(const char *path, gboolean must_exist, GError **error);

/*
 * config_check_file_safe - refuse, as sendmail does for its cf, a file that
 * anyone but root and the running user could have written: the file (after
 * symbolic links) and the directory holding it must be owned by root or by
 * the effective user and be neither group- nor world-writable (a directory
 * with the sticky bit may be, as /tmp is: others cannot replace our file
 * there).  When @path is a symbolic link, the directory of the link is
 * checked too.  A missing file is not an error here (TRUE).  @what names the
 * file in the message ("configuration", "policy.filename_rules").  FALSE
 * with @error (CONFIG_ERROR_UNSAFE) saying what to fix.
 */
gboolean config_check_file_safe(const char *path, const char *what, GError **error);

/* config_defaults - a config with every default */
MqConfig *config_defaults(void);

/* config_free - free and clear the caller's pointer */
void config_free(MqConfig **config);

/* config_free_ptr - config_free() for g_autoptr(MqConfig) */
static inline void
config_free_ptr(MqConfig *p)
{
	config_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MqConfig, config_free_ptr)

/* config_print - the effective configuration as YAML, every key */
GString *config_print(const MqConfig *config);

/* config_parse_duration - "90", "5s", "30m", "12h", "7d" into seconds */
gboolean config_parse_duration(const char *text, guint64 *seconds);

/* config_parse_size - "512", "10k", "50M", "1G" into bytes */
gboolean config_parse_size(const char *text, guint64 *bytes);

/*
 * config_for_message - the settings for one message: @eff becomes a shallow
 * copy of @config with every ruleset evaluated for @env (strictest value when
 * recipients disagree).  @eff borrows everything from @config: never free it,
 * and do not use it after @config is freed.  Allocates nothing.
 */
void config_for_message(const MqConfig *config, const Envelope *env, MqConfig *eff);

/*
 * config_each_value - the distinct values (borrowed) of the string @key for
 * each recipient of @env, appended to @out: for settings where every
 * recipient's value applies (policy.filename_rules: a file is checked if any
 * recipient's rules name it).
 */
void config_each_value(const MqConfig *config, const Envelope *env, const char *key,
                       GPtrArray *out);

/* config_all_values - every value (borrowed) the string @key can take, its rules' included */
void config_all_values(const MqConfig *config, const char *key, GPtrArray *out);

/* config_has_rulesets - TRUE if any key is a ruleset */
gboolean config_has_rulesets(const MqConfig *config);

/* config_value_text - the value of @key as text (lists joined by spaces), or NULL if no such key */
char *config_value_text(const MqConfig *config, const char *key);

/* config_closest_key - the known key nearest to @key (borrowed), or NULL if none is close */
const char *config_closest_key(const char *key);

#endif
