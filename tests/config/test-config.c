/*
 * test-config.c - the YAML configuration: defaults, values, every error path
 */
#include "mqsift-build.h"

#include <string.h>
#include <unistd.h>

#include "config/config.h"

/* load_text - write @yaml to a temporary file and load it */
static MqConfig *
load_text(const char *yaml, GError **error)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("mqsift-config-XXXXXX.yaml", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, yaml, strlen(yaml)), ==, (ssize_t)strlen(yaml));
	close(fd);
	MqConfig *c = config_load(path, TRUE, error);
	unlink(path);
	return c;
}

/* assert_error_at - loading @yaml fails with @where (":LINE:COL: ") and @what in the text */
static void
assert_error_at(const char *yaml, const char *where, const char *what)
{
	g_autoptr(GError) error = NULL;
	MqConfig *c = load_text(yaml, &error);

	g_assert_null(c);
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID);
	if (strstr(error->message, where) == NULL || strstr(error->message, what) == NULL)
		g_error("expected \"%s\" and \"%s\" in: %s", where, what, error->message);
}

/* test_missing_file_means_defaults - no file where one is optional: the contract's defaults */
static void
test_missing_file_means_defaults(void)
{
	g_autoptr(GError) error = NULL;
	MqConfig *c = config_load("/nonexistent/mqsift.yaml", FALSE, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->queue_incoming[0], ==, "/var/spool/mqueue.in");
	g_assert_null(c->queue_incoming[1]);
	g_assert_cmpstr(c->queue_outgoing, ==, "/var/spool/mqueue");
	g_assert_cmpstr(c->scanner_signatures, ==, "/var/lib/clamav");
	g_assert_cmpstr(c->quarantine_dir, ==, "/var/spool/mqsift/quarantine");
	g_assert_cmpstr(c->reports_database, ==, "/var/lib/mqsift/mqsift.db");
	g_assert_cmpstr(c->notify_postmaster, ==, "postmaster");
	g_assert_cmpuint(c->queue_file_mode, ==, 0640);
	g_assert_cmpuint(c->queue_scan_interval, ==, 5);
	g_assert_cmpstr(c->queue_lock, ==, "flock");
	config_free(&c);
	g_assert_null(c);
}

/* test_missing_required_file_is_an_io_error - a file that must exist and does not */
static void
test_missing_required_file_is_an_io_error(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(config_load("/nonexistent/mqsift.yaml", TRUE, &error));
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_IO);
}

/* test_empty_file_means_defaults - an empty file, or only a comment, is all defaults */
static void
test_empty_file_means_defaults(void)
{
	g_autoptr(GError) error = NULL;
	MqConfig *c = load_text("", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->queue_outgoing, ==, "/var/spool/mqueue");
	config_free(&c);
	c = load_text("# only a comment\n", &error);
	g_assert_no_error(error);
	config_free(&c);
}

/* test_values - every kind of value */
static void
test_values(void)
{
	GError *error = NULL;
	MqConfig *c = load_text("queue:\n"
	                        "  incoming: [/q/in1, /q/in2]\n"
	                        "  outgoing: /q/out\n"
	                        "  scan_interval: 2m\n"
	                        "  file_mode: \"0600\"\n"
	                        "  kick_delivery: yes\n"
	                        "scanner:\n"
	                        "  max_file_size: 10M\n"
	                        "  max_scan_time: 1h\n"
	                        "notify:\n"
	                        "  local_domains:\n"
	                        "    - example.org\n"
	                        "    - example.net\n"
	                        "reports:\n"
	                        "  language: fr\n",
	                        &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->queue_incoming[0], ==, "/q/in1");
	g_assert_cmpstr(c->queue_incoming[1], ==, "/q/in2");
	g_assert_null(c->queue_incoming[2]);
	g_assert_cmpstr(c->queue_outgoing, ==, "/q/out");
	g_assert_cmpuint(c->queue_scan_interval, ==, 120);
	g_assert_cmpuint(c->queue_file_mode, ==, 0600);
	g_assert_true(c->queue_kick_delivery);
	g_assert_cmpuint(c->scanner_max_file_size, ==, 10 * 1024 * 1024);
	g_assert_cmpuint(c->scanner_max_scan_time, ==, 3600);
	g_assert_cmpstr(c->notify_local_domains[1], ==, "example.net");
	g_assert_cmpstr(c->reports_language, ==, "fr");
	GString *printed = config_print(c);
	g_assert_nonnull(strstr(printed->str, "  outgoing: \"/q/out\""));
	g_assert_nonnull(strstr(printed->str, "  incoming: [\"/q/in1\", \"/q/in2\"]"));
	g_string_free(printed, TRUE);
	config_free(&c);
}

/* a mistake in a file: what the error names (":LINE:COL: ") and what it says */
typedef struct {
	const char *name;
	const char *yaml;
	const char *where;
	const char *what;
} ErrorCase;

