/*
 * test-notify-escape.c - notices only to real local senders, and nothing from
 * a message forges a header or a line in a notice: every routed or quoted
 * address form, the client-IP and authentication evidence, a hostile subject
 * and sender in the sender's notice and in the postmaster's warning
 */
#include "mqsift-build.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/qdir.h"
#include "queue/qf.h"
#include "reports/notice.h"
#include "reports/notify.h"
#include "config/config.h"

/* local_config - notices on, example.org local */
static MqConfig *
local_config(void)
{
	MqConfig *c = config_defaults();

	c->notify_sender = TRUE;
	g_strfreev(c->notify_local_domains);
	c->notify_local_domains = g_strsplit("example.org", ",", -1);
	const char *top = g_getenv("TOP_SRCDIR");
	g_free(c->reports_templates);
	c->reports_templates = g_build_filename(top ? top : ".", "reports", "templates", NULL);
	return c;
}

/* allowed - may the sender of a qf with @sender and @macros be told? */
static gboolean
allowed(const MqConfig *c, const char *sender, const char *macros, const char **why)
{
	g_autofree char *text = g_strdup_printf(
	    "V8\nT1\n%sS%s\nRPFD:<b@example.com>\nHSubject: x\n.\n", macros, sender);
	GError *error = NULL;
	Qf *qf = qf_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	gboolean ok = notify_sender_allowed(c, qf, NULL, why);
	qf_free(&qf);
	return ok;
}

/* a sender address that must never count as local, and why (the test's name) */
typedef struct {
	const char *name;
	const char *address;
} NotLocal;

static const NotLocal not_local[] = {
    {"percent-hack-is-not-local", "<user%evil.example@example.org>"}, /* relayed to evil.example */
    {"uucp-bang-path-is-not-local", "<evil.example!user@example.org>"},
    {"quoted-local-part-is-not-local", "<\"user@evil.example\"@example.org>"},
    {"source-route-is-not-local", "<@a.example,@b.example:user@example.org>"},
    {"source-route-to-elsewhere-is-not-local", "<@example.org:user@evil.example>"},
    {"domain-literal-is-not-local", "<user@[127.0.0.1]>"},
    {"two-at-signs-are-not-local", "<user@evil.example@example.org>"},
    {"local-domain-as-a-prefix-is-not-local", "<user@example.org.evil.example>"},
    {"leading-dot-is-not-local", "<.user@example.org>"},
    {"double-dot-in-local-part-is-not-local", "<us..er@example.org>"},
    {"double-dot-in-domain-is-not-local", "<user@example..org>"},
    {"hyphen-starting-a-label-is-not-local", "<user@-example.org>"},
    {"backslash-quoting-is-not-local", "<user\\@evil@example.org>"},
    {"comment-is-not-local", "<user(comment)@example.org>"},
    {"space-in-local-part-is-not-local", "<user @example.org>"},
    {"pipe-in-local-part-is-not-local", "<user|cmd@example.org>"},
    {"empty-local-part-is-not-local", "<@example.org>"},
    {"unbalanced-bracket-is-not-local", "<user@example.org"},
    {"space-in-domain-is-not-local", "<user@ex ample.org>"},
};

/* test_not_local - a routing or quoting form is never taken for a local sender */
static void
test_not_local(gconstpointer data)
{
	const NotLocal *n = data;
	MqConfig *c = local_config();
	const char *local_ip = "$_localhost [127.0.0.1]\n";
	const char *why = NULL;

	if (allowed(c, n->address, local_ip, &why))
		g_error("%s was treated as a local sender", n->address);
	g_assert_nonnull(why);
	config_free(&c);
}

/* test_address_forms - only a plain local-part@local.domain is local, and the reason says so */
static void
test_address_forms(void)
{
	MqConfig *c = local_config();
	const char *local_ip = "$_localhost [127.0.0.1]\n";
	const char *why = NULL;

	g_assert_true(allowed(c, "<alice@example.org>", local_ip, &why));
	g_assert_true(allowed(c, "<Alice.B+tag@Sub.Example.ORG>", local_ip, &why));
	g_assert_true(allowed(c, "alice@example.org", local_ip, &why));
	g_assert_false(allowed(c, "<user%evil.example@example.org>", local_ip, &why));
	g_assert_cmpstr(why, ==,
	                "the sender is not a plain local-part@domain address (routing or quoting)");
	config_free(&c);
}

