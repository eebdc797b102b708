/*
 * config.c - the YAML configuration, read with libyaml into MqConfig
 *
 * DESCRIPTION
 *	One table (config_keys) names every key, its type, where it goes in
 *	MqConfig, its default and a line of documentation; loading, printing
 *	and the "did you mean" suggestions all come from it.
 */
#include "mqsift-build.h"

#include "config/config.h"

#include <errno.h>
#include <gio/gio.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

typedef enum {
	KEY_STRING,
	KEY_LIST, /* a scalar or a sequence of scalars */
	KEY_BOOL,
	KEY_UINT,
	KEY_SIZE,     /* guint64 bytes */
	KEY_DURATION, /* guint seconds */
	KEY_MODE,     /* octal file mode */
	KEY_ENUM,     /* a string from @choices */
	KEY_SCORE,    /* double, such as a spam score: "5", "6.5", "-1" */
} KeyType;

/* how recipients' values combine when a ruleset gives them different ones */
typedef enum {
	ONE_VALUE = 0,  /* not a per-message setting: no ruleset */
	STRICT_TRUE,    /* bool: TRUE if any recipient's value is TRUE */
	STRICT_FALSE,   /* bool: FALSE if any recipient's value is FALSE */
	STRICT_LAST,    /* enum: the value latest in the choices list */
	FIRST_NONEMPTY, /* string: the first recipient's non-empty value */
	EVERY_VALUE,    /* string: every recipient's value applies (config_each_value) */
	STRICT_UNION,   /* list: every recipient's entries */
	STRICT_MIN,     /* score: the lowest recipient's value */
} Combine;

typedef struct {
	const char *name;
	KeyType type;
	gsize offset;
	const char *def;
	const char *choices; /* KEY_ENUM: "a|b" */
	const char *doc;
	Combine combine;
} ConfigKey;

/* RuleEntry - one rule of a ruleset */
typedef struct {
	RuleCond conds[2];
	char *texts[2];   /* the patterns as written (for printing) */
	guint n_conds;    /* 0: the default rule */
	MqConfig *holder; /* only the key's field is set */
} RuleEntry;

/* KeyRuleset - the ruleset of one key */
typedef struct {
	gsize key_index;
	GArray *rules; /* of RuleEntry */
} KeyRuleset;

#define OFF(f) offsetof(MqConfig, f)

