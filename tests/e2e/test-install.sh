#!/bin/bash
# test-install.sh - installing (issue #14.17): with Debian's directories and
# DESTDIR, everything lands where Debian reads it (/etc/init.d, /etc/default,
# /etc/cron.d, /usr/lib/systemd/system, /etc/mqsift) with those paths
# inside; no user is created on the host, for DESTDIR nor for a private
# prefix; the default configuration follows --sysconfdir; running configure
# again with other directories rebuilds what embeds them.  Built from a copy
# of the tree; /etc/passwd and /etc/group are copies in a private mount
# namespace, so a user created by mistake would show, and not stay.
. "$(dirname "$0")/../tap.sh"
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ -z "$MQSIFT_IN_NS" ]; then
	export MQSIFT_IN_NS=1
	exec unshare -m -f --kill-child bash "$0" "$@"
fi
mount --make-rprivate / 2>/dev/null || true
T=$(mktemp -d /tmp/mqsift-install.XXXXXX)
trap 'umount /etc/passwd /etc/group /etc/shadow /etc/gshadow 2>/dev/null; rm -rf "$T"' EXIT
for f in passwd group shadow gshadow; do
	[ -e "/etc/$f" ] || continue
	cp -p "/etc/$f" "$T/$f.copy"
	mount --bind "$T/$f.copy" "/etc/$f"
	cp -p "/etc/$f" "$T/$f.before"
done
users_unchanged() {
	for f in passwd group; do cmp -s "$T/$f.before" "/etc/$f" || return 1; done
}

# the tree as distributed: sources and the autotools' output, no build
mkdir "$T/src"
tar -C "$TOP_SRCDIR" --exclude=.git --exclude='*.o' --exclude='*.a' --exclude=.deps \
	--exclude='*.log' --exclude='*.trs' --exclude=./Makefile --exclude=./config.status \
	--exclude=./mqsift-build.h --exclude=./stamp-h1 --exclude=./mqsift \
	--exclude=autom4te.cache --exclude=.bootstrap-flags -cf - . | tar -C "$T/src" -xf -
cd "$T/src" || bail_out "no copy"
build() { ./configure "$@" >"$T/configure.log" 2>&1 && make -j2 >"$T/make.log" 2>&1; }

# --- 1. Debian's directories, into DESTDIR ------------------------------------
ok_if "configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var; make" \
	build --prefix=/usr --sysconfdir=/etc --localstatedir=/var
D=$T/root
ok_if "make install DESTDIR=..." bash -c "make install DESTDIR='$D' >'$T/install.log' 2>&1"
ok_if "the binaries" [ -x "$D/usr/sbin/mqsift" -a -x "$D/usr/sbin/check_mqsift" ]
ok_if "the rc script in /etc/init.d, executable" [ -x "$D/etc/init.d/mqsift" ]
ok_if "/etc/default/mqsift" [ -f "$D/etc/default/mqsift" ]
ok_if "the cron file in /etc/cron.d" [ -f "$D/etc/cron.d/mqsift" ]
ok_if "the configuration in /etc/mqsift" [ -f "$D/etc/mqsift/mqsift.yaml" ]
ok_if "the units in /usr/lib/systemd/system" \
	[ -f "$D/usr/lib/systemd/system/mqsift.service" -a -f "$D/usr/lib/systemd/system/mqsift-sendmail-in.service" ]
ok_if "the unit runs /usr/sbin/mqsift with /etc/mqsift/mqsift.yaml" \
	grep -q '^ExecStart=/usr/sbin/mqsift run --foreground -c /etc/mqsift/mqsift.yaml$' "$D/usr/lib/systemd/system/mqsift.service"
ok_if "the unit may write /var/spool/mqueue.in" grep -q '^ReadWritePaths=/var/spool/mqueue.in ' "$D/usr/lib/systemd/system/mqsift.service"
ok_if "the rc script names /usr/sbin/mqsift and /etc/mqsift/mqsift.yaml" \
	bash -c "grep -q '^MQSIFT=\${MQSIFT:-/usr/sbin/mqsift}' '$D/etc/init.d/mqsift' && grep -q '^CONF=\${CONF:-/etc/mqsift/mqsift.yaml}' '$D/etc/init.d/mqsift'"
ok_if "the state directories (quarantine 0700)" \
	bash -c "[ \"\$(stat -c %a '$D/var/spool/mqsift/quarantine')\" = 700 ] && [ -d '$D/var/lib/mqsift' ] && [ -d '$D/var/spool/mqueue.in' ]"
ok_if "the compiled-in default configuration is /etc/mqsift/mqsift.yaml" \
	bash -c "'$D/usr/sbin/mqsift' run --help | grep -q 'default /etc/mqsift/mqsift.yaml'"
ok_if "no user was created (DESTDIR)" users_unchanged
ok_if "and the install says so" grep -q 'not creating the user mqsift' "$T/install.log"
ok_if "an installed configuration is kept on a second install" \
	bash -c "echo '# mine' >>'$D/etc/mqsift/mqsift.yaml' && make install DESTDIR='$D' >/dev/null 2>&1 && grep -q '^# mine' '$D/etc/mqsift/mqsift.yaml'"

# --- 2. configure again, a private prefix, no DESTDIR --------------------------
P=$T/opt
ok_if "configure --prefix=<private>; make (the same tree)" build --prefix="$P"
ok_if "the default configuration follows: <prefix>/etc/mqsift/mqsift.yaml" \
	bash -c "./mqsift run --help | grep -q 'default $P/etc/mqsift/mqsift.yaml'"
ok_if "and the test signatures' place: <prefix>/share/mqsift" grep -q "$P/share/mqsift/test-signatures" mqsift
ok_if "the generated scripts too" grep -q "^MQSIFT=\${MQSIFT:-$P/sbin/mqsift}" etc/init.d/mqsift
ok_if "make install (as root, no DESTDIR)" bash -c "make install >'$T/install2.log' 2>&1"
ok_if "everything under the prefix" [ -x "$P/sbin/mqsift" -a -x "$P/etc/init.d/mqsift" -a -f "$P/lib/systemd/system/mqsift.service" ]
ok_if "no user was created (private prefix)" users_unchanged
ok_if "and the install says so" grep -q 'not creating the user mqsift' "$T/install2.log"
done_testing