/* test_evidence - the client IP in notify.local_networks, or an authenticated session */
static void
test_evidence(void)
{
	MqConfig *c = local_config();
	const char *why = NULL;
	const char *alice = "<alice@example.org>";

	g_assert_true(allowed(c, alice, "$_localhost [127.0.0.1]\n", &why));
	g_assert_true(allowed(c, alice, "$_localhost [127.1.2.3]\n", &why));
	g_assert_true(allowed(c, alice, "$_localhost [IPv6:::1]\n", &why));
	g_assert_true(allowed(c, alice, "$_localhost [IPv6:::ffff:127.0.0.1]\n", &why));
	/* an outside client claiming a local sender */
	g_assert_false(allowed(c, alice, "$_mail.evil.example [192.0.2.1]\n", &why));
	g_assert_cmpstr(why, ==,
	                "the client was not in notify.local_networks and did not authenticate");
	g_assert_false(allowed(c, alice, "$_mail.evil.example [IPv6:2001:db8::1]\n", &why));
	/* the HELO name or a user part of $_ proves nothing */
	g_assert_false(allowed(c, alice, "$_user@localhost [192.0.2.1]\n$slocalhost\n", &why));
	/* no client recorded at all */
	g_assert_false(allowed(c, alice, "", &why));
	/* authenticated: from anywhere */
	g_assert_true(allowed(c, alice, "$_h [192.0.2.1]\n${auth_authen}alice\n", &why));
	g_assert_false(allowed(c, alice, "$_h [192.0.2.1]\n${auth_authen}\n", &why));
	g_assert_false(allowed(c, alice, "$_h [192.0.2.1]\n${auth_type}PLAIN\n", &why));
	/* a configured network */
	g_strfreev(c->notify_local_networks);
	c->notify_local_networks = g_strsplit("192.0.2.0/24,2001:db8::/32", ",", -1);
	g_assert_true(allowed(c, alice, "$_h [192.0.2.1]\n", &why));
	g_assert_true(allowed(c, alice, "$_h [IPv6:2001:db8::1]\n", &why));
	g_assert_false(allowed(c, alice, "$_h [198.51.100.1]\n", &why));
	g_assert_false(allowed(c, alice, "$_localhost [127.0.0.1]\n", &why));
	/* the address form is checked whatever the evidence */
	g_assert_false(
	    allowed(c, "<user%evil.example@example.org>", "${auth_authen}alice\n", &why));
	config_free(&c);
}

/* find_file - the first file under @dir whose name starts with @prefix */
static char *
find_file(const char *dir, const char *prefix)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	char *found = NULL;

	g_assert_nonnull(d);
	while (found == NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			found = find_file(p, prefix);
		else if (g_str_has_prefix(name, prefix))
			found = g_strdup(p);
	}
	g_dir_close(d);
	return found;
}

/* read_notice - the control file and body queued in @dir (then removed) */
static void
read_notice(const char *dir, Qf **qf, char **body)
{
	g_autofree char *qfp = find_file(dir, "qf");
	g_autofree char *dfp = find_file(dir, "df");
	g_autofree char *qtext = NULL;
	gsize qlen;

	g_assert_nonnull(qfp);
	g_assert_nonnull(dfp);
	g_assert_true(g_file_get_contents(qfp, &qtext, &qlen, NULL));
	g_assert_true(g_file_get_contents(dfp, body, NULL, NULL));
	*qf = qf_parse(qtext, qlen, NULL);
	g_assert_nonnull(*qf);
	g_assert_cmpint(unlink(qfp), ==, 0);
	g_assert_cmpint(unlink(dfp), ==, 0);
}

