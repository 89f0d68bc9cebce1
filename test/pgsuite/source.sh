# test/pgsuite/source.sh — fetch PostgreSQL's regression suite for test/pgsuite/run.sh.
#
# Sourced, not run.  The suite must match the server that is installed, so it comes from
# Debian's source package of exactly the installed postgresql-NN version, through apt and
# the machine's own apt source: a deb-src twin of its existing deb entry is written at run
# time (no archive host is named here), and `apt-get source` unpacks the package into a
# cache folder outside the clone, which later runs reuse.

# pgs_apt_src_twin FILE: write deb-src twins of every enabled deb entry of the machine's
# apt configuration (deb822 *.sources and one-line *.list/sources.list) into FILE.
pgs_apt_src_twin() {
	local out=$1 f
	: >"$out.tmp"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$out" ] || continue
		# deb822: one stanza per paragraph; keep the stanzas whose Types include deb.
		awk '
			function flush() {
				if (n && isdeb) { for (i = 1; i <= n; i++) print buf[i]; print "" }
				n = 0; isdeb = 0
			}
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			/^Types:/ { if ($0 ~ /[[:space:]]deb([[:space:]]|$)/) isdeb = 1; buf[++n] = "Types: deb-src"; next }
			/^Enabled:[[:space:]]*no/ { isdeb = -1000 }
			{ buf[++n] = $0 }
			END { flush() }' "$f" >>"$out.tmp"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$out.tmp.list"
	done
	if [ -s "$out.tmp.list" ]; then
		# One-line entries cannot go into a .sources file: give them their own .list.
		mv "$out.tmp.list" "${out%.sources}.list"
	else
		rm -f "$out.tmp.list"
	fi
	[ -s "$out.tmp" ] && mv "$out.tmp" "$out" || rm -f "$out.tmp"
	[ -s "$out" ] || [ -s "${out%.sources}.list" ]
}

# pgs_fetch_suite CACHE: make sure CACHE/postgresql-NN-VERSION holds the unpacked source
# package of the installed server and print that folder.
pgs_fetch_suite() {
	local cache=$1 pkg=postgresql-$SE_PG_MAJOR version dir twin
	version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || se_die "$pkg is not installed"
	[ -n "$version" ] || se_die "$pkg is not installed"
	dir=$cache/$pkg-$version
	if [ -f "$dir/.complete" ]; then
		echo "$dir"
		return 0
	fi
	[ "$(id -u)" = 0 ] || se_die "the suite is not in $dir yet; fetching it needs root (apt)"
	se_log "fetching Debian's source package $pkg=$version into $dir"
	export DEBIAN_FRONTEND=noninteractive
	command -v dpkg-source >/dev/null ||
		{ apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null || se_die "cannot install dpkg-dev"; }
	twin=/etc/apt/sources.list.d/streamext-pgsuite-src.sources
	if ! apt-cache showsrc "$pkg=$version" 2>/dev/null | grep -q "^Version: $version\$"; then
		pgs_apt_src_twin "$twin" || se_die "no deb entry in the apt configuration to make a deb-src twin of"
		apt-get update -qq >/dev/null || se_die "apt-get update failed"
	fi
	# The exact version first.  An archive may publish a security update's binaries but not
	# (yet) its source; then the newest source of the same major version that apt offers is
	# the closest suite there is (minor releases change no test module interface), and the
	# run says so.
	local v used=
	for v in "$version" $(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | grep -vxF "$version"); do
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		if (cd "$dir.tmp" && apt-get source -qq "$pkg=$v") >"$cache/apt-source.log" 2>&1; then
			used=$v
			break
		fi
		se_log "apt-get source $pkg=$v failed: $(grep -m1 '^E:' "$cache/apt-source.log")"
	done
	[ -n "$used" ] || { cat "$cache/apt-source.log" >&2; se_die "apt-get source $pkg failed for every version apt offers"; }
	[ "$used" = "$version" ] ||
		se_log "WARNING: the source of the installed $pkg $version is not offered by the apt sources; using $used, the newest one that is"
	local top
	top=$(find "$dir.tmp" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-*' | head -n1)
	[ -f "$top/src/test/regress/parallel_schedule" ] || se_die "no src/test/regress/parallel_schedule in the source package"
	rm -rf "$dir"
	mv "$top" "$dir"
	rm -rf "$dir.tmp"
	echo "$used" >"$dir/.source-version"
	touch "$dir/.complete"
	echo "$dir"
}
