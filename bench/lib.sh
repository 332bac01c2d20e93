# What the benches share (sourced): free ports, and the configuration of one operator whose
# listeners all take free ports, so that a bench runs beside a running operator, the tests or
# another bench.

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# operator_config DATA_DIR IMAPS_PORT: the TOML of an operator with IMAPS on IMAPS_PORT and
# every other listener on a port of its own choosing. More tables may follow it.
operator_config() {
    cat <<CONF
data_dir = "$1"
[imap]
listen = "127.0.0.1:0"
listen_tls = "127.0.0.1:$2"
managesieve = "127.0.0.1:0"
[smtp]
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
mx = "127.0.0.1:0"
[web]
listen = "127.0.0.1:0"
CONF
}

# wait_for_port PORT [SECONDS]: until something listens on 127.0.0.1:PORT (10 s by default; a
# server under callgrind needs longer); fails, saying so, when nothing does.
wait_for_port() {
    local tries=$(( ${2:-10} * 10 ))
    for _ in $(seq "$tries"); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1 after ${2:-10} s (see the server's log)" >&2
    return 1
}
