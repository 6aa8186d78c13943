#!/bin/sh
# verify.sh: check the units in this directory with systemd-analyze verify
# (in a scratch root, with a stand-in binary, so nothing is installed), that
# the two timer slots together fire every hour, and that the shard template's
# variables are all set by its example environment files. Any warning fails.
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
cp "$here"/danmakud@.service "$here"/danmakud@.timer "$here"/danmakud-daemon.service \
	"$here"/danmakud-shard@.service "$root/etc/systemd/system/"
for i in 0 1; do
	ln -s danmakud@.timer "$root/etc/systemd/system/danmakud@$i.timer"
	ln -s danmakud@.service "$root/etc/systemd/system/danmakud@$i.service"
	ln -s danmakud-shard@.service "$root/etc/systemd/system/danmakud-shard@$i.service"
done
out=$(systemd-analyze verify --root="$root" danmakud@0.timer danmakud@1.timer \
	danmakud@0.service danmakud@1.service danmakud-daemon.service \
	danmakud-shard@0.service danmakud-shard@1.service 2>&1) || { echo "$out"; exit 1; }
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
# The shard template: its environment files are the two examples, and every
# variable its ExecStart uses is set by one of them, N to a number.
unit="$here/danmakud-shard@.service"
envs=$(sed -n 's/^EnvironmentFile=//p' "$unit")
if [ "$envs" != "$(printf '/etc/danmakud/shards.env\n/etc/danmakud/shard-%%i.env')" ]; then
	echo "verify.sh: danmakud-shard@.service reads $envs, not the files its examples are for"; exit 1
fi
vars=$(sed -n 's/^ExecStart=//p' "$unit" | grep -o '\$[{]*[A-Z_]*' | tr -d '${' | sort -u)
for v in $vars; do
	if ! grep -q "^$v=" "$here/shards.env.example" "$here/shard.env.example"; then
		echo "verify.sh: danmakud-shard@.service uses \$$v, which neither example environment file sets"; exit 1
	fi
done
if ! grep -Eq '^DANMAKUD_SHARDS=[1-9][0-9]*$' "$here/shards.env.example"; then
	echo "verify.sh: shards.env.example: DANMAKUD_SHARDS must be a number ≥ 1"; exit 1
fi
echo "verify.sh: units ok; danmakud@0 and danmakud@1 fire at every hour, once; the shard template's variables are set"