static const ConfigKey config_keys[] = {
    {"queue.incoming", KEY_LIST, OFF(queue_incoming), "/var/spool/mqueue.in", NULL,
     "inbound queue: a directory, a list, or a glob"},
    {"queue.outgoing", KEY_STRING, OFF(queue_outgoing), "/var/spool/mqueue", NULL,
     "outgoing queue, served by the delivering sendmail"},
    {"queue.lock", KEY_ENUM, OFF(queue_lock), "flock", "flock|posix",
     "lock type of the host's sendmail (Debian: flock)"},
    {"queue.file_mode", KEY_MODE, OFF(queue_file_mode), "0640", NULL,
     "mode of the files written into the outgoing queue"},
    {"queue.scan_interval", KEY_DURATION, OFF(queue_scan_interval), "5s", NULL,
     "how often the inbound queues are polled when no change is notified"},
    {"queue.batch_size", KEY_UINT, OFF(queue_batch_size), "64", NULL,
     "messages committed together (one group of fsyncs)"},
    {"queue.kick_delivery", KEY_BOOL, OFF(queue_kick_delivery), "true", NULL,
     "after each batch, one sendmail -qI<id>... run for its messages (at most 4 at once) "
     "instead of waiting for the queue run, which stays for retries"},
    {"queue.sendmail", KEY_LIST, OFF(queue_sendmail), SENDMAIL_PATH, NULL,
     "the command (and arguments) that kicks delivery: <command> -OQueueDirectory=... -qI<id>"},
    {"queue.error_grace", KEY_DURATION, OFF(queue_error_grace), "4h", NULL,
     "a message whose scan fails scanner.max_attempts times, over at least this long since "
     "it was queued, is quarantined whole with a notice (never left unseen for ever)"},
    {"queue.bad_file_grace", KEY_DURATION, OFF(queue_bad_file_grace), "1h", NULL,
     "a broken control file is moved aside after this long"},
    {"scanner.signatures", KEY_STRING, OFF(scanner_signatures), "/var/lib/clamav", NULL,
     "ClamAV signature directory or single database file"},
    {"scanner.scan", KEY_BOOL, OFF(scanner_scan), "true", NULL,
     "scan messages (false: pass them with X-Virus-Status: Unscanned)", STRICT_TRUE},
    {"scanner.hostname", KEY_STRING, OFF(scanner_hostname), "", NULL,
     "host name in X-Virus-Scanned (empty: this machine's name)"},
    {"scanner.workers", KEY_UINT, OFF(scanner_workers), "0", NULL,
     "scan workers (0: one per core, at most 64)"},
    {"scanner.max_scan_size", KEY_SIZE, OFF(scanner_max_scan_size), "100M", NULL,
     "most data libclamav scans in one message"},
    {"scanner.max_file_size", KEY_SIZE, OFF(scanner_max_file_size), "50M", NULL,
     "largest single file libclamav scans"},
    {"scanner.max_recursion", KEY_UINT, OFF(scanner_max_recursion), "17", NULL,
     "deepest nesting of archives libclamav unpacks"},
    {"scanner.max_files", KEY_UINT, OFF(scanner_max_files), "10000", NULL,
     "most files libclamav unpacks from one message"},
    {"scanner.max_scan_time", KEY_DURATION, OFF(scanner_max_scan_time), "120s", NULL,
     "longest libclamav may spend on one message"},
    {"scanner.tmpdir", KEY_STRING, OFF(scanner_tmpdir), "/run/mqsift/tmp", NULL,
     "the workers' scratch directory (libclamav's temporary files), made by mqsift, mode 0700, "
     "one subdirectory per worker; its parent must be root's (without /run: "
     "/var/lib/mqsift/tmp)"},
    {"scanner.max_memory", KEY_SIZE, OFF(scanner_max_memory), "0", NULL,
     "address space a scan worker may use (0: the engine's size plus 1G)"},
    {"scanner.max_messages_per_worker", KEY_UINT, OFF(scanner_max_messages_per_worker), "1000",
     NULL, "a scan worker is replaced by a fresh one after this many messages"},
    {"scanner.user", KEY_STRING, OFF(scanner_user), "mqsift", NULL,
     "unprivileged user the scan workers run as"},
    {"scanner.message_timeout", KEY_DURATION, OFF(scanner_message_timeout), "300s", NULL,
     "a worker that takes longer on one message is killed (the message is retried)"},
    {"scanner.max_attempts", KEY_UINT, OFF(scanner_max_attempts), "3", NULL,
     "a message that kills or hangs a worker this often is quarantined whole"},
    {"scanner.max_mime_depth", KEY_UINT, OFF(scanner_max_mime_depth), "32", NULL,
     "deepest MIME nesting walked"},
    {"scanner.max_mime_parts", KEY_UINT, OFF(scanner_max_mime_parts), "1000", NULL,
     "most MIME parts walked in one message"},
    {"scanner.max_message_size", KEY_SIZE, OFF(scanner_max_message_size), "200M", NULL,
     "larger messages are not parsed (verdict: limits)"},
    {"scanner.on_limits", KEY_ENUM, OFF(scanner_on_limits), "block", "deliver|block",
     "a message not scanned whole (archives nested too deep, a file beyond max_file_size, too "
     "many files, too long): block it (quarantined, like a banned part) or deliver it marked "
     "\"Clean (partly scanned)\""},
    {"mime.on_ambiguous", KEY_ENUM, OFF(mime_on_ambiguous), "block", "deliver|block",
     "a message two readers could read two ways (a part or a name that one of them would not "
     "see): block it (whole, quarantined) or deliver it with a warning header",
     STRICT_LAST},
    {"daemon.pid_file", KEY_STRING, OFF(daemon_pid_file), "/run/mqsift/mqsift.pid", NULL,
     "pid file, locked while mqsift runs (one master per queue)"},
    {"daemon.log_file", KEY_STRING, OFF(daemon_log_file), "/var/log/mqsift.log", NULL,
     "where a detached daemon logs when the host has no syslog socket (/dev/log)"},
    {"daemon.off_file", KEY_STRING, OFF(daemon_off_file), "/var/lib/mqsift/mqsift.off", NULL,
     "when present, check_mqsift does not restart mqsift (written by the rc script's stop)"},
    {"daemon.summary_interval", KEY_DURATION, OFF(daemon_summary_interval), "5m", NULL,
     "the daemon logs one summary line (counts and rates) this often"},
    {"daemon.status_socket", KEY_STRING, OFF(daemon_status_socket), "/run/mqsift/status.sock", NULL,
     "unix socket the master answers \"mqsift status\" on (empty: none)"},
    {"daemon.status_group", KEY_STRING, OFF(daemon_status_group), "mqsift", NULL,
     "group allowed to read the status socket besides root"},
    {"daemon.metrics_file", KEY_STRING, OFF(daemon_metrics_file), "", NULL,
     "Prometheus textfile (node_exporter) the master rewrites (empty: none)"},
    {"daemon.metrics_interval", KEY_DURATION, OFF(daemon_metrics_interval), "1m", NULL,
     "how often daemon.metrics_file is rewritten"},
    {"daemon.sample_interval", KEY_DURATION, OFF(daemon_sample_interval), "1m", NULL,
     "how often queue depths are sampled into the store (for the report's graphs)"},
    {"daemon.stuck_after", KEY_DURATION, OFF(daemon_stuck_after), "30m", NULL,
     "mqsift status exits 1 when a queued message is older than this"},
    {"scanner.max_db_age", KEY_DURATION, OFF(scanner_max_db_age), "3d", NULL,
     "mqsift status exits 1 when the signature database is older than this"},
    {"quarantine.dir", KEY_STRING, OFF(quarantine_dir), "/var/spool/mqsift/quarantine", NULL,
     "where removed parts and original messages are kept"},
    {"quarantine.keep_days", KEY_UINT, OFF(quarantine_keep_days), "30", NULL,
     "quarantine purge removes what is older"},
    {"reports.database", KEY_STRING, OFF(reports_database), "/var/lib/mqsift/mqsift.db", NULL,
     "SQLite store of every processed message"},
    {"reports.keep_days", KEY_UINT, OFF(reports_keep_days), "90", NULL,
     "rows older than this are removed"},
    {"reports.language", KEY_ENUM, OFF(reports_language), "en", "en|fr",
     "language of notices and replacement texts"},
    {"reports.templates", KEY_STRING, OFF(reports_templates), MQSIFT_TEMPLATE_DIR, NULL,
     "directory holding <language>/<template>.txt"},
    {"reports.org", KEY_STRING, OFF(reports_org), "", NULL,
     "organisation name used in notices ($org)"},
    {"notify.postmaster", KEY_STRING, OFF(notify_postmaster), "postmaster", NULL,
     "address that gets warnings and digests"},
    {"notify.postmaster_warnings", KEY_BOOL, OFF(notify_postmaster_warnings), "true", NULL,
     "one warning to the postmaster after each pass that caught something"},
    {"notify.sender", KEY_BOOL, OFF(notify_sender), "false", NULL,
     "tell local senders that a part was removed", STRICT_FALSE},
    {"notify.local_domains", KEY_LIST, OFF(notify_local_domains), "", NULL,
     "domains whose senders may be notified"},
    {"notify.local_networks", KEY_LIST, OFF(notify_local_networks), "127.0.0.0/8, ::1/128", NULL,
     "client networks (CIDR) whose senders may be told; an authenticated sender may be too"},
    {"notify.silent_viruses", KEY_LIST, OFF(notify_silent_viruses), "", NULL,
     "signature name patterns that forge senders: never notify"},
    {"policy.subject_tag", KEY_STRING, OFF(policy_subject_tag), "{Virus?}", NULL,
     "prefix added to the subject of a message with removed parts (empty: none)", FIRST_NONEMPTY},
    {"policy.inline_warning", KEY_BOOL, OFF(policy_inline_warning), "false", NULL,
     "add a warning at the top of the first text part", STRICT_TRUE},
    {"policy.infected_action", KEY_ENUM, OFF(policy_infected_action), "clean", "clean|replace",
     "an infected message: remove the bad parts (clean) or replace it all by a notice",
     STRICT_LAST},
    {"policy.blocked_action", KEY_ENUM, OFF(policy_blocked_action), "clean", "clean|replace",
     "a message with a banned part: remove the parts (clean) or replace it all", STRICT_LAST},
    {"policy.filename_checks", KEY_BOOL, OFF(policy_filename_checks), "true", NULL,
     "apply the filename rules (also to files inside archives)", STRICT_TRUE},
    {"policy.filetype_checks", KEY_BOOL, OFF(policy_filetype_checks), "true", NULL,
     "apply the filetype rules (the content's real type, by libmagic)", STRICT_TRUE},
    {"policy.encrypted_archives", KEY_ENUM, OFF(policy_encrypted_archives), "deny", "allow|deny",
     "archives that cannot be opened (password-protected)", STRICT_LAST},
    {"policy.deny_filetypes", KEY_LIST, OFF(policy_deny_filetypes), "", NULL,
     "file types to block: regular expressions on libmagic's description (empty: built-in list "
     "of executables)"},
    {"policy.deny_filenames", KEY_LIST, OFF(policy_deny_filenames), "", NULL,
     "attachment names to block (case-insensitive regular expressions; empty: built-in list)"},
    {"policy.filename_rules", KEY_STRING, OFF(policy_filename_rules),
     MQSIFT_DATADIR "/filename.rules", NULL,
     "the rules file: allow/deny, pattern, log text, user text (see filename.rules)", EVERY_VALUE},
    {"policy.allow_filenames", KEY_LIST, OFF(policy_allow_filenames), "", NULL,
     "attachment names always allowed (checked before deny_filenames)"},
    /* spam (issue #16): see scanner/spam.h and mqsift.yaml(5) */
    {"spam.spamd", KEY_LIST, OFF(spam_spamd), "", NULL,
     "spamd servers, tried in order: unix:/path or ADDRESS:PORT (empty: no spamd)"},
    {"spam.spamd_timeout", KEY_DURATION, OFF(spam_spamd_timeout), "30s", NULL,
     "longest one spamd may take over one message before the next server is tried"},
    {"spam.spamd_retry", KEY_DURATION, OFF(spam_spamd_retry), "30s", NULL,
     "a spamd that failed is not asked again for this long (circuit breaker)"},
    {"spam.spamd_command", KEY_ENUM, OFF(spam_spamd_command), "SYMBOLS", "SYMBOLS|REPORT",
     "what spamd is asked: SYMBOLS (rule names) or REPORT"},
    {"spam.spamd_user", KEY_STRING, OFF(spam_spamd_user), "", NULL,
     "the User: sent to spamd (empty: none, spamd's default)"},
    {"spam.max_in_flight", KEY_UINT, OFF(spam_max_in_flight), "16", NULL,
     "spam checks running at once across the batch"},
    {"spam.dnsbl_zones", KEY_LIST, OFF(spam_dnsbl_zones), "", NULL,
     "DNS blocklists for the client address: ZONE or ZONE=WEIGHT (weight 1)"},
    {"spam.dns_servers", KEY_LIST, OFF(spam_dns_servers), "", NULL,
     "resolvers for the blocklists: ADDRESS or ADDRESS:PORT (empty: /etc/resolv.conf)"},
    {"spam.dnsbl_timeout", KEY_DURATION, OFF(spam_dnsbl_timeout), "5s", NULL,
     "a blocklist that has not answered by then counts as not listing the address"},
    {"spam.trusted_networks", KEY_LIST, OFF(spam_trusted_networks), "", NULL,
     "client networks (CIDR) never looked up (private and loopback addresses never are)"},
    {"spam.allow_delete", KEY_BOOL, OFF(spam_allow_delete), "false", NULL,
     "let the delete action drop spam that is not quarantined too"},
    {"spam.allow", KEY_LIST, OFF(spam_allow), "", NULL,
     "never spam: sender addresses (globs: *@example.com) and client networks (CIDR)"},
    {"spam.deny", KEY_LIST, OFF(spam_deny), "", NULL,
     "always high-scoring spam: sender addresses (globs) and client networks (CIDR)"},
    {"spam.check", KEY_BOOL, OFF(spam_check), "true", NULL,
     "check messages for spam (only does something when spam.spamd or spam.dnsbl_zones is set)",
     STRICT_TRUE},
    {"spam.max_size", KEY_SIZE, OFF(spam_max_size), "256k", NULL,
     "larger messages (headers and body) are not sent to spamd"},
    {"spam.tag_level", KEY_SCORE, OFF(spam_tag_level), "5", NULL,
     "a message scoring this much is spam (spam.actions)", STRICT_MIN},
    {"spam.high_level", KEY_SCORE, OFF(spam_high_level), "10", NULL,
     "a message scoring this much is high-scoring spam (spam.high_actions)", STRICT_MIN},
    {"spam.dnsbl_threshold", KEY_SCORE, OFF(spam_dnsbl_threshold), "1", NULL,
     "a client address whose blocklists' weights add up to this much makes the message spam",
     STRICT_MIN},
    {"spam.actions", KEY_LIST, OFF(spam_actions), "deliver, header", NULL,
     "what is done with spam: deliver, header, subject_tag, quarantine, delete, forward ADDRESS",
     FIRST_NONEMPTY},
    {"spam.high_actions", KEY_LIST, OFF(spam_high_actions), "deliver, header, subject_tag", NULL,
     "what is done with high-scoring spam (same words as spam.actions)", FIRST_NONEMPTY},
    {"spam.subject_tag", KEY_STRING, OFF(spam_subject_tag), "{Spam?}", NULL,
     "the subject_tag action's prefix", FIRST_NONEMPTY},
    {"spam.on_error", KEY_ENUM, OFF(spam_on_error), "deliver", "deliver|defer",
     "when no spamd answers: deliver (X-Spam-Status: Unchecked) or defer (leave it queued)",
     STRICT_LAST},
};

