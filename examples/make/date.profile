# elfroot trace profile
# elfroot 0.1.0
# command: TZ=Europe/Paris date -d @0 +%Z
file /etc/ld.so.cache
file /lib/x86_64-linux-gnu/libc.so.6
link /lib64/ld-linux-x86-64.so.2
exec /usr/bin/date
file /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
file /usr/lib/x86_64-linux-gnu/libc.so.6
file /usr/share/zoneinfo/Europe/Paris
