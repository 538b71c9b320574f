#!/usr/bin/env bash
# The private PostgreSQL cluster of tests/fixtures/pg.sh, as integration
# tests use it: DATABASE_URL and the PG* variables reach the database as a
# password-authenticated role that is not a superuser; the password is not
# on any command line; pg_stop stops the server.
source "$BERTH_SRC/tests/integration/lib.sh"
source "$BERTH_SRC/tests/fixtures/pg.sh"

pg_start

case "$DATABASE_URL" in
postgresql://berth:*@127.0.0.1:"$PGPORT"/berth_test) ;;
*) t_fail "DATABASE_URL has an unexpected shape" ;;
esac
password=${DATABASE_URL#postgresql://berth:}
password=${password%%@*}
[ ${#password} -ge 32 ] || t_fail "the role's password is too short"

# psql with the PG* variables and with the URL.
t_eq "$(pg_psql -c 'SELECT current_user || current_database()')" "berthberth_test" "psql as the role"
t_eq "$("$PG_BIN/psql" -X -A -t "$DATABASE_URL" -c 'SHOW fsync')" "off" "fsync of the test cluster"
t_eq "$(pg_psql -c 'SELECT rolsuper::text || rolcreatedb::text FROM pg_roles WHERE rolname = current_user')" \
	"falsetrue" "role attributes"
t_eq "$(pg_admin_psql -c 'SELECT current_setting($$password_encryption$$)')" "scram-sha-256" "password encryption"

# Over TCP the password is required and checked.
t_run 2 env PGPASSFILE=/dev/null PGPASSWORD=wrong "$PG_BIN/psql" -X -w -c 'SELECT 1'
t_contains "$T_OUT" 'password authentication failed for user "berth"'
t_not_contains "$T_OUT" "$password"

# The socket directory is the cluster owner's alone.
t_eq "$(stat -c %a "$PG_SOCKET_DIR")" "700" "socket directory mode"
t_eq "$(stat -c %a "$PGPASSFILE")" "600" "password file mode"
if ps -eo args | grep -q -F -f <(printf '%s\n' "$password"); then
	t_fail "the password appears on a command line"
fi

pg_stop
if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
	t_fail "the cluster still answers after pg_stop"
fi
pg_stop # a second stop is harmless
echo "ok"