/* config_error_quark - the error domain */
/* clang-format off */
G_DEFINE_QUARK(mqsift-config-error-quark, config_error)
/* clang-format on */

/* field - address of a key's field in @c */
static void *
field(MqConfig *c, const ConfigKey *k)
{
	return (char *)c + k->offset;
}

/* config_parse_duration - "5s" etc. into seconds */
gboolean
config_parse_duration(const char *text, guint64 *seconds)
{
	char *end;
	guint64 mult = 1;

	if (text == NULL || !g_ascii_isdigit(*text))
		return FALSE;
	errno = 0;
	guint64 v = g_ascii_strtoull(text, &end, 10);
	if (errno != 0)
		return FALSE;
	if (*end != '\0') {
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 7 * 86400; break;
		default: return FALSE;
		}
		if (end[1] != '\0')
			return FALSE;
	}
	if (v > G_MAXUINT / mult)
		return FALSE;
	*seconds = v * mult;
	return TRUE;
}

/* config_parse_size - "10k" etc. into bytes */
gboolean
config_parse_size(const char *text, guint64 *bytes)
{
	char *end;
	guint64 mult = 1;

	if (text == NULL || !g_ascii_isdigit(*text))
		return FALSE;
	errno = 0;
	guint64 v = g_ascii_strtoull(text, &end, 10);
	if (errno != 0)
		return FALSE;
	if (*end != '\0') {
		switch (g_ascii_tolower(*end)) {
		case 'b': mult = 1; break;
		case 'k': mult = 1024; break;
		case 'm': mult = 1024 * 1024; break;
		case 'g': mult = 1024 * 1024 * 1024; break;
		default: return FALSE;
		}
		end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end != '\0')
			return FALSE;
	}
	if (v > G_MAXUINT64 / mult)
		return FALSE;
	*bytes = v * mult;
	return TRUE;
}

