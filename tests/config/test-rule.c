/*
 * test-ruleset.c - patterns, rulesets in the configuration, and how the
 * values of several recipients combine (the strictest wins)
 */
#include "mqsift-build.h"

#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/rule.h"

typedef struct {
	const char *what; /* "from" or "ip" */
	const char *pattern;
	const char *subject; /* address or IP */
	gboolean match;
} PatCase;

static const PatCase pat_cases[] = {
    {"from", "alice@example.org", "alice@example.org", TRUE},
    {"from", "alice@example.org", "ALICE@Example.ORG", TRUE},
    {"from", "alice@example.org", "bob@example.org", FALSE},
    {"from", "*@example.org", "bob@example.org", TRUE},
    {"from", "*@example.org", "bob@sub.example.org", FALSE},
    {"from", "example.org", "bob@sub.example.org", TRUE},
    {"from", "example.org", "bob@example.org", TRUE},
    {"from", "example.org", "bob@badexample.org", FALSE},
    {"from", ".example.org", "bob@a.b.example.org", TRUE},
    {"from", "*@*.example.org", "bob@x.example.org", TRUE},
    {"from", "*@*.example.org", "bob@example.org", FALSE},
    {"from", "sales-?@example.org", "sales-1@example.org", TRUE},
    {"from", "sales-?@example.org", "sales-12@example.org", FALSE},
    {"from", "/^(sales|billing)@/", "Billing@example.com", TRUE},
    {"from", "/^(sales|billing)@/", "support@example.com", FALSE},
    {"from", "*", "", TRUE},
    {"from", "*@*", "anyone@anywhere", TRUE},
    {"from", "*@example.org", "", FALSE},
    {"ip", "10.0.0.0/8", "10.200.3.4", TRUE},
    {"ip", "10.0.0.0/8", "11.0.0.1", FALSE},
    {"ip", "192.168.1.0/25", "192.168.1.127", TRUE},
    {"ip", "192.168.1.0/25", "192.168.1.128", FALSE},
    {"ip", "192.168.1.7", "192.168.1.7", TRUE},
    {"ip", "192.168.1.7", "192.168.1.8", FALSE},
    {"ip", "0.0.0.0/0", "203.0.113.9", TRUE},
    {"ip", "2001:db8::/32", "2001:db8:1::5", TRUE},
    {"ip", "2001:db8::/32", "2001:db9::5", FALSE},
    {"ip", "10.0.0.0/8", "::ffff:10.1.2.3", TRUE},
    {"ip", "10.0.0.0/8", "2001:db8::1", FALSE},
    {"ip", "10.0.0.0/8", "not an ip", FALSE},
};

/* test_patterns - every row of the table whose kind is @data ("from" or "ip") */
static void
test_patterns(gconstpointer data)
{
	const char *what = data;

	for (gsize i = 0; i < G_N_ELEMENTS(pat_cases); i++) {
		const PatCase *c = &pat_cases[i];
		g_autoptr(GError) error = NULL;

		if (strcmp(c->what, what) != 0)
			continue;
		RulePattern *p = rule_pattern_new(c->what, c->pattern, &error);

		g_assert_no_error(error);
		gboolean got = strcmp(c->what, "ip") == 0
		                   ? rule_pattern_match_ip(p, c->subject)
		                   : rule_pattern_match_address(p, c->subject);
		if (got != c->match)
			g_error("%s %s vs %s: expected %s", c->what, c->pattern, c->subject,
			        c->match ? "match" : "no match");
		rule_pattern_free(p);
	}
}

/* a pattern that cannot be compiled */
typedef struct {
	const char *name;
	const char *what;
	const char *pattern;
} BadPattern;

static const BadPattern bad_patterns[] = {
    {"ip-prefix-longer-than-the-address-is-refused", "ip", "10.0.0.0/33"},
    {"ip-pattern-that-is-a-domain-is-refused", "ip", "example.org"},
    {"unclosed-regex-is-refused", "from", "/(unclosed/"},
};

/* test_bad_pattern - refused, with an error that says why */
static void
test_bad_pattern(gconstpointer data)
{
	const BadPattern *b = data;
	g_autoptr(GError) error = NULL;

	g_assert_null(rule_pattern_new(b->what, b->pattern, &error));
	g_assert_nonnull(error);
}