static const ErrorCase error_cases[] = {
    {"unknown-key-suggests-the-near-one", "queue:\n  incomming: /x\n",
     ":2:3: ", "unknown key \"queue.incomming\" (did you mean \"queue.incoming\"?)"},
    {"key-in-wrong-section-suggests-the-right-one", "queue:\n  signatures: /x\n",
     ":2:3: ", "did you mean \"scanner.signatures\""},
    {"size-must-be-a-size", "scanner:\n  max_file_size: lots\n", ":2:18: ", "must be a size"},
    {"duration-must-be-a-duration", "queue:\n  scan_interval: 5 minutes\n",
     ":2:18: ", "must be a duration"},
    {"boolean-must-be-true-or-false", "queue:\n  kick_delivery: perhaps\n",
     ":2:18: ", "true or false"},
    {"choice-must-be-one-of-the-list", "queue:\n  lock: fcntl\n",
     ":2:9: ", "must be one of flock|posix"},
    {"file-mode-must-not-be-group-writable", "queue:\n  file_mode: \"0660\"\n",
     ":2:14: ", "group- or world-writable"},
    {"count-must-not-be-negative", "queue:\n  batch_size: -3\n", ":2:15: ", "must not be negative"},
    {"batch-size-is-bounded", "queue:\n  batch_size: 20000\n", "queue.batch_size",
     "from 1 to 10000"},
    {"single-value-key-refuses-a-list", "queue:\n  outgoing: [a, b]\n",
     ":2:13: ", "expects a single value"},
    {"section-must-be-a-mapping", "queue: [1, 2]\n", ":1:8: ", "expected the keys of section"},
    {"top-level-must-be-a-mapping", "- a\n- b\n", ":1:1: ", "expected a mapping of sections"},
    {"yaml-syntax-error-is-located", "queue:\n  outgoing: \"unterminated\n", ":", ""},
    {"tab-indent-is-located", "queue:\n\toutgoing: x\n", ":2:1: ", ""},
    {"incoming-must-name-a-queue", "queue:\n  incoming: []\n", "queue.incoming must name", ""},
    {"second-yaml-document-is-refused", "a: 1\n---\nb: 2\n", ":2:", "only one YAML document"},
    {"every-mistake-is-reported-at-once", "queue:\n  lock: x\n  batch_size: y\n",
     ":2:9: ", ":3:15: "},
};

/* test_error - a mistake gets file:line:column and what was expected */
static void
test_error(gconstpointer data)
{
	const ErrorCase *e = data;

	assert_error_at(e->yaml, e->where, e->what);
}

/* test_durations_as_people_write_them - seconds, units s m h d; nothing else */
static void
test_durations_as_people_write_them(void)
{
	guint64 v;

	g_assert_true(config_parse_duration("90", &v) && v == 90);
	g_assert_true(config_parse_duration("5s", &v) && v == 5);
	g_assert_true(config_parse_duration("30m", &v) && v == 1800);
	g_assert_true(config_parse_duration("12h", &v) && v == 43200);
	g_assert_true(config_parse_duration("7d", &v) && v == 604800);
	g_assert_false(config_parse_duration("", &v));
	g_assert_false(config_parse_duration("5 s", &v));
	g_assert_false(config_parse_duration("-5s", &v));
	g_assert_false(config_parse_duration("5x", &v));
	g_assert_false(config_parse_duration("99999999999d", &v));
}

/* test_sizes_as_people_write_them - bytes, k M G with an optional B; nothing else */
static void
test_sizes_as_people_write_them(void)
{
	guint64 v;

	g_assert_true(config_parse_size("512", &v) && v == 512);
	g_assert_true(config_parse_size("10k", &v) && v == 10240);
	g_assert_true(config_parse_size("50M", &v) && v == 50u << 20);
	g_assert_true(config_parse_size("1G", &v) && v == 1u << 30);
	g_assert_true(config_parse_size("2MB", &v) && v == 2u << 20);
	g_assert_false(config_parse_size("M", &v));
	g_assert_false(config_parse_size("1T", &v));
}

/* test_shipped - the shipped etc/mqsift.yaml loads and equals the defaults where it says so */
static void
test_shipped(void)
{
	const char *top = g_getenv("TOP_SRCDIR");
	g_autofree char *path = g_build_filename(top ? top : ".", "etc", "mqsift.yaml", NULL);
	GError *error = NULL;
	MqConfig *c = config_load(path, TRUE, &error);
	MqConfig *d = config_defaults();

	g_assert_no_error(error);
	g_assert_nonnull(c);
	g_assert_cmpstr(c->queue_outgoing, ==, d->queue_outgoing);
	g_assert_cmpuint(c->queue_file_mode, ==, d->queue_file_mode);
	g_assert_cmpstr(c->policy_subject_tag, ==, d->policy_subject_tag);
	config_free(&c);
	config_free(&d);
}