/* parse_bool - YAML 1.1 booleans people write */
static gboolean
parse_bool(const char *text, gboolean *out)
{
	static const char *yes[] = {"true", "yes", "on", "1", NULL};
	static const char *no[] = {"false", "no", "off", "0", NULL};

	for (int i = 0; yes[i]; i++)
		if (g_ascii_strcasecmp(text, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
	for (int i = 0; no[i]; i++)
		if (g_ascii_strcasecmp(text, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	return FALSE;
}

/* check_networks - every entry of a list of networks is an address or a CIDR */
static char *
check_networks(const char *key, char **list)
{
	for (int i = 0; list && list[i]; i++) {
		GInetAddressMask *m = g_inet_address_mask_new_from_string(list[i], NULL);
		if (m == NULL)
			return g_strdup_printf("%s: \"%s\" is not an address "
			                       "or a network such as 192.0.2.0/24 or 2001:db8::/32",
			                       key, list[i]);
		g_object_unref(m);
	}
	return NULL;
}

/* split_list - "a, b c" as a list (notify.local_networks written as one scalar) */
static char **
split_list(const char *text)
{
	g_auto(GStrv) parts = g_strsplit_set(text, ", \t", -1);
	GPtrArray *out = g_ptr_array_new();

	for (int i = 0; parts[i]; i++)
		if (*parts[i])
			g_ptr_array_add(out, g_strdup(parts[i]));
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

/* split_actions - "deliver, forward a@example.com" as a list (split on commas only) */
static char **
split_actions(const char *text)
{
	g_auto(GStrv) parts = g_strsplit(text, ",", -1);
	GPtrArray *out = g_ptr_array_new();

	for (int i = 0; parts[i]; i++) {
		g_strstrip(parts[i]);
		if (*parts[i])
			g_ptr_array_add(out, g_strdup(parts[i]));
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

/* splits_on_space - list keys whose single-scalar form is "a, b c" */
static gboolean
splits_on_space(const ConfigKey *k)
{
	return k->offset == OFF(notify_local_networks) || k->offset == OFF(spam_spamd) ||
	       k->offset == OFF(spam_dnsbl_zones) || k->offset == OFF(spam_dns_servers) ||
	       k->offset == OFF(spam_trusted_networks) || k->offset == OFF(spam_allow) ||
	       k->offset == OFF(spam_deny);
}

/* set_scalar - store @text into key @k; returns an error text or NULL */
static char *
set_scalar(MqConfig *c, const ConfigKey *k, const char *text)
{
	void *f = field(c, k);
	guint64 v;

	switch (k->type) {
	case KEY_STRING:
		g_free(*(char **)f);
		*(char **)f = g_strdup(text);
		return NULL;
	case KEY_LIST: {
		g_strfreev(*(char ***)f);
		char **list = g_new0(char *, 2);
		if (k->offset == OFF(spam_actions) || k->offset == OFF(spam_high_actions)) {
			g_free(list);
			list = split_actions(text);
		} else if (splits_on_space(k)) {
			g_free(list);
			list = split_list(text);
		} else if (*text != '\0') {
			list[0] = g_strdup(text);
		}
		*(char ***)f = list;
		if (k->offset == OFF(spam_trusted_networks))
			return check_networks(k->name, list);
		return k->offset == OFF(notify_local_networks) ? check_networks(k->name, list)
		                                               : NULL;
	}
	case KEY_ENUM: {
		g_auto(GStrv) choices = g_strsplit(k->choices, "|", -1);
		if (!g_strv_contains((const char *const *)choices, text))
			return g_strdup_printf("%s must be one of %s, not \"%s\"", k->name,
			                       k->choices, text);
		g_free(*(char **)f);
		*(char **)f = g_strdup(text);
		return NULL;
	}
	case KEY_BOOL:
		if (!parse_bool(text, (gboolean *)f))
			return g_strdup_printf("%s must be true or false, not \"%s\"", k->name,
			                       text);
		return NULL;
	case KEY_UINT: {
		char *end;
		if (text[0] == '-' && g_ascii_isdigit(text[1]))
			return g_strdup_printf("%s must not be negative, not \"%s\"", k->name,
			                       text);
		errno = 0;
		v = g_ascii_strtoull(text, &end, 10);
		if (!g_ascii_isdigit(*text) || *end != '\0' || errno != 0 || v > G_MAXUINT)
			return g_strdup_printf("%s must be a whole number, not \"%s\"", k->name,
			                       text);
		*(guint *)f = (guint)v;
		return NULL;
	}
	case KEY_SIZE:
		if (!config_parse_size(text, &v))
			return g_strdup_printf("%s must be a size such as 512, 10k, 50M or 1G, "
			                       "not \"%s\"",
			                       k->name, text);
		*(guint64 *)f = v;
		return NULL;
	case KEY_DURATION:
		if (!config_parse_duration(text, &v))
			return g_strdup_printf("%s must be a duration such as 30s, 5m, 12h or "
			                       "7d, not \"%s\"",
			                       k->name, text);
		*(guint *)f = (guint)v;
		return NULL;
	case KEY_SCORE: {
		char *end;
		double d = g_ascii_strtod(text, &end);
		if (*text == '\0' || *end != '\0' || end == text || !isfinite(d))
			return g_strdup_printf("%s must be a number such as 5 or 6.5, not \"%s\"",
			                       k->name, text);
		*(double *)f = d;
		return NULL;
	}
	case KEY_MODE: {
		char *end;
		errno = 0;
		v = g_ascii_strtoull(text, &end, 8);
		if (!g_ascii_isdigit(*text) || *end != '\0' || errno != 0 || v > 07777)
			return g_strdup_printf("%s must be an octal mode such as 0640, not \"%s\"",
			                       k->name, text);
		if (v & 022)
			return g_strdup_printf("%s must not be group- or world-writable "
			                       "(sendmail refuses such files): %s",
			                       k->name, text);
		*(guint *)f = (guint)v;
		return NULL;
	}
	}
	g_assert_not_reached();
}

/* find_key - the schema entry called @name */
static const ConfigKey *
find_key(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* edit_distance - Levenshtein distance, for suggestions */
static guint
edit_distance(const char *a, const char *b)
{
	gsize la = strlen(a), lb = strlen(b);
	guint *row = g_new(guint, lb + 1);

	for (gsize j = 0; j <= lb; j++)
		row[j] = (guint)j;
	for (gsize i = 1; i <= la; i++) {
		guint prev = row[0];
		row[0] = (guint)i;
		for (gsize j = 1; j <= lb; j++) {
			guint cur = row[j];
			guint cost = a[i - 1] == b[j - 1] ? 0 : 1;
			row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
			prev = cur;
		}
	}
	guint d = row[lb];
	g_free(row);
	return d;
}

/* config_closest_key - nearest known key, if near enough */
const char *
config_closest_key(const char *key)
{
	const char *best = NULL;
	guint best_d = G_MAXUINT;

	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		guint d = edit_distance(key, config_keys[i].name);
		/* also compare the last component alone: "queue.signatures" -> "scanner.signatures"
		 */
		const char *dot = strchr(key, '.'), *kdot = strchr(config_keys[i].name, '.');
		if (dot && kdot)
			d = MIN(d, edit_distance(dot + 1, kdot + 1) + 1);
		if (d < best_d) {
			best_d = d;
			best = config_keys[i].name;
		}
	}
	return best_d <= MAX(2u, (guint)strlen(key) / 3) ? best : NULL;
}

/* free_field - free the value of key @k in @c */
static void
free_field(MqConfig *c, const ConfigKey *k)
{
	void *f = field(c, k);

	if (k->type == KEY_STRING || k->type == KEY_ENUM)
		g_free(*(char **)f);
	else if (k->type == KEY_LIST)
		g_strfreev(*(char ***)f);
}

/* key_ruleset_free - GPtrArray free func */
static void
key_ruleset_free(gpointer p)
{
	KeyRuleset *ks = p;

	for (guint i = 0; i < ks->rules->len; i++) {
		RuleEntry *r = &g_array_index(ks->rules, RuleEntry, i);
		for (guint k = 0; k < r->n_conds; k++) {
			rule_pattern_free(r->conds[k].pattern);
			g_free(r->texts[k]);
		}
		free_field(r->holder, &config_keys[ks->key_index]);
		g_free(r->holder);
	}
	g_array_unref(ks->rules);
	g_free(ks);
}

static const KeyRuleset *find_ruleset(const MqConfig *c, gsize i);

/* config_defaults - every default */
MqConfig *
config_defaults(void)
{
	MqConfig *c = g_new0(MqConfig, 1);

	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		char *err = set_scalar(c, &config_keys[i], config_keys[i].def);
		g_assert(err == NULL);
	}
	c->source = g_strdup("(defaults)");
	return c;
}

/* config_free - free every owned field */
void
config_free(MqConfig **config)
{
	if (config == NULL || *config == NULL)
		return;
	MqConfig *c = *config;
	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++)
		free_field(c, &config_keys[i]);
	if (c->rulesets)
		g_ptr_array_unref(c->rulesets);
	g_free(c->source);
	g_strfreev(c->doubtful);
	g_free(c);
	*config = NULL;
}

/* add_problem - "file:line:col: text" */
static void
add_problem(GString *problems, const char *path, const yaml_mark_t *mark, const char *text)
{
	g_string_append_printf(problems, "%s:%zu:%zu: %s\n", path, mark->line + 1, mark->column + 1,
	                       text);
}

static void load_value(MqConfig *c, yaml_document_t *doc, yaml_node_t *node, const ConfigKey *k,
                       const char *path, GString *problems);

/* is_ruleset_node - a sequence whose items are mappings */
static gboolean
is_ruleset_node(yaml_document_t *doc, yaml_node_t *node)
{
	if (node->type != YAML_SEQUENCE_NODE ||
	    node->data.sequence.items.start == node->data.sequence.items.top)
		return FALSE;
	yaml_node_t *first = yaml_document_get_node(doc, *node->data.sequence.items.start);
	return first != NULL && first->type == YAML_MAPPING_NODE;
}

/* add_problem_take - add_problem with a message to free */
static void
add_problem_take(GString *problems, const char *path, const yaml_mark_t *mark, char *text)
{
	add_problem(problems, path, mark, text);
	g_free(text);
}

/* load_rule_condition - one "from: pattern" (etc.) of a rule */
static void
load_rule_condition(RuleEntry *rule, CondKind kind, const char *name, yaml_node_t *kn,
                    yaml_node_t *vn, const char *path, GString *problems)
{
	g_autoptr(GError) error = NULL;

	if (rule->n_conds == 2) {
		add_problem(problems, path, &kn->start_mark, "a rule has at most two conditions");
		return;
	}
	if (vn->type != YAML_SCALAR_NODE) {
		add_problem(problems, path, &vn->start_mark, "a condition takes one pattern");
		return;
	}
	const char *text = (const char *)vn->data.scalar.value;
	RulePattern *pat = rule_pattern_new(name, text, &error);
	if (pat == NULL) {
		add_problem(problems, path, &vn->start_mark, error->message);
		return;
	}
	rule->conds[rule->n_conds].kind = kind;
	rule->conds[rule->n_conds].pattern = pat;
	rule->texts[rule->n_conds] = g_strdup_printf("%s: \"%s\"", name, text);
	rule->n_conds++;
}

/* load_ruleset - a per-message key written as a list of rules */
static void
load_ruleset(MqConfig *c, yaml_document_t *doc, yaml_node_t *node, const ConfigKey *k,
             const char *path, GString *problems)
{
	KeyRuleset *ks = g_new0(KeyRuleset, 1);
	gboolean seen_default = FALSE;
	gsize problems_before = problems->len;

	ks->key_index = (gsize)(k - config_keys);
	ks->rules = g_array_new(FALSE, TRUE, sizeof(RuleEntry));
	if (k->combine == ONE_VALUE) {
		add_problem_take(problems, path, &node->start_mark,
		                 g_strdup_printf("%s cannot be a ruleset: it applies to every "
		                                 "message alike",
		                                 k->name));
		key_ruleset_free(ks);
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		yaml_node_t *rn = yaml_document_get_node(doc, *it);
		RuleEntry rule = {0};
		yaml_node_t *value = NULL;

		if (rn == NULL || rn->type != YAML_MAPPING_NODE) {
			add_problem(
			    problems, path, rn ? &rn->start_mark : &node->start_mark,
			    "expected a rule: conditions (from, to, from_or_to, from_and_to, "
			    "ip) and value:, or default:");
			continue;
		}
		if (seen_default)
			add_problem(problems, path, &rn->start_mark,
			            "a rule after the default rule can never match");
		for (yaml_node_pair_t *p = rn->data.mapping.pairs.start;
		     p < rn->data.mapping.pairs.top; p++) {
			yaml_node_t *kn = yaml_document_get_node(doc, p->key);
			yaml_node_t *vn = yaml_document_get_node(doc, p->value);
			const char *name =
			    kn->type == YAML_SCALAR_NODE ? (const char *)kn->data.scalar.value : "";
			CondKind kind;

			if (strcmp(name, "value") == 0 || strcmp(name, "default") == 0) {
				if (value != NULL)
					add_problem(problems, path, &kn->start_mark,
					            "a rule has one value (value: or default:)");
				value = vn;
				seen_default = seen_default || strcmp(name, "default") == 0;
			} else if (rule_cond_kind(name, &kind)) {
				load_rule_condition(&rule, kind, name, kn, vn, path, problems);
			} else {
				add_problem_take(
				    problems, path, &kn->start_mark,
				    g_strdup_printf("unknown word \"%s\" in a rule "
				                    "(expected from, to, from_or_to, "
				                    "from_and_to, ip, value or default)",
				                    name));
			}
		}
		if (value == NULL)
			add_problem(problems, path, &rn->start_mark, "this rule has no value:");
		else if (rule.n_conds == 0 && !seen_default)
			add_problem(
			    problems, path, &rn->start_mark,
			    "this rule has no condition (write default: for the last rule)");
		rule.holder = g_new0(MqConfig, 1);
		if (value != NULL && is_ruleset_node(doc, value))
			add_problem(problems, path, &value->start_mark,
			            "a rule's value cannot itself be a ruleset");
		else if (value != NULL && value->type == YAML_SEQUENCE_NODE && k->type != KEY_LIST)
			add_problem(problems, path, &value->start_mark, "expected a single value");
		else if (value != NULL)
			load_value(rule.holder, doc, value, k, path, problems);
		g_array_append_val(ks->rules, rule);
	}
	if (problems->len != problems_before) {
		key_ruleset_free(ks);
		return;
	}
	if (c->rulesets == NULL)
		c->rulesets = g_ptr_array_new_with_free_func(key_ruleset_free);
	for (guint i = 0; i < c->rulesets->len; i++) /* the same key twice: the last one wins */
		if (((KeyRuleset *)g_ptr_array_index(c->rulesets, i))->key_index == ks->key_index)
			g_ptr_array_remove_index(c->rulesets, i--);
	g_ptr_array_add(c->rulesets, ks);
}

/* load_value - one key's node (scalar, list, or ruleset) */
static void
load_value(MqConfig *c, yaml_document_t *doc, yaml_node_t *node, const ConfigKey *k,
           const char *path, GString *problems)
{
	if (is_ruleset_node(doc, node)) {
		load_ruleset(c, doc, node, k, path, problems);
		return;
	}
	if (node->type == YAML_SCALAR_NODE) {
		const char *text = (const char *)node->data.scalar.value;
		/* an unquoted ~ or null means "the default" */
		if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    (strcmp(text, "~") == 0 || strcmp(text, "null") == 0))
			text = k->def;
		char *err = set_scalar(c, k, text);
		if (err) {
			add_problem(problems, path, &node->start_mark, err);
			g_free(err);
		}
		return;
	}
	if (node->type == YAML_SEQUENCE_NODE && k->type == KEY_LIST) {
		GPtrArray *list = g_ptr_array_new();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     it < node->data.sequence.items.top; it++) {
			yaml_node_t *item = yaml_document_get_node(doc, *it);
			if (item == NULL || item->type != YAML_SCALAR_NODE) {
				add_problem(problems, path,
				            item ? &item->start_mark : &node->start_mark,
				            "expected a plain value in this list");
				continue;
			}
			g_ptr_array_add(list, g_strdup((const char *)item->data.scalar.value));
		}
		g_ptr_array_add(list, NULL);
		g_strfreev(*(char ***)field(c, k));
		*(char ***)field(c, k) = (char **)g_ptr_array_free(list, FALSE);
		if (k->offset == OFF(notify_local_networks) ||
		    k->offset == OFF(spam_trusted_networks)) {
			char *err = check_networks(k->name, *(char ***)field(c, k));
			if (err)
				add_problem_take(problems, path, &node->start_mark, err);
		}
		return;
	}
	char *msg =
	    g_strdup_printf("%s expects %s", k->name,
	                    k->type == KEY_LIST ? "a value or a list of values" : "a single value");
	add_problem(problems, path, &node->start_mark, msg);
	g_free(msg);
}

/*
 * note_duplicate - a key (or section) seen before in this file: YAML says a
 * mapping's keys are unique; libyaml loads both and the last value wins,
 * which is rarely what was meant.  Kept for lint in @doubtful.
 */
static void
note_duplicate(GHashTable *seen, GPtrArray *doubtful, const char *path, const char *what,
               const char *name, const yaml_mark_t *mark)
{
	gpointer first = g_hash_table_lookup(seen, name);

	if (first == NULL) {
		g_hash_table_insert(seen, g_strdup(name), GSIZE_TO_POINTER(mark->line + 1));
		return;
	}
	g_ptr_array_add(
	    doubtful,
	    g_strdup_printf("%s:%zu:%zu: duplicate %s \"%s\" (first at line %zu)%s", path,
	                    mark->line + 1, mark->column + 1, what, name, GPOINTER_TO_SIZE(first),
	                    strcmp(what, "key") == 0 ? ": the last value is used" : ""));
}

/* load_document - walk the two-level mapping */
static void
load_document(MqConfig *c, yaml_document_t *doc, const char *path, GString *problems)
{
	g_autoptr(GHashTable) sections =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *doubtful = g_ptr_array_new();

	yaml_node_t *root = yaml_document_get_root_node(doc);

	if (root == NULL || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
		g_ptr_array_unref(doubtful);
		return; /* empty file: all defaults */
	}
	if (root->type != YAML_MAPPING_NODE) {
		add_problem(problems, path, &root->start_mark,
		            "expected a mapping of sections (queue:, scanner:, ...)");
		g_ptr_array_unref(doubtful);
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(doc, p->value);
		if (kn->type != YAML_SCALAR_NODE) {
			add_problem(problems, path, &kn->start_mark, "expected a section name");
			continue;
		}
		const char *section = (const char *)kn->data.scalar.value;
		note_duplicate(sections, doubtful, path, "section", section, &kn->start_mark);
		if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0)
			continue; /* "section:" with nothing under it */
		if (vn->type != YAML_MAPPING_NODE) {
			char *msg = g_strdup_printf("expected the keys of section \"%s\" under it",
			                            section);
			add_problem(problems, path, &vn->start_mark, msg);
			g_free(msg);
			continue;
		}
		for (yaml_node_pair_t *q = vn->data.mapping.pairs.start;
		     q < vn->data.mapping.pairs.top; q++) {
			yaml_node_t *k2 = yaml_document_get_node(doc, q->key);
			yaml_node_t *v2 = yaml_document_get_node(doc, q->value);
			if (k2->type != YAML_SCALAR_NODE) {
				add_problem(problems, path, &k2->start_mark, "expected a key name");
				continue;
			}
			char *full =
			    g_strdup_printf("%s.%s", section, (const char *)k2->data.scalar.value);
			const ConfigKey *k = find_key(full);
			note_duplicate(keys, doubtful, path, "key", full, &k2->start_mark);
			if (k == NULL) {
				const char *near = config_closest_key(full);
				char *msg =
				    near ? g_strdup_printf("unknown key \"%s\" (did you mean "
				                           "\"%s\"?)",
				                           full, near)
				         : g_strdup_printf("unknown key \"%s\"", full);
				add_problem(problems, path, &k2->start_mark, msg);
				g_free(msg);
			} else {
				load_value(c, doc, v2, k, path, problems);
			}
			g_free(full);
		}
	}
	g_ptr_array_add(doubtful, NULL);
	g_strfreev(c->doubtful);
	c->doubtful = (char **)g_ptr_array_free(doubtful, FALSE);
}

/* unsafe_reason - why the file or directory @st could have been written by others, or NULL */
static char *
unsafe_reason(const struct stat *st, gboolean is_dir)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me)
		return g_strdup_printf("is owned by uid %u, neither root nor this user (uid %u)",
		                       (guint)st->st_uid, (guint)me);
	/* a sticky directory (/tmp) lets others add files, not replace ours */
	if (is_dir && (st->st_mode & S_ISVTX))
		return NULL;
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return g_strdup_printf("is %s-writable (mode %04o)",
		                       (st->st_mode & S_IWOTH) ? "world" : "group",
		                       (guint)(st->st_mode & 07777));
	return NULL;
}

