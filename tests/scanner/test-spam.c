/*
 * test-spam.c - the spamd client (parsing, servers in order, timeouts, the
 * circuit breaker), the blocklist helpers, and spam_finish's headers and
 * actions, against fake spamd servers on unix sockets
 */
#include "mqsift-build.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "queue/qf.h"
#include "config/config.h"
#include "scanner/dnsbl.h"
#include "scanner/logline.h"
#include "scanner/spam.h"
#include "scanner/spamd.h"

static char *tmp;

/* ---- parsing ------------------------------------------------------------- */

/* a spamd answer that must be refused */
typedef struct {
	const char *name;
	const char *text;
} BadAnswer;

static const BadAnswer bad_answers[] = {
    {"empty-answer-is-refused", ""},
    {"answer-from-another-protocol-is-refused", "HTTP/1.0 200 OK\r\n\r\n"},
    {"spamd-error-is-refused", "SPAMD/1.1 76 Bad header line: (EOF)\r\n"},
    {"answer-without-spam-line-is-refused", "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n"},
    {"spam-neither-true-nor-false-is-refused", "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n"},
    {"score-not-a-plain-number-is-refused", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e999 / 5\r\n\r\n"},
    {"score-without-slash-is-refused", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.5 5.0\r\n\r\n"},
    {"truncated-answer-is-refused", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.5 / 5.0"},
};

/* test_bad_answer - refused, with an error */
static void
test_bad_answer(gconstpointer data)
{
	const BadAnswer *b = data;
	SpamdAnswer a;
	g_autoptr(GError) error = NULL;

	g_assert_false(spamd_parse_answer(b->text, strlen(b->text), FALSE, &a, &error));
	g_assert_nonnull(error);
	spamd_answer_clear(&a);
}

/* test_parse_answer - spam, ham, pong, a report: score, threshold and rule names */
static void
test_parse_answer(void)
{
	SpamdAnswer a;
	GError *error = NULL;
	const char *ok = "SPAMD/1.1 0 EX_OK\r\nContent-length: 12\r\nSpam: True ; 1000.7 / "
	                 "5.0\r\n\r\nGTUBE,NO_RECEIVED";

	g_assert_true(spamd_parse_answer(ok, strlen(ok), FALSE, &a, &error));
	g_assert_true(a.is_spam);
	g_assert_cmpfloat_with_epsilon(a.score, 1000.7, 1e-9);
	g_assert_cmpfloat_with_epsilon(a.required, 5.0, 1e-9);
	g_assert_cmpstr(a.tests, ==, "GTUBE,NO_RECEIVED");
	spamd_answer_clear(&a);

	const char *ham = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; -1.5 / 5.0\r\n\r\n";
	g_assert_true(spamd_parse_answer(ham, strlen(ham), FALSE, &a, &error));
	g_assert_false(a.is_spam);
	g_assert_cmpfloat_with_epsilon(a.score, -1.5, 1e-9);
	g_assert_cmpstr(a.tests, ==, "");
	spamd_answer_clear(&a);

	const char *pong = "SPAMD/1.5 0 PONG\r\n";
	g_assert_true(spamd_parse_answer(pong, strlen(pong), TRUE, &a, &error));
	spamd_answer_clear(&a);

	const char *report = "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.1 / 5.0\r\n\r\n"
	                     "Spam detection software...\n\n"
	                     "Content analysis details:   (7.1 points, 5.0 required)\n\n"
	                     " pts rule name              description\n"
	                     "---- ---------------------- ------------------------------\n"
	                     " 3.5 BAYES_99               BODY: Bayes spam probability\n"
	                     "-0.1 DKIM_VALID             Message has a valid signature\n";
	g_assert_true(spamd_parse_answer(report, strlen(report), FALSE, &a, &error));
	g_assert_cmpstr(a.tests, ==, "BAYES_99,DKIM_VALID");
	spamd_answer_clear(&a);
	/* rule names only: anything else in a SYMBOLS body is dropped, not passed on */
	const char *odd = "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 6 / 5\r\n\r\nA,B\r\nX-Evil: 1";
	g_assert_true(spamd_parse_answer(odd, strlen(odd), FALSE, &a, &error));
	g_assert_cmpstr(a.tests, ==, "");
	spamd_answer_clear(&a);
}

/* a spamd server address that must be refused */
typedef struct {
	const char *name;
	const char *text;
} BadServer;

static const BadServer bad_servers[] = {
    {"relative-socket-path-is-refused", "unix:relative"},
    {"host-name-is-refused", "spamd.example:783"},
    {"bare-ipv6-without-brackets-is-refused", "::1"},
    {"port-zero-is-refused", "127.0.0.1:0"},
    {"port-not-a-number-is-refused", "127.0.0.1:x"},
    {"unclosed-bracket-is-refused", "[::1"},
};

/* test_bad_server - refused */
static void
test_bad_server(gconstpointer data)
{
	const BadServer *b = data;
	SpamdServer s;
	g_autoptr(GError) error = NULL;

	g_assert_false(spamd_server_parse(b->text, &s, &error));
}

/* test_servers - a socket, IPv4 with and without a port, IPv6; the request head */
static void
test_servers(void)
{
	SpamdServer s;
	GError *error = NULL;

	g_assert_true(spamd_server_parse("unix:/run/spamd.sock", &s, &error));
	g_assert_cmpint(s.addr.ss_family, ==, AF_UNIX);
	spamd_server_clear(&s);
	g_assert_true(spamd_server_parse("127.0.0.1:783", &s, &error));
	g_assert_cmpint(s.addr.ss_family, ==, AF_INET);
	spamd_server_clear(&s);
	g_assert_true(spamd_server_parse("127.0.0.1", &s, &error));
	spamd_server_clear(&s);
	g_assert_true(spamd_server_parse("[::1]:7830", &s, &error));
	g_assert_cmpint(s.addr.ss_family, ==, AF_INET6);
	spamd_server_clear(&s);
	GString *h = spamd_request_head("SYMBOLS", "mqsift", 42);
	g_assert_cmpstr(h->str, ==,
	                "SYMBOLS SPAMC/1.5\r\nContent-length: 42\r\nUser: mqsift\r\n\r\n");
	g_string_free(h, TRUE);
}

static void
test_dnsbl_helpers(void)
{
	g_autofree char *v4 = dnsbl_query_name("192.0.2.10", "bl.test");
	g_assert_cmpstr(v4, ==, "10.2.0.192.bl.test");
	g_autofree char *v6 = dnsbl_query_name("2001:db8::1", "bl.test");
	g_assert_cmpstr(v6, ==,
	                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test");
	g_assert_null(dnsbl_query_name("not an address", "bl.test"));
	char *trusted[] = {"11.22.0.0/16", NULL};
	g_assert_true(dnsbl_address_eligible("11.23.33.44", trusted));
	g_assert_false(dnsbl_address_eligible("11.22.33.44", trusted));
	static const char *const never[] = {
	    "127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.0.9", "169.254.1.1", "100.64.1.1",
	    "::1",       "fd00::1",  "fe80::1",     "0.0.0.0",    "garbage",     "::ffff:10.0.0.1"};
	for (gsize i = 0; i < G_N_ELEMENTS(never); i++)
		g_assert_false(dnsbl_address_eligible(never[i], NULL));
}

/* ---- fake spamd servers ---------------------------------------------------- */

typedef struct {
	char *path;
	const char *mode; /* "spam", "ham", "hang", "close", "garbage" */
	int fd;
	GThread *thread;
	gint served;
	gint stop;
} Fake;

/* read_request - headers and Content-length bytes */
static gboolean
read_request(int c)
{
	GString *in = g_string_new(NULL);
	char buf[4096];
	gssize want = -1;

	for (;;) {
		ssize_t r = read(c, buf, sizeof buf);
		if (r <= 0)
			break;
		g_string_append_len(in, buf, r);
		char *end = strstr(in->str, "\r\n\r\n");
		if (end && want < 0) {
			char *cl = strstr(in->str, "Content-length: ");
			want = (end + 4 - in->str) +
			       (cl ? (gssize)g_ascii_strtoull(cl + 16, NULL, 10) : 0);
		}
		if (want >= 0 && (gssize)in->len >= want)
			break;
	}
	gboolean ok = want >= 0;
	g_string_free(in, TRUE);
	return ok;
}

static gpointer
fake_thread(gpointer data)
{
	Fake *f = data;

	while (!g_atomic_int_get(&f->stop)) {
		struct pollfd p = {.fd = f->fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		int c = accept(f->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (!read_request(c)) {
			close(c);
			continue;
		}
		g_atomic_int_inc(&f->served);
		const char *mode = f->mode;
		if (strcmp(mode, "hang") == 0) {
			while (!g_atomic_int_get(&f->stop))
				g_usleep(20000);
		} else if (strcmp(mode, "spam") == 0) {
			const char *a =
			    "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 12.5 / 5.0\r\n\r\nRULE_A,RULE_B";
			g_assert_cmpint(write(c, a, strlen(a)), ==, (gssize)strlen(a));
		} else if (strcmp(mode, "ham") == 0) {
			const char *a =
			    "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.0 / 5.0\r\n\r\nRULE_C";
			g_assert_cmpint(write(c, a, strlen(a)), ==, (gssize)strlen(a));
		} else if (strcmp(mode, "garbage") == 0) {
			g_assert_cmpint(write(c, "HELLO\r\n", 7), ==, 7);
		}
		close(c);
	}
	return NULL;
}

static Fake *
fake_new(const char *name, const char *mode)
{
	Fake *f = g_new0(Fake, 1);
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	f->path = g_build_filename(tmp, name, NULL);
	f->mode = mode;
	g_strlcpy(un.sun_path, f->path, sizeof un.sun_path);
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(bind(f->fd, (struct sockaddr *)&un, sizeof un), ==, 0);
	g_assert_cmpint(listen(f->fd, 64), ==, 0);
	f->thread = g_thread_new("fake-spamd", fake_thread, f);
	return f;
}

static void
fake_free(Fake *f)
{
	g_atomic_int_set(&f->stop, 1);
	g_thread_join(f->thread);
	close(f->fd);
	g_unlink(f->path);
	g_free(f->path);
	g_free(f);
}

static Qf *
sample_qf(const char *subject)
{
	g_autofree char *text =
	    g_strdup_printf("V8\nT1700000000\nK0\nN0\nP30000\nMDeferred\nFbs\n"
	                    "$_localhost [127.0.0.1]\nS<alice@example.org>\nRPFD:bob@example.com\n"
	                    "H?\?From: alice@example.org\nH?\?Subject: %s\n"
	                    "H?\?X-Spam-Status: No, forged\n.\n",
	                    subject);
	GError *error = NULL;
	Qf *qf = qf_parse(text, strlen(text), &error);
	g_assert_no_error(error);
	return qf;
}

/* run_check - start a check of a small message, wait for it (bounded), finish it */
static SpamFinish
run_check(Spam *spam, const MqConfig *c, const char *subject, Qf **out, SpamOutcome *o)
{
	Qf *qf = sample_qf(subject);
	g_autofree char *df = g_build_filename(tmp, "df", NULL);
	g_assert_true(g_file_set_contents(df, "hello\n", 6, NULL));
	int fd = open(df, O_RDONLY);
	SpamCheck *check = spam_start(spam, c, "TESTID", qf, fd, 6);
	gint64 until = g_get_monotonic_time() + spam_check_bound(spam);

	g_assert_nonnull(check);
	while (!spam_check_done(check)) {
		struct pollfd p = {.fd = spam_notify_fd(spam), .events = POLLIN};
		poll(&p, 1, 100);
		spam_notify_drain(spam);
		g_assert_cmpint(g_get_monotonic_time(), <, until);
	}
	*out = qf_copy(qf);
	QueueClaim claim = {.id = "TESTID", .qf = qf, .df_path = df};
	GError *error = NULL;
	SpamFinish f =
	    spam_finish(spam, check, c, &claim, "20260101/TESTID", TRUE, *out, o, &error);
	g_clear_error(&error);
	spam_check_free(&check);
	close(fd);
	qf_free(&qf);
	return f;
}

static MqConfig *
spam_config(const char *servers)
{
	MqConfig *c = config_defaults();
	g_strfreev(c->spam_spamd);
	c->spam_spamd = g_strsplit(servers, " ", -1);
	c->spam_spamd_timeout = 1;
	return c;
}

static void
test_spam_and_headers(void)
{
	Fake *f = fake_new("spam.sock", "spam");
	g_autofree char *srv = g_strdup_printf("unix:%s", f->path);
	MqConfig *c = spam_config(srv);
	GError *error = NULL;
	Spam *spam = spam_new(c, &error);
	Qf *out;
	SpamOutcome o;

	g_assert_no_error(error);
	g_assert_cmpint(run_check(spam, c, "buy now", &out, &o), ==, SPAM_FINISH_COMMIT);
	g_assert_cmpstr(o.status, ==, "high");
	g_autofree char *status = qf_header_get(out, "X-Spam-Status");
	g_assert_cmpstr(status, ==, "Yes, score=12.5 required=5.0 tests=RULE_A,RULE_B");
	g_autofree char *level = qf_header_get(out, "X-Spam-Level");
	g_assert_cmpstr(level, ==, "************");
	g_autofree char *flag = qf_header_get(out, "X-Spam-Flag");
	g_assert_cmpstr(flag, ==, "YES");
	g_autofree char *subject = qf_header_get(out, "Subject");
	g_assert_cmpstr(subject, ==, "{Spam?} buy now");
	/* the log line's fields (scanner/logline.c) */
	LogLine line = {.queue_id = "TESTID", .qf = out, .verdict = VERDICT_CLEAN, .spam = &o};
	g_autofree char *log = logline_format(&line);
	g_assert_nonnull(strstr(log, ", verdict=clean, spam=high, score=12.5, tests=RULE_A,RULE_B, "
	                             "spam_action=\"header, subject_tag, deliver\""));
	spam_outcome_clear(&o);
	qf_free(&out);

	/* forward without deliver: only the forward address gets it */
	g_strfreev(c->spam_high_actions);
	c->spam_high_actions = g_strsplit("header,forward spam@example.net", ",", -1);
	g_assert_cmpint(run_check(spam, c, "buy now", &out, &o), ==, SPAM_FINISH_COMMIT);
	g_autofree char *rcpts = qf_recipients_text(out);
	g_assert_cmpstr(rcpts, ==, "spam@example.net");
	spam_outcome_clear(&o);
	qf_free(&out);

	spam_free(&spam);
	config_free(&c);
	fake_free(f);
}

static void
test_failover_and_breaker(void)
{
	Fake *dead = fake_new("dead.sock", "garbage");
	Fake *hang = fake_new("hang.sock", "hang");
	Fake *ham = fake_new("ham.sock", "ham");
	g_autofree char *missing = g_build_filename(tmp, "missing.sock", NULL);
	g_autofree char *srv = g_strdup_printf("unix:%s unix:%s unix:%s unix:%s", missing,
	                                       dead->path, hang->path, ham->path);
	MqConfig *c = spam_config(srv);
	GError *error = NULL;
	Spam *spam = spam_new(c, &error);
	Qf *out;
	SpamOutcome o;

	gint64 t0 = g_get_monotonic_time();
	g_assert_cmpint(run_check(spam, c, "hello", &out, &o), ==, SPAM_FINISH_COMMIT);
	gint64 took = g_get_monotonic_time() - t0;
	/* missing -> garbage -> hangs (1 s timeout) -> answers */
	g_assert_cmpstr(o.status, ==, "no");
	g_assert_cmpint(took, >=, 900000);
	g_assert_cmpint(took, <, 5000000);
	g_autofree char *status = qf_header_get(out, "X-Spam-Status");
	g_assert_cmpstr(status, ==, "No, score=1.0 required=5.0 tests=RULE_C");
	spam_outcome_clear(&o);
	qf_free(&out);
	/* the failed servers are skipped now: straight to the one that answers */
	gint served = g_atomic_int_get(&hang->served);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(run_check(spam, c, "hello", &out, &o), ==, SPAM_FINISH_COMMIT);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 500000);
	g_assert_cmpint(g_atomic_int_get(&hang->served), ==, served);
	g_assert_cmpstr(o.status, ==, "no");
	spam_outcome_clear(&o);
	qf_free(&out);
	spam_free(&spam);
	config_free(&c);
	fake_free(dead);
	fake_free(hang);
	fake_free(ham);
}

static void
test_on_error(void)
{
	g_autofree char *missing = g_build_filename(tmp, "none.sock", NULL);
	g_autofree char *srv = g_strdup_printf("unix:%s", missing);
	MqConfig *c = spam_config(srv);
	Spam *spam = spam_new(c, NULL);
	Qf *out;
	SpamOutcome o;

	g_assert_cmpint(run_check(spam, c, "hello", &out, &o), ==, SPAM_FINISH_COMMIT);
	g_assert_cmpstr(o.status, ==, "unchecked");
	g_autofree char *status = qf_header_get(out, "X-Spam-Status");
	g_assert_cmpstr(status, ==, "Unchecked (spamd unavailable)");
	g_assert_nonnull(strstr(o.detail, missing));
	spam_outcome_clear(&o);
	qf_free(&out);
	g_free(c->spam_on_error);
	c->spam_on_error = g_strdup("defer");
	g_assert_cmpint(run_check(spam, c, "hello", &out, &o), ==, SPAM_FINISH_DEFER);
	spam_outcome_clear(&o);
	qf_free(&out);
	spam_free(&spam);
	config_free(&c);
}

/* test_off - nothing configured: no checker at all, the pass is unchanged */
static void
test_off(void)
{
	MqConfig *c = config_defaults();
	g_autoptr(GError) error = NULL;

	g_assert_null(spam_new(c, &error));
	g_assert_no_error(error);
	g_assert_null(spam_start(NULL, c, "X", NULL, -1, 0));
	config_free(&c);
}

/* test_allow_listed - an allow-listed sender: no network, not spam */
static void
test_allow_listed(void)
{
	MqConfig *c = config_defaults();
	GError *error = NULL;
	Fake *f = fake_new("lists.sock", "spam");
	g_strfreev(c->spam_spamd);
	g_autofree char *srv = g_strdup_printf("unix:%s", f->path);
	c->spam_spamd = g_strsplit(srv, " ", -1);
	g_strfreev(c->spam_allow);
	c->spam_allow = g_strsplit("*@example.org", " ", -1);
	Spam *spam = spam_new(c, &error);
	Qf *out;
	SpamOutcome o;
	g_assert_cmpint(run_check(spam, c, "hello", &out, &o), ==, SPAM_FINISH_COMMIT);
	g_assert_cmpstr(o.status, ==, "no");
	g_assert_cmpint(g_atomic_int_get(&f->served), ==, 0);
	g_autofree char *status = qf_header_get(out, "X-Spam-Status");
	g_assert_cmpstr(status, ==, "No (allow-listed (*@example.org))");
	spam_outcome_clear(&o);
	qf_free(&out);
	spam_free(&spam);
	config_free(&c);
	fake_free(f);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* failing servers are logged as warnings: expected here */
	g_log_set_always_fatal(G_LOG_FATAL_MASK);
	tmp = g_dir_make_tmp("mqsift-spam-XXXXXX", NULL);
	g_test_add_func("/spam/reads-spam-ham-pong-and-rule-names", test_parse_answer);
	for (gsize i = 0; i < G_N_ELEMENTS(bad_answers); i++) {
		g_autofree char *path = g_strconcat("/spam/", bad_answers[i].name, NULL);
		g_test_add_data_func(path, &bad_answers[i], test_bad_answer);
	}
	g_test_add_func("/spam/reads-socket-ipv4-and-ipv6-servers", test_servers);
	for (gsize i = 0; i < G_N_ELEMENTS(bad_servers); i++) {
		g_autofree char *path = g_strconcat("/spam/", bad_servers[i].name, NULL);
		g_test_add_data_func(path, &bad_servers[i], test_bad_server);
	}
	g_test_add_func("/spam/dnsbl-queries-only-public-untrusted-addresses", test_dnsbl_helpers);
	g_test_add_func("/spam/spam-gets-headers-tag-and-actions", test_spam_and_headers);
	g_test_add_func("/spam/fails-over-and-skips-broken-servers", test_failover_and_breaker);
	g_test_add_func("/spam/unreachable-spamd-follows-on-error", test_on_error);
	g_test_add_func("/spam/nothing-configured-means-no-checker", test_off);
	g_test_add_func("/spam/allow-listed-sender-is-not-checked", test_allow_listed);
	int status = g_test_run();
	g_rmdir(tmp);
	g_free(tmp);
	return status;
}