/* load_text - a config from text */
static MqConfig *
load_text(const char *yaml, GError **error)
{
	g_autofree char *path = NULL;
	int fd = g_file_open_tmp("mqsift-ruleset-XXXXXX.yaml", &path, NULL);

	g_assert_cmpint(write(fd, yaml, strlen(yaml)), ==, (ssize_t)strlen(yaml));
	close(fd);
	MqConfig *c = config_load(path, TRUE, error);
	unlink(path);
	return c;
}

static const char ruleset_yaml[] = "scanner:\n"
                                   "  scan:\n"
                                   "    - to: abuse@example.org\n"
                                   "      value: false\n"
                                   "    - default: true\n"
                                   "policy:\n"
                                   "  subject_tag:\n"
                                   "    - from_or_to: \"*@partner.example\"\n"
                                   "      value: \"\"\n"
                                   "    - to: legal.example.org\n"
                                   "      ip: 10.0.0.0/8\n"
                                   "      value: \"[VIRUS internal]\"\n"
                                   "    - default: \"{Virus?}\"\n"
                                   "  infected_action:\n"
                                   "    - to: \"*@strict.example.org\"\n"
                                   "      value: replace\n"
                                   "  filename_checks:\n"
                                   "    - from_and_to: \"*@dev.example.org\"\n"
                                   "      value: false\n"
                                   "notify:\n"
                                   "  sender:\n"
                                   "    - from: example.org\n"
                                   "      value: true\n";

/* eval - the effective config for one envelope */
static void
eval(const MqConfig *c, const char *from, const char *rcpts, const char *ip, MqConfig *eff)
{
	static char **list;

	g_strfreev(list);
	list = g_strsplit(rcpts, ",", -1);
	Envelope env = {from, (const char *const *)list, ip};
	config_for_message(c, &env, eff);
}

/* test_rulesets - first match wins, defaults, two conditions, strictest across recipients */
static void
test_rulesets(void)
{
	GError *error = NULL;
	MqConfig *c = load_text(ruleset_yaml, &error);
	MqConfig eff;

	g_assert_no_error(error);
	g_assert_true(config_has_rulesets(c));
	/* scan: off only for abuse@; with another recipient, scanning wins */
	eval(c, "x@y.org", "abuse@example.org", NULL, &eff);
	g_assert_false(eff.scanner_scan);
	eval(c, "x@y.org", "abuse@example.org,bob@example.org", NULL, &eff);
	g_assert_true(eff.scanner_scan);
	/* subject tag: first match, two conditions, default */
	eval(c, "a@partner.example", "bob@example.org", NULL, &eff);
	g_assert_cmpstr(eff.policy_subject_tag, ==, "");
	eval(c, "x@y.org", "boss@legal.example.org", "10.1.2.3", &eff);
	g_assert_cmpstr(eff.policy_subject_tag, ==, "[VIRUS internal]");
	eval(c, "x@y.org", "boss@legal.example.org", "192.0.2.1", &eff);
	g_assert_cmpstr(eff.policy_subject_tag, ==, "{Virus?}");
	eval(c, "x@y.org", "p@partner.example,boss@legal.example.org", "10.1.2.3", &eff);
	g_assert_cmpstr(eff.policy_subject_tag, ==, "[VIRUS internal]"); /* a tag beats none */
	/* no rule matches and no default: the key's own value */
	eval(c, "x@y.org", "bob@example.org", NULL, &eff);
	g_assert_cmpstr(eff.policy_infected_action, ==, "clean");
	eval(c, "x@y.org", "bob@example.org,c@strict.example.org", NULL, &eff);
	g_assert_cmpstr(eff.policy_infected_action, ==, "replace"); /* replace beats clean */
	/* from_and_to: both sides must match; checks stay on if any recipient needs them */
	eval(c, "dev1@dev.example.org", "dev2@dev.example.org", NULL, &eff);
	g_assert_false(eff.policy_filename_checks);
	eval(c, "dev1@dev.example.org", "dev2@dev.example.org,out@else.org", NULL, &eff);
	g_assert_true(eff.policy_filename_checks);
	/* a sender notice needs every recipient's consent */
	eval(c, "me@example.org", "a@b.org", NULL, &eff);
	g_assert_true(eff.notify_sender);
	eval(c, "me@other.org", "a@b.org", NULL, &eff);
	g_assert_false(eff.notify_sender);
	/* no recipients at all: the from rules still apply */
	eval(c, "a@partner.example", "", NULL, &eff);
	g_assert_cmpstr(eff.policy_subject_tag, ==, "");
	/* printing and reloading keeps the rules */
	GString *printed = config_print(c);
	g_assert_nonnull(
	    strstr(printed->str, "    - to: \"abuse@example.org\"\n      value: false"));
	MqConfig *again = load_text(printed->str, &error);
	g_assert_no_error(error);
	eval(again, "x@y.org", "boss@legal.example.org", "10.9.9.9", &eff);
	g_assert_cmpstr(eff.policy_subject_tag, ==, "[VIRUS internal]");
	config_free(&again);
	g_string_free(printed, TRUE);
	config_free(&c);
}