/* check_one - @path (a file, or a directory if @is_dir) is safe; FALSE with @error */
static gboolean
check_one(const char *path, gboolean is_dir, const char *file, const char *what, GError **error)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return TRUE; /* what cannot be read is reported by whoever reads it */
	g_autofree char *why = unsafe_reason(&st, is_dir);
	if (why == NULL)
		return TRUE;
	g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_UNSAFE,
	            "%s %s: %s%s %s: anyone but root and this user who can write it could "
	            "change what mqsift does, so it is not used (as sendmail refuses such a cf); "
	            "make it owned by root and not writable by group or others "
	            "(chown root %s; chmod go-w %s)",
	            what, file, is_dir ? "its directory " : "the file ", path, why, path, path);
	return FALSE;
}

/* config_check_file_safe - sendmail's safefile() in short, for our config and rules */
gboolean
config_check_file_safe(const char *path, const char *what, GError **error)
{
	struct stat lst;
	char real[PATH_MAX];

	if (lstat(path, &lst) < 0 || realpath(path, real) == NULL)
		return TRUE; /* missing: the caller decides what that means */
	g_autofree char *real_dir = g_path_get_dirname(real);
	if (!check_one(real, FALSE, path, what, error) ||
	    !check_one(real_dir, TRUE, path, what, error))
		return FALSE;
	if (S_ISLNK(lst.st_mode)) {
		/* whoever can write the link's directory can point it elsewhere */
		g_autofree char *link_dir = g_path_get_dirname(path);
		if (!check_one(link_dir, TRUE, path, what, error))
			return FALSE;
	}
	return TRUE;
}

