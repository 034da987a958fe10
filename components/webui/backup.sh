#!/bin/sh
# Dumps Open WebUI's database (pg_dump's custom format: pg_restore reads it table by table) into
# $BACKUP_DIR and keeps the newest $KEEP dumps. The connection comes from libpq's environment
# (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). A dump is written under a temporary name and
# renamed when complete, so a failed run never leaves a truncated file that looks like a backup.
set -eu
: "${BACKUP_DIR:=/backup}" "${KEEP:=7}"
# A run that failed left its partial file behind (runs never overlap: concurrencyPolicy Forbid).
rm -f -- "$BACKUP_DIR"/openwebui-*.dump.partial
name="$BACKUP_DIR/openwebui-$(date -u +%Y%m%dT%H%M%SZ).dump"
pg_dump --format=custom --file="$name.partial"
mv "$name.partial" "$name"
echo "backup: wrote $name ($(wc -c <"$name") bytes)"
# The names sort by time; everything before the newest $KEEP goes.
ls -1 "$BACKUP_DIR"/openwebui-*.dump | sort -r | tail -n +"$((KEEP + 1))" | while read -r old; do
	rm -f -- "$old"
	echo "backup: removed $old"
done