/* test_spam - the spam keys: scores, action lists, rulesets (issue #16) */
static void
test_spam(void)
{
	GError *error = NULL;
	MqConfig *c = load_text("spam:\n"
	                        "  spamd: [unix:/run/spamd.sock, 127.0.0.1:783]\n"
	                        "  dnsbl_zones: zen.example=2, bl.example\n"
	                        "  actions: deliver, forward spam@example.net\n"
	                        "  high_actions: [quarantine, delete]\n"
	                        "  tag_level:\n"
	                        "    - to: \"*@low.example\"\n"
	                        "      value: 2.5\n"
	                        "    - default: 6\n"
	                        "  check:\n"
	                        "    - to: \"*@off.example\"\n"
	                        "      value: false\n"
	                        "    - default: true\n",
	                        &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c->spam_spamd[1], ==, "127.0.0.1:783");
	g_assert_cmpstr(c->spam_dnsbl_zones[0], ==, "zen.example=2");
	g_assert_cmpstr(c->spam_dnsbl_zones[1], ==, "bl.example");
	g_assert_cmpstr(c->spam_actions[1], ==, "forward spam@example.net");
	const char *both[] = {"a@low.example", "b@other.example", NULL};
	const char *off[] = {"a@off.example", NULL};
	const char *on_and_off[] = {"a@off.example", "b@other.example", NULL};
	Envelope env = {"s@example.org", both, NULL};
	MqConfig eff;
	config_for_message(c, &env, &eff);
	g_assert_cmpfloat(eff.spam_tag_level, ==, 2.5); /* the lowest level wins */
	g_assert_true(eff.spam_check);
	env.recipients = off;
	config_for_message(c, &env, &eff);
	g_assert_false(eff.spam_check);
	g_assert_cmpfloat(eff.spam_tag_level, ==, 6);
	env.recipients = on_and_off;
	config_for_message(c, &env, &eff);
	g_assert_true(eff.spam_check); /* checked if any recipient wants it */
	g_autofree char *printed = config_value_text(c, "spam.high_level");
	g_assert_cmpstr(printed, ==, "10");
	config_free(&c);
	assert_error_at("spam:\n  tag_level: high\n", ":2:14: ", "must be a number");
	assert_error_at("spam:\n  actions: [deliver, shred]\n", ": ", "unknown action \"shred\"");
	assert_error_at("spam:\n  actions: delete\n", ": ", "delete without quarantine");
	assert_error_at("spam:\n  actions: [header]\n", ": ", "neither delivered");
	assert_error_at("spam:\n  high_actions: [deliver, delete, quarantine]\n", ": ",
	                "contradict");
	assert_error_at("spam:\n  trusted_networks: [10.0.0.0/33]\n",
	                ":2:21: ", "spam.trusted_networks");
	c = load_text("spam:\n  allow_delete: true\n  high_actions: delete\n", &error);
	g_assert_no_error(error);
	config_free(&c);
}

/* test_negative_and_duplicates - "must not be negative"; duplicate keys kept for lint */
static void
test_negative_and_duplicates(void)
{
	GError *error = NULL;
	MqConfig *c = load_text("quarantine:\n  keep_days: -3\n", &error);

	g_assert_null(c);
	g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_INVALID);
	g_assert_nonnull(
	    strstr(error->message, ":2:14: quarantine.keep_days must not be negative"));
	g_clear_error(&error);

	c = load_text("scanner:\n  workers: 2\n  workers: 3\nnotify:\n  sender: false\n"
	              "scanner:\n  user: nobody\n",
	              &error);
	g_assert_no_error(error);
	g_assert_cmpuint(c->scanner_workers, ==, 3); /* libyaml's reading: the last one */
	g_assert_nonnull(c->doubtful);
	g_assert_cmpuint(g_strv_length(c->doubtful), ==, 2);
	g_assert_nonnull(
	    strstr(c->doubtful[0], ":3:3: duplicate key \"scanner.workers\" (first at line 2)"));
	g_assert_nonnull(
	    strstr(c->doubtful[1], ":6:1: duplicate section \"scanner\" (first at line 1)"));
	config_free(&c);
	c = load_text("scanner:\n  workers: 2\n", &error);
	g_assert_true(c->doubtful == NULL || c->doubtful[0] == NULL);
	config_free(&c);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/missing-optional-file-means-defaults",
	                test_missing_file_means_defaults);
	g_test_add_func("/config/missing-required-file-is-an-io-error",
	                test_missing_required_file_is_an_io_error);
	g_test_add_func("/config/empty-file-means-defaults", test_empty_file_means_defaults);
	g_test_add_func("/config/reads-every-kind-of-value", test_values);
	for (gsize i = 0; i < G_N_ELEMENTS(error_cases); i++) {
		g_autofree char *path =
		    g_strconcat("/config/errors-name-file-line-column/", error_cases[i].name, NULL);
		g_test_add_data_func(path, &error_cases[i], test_error);
	}
	g_test_add_func("/config/durations-as-people-write-them",
	                test_durations_as_people_write_them);
	g_test_add_func("/config/sizes-as-people-write-them", test_sizes_as_people_write_them);
	g_test_add_func("/config/shipped-file-loads-and-matches-defaults", test_shipped);
	g_test_add_func("/config/spam-keys-choose-per-recipient", test_spam);
	g_test_add_func("/config/negative-refused-and-duplicates-kept-for-lint",
	                test_negative_and_duplicates);
	return g_test_run();
}