/* spam_actions_problem - why an action list cannot be used, or NULL */
static char *
spam_actions_problem(const char *key, char **list, gboolean allow_delete)
{
	gboolean deliver = FALSE, quarantine = FALSE, forward = FALSE, delete = FALSE;

	for (int i = 0; list && list[i]; i++) {
		const char *a = list[i];
		if (strcmp(a, "deliver") == 0)
			deliver = TRUE;
		else if (strcmp(a, "quarantine") == 0)
			quarantine = TRUE;
		else if (strcmp(a, "delete") == 0)
			delete = TRUE;
		else if (g_str_has_prefix(a, "forward ") &&
		         strchr(a + 8 + strspn(a + 8, " \t"), '@') != NULL &&
		         strpbrk(a + 8 + strspn(a + 8, " \t"), " \t<>\r\n\"") == NULL)
			forward = TRUE;
		else if (strcmp(a, "header") != 0 && strcmp(a, "subject_tag") != 0)
			return g_strdup_printf("%s: unknown action \"%s\" (deliver, header, "
			                       "subject_tag, quarantine, delete, forward ADDRESS)",
			                       key, a);
	}
	if (deliver && delete)
		return g_strdup_printf("%s: deliver and delete contradict each other", key);
	if (!deliver && !quarantine && !forward && !delete)
		return g_strdup_printf("%s: spam would be neither delivered, quarantined nor "
		                       "forwarded (write delete, with spam.allow_delete: true, "
		                       "to drop it)",
		                       key);
	if (delete &&!quarantine && !allow_delete)
		return g_strdup_printf("%s: delete without quarantine loses the message: add "
		                       "quarantine, or set spam.allow_delete: true",
		                       key);
	return NULL;
}