/* assert_error - @yaml fails with @what in the message */
static void
assert_error(const char *yaml, const char *what)
{
	g_autoptr(GError) error = NULL;
	MqConfig *c = load_text(yaml, &error);

	g_assert_null(c);
	if (error == NULL || strstr(error->message, what) == NULL)
		g_error("expected \"%s\" in: %s", what, error ? error->message : "(no error)");
}

/* a mistake in a ruleset and what its error says, with its position */
typedef struct {
	const char *name;
	const char *yaml;
	const char *what;
} RulesetError;

static const RulesetError ruleset_errors[] = {
    {"key-that-cannot-be-a-ruleset-is-refused",
     "queue:\n  outgoing:\n    - from: a@b\n      value: /x\n",
     ":3:5: queue.outgoing cannot be a ruleset"},
    {"unknown-condition-word-is-refused",
     "policy:\n  subject_tag:\n    - form: a@b\n      value: x\n", ":3:7: unknown word \"form\""},
    {"rule-without-value-is-refused", "policy:\n  subject_tag:\n    - from: a@b\n",
     ":3:7: this rule has no value"},
    {"rule-without-condition-is-refused", "policy:\n  subject_tag:\n    - value: x\n",
     "this rule has no condition"},
    {"rule-after-the-default-is-refused",
     "policy:\n  subject_tag:\n    - default: x\n    - from: a@b\n      value: y\n",
     ":4:7: a rule after the default rule can never match"},
    {"bad-ip-prefix-is-refused", "policy:\n  subject_tag:\n    - ip: 10.0.0.0/99\n      value: x\n",
     ":3:11: ip: bad prefix length"},
    {"value-of-the-wrong-type-is-refused", "scanner:\n  scan:\n    - to: a@b\n      value: maybe\n",
     ":4:14: scanner.scan must be true or false"},
    {"value-outside-the-choices-is-refused",
     "policy:\n  infected_action:\n    - to: a@b\n      value: drop\n",
     "must be one of clean|replace"},
    {"three-conditions-are-refused",
     "policy:\n  subject_tag:\n    - from: a@b\n      to: c@d\n      ip: 1.2.3.4\n"
     "      value: x\n",
     "at most two conditions"},
};

/* test_error - a mistake in a ruleset is reported with its position */
static void
test_error(gconstpointer data)
{
	const RulesetError *e = data;

	assert_error(e->yaml, e->what);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_data_func("/ruleset/address-patterns-match-as-documented", "from",
	                     test_patterns);
	g_test_add_data_func("/ruleset/ip-patterns-match-as-documented", "ip", test_patterns);
	for (gsize i = 0; i < G_N_ELEMENTS(bad_patterns); i++) {
		g_autofree char *path = g_strconcat("/ruleset/", bad_patterns[i].name, NULL);
		g_test_add_data_func(path, &bad_patterns[i], test_bad_pattern);
	}
	g_test_add_func("/ruleset/first-match-wins-and-strictest-recipient-wins", test_rulesets);
	for (gsize i = 0; i < G_N_ELEMENTS(ruleset_errors); i++) {
		g_autofree char *path = g_strconcat("/ruleset/", ruleset_errors[i].name, NULL);
		g_test_add_data_func(path, &ruleset_errors[i], test_error);
	}
	return g_test_run();
}