/* assert_clean_notice - only the headers notice_send writes, nothing hidden anywhere */
static void
assert_clean_notice(const Qf *qf, const char *body)
{
	static const char *const known[] = {"From",
	                                    "To",
	                                    "Subject",
	                                    "Date",
	                                    "Message-ID",
	                                    "Auto-Submitted",
	                                    "MIME-Version",
	                                    "Content-Type",
	                                    "Content-Transfer-Encoding",
	                                    "X-Virus-Scanned",
	                                    "X-Virus-Status",
	                                    NULL};
	guint recipients = 0;

	for (guint i = 0; i < qf_n_records(qf); i++) {
		const QfRecord *r = qf_record(qf, i);
		QfHeader h;
		recipients += r->type == 'R';
		if (!qf_header_at(qf, i, &h))
			continue;
		g_autofree char *name = g_strndup(h.name, h.name_len);
		if (!g_strv_contains(known, name))
			g_error("unexpected header \"%s\" in the notice", name);
		for (gsize k = 0; k < h.value_len; k++)
			g_assert_true((guchar)h.value[k] >= 0x20 || h.value[k] == '\t');
	}
	g_assert_cmpuint(recipients, ==, 1);
	g_assert_true(g_utf8_validate(body, -1, NULL));
	for (const char *p = body; *p; p++)
		g_assert_true((guchar)*p >= 0x20 || *p == '\n' || *p == '\t');
	g_assert_null(strstr(body, "\nFAKE LINE"));
	g_assert_null(strstr(body, "\nBcc:"));
	g_assert_null(strstr(body, "\xe2\x80\xae"));
}

/* test_notice_content - a hostile subject and sender in both notices */
static void
test_notice_content(void)
{
	g_autofree char *dir = g_dir_make_tmp("mqsift-notify-XXXXXX", NULL);
	GError *error = NULL;
	QueueDir *out = qdir_open(dir, QUEUE_LOCK_FLOCK, &error);
	g_assert_no_error(error);
	MqConfig *c = local_config();
	const char *text = "V8\nT1\n$_localhost [127.0.0.1]\nS<alice@example.org>\n"
	                   "RPFD:<bob@example.org>\n"
	                   "HSubject: \x1b]0;pwned\x07 hi\rBcc: evil@example.net \xe2\x80\xae\n.\n";
	Qf *in = qf_parse(text, strlen(text), NULL);
	g_assert_nonnull(in);
	g_assert_true(notify_sender_allowed(c, in, NULL, &(const char *){NULL}));

	g_autofree char *id = notify_sender(c, out, in, "Virus 'Evil\nFAKE LINE' found",
	                                    "20261124/6AOQ0000000001", &error);
	g_assert_no_error(error);
	g_assert_nonnull(id);
	Qf *qf = NULL;
	g_autofree char *body = NULL;
	read_notice(dir, &qf, &body);
	assert_clean_notice(qf, body);
	g_autofree char *subject = qf_header_get(qf, "Subject");
	g_assert_nonnull(strstr(subject, "\\x1b]0;pwned\\x07 hi\\rBcc: evil@example.net <U+202E>"));
	g_assert_nonnull(strstr(body, "Virus 'Evil\\nFAKE LINE' found"));
	qf_free(&qf);

	Caught caught = {"6AOQ0000000001",         "<eve\r\nBcc: evil@example.net>",
	                 "<bob@example.org>",      "hello\nFAKE LINE \x1b[2J",
	                 "<id@x>\nBcc: x",         "Blocked: banned file name a\nFAKE LINE.exe",
	                 "20261124/6AOQ0000000001"};
	g_autofree char *pid = notify_postmaster(c, out, &caught, 1, &error);
	g_assert_no_error(error);
	g_assert_nonnull(pid);
	g_autofree char *pbody = NULL;
	read_notice(dir, &qf, &pbody);
	assert_clean_notice(qf, pbody);
	g_assert_nonnull(strstr(pbody, "Subject:   hello\\nFAKE LINE \\x1b[2J\n"));
	qf_free(&qf);

	/* notice_send itself: no recipient that could add a record, no escape in a subject */
	g_assert_null(notice_send(c, out, "a@b>\nRPFD:<evil@example.net", "s", "b", &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_autofree char *nid =
	    notice_send(c, out, "postmaster", "s\x1b[2J\nBcc: x", "b\x1b\n", &error);
	g_assert_no_error(error);
	g_autofree char *nbody = NULL;
	read_notice(dir, &qf, &nbody);
	assert_clean_notice(qf, nbody);
	qf_free(&qf);

	qf_free(&in);
	qdir_free(&out);
	config_free(&c);
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/notify/only-a-plain-local-address-is-local", test_address_forms);
	for (gsize i = 0; i < G_N_ELEMENTS(not_local); i++) {
		g_autofree char *path = g_strconcat("/notify/", not_local[i].name, NULL);
		g_test_add_data_func(path, &not_local[i], test_not_local);
	}
	g_test_add_func("/notify/local-network-or-authentication-is-evidence", test_evidence);
	g_test_add_func("/notify/hostile-subject-and-sender-are-escaped-in-notices",
	                test_notice_content);
	return g_test_run();
}