/* check_spam_actions - spam.actions and spam.high_actions, rulesets included */
static void
check_spam_actions(MqConfig *c, const char *path, GString *problems)
{
	static const char *const keys[] = {"spam.actions", "spam.high_actions"};

	for (gsize n = 0; n < G_N_ELEMENTS(keys); n++) {
		const ConfigKey *k = find_key(keys[n]);
		const KeyRuleset *ks = find_ruleset(c, (gsize)(k - config_keys));
		char *why =
		    spam_actions_problem(k->name, *(char ***)field(c, k), c->spam_allow_delete);
		for (guint i = 0; why == NULL && ks && i < ks->rules->len; i++)
			why = spam_actions_problem(
			    k->name,
			    *(char ***)field(g_array_index(ks->rules, RuleEntry, i).holder, k),
			    c->spam_allow_delete);
		if (why) {
			g_string_append_printf(problems, "%s: %s\n", path, why);
			g_free(why);
		}
	}
}

/* config_load - read and check a configuration file */
MqConfig *
config_load(const char *path, gboolean must_exist, GError **error)
{
	g_autofree char *data = NULL;
	gsize len;
	g_autoptr(GError) local = NULL;

	if (path == NULL)
		path = MQSIFT_DEFAULT_CONFIG;
	if (!config_check_file_safe(path, "configuration", error))
		return NULL;
	if (!g_file_get_contents(path, &data, &len, &local)) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) && !must_exist)
			return config_defaults();
		g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_IO, "%s", local->message);
		return NULL;
	}
	MqConfig *c = config_defaults();
	g_free(c->source);
	c->source = g_strdup(path);
	g_autoptr(GString) problems = g_string_new(NULL);
	yaml_parser_t parser;
	yaml_document_t doc;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		add_problem(problems, path, &parser.problem_mark,
		            parser.problem ? parser.problem : "YAML syntax error");
	} else {
		load_document(c, &doc, path, problems);
		yaml_document_delete(&doc);
		/* a second document in the file is a mistake, not something to ignore */
		yaml_document_t extra;
		if (yaml_parser_load(&parser, &extra)) {
			if (yaml_document_get_root_node(&extra) != NULL)
				add_problem(problems, path, &extra.start_mark,
				            "only one YAML document is allowed");
			yaml_document_delete(&extra);
		}
	}
	yaml_parser_delete(&parser);
	if (c->queue_incoming == NULL || c->queue_incoming[0] == NULL)
		g_string_append_printf(problems,
		                       "%s: queue.incoming must name at least one "
		                       "directory\n",
		                       path);
	if (c->queue_batch_size == 0 || c->queue_batch_size > 10000)
		g_string_append_printf(problems, "%s: queue.batch_size must be from 1 to 10000\n",
		                       path);
	if (c->scanner_workers > 64)
		g_string_append_printf(problems, "%s: scanner.workers must be between 0 and 64\n",
		                       path);
	if (c->scanner_max_messages_per_worker == 0)
		g_string_append_printf(
		    problems, "%s: scanner.max_messages_per_worker must be at least 1\n", path);
	if (c->spam_max_in_flight == 0 || c->spam_max_in_flight > 1024)
		g_string_append_printf(problems,
		                       "%s: spam.max_in_flight must be between 1 and 1024\n", path);
	check_spam_actions(c, path, problems);
	if (problems->len > 0) {
		g_string_truncate(problems, problems->len - 1);
		g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID, "%s", problems->str);
		config_free(&c);
		return NULL;
	}
	return c;
}

/* pick_rule - the rule that applies to @recipient, or -1 (the key's plain value) */
static int
pick_rule(const KeyRuleset *ks, const Envelope *env, const char *recipient)
{
	for (guint i = 0; i < ks->rules->len; i++) {
		const RuleEntry *r = &g_array_index(ks->rules, RuleEntry, i);
		if (rule_conds_match(r->conds, r->n_conds, env, recipient))
			return (int)i;
	}
	return -1;
}

/* enum_rank - position of @value in the key's choices */
static int
enum_rank(const ConfigKey *k, const char *value)
{
	const char *p = k->choices;
	gsize n = strlen(value);

	for (int rank = 0; p != NULL && *p; rank++) {
		const char *bar = strchr(p, '|');
		gsize len = bar ? (gsize)(bar - p) : strlen(p);
		if (len == n && strncmp(p, value, n) == 0)
			return rank;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

/* config_has_rulesets - any ruleset? */
gboolean
config_has_rulesets(const MqConfig *config)
{
	return config->rulesets != NULL && config->rulesets->len > 0;
}

/* config_for_message - evaluate every ruleset for one envelope */
void
config_for_message(const MqConfig *config, const Envelope *env, MqConfig *eff)
{
	*eff = *config;
	if (config->rulesets == NULL)
		return;
	for (guint i = 0; i < config->rulesets->len; i++) {
		const KeyRuleset *ks = g_ptr_array_index(config->rulesets, i);
		const ConfigKey *k = &config_keys[ks->key_index];
		const MqConfig *chosen = NULL;
		static const char *const no_recipient[] = {NULL, NULL};
		const char *const *rcpts =
		    env->recipients && env->recipients[0] ? env->recipients : no_recipient;

		for (gsize r = 0; r == 0 || rcpts[r] != NULL; r++) {
			int idx = pick_rule(ks, env, rcpts[r]);
			const MqConfig *cand =
			    idx < 0 ? config : g_array_index(ks->rules, RuleEntry, idx).holder;
			const void *cf = field((MqConfig *)cand, k);

			if (chosen == NULL) {
				chosen = cand;
			} else if (cand != chosen) {
				const void *hf = field((MqConfig *)chosen, k);
				switch (k->combine) {
				case STRICT_TRUE:
					if (*(const gboolean *)cf && !*(const gboolean *)hf)
						chosen = cand;
					break;
				case STRICT_FALSE:
					if (!*(const gboolean *)cf && *(const gboolean *)hf)
						chosen = cand;
					break;
				case STRICT_LAST:
					if (enum_rank(k, *(char *const *)cf) >
					    enum_rank(k, *(char *const *)hf))
						chosen = cand;
					break;
				case FIRST_NONEMPTY:
					if (k->type == KEY_LIST) {
						char *const *hl = *(char **const *)hf;
						char *const *cl = *(char **const *)cf;
						if ((hl == NULL || hl[0] == NULL) && cl && cl[0])
							chosen = cand;
					} else if (**(char *const *)hf == '\0' &&
					           **(char *const *)cf != '\0') {
						chosen = cand;
					}
					break;
				case STRICT_MIN:
					if (*(const double *)cf < *(const double *)hf)
						chosen = cand;
					break;
				default: break;
				}
			}
			if (rcpts[r] == NULL)
				break;
		}
		memcpy(field(eff, k), field((MqConfig *)chosen, k),
		       k->type == KEY_SIZE    ? sizeof(guint64)
		       : k->type == KEY_SCORE ? sizeof(double)
		       : (k->type == KEY_STRING || k->type == KEY_ENUM || k->type == KEY_LIST)
		           ? sizeof(char *)
		           : sizeof(guint));
	}
}

/* append_quoted - append @s as a YAML double-quoted scalar */
static void
append_quoted(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *s);
	}
	g_string_append_c(out, '"');
}

