#!/bin/sh
# verify.sh: check the units in this directory with systemd-analyze verify
# (in a scratch root, with a stand-in binary, so nothing is installed), and
# that the two timer slots together fire every hour. Any warning fails.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "verify.sh: systemd-analyze not found; skipped" >&2
	exit 0
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system" "$root/usr/local/bin"
cp -a /lib/systemd/system "$root/usr/lib/systemd/"
printf '#!/bin/sh\n' >"$root/usr/local/bin/danmakud"
chmod 755 "$root/usr/local/bin/danmakud"
cp "$here"/danmakud@.service "$here"/danmakud@.timer "$here"/danmakud-daemon.service "$root/etc/systemd/system/"
for i in 0 1; do
	ln -s danmakud@.timer "$root/etc/systemd/system/danmakud@$i.timer"
	ln -s danmakud@.service "$root/etc/systemd/system/danmakud@$i.service"
done
out=$(systemd-analyze verify --root="$root" danmakud@0.timer danmakud@1.timer \
	danmakud@0.service danmakud@1.service danmakud-daemon.service 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "$out"; exit 1; fi

# The slots' OnCalendar (with %i = 0 and 1) must cover every hour once.
spec=$(sed -n 's/^OnCalendar=//p' "$here/danmakud@.timer")
hours=$(for i in 0 1; do
	systemd-analyze calendar --iterations=12 "$(echo "$spec" | sed "s/%i/$i/")" |
		sed -n 's/.*\(Next elapse\|Iter\. #[0-9]*\): [A-Za-z]* [0-9-]* \([0-9][0-9]\):00:00.*/\2/p'
done | sort | uniq -c)
n=$(echo "$hours" | awk '$1 == 1' | wc -l)
if [ "$n" -ne 24 ]; then
	echo "verify.sh: the two slots do not fire once at each hour:"; echo "$hours"; exit 1
fi
echo "verify.sh: units ok; danmakud@0 and danmakud@1 fire at every hour, once"