/* append_value - the value of key @k in @c, as YAML */
static void
append_value(GString *out, const ConfigKey *k, MqConfig *c)
{
	void *f = field(c, k);

	switch (k->type) {
	case KEY_STRING:
	case KEY_ENUM: append_quoted(out, *(char **)f ? *(char **)f : ""); break;
	case KEY_LIST: {
		char **list = *(char ***)f;
		g_string_append_c(out, '[');
		for (int j = 0; list && list[j]; j++) {
			if (j)
				g_string_append(out, ", ");
			append_quoted(out, list[j]);
		}
		g_string_append_c(out, ']');
		break;
	}
	case KEY_BOOL: g_string_append(out, *(gboolean *)f ? "true" : "false"); break;
	case KEY_UINT:
	case KEY_DURATION:
		g_string_append_printf(out, "%u%s", *(guint *)f,
		                       k->type == KEY_DURATION ? "s" : "");
		break;
	case KEY_SIZE: g_string_append_printf(out, "%" G_GUINT64_FORMAT, *(guint64 *)f); break;
	case KEY_MODE: g_string_append_printf(out, "\"%04o\"", *(guint *)f); break;
	case KEY_SCORE: {
		char buf[G_ASCII_DTOSTR_BUF_SIZE];
		g_string_append(out, g_ascii_dtostr(buf, sizeof buf, *(double *)f));
		break;
	}
	}
}

/* find_ruleset - the ruleset of key index @i, or NULL */
static const KeyRuleset *
find_ruleset(const MqConfig *c, gsize i)
{
	for (guint r = 0; c->rulesets && r < c->rulesets->len; r++) {
		const KeyRuleset *ks = g_ptr_array_index(c->rulesets, r);
		if (ks->key_index == i)
			return ks;
	}
	return NULL;
}

/* config_print - effective configuration as YAML */
GString *
config_print(const MqConfig *config)
{
	GString *out = g_string_new(NULL);
	char section[32] = "";
	MqConfig *c = (MqConfig *)config;

	g_string_append_printf(out, "# effective configuration (from %s)\n", c->source);
	for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		const ConfigKey *k = &config_keys[i];
		const char *dot = strchr(k->name, '.');
		gsize slen = (gsize)(dot - k->name);
		const KeyRuleset *ks = find_ruleset(c, i);

		if (strlen(section) != slen || strncmp(section, k->name, slen) != 0) {
			g_strlcpy(section, k->name, MIN(slen + 1, sizeof section));
			g_string_append_printf(out, "%s:\n", section);
		}
		if (ks == NULL) {
			g_string_append_printf(out, "  %s: ", dot + 1);
			append_value(out, k, c);
			g_string_append_printf(out, "    # %s\n", k->doc);
			continue;
		}
		g_string_append_printf(out, "  %s:    # %s (a ruleset)\n", dot + 1, k->doc);
		gboolean has_default = FALSE;
		for (guint r = 0; r < ks->rules->len; r++) {
			const RuleEntry *e = &g_array_index(ks->rules, RuleEntry, r);
			for (guint n = 0; n < e->n_conds; n++)
				g_string_append_printf(out, "    %s %s\n", n ? " " : "-",
				                       e->texts[n]);
			if (e->n_conds == 0) {
				g_string_append(out, "    - default: ");
				has_default = TRUE;
			} else {
				g_string_append(out, "      value: ");
			}
			append_value(out, k, e->holder);
			g_string_append_c(out, '\n');
		}
		if (!has_default) {
			g_string_append(out, "    - default: ");
			append_value(out, k, c);
			g_string_append_c(out, '\n');
		}
	}
	return out;
}

/* config_value_text - one key's value, for scripts (mqsift config KEY) */
char *
config_value_text(const MqConfig *config, const char *key)
{
	const ConfigKey *k = find_key(key);

	if (k == NULL)
		return NULL;
	void *f = field((MqConfig *)config, k);
	switch (k->type) {
	case KEY_STRING:
	case KEY_ENUM: return g_strdup(*(char **)f ? *(char **)f : "");
	case KEY_LIST: return g_strjoinv(" ", *(char ***)f ? *(char ***)f : (char *[]){NULL});
	case KEY_BOOL: return g_strdup(*(gboolean *)f ? "true" : "false");
	case KEY_UINT:
	case KEY_DURATION: return g_strdup_printf("%u", *(guint *)f);
	case KEY_SIZE: return g_strdup_printf("%" G_GUINT64_FORMAT, *(guint64 *)f);
	case KEY_MODE: return g_strdup_printf("%04o", *(guint *)f);
	case KEY_SCORE: {
		char buf[G_ASCII_DTOSTR_BUF_SIZE];
		return g_strdup(g_ascii_dtostr(buf, sizeof buf, *(double *)f));
	}
	}
	return NULL;
}

/* add_unique - append @v to @out unless there */
static void
add_unique(GPtrArray *out, const char *v)
{
	for (guint i = 0; i < out->len; i++)
		if (g_strcmp0(g_ptr_array_index(out, i), v) == 0)
			return;
	g_ptr_array_add(out, (gpointer)v);
}

/* config_each_value - the distinct values of a string key over the recipients */
void
config_each_value(const MqConfig *config, const Envelope *env, const char *key, GPtrArray *out)
{
	const ConfigKey *k = find_key(key);
	const KeyRuleset *ks = k ? find_ruleset(config, (gsize)(k - config_keys)) : NULL;

	g_return_if_fail(k != NULL && (k->type == KEY_STRING || k->type == KEY_ENUM));
	if (ks == NULL) {
		add_unique(out, *(char **)field((MqConfig *)config, k));
		return;
	}
	static const char *const none[] = {NULL, NULL};
	const char *const *rcpts = env->recipients && env->recipients[0] ? env->recipients : none;
	for (gsize r = 0; r == 0 || rcpts[r] != NULL; r++) {
		int idx = pick_rule(ks, env, rcpts[r]);
		const MqConfig *c =
		    idx < 0 ? config : g_array_index(ks->rules, RuleEntry, idx).holder;
		add_unique(out, *(char **)field((MqConfig *)c, k));
		if (rcpts[r] == NULL)
			break;
	}
}

/* config_all_values - every value a string key can take (its own and its rules') */
void
config_all_values(const MqConfig *config, const char *key, GPtrArray *out)
{
	const ConfigKey *k = find_key(key);
	const KeyRuleset *ks = k ? find_ruleset(config, (gsize)(k - config_keys)) : NULL;

	g_return_if_fail(k != NULL && (k->type == KEY_STRING || k->type == KEY_ENUM));
	add_unique(out, *(char **)field((MqConfig *)config, k));
	for (guint i = 0; ks && i < ks->rules->len; i++)
		add_unique(out, *(char **)field(g_array_index(ks->rules, RuleEntry, i).holder, k));
}
